"""Keyed invisible image watermark (luminance, tiled DFT-domain spread spectrum).

    wm = ImageWatermarker(key=secret_bytes)          # payload_bytes=8 (64 bits) by default
    marked = wm.embed(rgb_uint8, payload)             # payload: exactly payload_bytes bytes
    det = wm.detect(some_rgb_uint8)                   # Detection(found, payload, score, ...)

Scheme: a 64-bit payload (48..64) plus CRC-24 is coded with a rate-1/3 K=7 convolutional
code (282 code bits).  Each code bit is spread over ~3 keyed mid-band DFT bins of a
128 x 128 canonical tile (keyed phases, +-1 per bit); 15 % of the band's bins carry a
keyed sync template.  The tile is synthesised at period 128 * r image pixels (r = short
side / 512 on a ladder 1, 1.5, 2, ...), tiled over the image, scaled by a mild perceptual
mask and added to luminance only (R, G, B alike) at a fixed PSNR of 40.6 dB, with
informed (host-cancelling) per-bit amplitudes.  The detector normalises and folds the
image at every candidate period, finds the cyclic offset by FFT correlation with the
sync template, reads soft bits, runs soft Viterbi and checks the CRC; the
false-positive bound (<= 4.8e-7 per image) is derived in ``detect``.

Modules: ``keys`` (keyed PRNG streams), ``ecc`` (CRC-24, convolutional code, Viterbi),
``spreading`` (keyed DFT-bin layout of the tile), ``imaging`` (validation, luminance,
scale ladder), ``frontend`` (normalise, fold, whiten, correlate: shared by both sides),
``embed``, ``detect``, ``params`` (tuned defaults).
"""

from __future__ import annotations

import numpy as np

from provenance.watermark import ecc
from provenance.watermark.detect import Detection
from provenance.watermark.detect import detect as _detect
from provenance.watermark.embed import add_luminance, code_bits_for
from provenance.watermark.embed import residual as _residual
from provenance.images import check_rgb
from provenance.watermark.imaging import MIN_SIDE
from provenance.watermark.keys import keyed_bits, validate_key
from provenance.watermark.params import WatermarkParams
from provenance.watermark.spreading import make_layout

__all__ = ["Detection", "ImageWatermarker", "WatermarkParams"]

MIN_PAYLOAD_BYTES = 6
MAX_PAYLOAD_BYTES = 8


class ImageWatermarker:
    """Embeds and detects ``payload_bytes``-byte payloads under one secret key (>= 16 bytes).

    Thread-safe and stateless after construction; images are RGB uint8 (H, W, 3), sides
    >= 64 px (robustness figures are for >= 512 px)."""

    def __init__(self, key: bytes, payload_bytes: int = 8, params: WatermarkParams | None = None):
        self.key = validate_key(key)
        if not isinstance(payload_bytes, int) or not (
                MIN_PAYLOAD_BYTES <= payload_bytes <= MAX_PAYLOAD_BYTES):
            raise ValueError(
                f"payload_bytes must be an int from {MIN_PAYLOAD_BYTES} to {MAX_PAYLOAD_BYTES} "
                f"({8 * MIN_PAYLOAD_BYTES}..{8 * MAX_PAYLOAD_BYTES} bits), got {payload_bytes!r}")
        self.payload_bytes = payload_bytes
        self.params = params or WatermarkParams()
        n_info = 8 * payload_bytes + ecc.CRC_BITS
        self.n_code = ecc.code_length(n_info)
        self._info_mask = keyed_bits(self.key, f"info-mask/{n_info}", n_info)
        p = self.params
        self._layout = make_layout(self.key, p.period, p.f_lo, p.f_hi, self.n_code, p.sync_fraction)

    def _check_payload(self, payload: bytes) -> bytes:
        if not isinstance(payload, (bytes, bytearray)):
            raise TypeError(f"payload must be bytes, got {type(payload).__name__}")
        if len(payload) != self.payload_bytes:
            raise ValueError(
                f"payload must be exactly {self.payload_bytes} bytes ({8 * self.payload_bytes} "
                f"bits) for this watermarker, got {len(payload)} bytes")
        return bytes(payload)

    def code_bits(self, payload: bytes) -> np.ndarray:
        """The 0/1 code word embedded for ``payload`` (for raw bit-accuracy measurements)."""
        return code_bits_for(self._check_payload(payload), self._info_mask)

    def residual(self, rgb_uint8: np.ndarray, payload: bytes) -> np.ndarray:
        """The float32 (H, W) luminance residual that ``embed`` adds."""
        return _residual(check_rgb(rgb_uint8, MIN_SIDE), self._layout, self.code_bits(payload), self.params)

    def embed(self, rgb_uint8: np.ndarray, payload: bytes) -> np.ndarray:
        return add_luminance(rgb_uint8, self.residual(rgb_uint8, payload))

    def detect(self, rgb_uint8: np.ndarray) -> Detection:
        return _detect(check_rgb(rgb_uint8, MIN_SIDE), self._layout, self._info_mask, self.payload_bytes,
                      self.params)
