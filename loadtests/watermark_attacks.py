"""Image attacks for watermark robustness benchmarks (pure functions, RGB uint8 in and out).

All take an (H, W, 3) uint8 array and return a new uint8 array.  ``ATTACKS`` maps a short
name to a one-argument callable at the standard settings used by ``bench_watermark``.
"""

from __future__ import annotations

import io
import math
from typing import Callable

import cv2
import numpy as np
from PIL import Image, ImageEnhance

Attack = Callable[[np.ndarray], np.ndarray]


def jpeg(img: np.ndarray, q: int) -> np.ndarray:
    """JPEG round trip with Pillow at quality q and 4:2:0 chroma subsampling."""
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=int(q), subsampling=2)
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB"))


def resize_back(img: np.ndarray, f: float) -> np.ndarray:
    """Resize by factor f (Pillow bilinear, antialiased when shrinking), then back to the
    original size."""
    h, w = img.shape[:2]
    small = Image.fromarray(img).resize((max(1, round(w * f)), max(1, round(h * f))),
                                        Image.Resampling.BILINEAR)
    return np.asarray(small.resize((w, h), Image.Resampling.BILINEAR))


def crop(img: np.ndarray, area_fraction: float, position: str | tuple[float, float] = "center",
         ) -> np.ndarray:
    """Keep a window covering ``area_fraction`` of the image area with the image's aspect
    ratio (each side scaled by sqrt(area_fraction)); no resize back.

    position: "center", "topleft", "bottomright", "offcenter" (30 % / 70 % of the slack
    on y / x), or (fy, fx) in [0, 1]: where the window sits within the slack.
    """
    if not 0.0 < area_fraction <= 1.0:
        raise ValueError(f"area_fraction must be in (0, 1], got {area_fraction}")
    h, w = img.shape[:2]
    s = math.sqrt(area_fraction)
    ch, cw = max(1, round(h * s)), max(1, round(w * s))
    named = {"center": (0.5, 0.5), "topleft": (0.0, 0.0), "bottomright": (1.0, 1.0),
             "offcenter": (0.3, 0.7)}
    fy, fx = named[position] if isinstance(position, str) else position
    y0, x0 = round((h - ch) * fy), round((w - cw) * fx)
    return np.ascontiguousarray(img[y0:y0 + ch, x0:x0 + cw])


def blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur (OpenCV, kernel +-3 sigma)."""
    k = 2 * math.ceil(3 * sigma) + 1
    return cv2.GaussianBlur(img, (k, k), sigma)


def brightness(img: np.ndarray, f: float) -> np.ndarray:
    """Pillow ImageEnhance.Brightness: every channel times f (f=1.2 is +20 %), clipped."""
    return np.asarray(ImageEnhance.Brightness(Image.fromarray(img)).enhance(f))


def contrast(img: np.ndarray, f: float) -> np.ndarray:
    """Pillow ImageEnhance.Contrast: blend with the mean grey, factor f (1.2 is +20 %)."""
    return np.asarray(ImageEnhance.Contrast(Image.fromarray(img)).enhance(f))


def identity(img: np.ndarray) -> np.ndarray:
    return img


ATTACKS: dict[str, Attack] = {
    "none": identity,
    "jpeg75": lambda im: jpeg(im, 75),
    "jpeg50": lambda im: jpeg(im, 50),
    "resize0.5": lambda im: resize_back(im, 0.5),
    "crop10c": lambda im: crop(im, 0.90, "center"),
    "crop10o": lambda im: crop(im, 0.90, "offcenter"),
    "crop25c": lambda im: crop(im, 0.75, "center"),
    "crop25o": lambda im: crop(im, 0.75, "offcenter"),
    "blur1": lambda im: blur(im, 1.0),
    "bright+20": lambda im: brightness(im, 1.2),
    "bright-20": lambda im: brightness(im, 0.8),
    "contr+20": lambda im: contrast(im, 1.2),
    "contr-20": lambda im: contrast(im, 0.8),
    "jpeg75+crop25": lambda im: jpeg(crop(im, 0.75, "offcenter"), 75),
}
