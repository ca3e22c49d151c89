"""Signal processing shared by embedder and detector: STFT, normalised log-magnitude, fold.

* ``stft`` / ``istft``: sqrt-Hann frames, hop n_fft / 2 (perfect reconstruction in the
  interior), frames starting at ``offset + j * hop``.
* ``normalised_logmag``: log |X| of the band, minus its local mean along time (removes
  sustained tones) and then along frequency (removes onsets and the spectral envelope),
  clipped.  A chip's relative magnitude change shows up as an additive step in it;
  cells quieter than ``floor_db`` below the band's mean power sit on a floor (they carry
  nothing, and count as 0).
* ``fold``: sum over tiles (frame j -> tile position j mod tile_frames), the matched
  filter of a periodic mark; a trim of the clip only changes the cyclic shift.
* ``sync_surface``: correlation with the sync template at every cyclic shift (one FFT).
* ``soft_bits``: per code bit, the chip-signed sum of the folded cells at one shift.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter1d

from provenance.audio_watermark.layout import Layout
from provenance.audio_watermark.params import AudioWatermarkParams


def window(n_fft: int) -> np.ndarray:
    return np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft))


def n_frames(n_samples: int, offset: int, params: AudioWatermarkParams) -> int:
    return max(0, (n_samples - offset - params.n_fft) // params.hop + 1)


def stft(x: np.ndarray, offset: int, params: AudioWatermarkParams, lo: int = 0,
         hi: int | None = None) -> np.ndarray:
    """(frames, hi - lo) complex STFT of 1-D ``x`` with frames at offset + j * hop."""
    n, hop = params.n_fft, params.hop
    j = n_frames(x.size, offset, params)
    idx = offset + np.arange(j)[:, None] * hop + np.arange(n)[None, :]
    spec = np.fft.rfft(x[idx] * window(n), axis=1)
    return spec[:, lo:hi]


def istft(spec: np.ndarray, n_samples: int, params: AudioWatermarkParams, lo: int = 0) -> np.ndarray:
    """Overlap-add synthesis (sqrt-Hann) of band bins [lo, lo + width) at offset 0."""
    n, hop = params.n_fft, params.hop
    full = np.zeros((spec.shape[0], n // 2 + 1), dtype=np.complex128)
    full[:, lo:lo + spec.shape[1]] = spec
    frames = np.fft.irfft(full, n=n, axis=1) * window(n)
    out = np.zeros(n_samples)
    for k in range(2):  # hop = n/2: two interleaved, non-overlapping sets of frames
        sel = frames[k::2]
        start = k * hop
        m = sel.shape[0] * n
        out[start:start + m] += sel.reshape(-1)[: max(0, min(m, n_samples - start))]
    return out


def normalised_logmag(spec: np.ndarray, params: AudioWatermarkParams) -> np.ndarray:
    """(frames, bins) float64: the band's log-magnitude, locally centred and clipped."""
    power = np.abs(spec) ** 2
    mean_power = float(power.mean()) if power.size else 0.0
    floor = mean_power * 10.0 ** (params.floor_db / 10.0) + 1e-30
    logmag = 0.5 * np.log(power + floor)
    logmag -= uniform_filter1d(logmag, params.norm_time, axis=0, mode="nearest")
    logmag -= uniform_filter1d(logmag, params.norm_freq, axis=1, mode="nearest")
    return np.clip(logmag, -params.norm_clip, params.norm_clip)


def fold(cells: np.ndarray, tile_frames: int) -> np.ndarray:
    """(tile_frames, bins): sum of the rows of ``cells`` by row index mod tile_frames."""
    j, b = cells.shape
    pad = (-j) % tile_frames
    padded = np.concatenate([cells, np.zeros((pad, b))]) if pad else cells
    return padded.reshape(-1, tile_frames, b).sum(axis=0)


def sync_surface(folded: np.ndarray, layout: Layout) -> np.ndarray:
    """corr[d] = sum_p,f folded[(p + d) % P, f] * sync[p, f] for every cyclic shift d."""
    spec = np.fft.fft(folded, axis=0) * np.conj(np.fft.fft(layout.sync, axis=0))
    return np.real(np.fft.ifft(spec.sum(axis=1)))


def soft_bits(folded: np.ndarray, layout: Layout, shift: int) -> np.ndarray:
    """(n_code,) chip-correlations of each code bit at cyclic shift ``shift`` (positive = bit 0)."""
    aligned = np.roll(folded, -shift, axis=0)
    mask = layout.bit_of >= 0
    return np.bincount(layout.bit_of[mask], weights=(aligned * layout.chips)[mask],
                       minlength=layout.n_code)
