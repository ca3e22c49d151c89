"""Signal path shared by embedder and detector: normalisation, folding, DFT-bin reads.

* ``highpass``: luminance minus a box blur (removes brightness and smooth shading).
* ``local_rms``: RMS of the high-pass over a larger box.  The embedder's perceptual mask
  is this activity (clipped, relative to its mean); the detector divides by it, which
  undoes contrast changes and the mask and weights each area by ~1 / host activity.
* ``fold``: sum of an image over all q x q tiles, from its top-left corner.  For a
  q-periodic mark this is the whole-image matched filter in q^2 numbers; a crop only
  changes the cyclic offset.
* ``whitening``: per-bin weights 1 / local mean of |F|^2 (the matched filter for a
  Gaussian host whose spectrum varies slowly over the bins).
"""

from __future__ import annotations

import cv2
import numpy as np

from provenance.watermark import spreading
from provenance.watermark.params import WatermarkParams


def _box(scale: float, sigma: float) -> int:
    return 2 * int(round(sigma * scale)) + 1


def highpass(y: np.ndarray, scale: float, params: WatermarkParams) -> np.ndarray:
    k = _box(scale, params.hp_sigma)
    return y - cv2.blur(y, (k, k))


def highpass_response(q: int, scale: float, params: WatermarkParams) -> np.ndarray:
    """Frequency response of ``highpass`` on the rfft2 grid of a q x q tile (cyclic)."""
    k = _box(scale, params.hp_sigma)

    def box(f: np.ndarray) -> np.ndarray:
        s = np.sin(np.pi * f)
        out = np.ones_like(f)
        nz = np.abs(s) > 1e-12
        out[nz] = np.sin(np.pi * k * f[nz]) / (k * s[nz])
        return out

    fy = np.fft.fftfreq(q)[:, None]
    fx = np.fft.rfftfreq(q)[None, :]
    return 1.0 - box(fy) * box(fx)


def local_rms(hp: np.ndarray, scale: float, params: WatermarkParams) -> np.ndarray:
    k = _box(scale, params.norm_sigma)
    return np.sqrt(cv2.blur(hp * hp, (k, k)) + 1e-2)


def normalise(y: np.ndarray, scale: float, params: WatermarkParams) -> np.ndarray:
    hp = highpass(y, scale, params)
    return hp / local_rms(hp, scale, params)


def fold(x: np.ndarray, q: int) -> np.ndarray:
    h, w = x.shape
    hh, ww = -(-h // q) * q, -(-w // q) * q
    if (hh, ww) != (h, w):
        x = np.pad(x, ((0, hh - h), (0, ww - w)))
    return x.reshape(hh // q, q, ww // q, q).sum(axis=(0, 2), dtype=np.float64)


def whitening(spec: np.ndarray, window: int) -> np.ndarray:
    """Per-bin weights 1 / (mean of |F|^2 over a window x window neighbourhood)."""
    power = np.fft.fftshift(np.abs(spec) ** 2, axes=0).astype(np.float32)
    power = cv2.blur(power, (window, window), borderType=cv2.BORDER_REFLECT)
    power = np.fft.ifftshift(power, axes=0).astype(np.float64)
    return 1.0 / (power + 1e-12 * float(power.mean()) + 1e-30)


def whitened_spectrum(folded: np.ndarray, window: int) -> np.ndarray:
    spec = np.fft.rfft2(folded)
    return spec * whitening(spec, window)


def sync_surface(spec: np.ndarray, layout: spreading.Layout, q: int) -> np.ndarray:
    """Correlation with the sync template at all q^2 cyclic offsets, as z-scores."""
    rows, cols = layout.rfft_index(q)
    idx = layout.sync
    z = np.zeros_like(spec)
    z[rows[idx], cols[idx]] = np.conj(layout.phase[idx]) * spec[rows[idx], cols[idx]]
    corr = np.fft.irfft2(z, s=(q, q))
    corr -= corr.mean()
    return corr / (corr.std() + 1e-30)


def soft_bits(spec: np.ndarray, layout: spreading.Layout, q: int, dy: int, dx: int
              ) -> np.ndarray:
    """Per-code-bit correlations (positive = bit 0) with the tiling at offset (dy, dx)."""
    rows, cols = layout.rfft_index(q)
    idx = layout.data
    v = np.conj(layout.phase[idx]) * spec[rows[idx], cols[idx]]
    if dy or dx:
        v = v * np.exp(2j * np.pi * (layout.kx[idx] * dx + layout.ky[idx] * dy) / q)
    return np.bincount(layout.data_bit, weights=np.real(v), minlength=layout.n_code)
