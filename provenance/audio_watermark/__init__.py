"""Keyed audio watermark (STFT-magnitude spread spectrum, tiled in time), no Ray.

    wm = AudioWatermarker(key=secret_bytes)                  # payload_bytes=4 (32 bits)
    marked = wm.embed(samples, sample_rate, payload)         # float32, same shape
    det = wm.detect(some_samples, sample_rate)               # AudioDetection(found, payload, ...)

Scheme: the payload (4..8 bytes; use ``provenance.records.hmac.watermark_payload(...,
nbytes=4)``) plus CRC-24 is coded with the rate-1/3 K=7 convolutional code of
``provenance.watermark.ecc`` (186 code bits for 32 bits).  Every clip is analysed at
16 kHz (STFT 512, hop 256).  A keyed layout gives each code bit 47 STFT cells of the
1-6 kHz band in a tile of 64 frames (1.024 s), scattered, with keyed signs; 15 % of the
cells carry a keyed sync template.  The band's magnitudes are scaled by 1 +- a small
keyed change that follows the local loudness (``embed``), with informed per-bit
amplitudes, at 25.5 dB SNR per channel (content with almost nothing in the band gets the
rest of that budget as a keyed-pattern noise carrier that follows its loudness); the tile
repeats over the whole clip and every channel is marked.  The detector reads the mid
channel at 16 kHz, searches the tile lag in 16-sample steps (codec delay, trims), folds the
tiles, correlates log-magnitudes, runs soft Viterbi and checks the CRC: false-positive bound
1.2e-7 per clip (``detect``).

Clips must be at least ``MIN_DURATION_S`` (1 s) long to be marked; the robustness figures
are for >= 2 s (a 1 s clip holds one tile: its mark survives MP3 128 kbps, AAC and resampling
but not reliably 64 kbps MP3 or 20 dB of noise); sample rates 16-48 kHz (detection: 8-192
kHz); (n,) mono or (n, channels); float in [-1, 1] or int16.

Modules: ``params`` (tuned defaults), ``samples`` (input checks, 16 kHz resampling),
``layout`` (keyed chips), ``frontend`` (STFT, normalised log-magnitude, fold, correlate:
shared by both sides), ``embed``, ``detect``.  Keys, CRC and the code are the image
watermark's (``provenance.watermark.keys``, ``provenance.watermark.ecc``).
"""

from __future__ import annotations

import numpy as np

from provenance.audio_watermark import samples as _samples
from provenance.audio_watermark.detect import AudioDetection, decode_soft
from provenance.audio_watermark.detect import detect as _detect
from provenance.audio_watermark.embed import aligned_soft_bits, residual_16k
from provenance.audio_watermark.layout import make_layout
from provenance.audio_watermark.params import AudioWatermarkParams
from provenance.watermark import ecc
from provenance.watermark.keys import keyed_bits, validate_key

__all__ = ["AudioDetection", "AudioWatermarker", "AudioWatermarkParams", "MIN_DURATION_S", "UnmarkableAudio"]

MIN_DURATION_S = 1.0  # shortest clip embed() accepts (about one tile)
MIN_PAYLOAD_BYTES = 4
MAX_PAYLOAD_BYTES = 8


class UnmarkableAudio(ValueError):
    """The clip could not carry the mark (silent, too little in the band, or too short for the
    detector to find it): nothing marked is returned."""


class AudioWatermarker:
    """Embeds and detects ``payload_bytes``-byte payloads under one secret key (>= 16 bytes).

    Stateless after construction (thread-safe).  Raises ValueError for a bad
    ``payload_bytes`` and TypeError / ValueError for a bad key."""

    def __init__(self, key: bytes, payload_bytes: int = 4, params: AudioWatermarkParams | None = None):
        self.key = validate_key(key)
        if isinstance(payload_bytes, bool) or not isinstance(payload_bytes, int) or not (
                MIN_PAYLOAD_BYTES <= payload_bytes <= MAX_PAYLOAD_BYTES):
            raise ValueError(f"payload_bytes must be an int from {MIN_PAYLOAD_BYTES} to "
                             f"{MAX_PAYLOAD_BYTES}, got {payload_bytes!r}")
        self.payload_bytes = payload_bytes
        self.params = params or AudioWatermarkParams()
        n_info = 8 * payload_bytes + ecc.CRC_BITS
        self.n_code = ecc.code_length(n_info)
        self._info_mask = keyed_bits(self.key, f"audio/info-mask/{n_info}", n_info)
        self._layout = make_layout(self.key, self.n_code, self.params)

    def _check_payload(self, payload: bytes) -> bytes:
        if not isinstance(payload, (bytes, bytearray)):
            raise TypeError(f"payload must be bytes, got {type(payload).__name__}")
        if len(payload) != self.payload_bytes:
            raise ValueError(f"payload must be exactly {self.payload_bytes} bytes for this "
                             f"watermarker, got {len(payload)}")
        return bytes(payload)

    def code_bits(self, payload: bytes) -> np.ndarray:
        """The 0/1 code word embedded for ``payload`` (for raw bit-accuracy measurements)."""
        info = ecc.info_bits(self._check_payload(payload)) ^ self._info_mask
        return ecc.conv_encode(info)

    def embed(self, samples: np.ndarray, sample_rate: int, payload: bytes) -> np.ndarray:
        """``samples`` with the mark of ``payload``: float32 in [-1, 1], same shape.

        Each channel is marked at 25.5 dB SNR.  Raises ValueError naming the field for a
        sample rate outside 16-48 kHz, a bad shape, a clip shorter than MIN_DURATION_S,
        a wrong payload length, or audio that cannot carry the mark (UnmarkableAudio: silent,
        nothing in 1-6 kHz, or too short for the detector to find it): the mark is checked
        before returning, so unmarked audio never comes back.  TypeError for a non-float, non-int16 dtype or non-bytes payload."""
        code = self.code_bits(payload)
        rate = _samples.check_rate(sample_rate)
        x = _samples.as_float_channels(samples)
        _samples.check_duration(x.shape[0], rate, MIN_DURATION_S)
        out = np.empty_like(x)
        for c in range(x.shape[1]):
            ch = x[:, c]
            x16 = _samples.to_canonical(ch, rate)
            res16 = residual_16k(x16, float(np.mean(ch ** 2)), self._layout, code, self.params)
            out[:, c] = ch + _samples.from_canonical(res16, rate, ch.size)
        out = np.clip(out, -1.0, 1.0)
        self._self_check(out, rate, payload)
        out = out.astype(np.float32)
        return out[:, 0] if np.ndim(samples) == 1 else out

    def _self_check(self, x: np.ndarray, rate: int, payload: bytes) -> None:
        """The marked clip must decode on the embedding grid and be found by the detector as
        released (with its alignment search and sync threshold: a short clip can pass the
        first and not the second)."""
        mid16 = _samples.to_canonical(x.mean(axis=1), rate)
        soft = aligned_soft_bits(mid16, self._layout, self.params)
        _, got = decode_soft(soft, self._info_mask, self.payload_bytes)
        if got != payload:
            raise UnmarkableAudio("samples: the clip cannot carry the watermark (silent, or too little "
                                  "signal in the 1-6 kHz band); refusing to return it unmarked")
        found = _detect(mid16, self._layout, self._info_mask, self.payload_bytes, self.params)
        if not (found.found and found.payload == payload):
            raise UnmarkableAudio("samples: the detector does not find the watermark in this clip (too "
                                  "short or too quiet to carry it); refusing to return it unmarked")

    def detect(self, samples: np.ndarray, sample_rate: int) -> AudioDetection:
        """Look for a mark under this key in the mid channel of ``samples``.

        Any length (clips too short for an alignment search come back not found) and any
        rate from 8 to 192 kHz (below 16 kHz the band is cut, so expect less); otherwise the
        input rules of ``embed`` (ValueError / TypeError)."""
        rate = _samples.check_rate(sample_rate, _samples.DETECT_MIN_RATE, _samples.DETECT_MAX_RATE)
        x = _samples.as_float_channels(samples)
        mid16 = _samples.to_canonical(x.mean(axis=1), rate)
        return _detect(mid16, self._layout, self._info_mask, self.payload_bytes, self.params)

