"""Encoding generated images into files (PNG, JPEG, WebP)."""

from __future__ import annotations

import enum
import io

import numpy as np
from PIL import Image


class ImageFormat(str, enum.Enum):
    PNG = "png"
    JPEG = "jpeg"
    WEBP = "webp"

    @property
    def content_type(self) -> str:
        return f"image/{self.value}"

    @property
    def extension(self) -> str:
        return {"png": "png", "jpeg": "jpg", "webp": "webp"}[self.value]


def encode_image(pixels: np.ndarray, fmt: ImageFormat) -> bytes:
    """uint8 HWC RGB -> file bytes. JPEG at quality 95 with 4:2:0; WebP lossless; PNG level 6."""
    image = Image.fromarray(pixels, mode="RGB")
    out = io.BytesIO()
    if fmt is ImageFormat.PNG:
        image.save(out, format="PNG", compress_level=6)
    elif fmt is ImageFormat.JPEG:
        image.save(out, format="JPEG", quality=95, subsampling="4:2:0")
    else:
        image.save(out, format="WEBP", lossless=True)
    return out.getvalue()
