"""Input checks and conversions: dtype and shape, sample rate, duration, canonical-rate resampling.

Audio arrives as (n,) mono or (n, channels) with float samples in [-1, 1] or int16 PCM;
the mark is computed at ``CANONICAL_RATE`` (16 kHz) and brought back to the clip's rate
with a polyphase filter (scipy ``resample_poly``, zero phase, so no delay is introduced).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from scipy.signal import resample_poly

from provenance.audio_watermark.params import CANONICAL_RATE

MIN_RATE = 16_000  # embedding: the rates the mark is designed and measured for
MAX_RATE = 48_000
DETECT_MIN_RATE = 8_000  # detection reads whatever a file holds (below 16 kHz: part of the band)
DETECT_MAX_RATE = 192_000
MAX_CHANNELS = 8


def check_rate(sample_rate: int, lo: int = MIN_RATE, hi: int = MAX_RATE) -> int:
    """The sample rate as an int; ValueError naming ``sample_rate`` unless lo..hi Hz."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or not (
            lo <= int(sample_rate) <= hi):
        raise ValueError(f"sample_rate must be an int from {lo} to {hi} Hz, got {sample_rate!r}")
    return int(sample_rate)


def as_float_channels(samples: np.ndarray) -> np.ndarray:
    """(n, channels) float64 view of ``samples``: float in [-1, 1] or int16 PCM (/ 32768).

    Raises TypeError for other dtypes, ValueError (naming ``samples``) for a bad shape or
    non-finite values."""
    x = np.asarray(samples)
    if x.dtype == np.int16:
        x = x.astype(np.float64) / 32768.0
    elif np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    else:
        raise TypeError(f"samples must be float (in [-1, 1]) or int16, got dtype {x.dtype}")
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or not (1 <= x.shape[1] <= MAX_CHANNELS):
        raise ValueError(f"samples must have shape (n,) or (n, channels) with 1..{MAX_CHANNELS} "
                         f"channels, got {np.shape(samples)}")
    if not np.all(np.isfinite(x)):
        raise ValueError("samples contain NaN or infinite values")
    return x


def check_duration(n_samples: int, sample_rate: int, min_seconds: float) -> None:
    """ValueError naming ``samples`` when the clip is shorter than ``min_seconds``."""
    seconds = n_samples / sample_rate
    if seconds < min_seconds:
        raise ValueError(f"samples: clip is {seconds:.3f} s long; the audio watermark needs at "
                         f"least {min_seconds} s")


def _ratio(sample_rate: int) -> tuple[int, int]:
    r = Fraction(CANONICAL_RATE, sample_rate)
    return r.numerator, r.denominator


def to_canonical(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """1-D signal at ``sample_rate`` -> 16 kHz (anti-aliased)."""
    up, down = _ratio(sample_rate)
    return x if up == down else resample_poly(x, up, down)


def from_canonical(x16: np.ndarray, sample_rate: int, n_samples: int) -> np.ndarray:
    """1-D 16 kHz signal -> ``sample_rate``, cut or zero-padded to ``n_samples``."""
    up, down = _ratio(sample_rate)
    y = x16 if up == down else resample_poly(x16, down, up)
    if y.size >= n_samples:
        return y[:n_samples]
    return np.concatenate([y, np.zeros(n_samples - y.size)])
