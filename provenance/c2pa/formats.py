"""Containers this package signs and reads: mime checks and byte sniffing.

Images: PNG, JPEG, WebP. Media (the C2PA SDK embeds manifests in these too): MP4 (ISO BMFF),
WAV, FLAC and MP3. WebM/Matroska is not a C2PA container the SDK supports: such files are
released without a manifest (their watermark and fingerprint still identify them).
"""

from __future__ import annotations

PNG = "image/png"
JPEG = "image/jpeg"
WEBP = "image/webp"
MP4 = "video/mp4"
WAV = "audio/wav"
FLAC = "audio/flac"
MP3 = "audio/mpeg"
IMAGE_MIMES = (PNG, JPEG, WEBP)
MEDIA_MIMES = (MP4, WAV, FLAC, MP3)
SUPPORTED_MIMES = IMAGE_MIMES + MEDIA_MIMES
EXTENSIONS = {PNG: "png", JPEG: "jpg", WEBP: "webp", MP4: "mp4", WAV: "wav", FLAC: "flac",
              MP3: "mp3"}
_MAGIC = {PNG: b"\x89PNG\r\n\x1a\n", JPEG: b"\xff\xd8\xff", FLAC: b"fLaC"}


def _starts_like(data: bytes, mime: str) -> bool:
    if mime == WEBP:
        return data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    if mime == WAV:
        return data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    if mime == MP4:            # ISO BMFF: a box of type "ftyp" first (QuickTime "qt  " excluded)
        return data[4:8] == b"ftyp" and data[8:12] != b"qt  "
    if mime == MP3:            # an ID3v2 tag, or an MPEG audio frame sync (11 bits set)
        return data[:3] == b"ID3" or (len(data) >= 2 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0)
    return data.startswith(_MAGIC[mime])


def check_mime(mime: str) -> str:
    """The canonical (lower-case) mime type; ValueError naming ``mime`` if not supported."""
    if not isinstance(mime, str):
        raise TypeError(f"mime must be a str, got {type(mime).__name__}")
    canonical = mime.strip().lower()
    canonical = {"audio/x-wav": WAV, "audio/wave": WAV, "audio/x-flac": FLAC,
                 "audio/mp3": MP3}.get(canonical, canonical)
    if canonical not in SUPPORTED_MIMES:
        raise ValueError(f"unsupported mime type {mime!r}: C2PA manifests are signed and read "
                         f"for {', '.join(SUPPORTED_MIMES)} only")
    return canonical


def is_supported(mime: str) -> bool:
    """Whether ``mime`` is a container C2PA manifests are signed and read for here."""
    try:
        check_mime(mime)
    except (TypeError, ValueError):
        return False
    return True


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
