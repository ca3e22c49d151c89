"""Keyed layout of the mark in the DFT domain of one P x P tile.

The mark is a periodic (tiled) pattern.  One tile is defined at the canonical
resolution by its 2-D DFT: the half-plane bins k = (kx, ky), kx >= 1, whose radial
frequency |k| / P lies in the mid band [f_lo, f_hi] cycles per canonical pixel.  A
keyed permutation splits these bins into

* sync bins: a fixed keyed template (unit phasors with keyed random phases), used to
  find the cyclic offset of the tiling after a crop;
* data bins: each code bit owns ~|data bins| / n_code bins (round robin over the
  permuted list, so every bit is spread over the whole band); the bin carries
  ``(+1 or -1) * keyed phasor``, i.e. direct-sequence spread spectrum in the DFT domain.

Rescaling to an image: at scale r (image pixels per canonical pixel) the tile period is
Q = P * r image pixels and the same integer bins k are used in a Q x Q DFT, which is
exact band-limited (Fourier) interpolation of the canonical tile.  A cyclic shift of the
tiling by d multiplies bin k by exp(-2 pi i k.d / Q), which the detector undoes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from provenance.watermark.keys import keyed_rng


@dataclass(frozen=True)
class Layout:
    period: int  # canonical tile size P
    kx: np.ndarray  # (n_bins,) int, 1 <= kx < P/2
    ky: np.ndarray  # (n_bins,) int, -P/2 < ky < P/2
    phase: np.ndarray  # (n_bins,) complex unit phasors
    sync: np.ndarray  # (n_sync,) indices into the bin arrays
    data: np.ndarray  # (n_data,) indices into the bin arrays
    data_bit: np.ndarray  # (n_data,) code-bit index of each data bin
    n_code: int

    def rfft_index(self, q: int) -> tuple[np.ndarray, np.ndarray]:
        """Row/column of every bin in an rfft2 array of a q x q tile."""
        return np.mod(self.ky, q), self.kx


def band_bins(period: int, f_lo: float, f_hi: float) -> tuple[np.ndarray, np.ndarray]:
    half = period // 2
    ky, kx = np.meshgrid(np.arange(-half + 1, half), np.arange(1, half), indexing="ij")
    radius = np.hypot(kx, ky) / period
    keep = (radius >= f_lo) & (radius <= f_hi)
    return kx[keep].astype(np.int64), ky[keep].astype(np.int64)


@lru_cache(maxsize=16)
def make_layout(key: bytes, period: int, f_lo: float, f_hi: float, n_code: int,
                sync_fraction: float) -> Layout:
    kx, ky = band_bins(period, f_lo, f_hi)
    n = kx.size
    n_sync = int(round(sync_fraction * n))
    if n - n_sync < n_code:
        raise ValueError(f"band has {n - n_sync} data bins for {n_code} code bits; widen it")
    rng = keyed_rng(key, f"layout/{period}/{f_lo}/{f_hi}/{n_code}/{sync_fraction}")
    order = rng.permutation(n)
    phase = np.exp(2j * np.pi * rng.random(n))
    sync = np.sort(order[:n_sync])
    data = order[n_sync:]
    data_bit = np.arange(data.size) % n_code
    return Layout(period, kx, ky, phase, sync, data, data_bit, n_code)


def tile_spectrum(layout: Layout, code_bits: np.ndarray, sync_gain: float, q: int,
                  bit_gain: np.ndarray | None = None) -> np.ndarray:
    """rfft2-layout spectrum (q x q//2+1) of one tile carrying ``code_bits`` (0/1);
    ``bit_gain`` optionally scales each code bit's bins."""
    values = np.zeros(layout.kx.size, dtype=np.complex128)
    values[layout.sync] = sync_gain * layout.phase[layout.sync]
    signs = 1.0 - 2.0 * np.asarray(code_bits, dtype=np.float64)
    if bit_gain is not None:
        signs = signs * bit_gain
    values[layout.data] = signs[layout.data_bit] * layout.phase[layout.data]
    spec = np.zeros((q, q // 2 + 1), dtype=np.complex128)
    rows, cols = layout.rfft_index(q)
    spec[rows, cols] = values
    return spec


def tile_pattern(layout: Layout, code_bits: np.ndarray, sync_gain: float, q: int,
                 bit_gain: np.ndarray | None = None) -> np.ndarray:
    """The spatial q x q tile, scaled to unit RMS (float32)."""
    tile = np.fft.irfft2(tile_spectrum(layout, code_bits, sync_gain, q, bit_gain), s=(q, q))
    tile /= np.sqrt(np.mean(tile * tile))
    return tile.astype(np.float32)
