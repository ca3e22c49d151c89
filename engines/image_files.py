"""Image files (PNG, JPEG, WebP): encoding generated images, decoding images clients send."""

from __future__ import annotations

import enum
import io

import numpy as np
from PIL import Image, UnidentifiedImageError

from genmedia.errors import InvalidArgument

# Limits on images a client sends (SafetyService.ClassifyImage, ProvenanceService.Verify).
MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_IMAGE_PIXELS = 50_000_000


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


def decode_image(data: bytes, field: str) -> np.ndarray:
    """RGB uint8 pixels of client-sent PNG, JPEG or WebP bytes, within the limits above.
    Raises InvalidArgument naming ``field`` (the request field the bytes came in)."""
    if not data:
        raise InvalidArgument(field, "required: PNG, JPEG or WebP bytes")
    if len(data) > MAX_IMAGE_BYTES:
        raise InvalidArgument(field, f"{len(data)} bytes is over the {MAX_IMAGE_BYTES} byte limit")
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format not in ("PNG", "JPEG", "WEBP"):
                raise InvalidArgument(field, f"format {img.format} is not supported; send PNG, JPEG or WebP")
            if img.width * img.height > MAX_IMAGE_PIXELS:
                raise InvalidArgument(field, f"{img.width}x{img.height} is over {MAX_IMAGE_PIXELS} pixels")
            return np.asarray(img.convert("RGB"))
    except InvalidArgument:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise InvalidArgument(field, f"not a decodable image ({type(exc).__name__})") from None
