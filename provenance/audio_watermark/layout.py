"""Keyed layout of the tile: which STFT cells carry the sync template and which each code bit.

The tile is ``tile_frames`` hops x the band's bins.  It is cut into chips of
``unit_frames`` x ``unit_bins`` cells; a keyed shuffle makes ``sync_fraction`` of the chips
sync chips and deals the rest out evenly to the code bits, and every chip gets a keyed sign
(+-1).  Another key gives an independent layout, so its detector sees only noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from provenance.audio_watermark.params import CANONICAL_RATE, AudioWatermarkParams
from provenance.watermark.keys import keyed_rng


@dataclass(frozen=True)
class Layout:
    bin_lo: int  # first band bin of the STFT (inclusive)
    bin_hi: int  # last band bin + 1
    sync: np.ndarray  # (tile_frames, n_bins) float32: +-1 on sync cells, 0 elsewhere
    chips: np.ndarray  # (tile_frames, n_bins) float32: +-1 on data cells, 0 elsewhere
    bit_of: np.ndarray  # (tile_frames, n_bins) int64: code bit of a data cell, -1 elsewhere
    n_code: int

    @property
    def n_bins(self) -> int:
        return self.bin_hi - self.bin_lo


def band_bins(params: AudioWatermarkParams) -> tuple[int, int]:
    """[lo, hi) STFT bins of the marked band, rounded to whole chips."""
    df = CANONICAL_RATE / params.n_fft
    lo = int(np.ceil(params.f_lo / df))
    hi = int(np.floor(params.f_hi / df)) + 1
    hi = lo + (hi - lo) // params.unit_bins * params.unit_bins
    return lo, hi


def make_layout(key: bytes, n_code: int, params: AudioWatermarkParams) -> Layout:
    """The keyed layout for ``n_code`` code bits; ValueError if the tile is too small."""
    lo, hi = band_bins(params)
    if params.tile_frames % params.unit_frames:
        raise ValueError("params: tile_frames must be a multiple of unit_frames")
    ut, uf = params.tile_frames // params.unit_frames, (hi - lo) // params.unit_bins
    n_units = ut * uf
    n_sync = int(round(params.sync_fraction * n_units))
    if n_units - n_sync < 4 * n_code:
        raise ValueError(f"params: a tile has {n_units - n_sync} data chips, fewer than "
                         f"4 per code bit ({n_code} code bits)")
    rng = keyed_rng(key, f"audio/layout/{n_code}/{params.tile_frames}x{hi - lo}/"
                         f"{params.unit_frames}x{params.unit_bins}/{params.sync_fraction}")
    order = rng.permutation(n_units)
    signs = (1 - 2 * rng.integers(0, 2, size=n_units)).astype(np.float32)
    owner = np.full(n_units, -1, dtype=np.int64)  # -2: sync, -1: unused, >= 0: code bit
    owner[order[:n_sync]] = -2
    data = order[n_sync:]
    usable = (data.size // n_code) * n_code
    owner[data[:usable]] = np.tile(rng.permutation(n_code), usable // n_code)
    grid = owner.reshape(ut, uf)
    sgrid = signs.reshape(ut, uf)
    expand = lambda a: np.repeat(np.repeat(a, params.unit_frames, 0), params.unit_bins, 1)  # noqa: E731
    cell_owner, cell_sign = expand(grid), expand(sgrid)
    sync = np.where(cell_owner == -2, cell_sign, 0).astype(np.float32)
    chips = np.where(cell_owner >= 0, cell_sign, 0).astype(np.float32)
    bit_of = np.where(cell_owner >= 0, cell_owner, -1)
    return Layout(lo, hi, sync, chips, bit_of, n_code)
