"""Image-side helpers: input validation, luminance, the scale ladder and its search."""

from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np

from provenance.watermark.params import SCALE_LADDER, WatermarkParams

MIN_SIDE = 64
_LUMA = np.array([[0.299, 0.587, 0.114]], dtype=np.float32)  # BT.601, as JPEG uses


def luminance(img: np.ndarray) -> np.ndarray:
    """Y of YCbCr (BT.601 full range) as float32."""
    y = cv2.transform(img.astype(np.float32), _LUMA)
    return y[:, :, 0] if y.ndim == 3 else y


def embed_scale(h: int, w: int, params: WatermarkParams) -> float:
    """Image pixels per canonical pixel: the largest ladder value <= short side / canonical."""
    ratio = min(h, w) / params.canonical
    best = SCALE_LADDER[0]
    for r in SCALE_LADDER:
        if r <= ratio + 1e-9:
            best = r
    return best


def candidate_scales(h: int, w: int, params: WatermarkParams) -> list[float]:
    """Scales an image of this size may carry: its own, or (after a crop that kept at
    least ``min_keep_side`` of the short side) those of the larger originals."""
    lo = embed_scale(h, w, params)
    hi_side = math.ceil(min(h, w) / params.min_keep_side)
    hi = embed_scale(hi_side, hi_side, params)
    return [r for r in SCALE_LADDER if lo <= r <= hi]


@lru_cache(maxsize=8)
def max_candidate_scales(params: WatermarkParams) -> int:
    """Upper bound on len(candidate_scales(...)) over all image sizes (for the FP bound)."""
    worst = 1
    for side in range(MIN_SIDE, 40 * params.canonical, 16):
        worst = max(worst, len(candidate_scales(side, side, params)))
    return worst
