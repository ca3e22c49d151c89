"""scikit-image's sample photos as RGB uint8 arrays: the real test images of the benchmarks.

    photo("astronaut")          # (512, 512, 3) uint8, or None if this sample is unavailable
    photo_at("coffee", 1024)    # resized: area averaging when shrinking, bicubic when growing
"""

from __future__ import annotations

import numpy as np


def photo(name: str) -> np.ndarray | None:
    """The sample as RGB uint8 (grey replicated, alpha dropped; 0..1 floats and bools scaled to
    0..255). None when scikit-image is missing or the sample needs a download."""
    try:
        from skimage import data
    except ImportError:
        return None
    try:
        img = np.asarray(getattr(data, name)())
    except Exception:  # noqa: BLE001 - a sample that needs a download
        return None
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    if img.dtype != np.uint8:
        img = (np.clip(img, 0, 1) * 255).astype(np.uint8) if img.max() <= 1.0 else img.astype(np.uint8)
    return np.ascontiguousarray(img[:, :, :3])


def photo_at(name: str, size: int) -> np.ndarray | None:
    """`photo(name)` resized to size x size (None if unavailable)."""
    import cv2

    img = photo(name)
    if img is None:
        return None
    interp = cv2.INTER_AREA if min(img.shape[:2]) >= size else cv2.INTER_CUBIC
    return cv2.resize(img, (size, size), interpolation=interp)
