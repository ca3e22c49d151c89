"""Temporal consistency of a video: how alike consecutive frames are.

The figure is the mean SSIM (Wang et al. 2004) of each pair of consecutive frames, computed on
luminance (BT.601 luma of the uint8 RGB frames, range 0..255) with a 7x7 uniform window over the
valid region (the window skimage's ``structural_similarity`` uses by default), constants
K1 = 0.01 and K2 = 0.03. It is 1.0 for a still video, near 0 for independent noise frames, and
may go slightly negative for anti-correlated frames. SSIM rather than a pixel difference
because it follows structure: a slow global brightness drift costs little, flicker and
texture that boils from frame to frame cost a lot.
"""

from __future__ import annotations

import numpy as np

WINDOW = 7
_K1, _K2, _RANGE = 0.01, 0.03, 255.0
_C1, _C2 = (_K1 * _RANGE) ** 2, (_K2 * _RANGE) ** 2
_LUMA = np.array([0.299, 0.587, 0.114])


def temporal_consistency(frames: np.ndarray) -> float:
    """Mean SSIM on luma of consecutive frames of uint8 RGB `frames` (F, H, W, 3); 1.0 if F < 2.

    Raises ValueError for another shape or dtype.
    """
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be uint8 (F, H, W, 3); got {frames.dtype} {frames.shape}")
    if frames.shape[0] < 2:
        return 1.0
    scores = []
    previous = _luma(frames[0])
    for frame in frames[1:]:
        current = _luma(frame)
        scores.append(ssim(previous, current))
        previous = current
    return float(np.mean(scores))


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float64) @ _LUMA


def ssim(x: np.ndarray, y: np.ndarray) -> float:
    """Mean SSIM of two equally shaped 2-D float images in 0..255 (window shrinks for tiny images)."""
    k = min(WINDOW, *x.shape)
    mean_x, mean_y = _box_mean(x, k), _box_mean(y, k)
    # Sample (n - 1) normalised covariances, as skimage does by default.
    n = k * k
    correction = n / (n - 1) if n > 1 else 1.0
    var_x = (_box_mean(x * x, k) - mean_x**2) * correction
    var_y = (_box_mean(y * y, k) - mean_y**2) * correction
    cov = (_box_mean(x * y, k) - mean_x * mean_y) * correction
    numerator = (2 * mean_x * mean_y + _C1) * (2 * cov + _C2)
    denominator = (mean_x**2 + mean_y**2 + _C1) * (var_x + var_y + _C2)
    return float(np.mean(numerator / denominator))


def _box_mean(image: np.ndarray, k: int) -> np.ndarray:
    """Mean over every k x k window fully inside `image` (an integral image; O(H*W))."""
    integral = np.zeros((image.shape[0] + 1, image.shape[1] + 1))
    integral[1:, 1:] = image.cumsum(0).cumsum(1)
    total = integral[k:, k:] - integral[:-k, k:] - integral[k:, :-k] + integral[:-k, :-k]
    return total / (k * k)
