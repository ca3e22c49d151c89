"""Decoding client-sent video and audio for verification, with bounded memory.

    kind = sniff_kind(data)                     # "image" | "video" | "audio" | None
    clip = decode_video_sample(data, "data")    # VideoSample: up to MAX_SAMPLED_FRAMES frames, fps
    sound = decode_audio_clip(data, "data")     # AudioClip: float32 (n, channels), sample rate

Only known containers are opened (their first bytes are checked before PyAV probes anything):
MP4/MOV (ISO BMFF), WebM/Matroska, Ogg, WAV, FLAC, MP3. A video is decoded in order, but only
a few frames a second are kept (`SAMPLE_FPS`), at most `MAX_SAMPLED_FRAMES`, downscaled to at
most `MAX_FRAME_SIDE`; decoding stops after `MAX_SECONDS` of media. Audio keeps at most
`MAX_SECONDS`. Bytes that are not such a file, or that PyAV cannot decode, raise
`InvalidArgument` naming the request field.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from genmedia.errors import InvalidArgument
from provenance.c2pa.formats import IMAGE_MIMES, sniff_mime

MAX_MEDIA_BYTES = 100 * 1024 * 1024
MAX_SECONDS = 600.0
SAMPLE_FPS = 8.0
MAX_SAMPLED_FRAMES = 64
MAX_FRAME_SIDE = 1024
MAX_AUDIO_CHANNELS = 8
MAX_SAMPLE_RATE = 384_000  # the highest rate in use (DXD); a header claiming more is damaged


def _container(data: bytes) -> str | None:
    head = bytes(data[:12])
    if head[4:8] == b"ftyp":
        return "bmff"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "matroska"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:3] == b"ID3" or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "mp3"
    return None


def sniff_kind(data: bytes) -> str | None:
    """"image", "video" or "audio" from the first bytes (MP4, WebM and Ogg count as video
    here; `decode_video_sample` hands back None for one with only audio), or None."""
    mime = sniff_mime(data)
    if mime in IMAGE_MIMES:
        return "image"
    container = _container(data)
    if container in ("bmff", "matroska", "ogg"):
        return "video"
    return None if container is None else "audio"


@dataclass(frozen=True)
class VideoSample:
    frames: tuple[np.ndarray, ...]    # RGB uint8 (H, W, 3)
    times: tuple[float, ...]          # seconds from the start, one per frame
    fps: float
    duration_s: float                 # as far as it was decoded


@dataclass(frozen=True)
class AudioClip:
    samples: np.ndarray               # float32 (n, channels)
    sample_rate: int

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


def _open(data: bytes, field: str):
    import av

    if not data:
        raise InvalidArgument(field, "required: an image, video or audio file")
    if len(data) > MAX_MEDIA_BYTES:
        raise InvalidArgument(field, f"{len(data)} bytes is over the {MAX_MEDIA_BYTES} byte limit")
    if _container(data) is None:
        raise InvalidArgument(field, "not a supported file: send PNG, JPEG, WebP, MP4, WebM, WAV, "
                                     "FLAC, MP3 or Ogg bytes")
    try:
        return av.open(io.BytesIO(bytes(data)), mode="r")
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise InvalidArgument(field, f"not a decodable media file ({type(exc).__name__})") from None


def decode_video_sample(data: bytes, field: str) -> VideoSample | None:
    """Frames sampled from the first video stream (None when the file has no video stream).
    Raises InvalidArgument naming ``field`` for bytes that cannot be decoded."""
    import av

    with _open(data, field) as container:
        if not container.streams.video:
            return None
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = stream.average_rate or stream.guessed_rate
        fps = float(rate) if rate else 0.0
        frames, times, last_t, first_pts = [], [], 0.0, None
        next_keep = 0.0
        try:
            for i, frame in enumerate(container.decode(stream)):
                t = float(frame.time) if frame.time is not None else (i / fps if fps else 0.0)
                first_pts = t if first_pts is None else first_pts
                t -= first_pts
                if t > MAX_SECONDS:
                    break
                last_t = t
                if t + 1e-6 >= next_keep and len(frames) < MAX_SAMPLED_FRAMES:
                    frames.append(_rgb(frame))
                    times.append(t)
                    next_keep = t + 1.0 / SAMPLE_FPS
        except (av.FFmpegError, ValueError) as exc:
            if not frames:
                raise InvalidArgument(field, f"video could not be decoded ({type(exc).__name__})") from None
    if not frames:
        raise InvalidArgument(field, "the video has no decodable frames")
    fps = fps or (len(frames) / max(last_t, 1e-3))
    return VideoSample(tuple(frames), tuple(times), fps, last_t + 1.0 / fps)


def _rgb(frame) -> np.ndarray:
    w, h = frame.width, frame.height
    scale = min(1.0, MAX_FRAME_SIDE / max(w, h))
    if scale < 1.0:
        return frame.to_ndarray(format="rgb24", width=max(2, int(w * scale)),
                                height=max(2, int(h * scale)))
    return frame.to_ndarray(format="rgb24")


def decode_audio_clip(data: bytes, field: str) -> AudioClip:
    """The first audio stream as float32 (n, channels) at its own rate, at most MAX_SECONDS.
    Raises InvalidArgument naming ``field``."""
    import av

    with _open(data, field) as container:
        if not container.streams.audio:
            raise InvalidArgument(field, "the file has no audio stream")
        stream = container.streams.audio[0]
        try:  # a damaged header can make PyAV fail on the stream's own attributes
            rate = int(getattr(stream, "rate", 0) or stream.codec_context.sample_rate or 0)
            channels = stream.codec_context.channels or 1
            layout = stream.layout.name if channels <= 2 else "stereo"
        except (AttributeError, ValueError, av.FFmpegError):
            raise InvalidArgument(field, "the audio stream's format could not be read") from None
        if not 1 <= rate <= MAX_SAMPLE_RATE or channels > MAX_AUDIO_CHANNELS:
            raise InvalidArgument(field, f"unsupported audio ({rate} Hz, {channels} channels)")
        try:
            resampler = av.AudioResampler(format="flt", layout=layout, rate=rate)
        except (ValueError, av.FFmpegError):
            raise InvalidArgument(field, f"unsupported audio ({rate} Hz, layout {layout})") from None
        limit = int(MAX_SECONDS * rate)
        chunks, total = [], 0
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    array = out.to_ndarray().reshape(-1, min(channels, 2))
                    chunks.append(array)
                    total += len(array)
                if total >= limit:
                    break
        except (av.FFmpegError, ValueError) as exc:
            if not chunks:
                raise InvalidArgument(field, f"audio could not be decoded ({type(exc).__name__})") from None
    if not chunks:
        raise InvalidArgument(field, "the audio has no decodable samples")
    return AudioClip(np.ascontiguousarray(np.concatenate(chunks)[:limit], dtype=np.float32), int(rate))
