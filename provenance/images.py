"""Validation of the pixel arrays the provenance libraries take: RGB uint8, (H, W, 3)."""

from __future__ import annotations

import numpy as np


def check_rgb(img: np.ndarray, min_side: int) -> np.ndarray:
    """``img`` itself; TypeError/ValueError naming what is wrong (type, shape, dtype, size)."""
    if not isinstance(img, np.ndarray):
        raise TypeError(f"image must be a numpy array, got {type(img).__name__}")
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"image must be RGB with shape (H, W, 3), got {img.shape}")
    if img.dtype != np.uint8:
        raise ValueError(f"image must be uint8, got {img.dtype}")
    if min(img.shape[:2]) < min_side:
        raise ValueError(f"image sides must be at least {min_side} pixels, got {img.shape[:2]}")
    return img
