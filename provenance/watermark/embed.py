"""Embedding: add a masked, tiled, key- and payload-dependent luminance residual.

residual = s * mask(x) * tile((x) mod Q), Q = P * scale image pixels, where

* tile: the keyed Q x Q DFT-domain pattern of ``spreading`` (sync template + spread code
  bits), synthesised directly at period Q (band-limited interpolation of the canonical
  P x P tile);
* mask: the perceptual mask, local activity clipped to [mask_floor, mask_ceil] x mean;
* s: set so that the residual's mean square gives exactly ``params.psnr_db``.

Informed embedding (``params.informed``): the embedder runs the detector's front end on
the cover (offset 0, so no search) and, linearised, on the residual; code bit i then
gets the amplitude a_i = (T - h_i) / g_i (clipped), where h_i is the cover's
contribution to its soft value (signed so positive helps), g_i the residual's, and T
their mean gain.  Bits the host works against get more energy, bits it already supports
get less, so the host interference is largely cancelled at the same PSNR.  All of it is
done on Q x Q folded arrays; the only full-size passes are luminance, two box filters,
three folds and the final add.
"""

from __future__ import annotations

import cv2
import numpy as np

from provenance.watermark import ecc, frontend, spreading
from provenance.watermark.imaging import embed_scale, luminance
from provenance.watermark.params import WatermarkParams


def code_bits_for(payload: bytes, whitening: np.ndarray) -> np.ndarray:
    """Keyed code word of a payload: conv(payload || CRC-24 XOR keyed mask)."""
    return ecc.conv_encode(ecc.info_bits(payload) ^ whitening)


def _mask(rms: np.ndarray, params: WatermarkParams) -> np.ndarray:
    m = float(rms.mean())
    if m < 0.5:  # (almost) flat image: uniform strength
        return np.ones_like(rms)
    return np.clip(rms * np.float32(1.0 / m), params.mask_floor, params.mask_ceil)


def residual(img: np.ndarray, layout: spreading.Layout, code_bits: np.ndarray,
             params: WatermarkParams) -> np.ndarray:
    """Float32 luminance residual (H, W) for an RGB uint8 image."""
    h, w = img.shape[:2]
    scale = embed_scale(h, w, params)
    q = int(round(params.period * scale))
    y = luminance(img)
    hp = frontend.highpass(y, scale, params)
    rms = frontend.local_rms(hp, scale, params)
    mask = _mask(rms, params)
    mask_sq = frontend.fold(mask * mask, q)  # sum of mask^2 over each tile position
    target_sq = h * w * 255.0**2 * 10.0 ** (-params.psnr_db / 10.0)

    spec = spreading.tile_spectrum(layout, code_bits, params.sync_gain, q)
    tile = np.fft.irfft2(spec, s=(q, q))
    gain = np.sqrt(target_sq / float(np.sum(tile * tile * mask_sq)))
    if params.informed:
        inv = 1.0 / rms
        host = np.fft.rfft2(frontend.fold(hp * inv, q))
        # periodic tile times a non-periodic weight folds to tile * fold(weight); the
        # high-pass commutes with the slowly varying mask (approximately)
        weight = frontend.fold(mask * inv, q)
        hp_resp = frontend.highpass_response(q, scale, params)
        signs = 1.0 - 2.0 * code_bits.astype(np.float64)
        amp = np.ones(code_bits.size)
        for _ in range(params.informed_iters):
            tile_hp = np.fft.irfft2(spec * hp_resp, s=(q, q))
            mark = np.fft.rfft2(gain * tile_hp * weight)
            wgt = frontend.whitening(host + mark, params.whiten_window)
            h_i = signs * frontend.soft_bits(host * wgt, layout, q, 0, 0)
            g_i = signs * frontend.soft_bits(mark * wgt, layout, q, 0, 0)
            unit = np.maximum(g_i / amp, 0.25 * float(np.mean(g_i / amp)))
            target = float(np.mean(g_i))
            amp = np.clip((target - h_i) / unit, params.informed_min, params.informed_max)
            spec = spreading.tile_spectrum(layout, code_bits, params.sync_gain, q, amp)
            tile = np.fft.irfft2(spec, s=(q, q))
            gain = np.sqrt(target_sq / float(np.sum(tile * tile * mask_sq)))
    tile = (gain * tile).astype(np.float32)
    return np.tile(tile, (-(-h // q), -(-w // q)))[:h, :w] * mask


def add_luminance(img: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """Add delta to R, G and B alike: Y changes by delta, Cb and Cr do not change.
    OpenCV rounds to nearest and saturates to [0, 255]."""
    d = delta.astype(np.float32, copy=False)
    return cv2.add(img, cv2.merge([d, d, d]), dtype=cv2.CV_8U)
