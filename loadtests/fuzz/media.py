"""A small, deterministic corpus of media files for ClassifyImage and Verify: valid files of every
format the service reads, formats it does not, and hostile headers (dimensions far over the 50
megapixel limit in a few bytes). Built once per process, in memory."""

from __future__ import annotations

import functools
import io
import struct
import wave
import zlib

import numpy as np
from PIL import Image


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_claiming(width: int, height: int, color_type: int = 2, bit_depth: int = 8) -> bytes:
    """A PNG whose IHDR claims width x height, with one tiny IDAT (a decompression bomb header)."""
    ihdr = struct.pack(">IIBBBBB", width & 0xFFFFFFFF, height & 0xFFFFFFFF, bit_depth, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + _png_chunk(b"IEND", b""))


def png_zip_bomb(side: int = 7000) -> bytes:
    """A real, valid greyscale PNG of side x side (49 MP at 7000) that compresses to a few KB."""
    raw = (b"\0" + b"\0" * side) * side
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(raw, 9))
            + _png_chunk(b"IEND", b""))


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small valid JPEG with its SOF0 dimensions patched to width x height."""
    data = bytearray(_image_bytes("JPEG", (16, 16), "RGB"))
    i = data.find(b"\xff\xc0")
    if i >= 0:
        data[i + 5:i + 9] = struct.pack(">HH", height & 0xFFFF, width & 0xFFFF)
    return bytes(data)


def _image_bytes(fmt: str, size: tuple[int, int], mode: str, **save) -> bytes:
    rng = np.random.default_rng(size[0] * 7919 + size[1])
    channels = {"RGB": 3, "RGBA": 4, "L": 1, "1": 1, "P": 1, "I;16": 1, "CMYK": 4, "LA": 2}[mode]
    pixels = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    if channels == 1:
        image = Image.fromarray(pixels[:, :, 0], "L").convert(mode)
    elif mode == "LA":
        image = Image.fromarray(pixels, "LA")
    else:
        image = Image.fromarray(pixels, mode if mode != "CMYK" else "CMYK")
    out = io.BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()


def wav_bytes(seconds: float = 2.0, rate: int = 8000, channels: int = 1, width: int = 2) -> bytes:
    n = int(seconds * rate)
    rng = np.random.default_rng(n)
    samples = (rng.standard_normal(n * channels) * 3000).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(samples.tobytes()[: n * channels * width])
    return out.getvalue()


def wav_claiming(frames: int) -> bytes:
    """A WAV header whose data chunk claims `frames` bytes, followed by a few real ones."""
    data = wav_bytes(0.01)
    i = data.find(b"data")
    return data[:i + 4] + struct.pack("<I", frames & 0xFFFFFFFF) + data[i + 8:]


def _video_bytes(container: str, codec: str, frames: int = 4, size: int = 64) -> bytes:
    import av

    out = io.BytesIO()
    with av.open(out, "w", format=container) as box:
        stream = box.add_stream(codec, rate=4)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        rng = np.random.default_rng(frames)
        for _ in range(frames):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                box.mux(packet)
        for packet in stream.encode():
            box.mux(packet)
    return out.getvalue()


def _audio_bytes(container: str, codec: str, seconds: float = 2.0, rate: int = 16000) -> bytes:
    import av

    out = io.BytesIO()
    with av.open(out, "w", format=container) as box:
        stream = box.add_stream(codec, rate=rate)
        stream.layout = "mono"
        rng = np.random.default_rng(7)
        samples = (rng.standard_normal((1, int(seconds * rate))) * 0.2).astype(np.float32)
        fmt = "s16" if codec == "flac" else "fltp"
        if fmt == "s16":
            samples = (samples * 32767).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(samples, format=fmt, layout="mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            box.mux(packet)
        for packet in stream.encode():
            box.mux(packet)
    return out.getvalue()


@functools.lru_cache(maxsize=1)
def corpus() -> dict[str, bytes]:
    """name -> file bytes. Valid images, audio and video, unsupported formats and hostile headers."""
    files: dict[str, bytes] = {
        "png-64-rgb": _image_bytes("PNG", (64, 64), "RGB"),
        "png-8-rgba": _image_bytes("PNG", (8, 8), "RGBA"),
        "png-1x1-l": _image_bytes("PNG", (1, 1), "L"),
        "png-1bit": _image_bytes("PNG", (33, 17), "1"),
        "png-palette": _image_bytes("PNG", (40, 24), "P"),
        "png-16bit": _image_bytes("PNG", (16, 16), "I;16"),
        "png-la": _image_bytes("PNG", (16, 16), "LA"),
        "png-4096x1": _image_bytes("PNG", (4096, 1), "RGB"),
        "jpeg-64": _image_bytes("JPEG", (64, 64), "RGB", quality=90),
        "jpeg-progressive": _image_bytes("JPEG", (48, 32), "RGB", progressive=True),
        "jpeg-cmyk": _image_bytes("JPEG", (16, 16), "CMYK"),
        "jpeg-grey": _image_bytes("JPEG", (16, 16), "L"),
        "webp-lossless": _image_bytes("WEBP", (32, 32), "RGB", lossless=True),
        "webp-lossy-rgba": _image_bytes("WEBP", (32, 32), "RGBA", quality=50),
        "gif": _image_bytes("GIF", (16, 16), "P"),
        "bmp": _image_bytes("BMP", (16, 16), "RGB"),
        "tiff": _image_bytes("TIFF", (16, 16), "RGB"),
        "png-claims-100000x100000": png_claiming(100_000, 100_000),
        "png-claims-2^31x1": png_claiming(2**31 - 1, 1),
        "png-claims-0x0": png_claiming(0, 0),
        "png-claims-8000x8000": png_claiming(8000, 8000),
        "png-bad-colortype": png_claiming(8, 8, color_type=7),
        "png-bad-bitdepth": png_claiming(8, 8, bit_depth=3),
        "jpeg-claims-65535x65535": jpeg_claiming(65535, 65535),
        "jpeg-claims-0x0": jpeg_claiming(0, 0),
        "wav-2s": wav_bytes(2.0),
        "wav-0.1s": wav_bytes(0.1),
        "wav-stereo-8bit": wav_bytes(0.5, 4000, 2, 1),
        "wav-claims-4GB": wav_claiming(2**32 - 1),
        "riff-empty": b"RIFF\x04\0\0\0WAVE",
        "empty": b"",
        "png-magic-only": b"\x89PNG\r\n\x1a\n",
        "jpeg-magic-only": b"\xff\xd8\xff",
        "ftyp-only": b"\0\0\0\x18ftypisom\0\0\0\0isomavc1",
        "webm-magic-only": b"\x1a\x45\xdf\xa3",
        "id3-only": b"ID3\x04\0\0\0\0\0\0",
        "ogg-magic-only": b"OggS\0\x02" + b"\0" * 20,
        "flac-magic-only": b"fLaC",
        "svg": b'<svg xmlns="http://www.w3.org/2000/svg" width="99999" height="99999"/>',
    }
    for name, make in {"mp4-h264": lambda: _video_bytes("mp4", "libx264"),
                       "webm-vp9": lambda: _video_bytes("webm", "libvpx-vp9", frames=3),
                       "flac": lambda: _audio_bytes("flac", "flac"),
                       "mp3": lambda: _audio_bytes("mp3", "libmp3lame"),
                       "ogg-vorbis": lambda: _audio_bytes("ogg", "libvorbis")}.items():
        try:
            files[name] = make()
        except Exception:  # noqa: BLE001 - an encoder missing from this PyAV build: no such seed
            pass
    return files


@functools.lru_cache(maxsize=1)
def bomb() -> bytes:
    """A valid 7000x7000 PNG (49 MP, just under the limit) in a few KB: decoding it costs real
    memory and time, so it is drawn rarely."""
    return png_zip_bomb(7000)
