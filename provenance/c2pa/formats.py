"""Image containers this package signs and reads (PNG, JPEG, WebP): mime checks and byte sniffing."""

from __future__ import annotations

PNG = "image/png"
JPEG = "image/jpeg"
WEBP = "image/webp"
SUPPORTED_MIMES = (PNG, JPEG, WEBP)
EXTENSIONS = {PNG: "png", JPEG: "jpg", WEBP: "webp"}
_MAGIC = {PNG: b"\x89PNG\r\n\x1a\n", JPEG: b"\xff\xd8\xff", WEBP: b"RIFF"}


def _starts_like(data: bytes, mime: str) -> bool:
    if mime == WEBP:
        return data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    return data.startswith(_MAGIC[mime])


def check_mime(mime: str) -> str:
    """The canonical (lower-case) mime type; ValueError naming ``mime`` if not supported."""
    if not isinstance(mime, str):
        raise TypeError(f"mime must be a str, got {type(mime).__name__}")
    canonical = mime.strip().lower()
    if canonical not in SUPPORTED_MIMES:
        raise ValueError(f"unsupported mime type {mime!r}: C2PA manifests are signed and read "
                         f"for {', '.join(SUPPORTED_MIMES)} only")
    return canonical


def sniff_mime(data: bytes) -> str | None:
    """The supported mime type whose signature ``data`` starts with, or None."""
    for mime in SUPPORTED_MIMES:
        if _starts_like(bytes(data[:12]), mime):
            return mime
    return None


def check_image_bytes(data: bytes, mime: str) -> bytes:
    """``data`` as bytes, after checking it is non-empty and starts like a ``mime`` file."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"image_bytes must be bytes, got {type(data).__name__}")
    data = bytes(data)
    if not data:
        raise ValueError("image_bytes is empty")
    if not _starts_like(data, mime):
        found = sniff_mime(data)
        raise ValueError(f"image_bytes is not a {mime} file (its first bytes "
                         + (f"are those of {found})" if found else "match no supported format)"))
    return data
