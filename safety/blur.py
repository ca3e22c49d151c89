"""Blurring for the BLUR action: the regions that triggered it, or the whole image.

Regions are pixelated to 8x8 blocks, then Gaussian-blurred, with a margin of 15%; what is left
cannot be recognised, and the rest of the image stays usable.
"""

from __future__ import annotations

import numpy as np

from safety.verdict import Box

MARGIN = 0.15
BLOCKS = 8


def _obscure(region: np.ndarray) -> np.ndarray:
    import cv2

    h, w = region.shape[:2]
    if h < 2 or w < 2:
        return region
    small = cv2.resize(region, (max(1, min(BLOCKS, w)), max(1, min(BLOCKS, h))), interpolation=cv2.INTER_AREA)
    blocky = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
    k = max(3, (min(h, w) // 8) | 1)
    return cv2.GaussianBlur(blocky, (k, k), 0)


def blur(image: np.ndarray, boxes: tuple[Box, ...] = ()) -> np.ndarray:
    """A copy of ``image`` (RGB uint8) with ``boxes`` obscured; the whole image if no boxes."""
    out = np.array(image, copy=True)
    if not boxes:
        return _obscure(out)
    h, w = out.shape[:2]
    for b in boxes:
        mx, my = int(b.w * MARGIN), int(b.h * MARGIN)
        x0, y0 = max(0, b.x - mx), max(0, b.y - my)
        x1, y1 = min(w, b.x + b.w + mx), min(h, b.y + b.h + my)
        if x1 > x0 and y1 > y0:
            out[y0:y1, x0:x1] = _obscure(out[y0:y1, x0:x1])
    return out
