"""Tunable parameters of the scheme (one frozen dataclass, defaults are the tuned ones)."""

from __future__ import annotations

from dataclasses import dataclass

# image pixels per canonical pixel; the tile period in image pixels is period * scale,
# so every ladder value must make that an integer for the default period.
SCALE_LADDER = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0)


@dataclass(frozen=True)
class WatermarkParams:
    canonical: int = 512  # short side the mark is designed for (scale 1)
    period: int = 128  # canonical tile size P
    f_lo: float = 0.05  # mid band, cycles per canonical pixel
    f_hi: float = 0.20
    sync_fraction: float = 0.15  # share of the band's bins that carry the sync template
    sync_gain: float = 1.0  # amplitude of a sync bin relative to a data bin
    psnr_db: float = 40.6  # target PSNR of the luminance residual (before uint8 rounding)
    informed: bool = True  # host-interference-aware per-bit amplitudes (embed.py)
    informed_iters: int = 1
    informed_min: float = 0.3
    informed_max: float = 3.0
    # perceptual mask: local RMS of the high-passed luminance (window 2*norm_sigma+1),
    # relative to its mean, clipped to [mask_floor, mask_ceil]
    mask_floor: float = 0.6
    mask_ceil: float = 1.8
    hp_sigma: float = 3.0  # high-pass: luminance minus a (2*hp_sigma+1)^2 box blur
    norm_sigma: float = 8.0  # local-activity window (2*norm_sigma+1)^2, mask and detector
    whiten_window: int = 7  # DFT-domain noise-power smoothing (bins)
    sync_peaks: int = 2  # sync peaks tried per scale
    min_keep_side: float = 0.6  # smallest side fraction a crop may keep (sets scale search)
    sync_z_min: float = 4.0  # minimum sync peak z-score
