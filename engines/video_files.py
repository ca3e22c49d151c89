"""Video containers: uint8 RGB frames <-> MP4 (H.264) or WebM (VP9) bytes, through PyAV.

Both containers carry 4:2:0 video (``yuv420p``), the pixel format every browser and player
decodes; 4:2:0 subsamples chroma 2x2, so frame width and height must be even. RGB is converted
with FFmpeg's default (BT.601) matrix. MP4 files are written with ``+faststart`` (the index
before the media data) so they play while still downloading.
"""

from __future__ import annotations

import enum
import io
import os
import tempfile
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np

from genmedia.errors import InvalidArgument

PIXEL_FORMAT = "yuv420p"


class VideoFormat(str, enum.Enum):
    """An output container and the codec it carries."""

    MP4 = "mp4"  # H.264 (libx264)
    WEBM = "webm"  # VP9 (libvpx-vp9)

    @property
    def extension(self) -> str:
        return f".{self.value}"

    @property
    def content_type(self) -> str:
        return f"video/{self.value}"

    @property
    def codec(self) -> str:
        """The FFmpeg encoder used for this container."""
        return {VideoFormat.MP4: "libx264", VideoFormat.WEBM: "libvpx-vp9"}[self]

    @property
    def codec_name(self) -> str:
        """The codec as a decoder reports it (``stream.codec_context.name``)."""
        return {VideoFormat.MP4: "h264", VideoFormat.WEBM: "vp9"}[self]


@dataclass(frozen=True)
class EncodeSettings:
    """Rate control. Constant quality (``crf``) unless ``bitrate`` is set.

    crf: H.264 0..51, VP9 0..63; lower is better. 18 is visually lossless for H.264 and 31 is
    the VP9 quality YouTube recommends for HD. None picks the container's default.
    bitrate: average bits per second; overrides crf when set.
    preset: x264 speed/efficiency preset ("ultrafast" .. "veryslow"); VP9 ignores it and uses
    ``vp9_cpu_used`` (0 slowest/best .. 8 fastest).
    """

    crf: int | None = None
    bitrate: int | None = None
    preset: str = "medium"
    vp9_cpu_used: int = 4


_DEFAULT_CRF = {VideoFormat.MP4: 18, VideoFormat.WEBM: 31}
_MAX_CRF = {VideoFormat.MP4: 51, VideoFormat.WEBM: 63}


def _check_frames(frames: np.ndarray, pad_to_even: bool) -> np.ndarray:
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] == 0:
        raise InvalidArgument("frames", f"must be uint8 (F, H, W, 3) with F >= 1; got {frames.dtype} {frames.shape}")
    _, height, width, _ = frames.shape
    if height % 2 or width % 2:
        if not pad_to_even:
            name, size = ("width", width) if width % 2 else ("height", height)
            raise InvalidArgument(name, f"is {size}; {PIXEL_FORMAT} video needs even width and height")
        # Repeat the last row/column: an edge that blends in, not a black line.
        frames = np.pad(frames, ((0, 0), (0, height % 2), (0, width % 2), (0, 0)), mode="edge")
    return np.ascontiguousarray(frames)


def _codec_options(fmt: VideoFormat, settings: EncodeSettings) -> dict[str, str]:
    if fmt is VideoFormat.MP4:
        options = {"preset": settings.preset}
        if settings.bitrate is None:
            options["crf"] = str(settings.crf if settings.crf is not None else _DEFAULT_CRF[fmt])
        return options
    options = {"deadline": "good", "cpu-used": str(settings.vp9_cpu_used), "row-mt": "1"}
    if settings.bitrate is None:
        # libvpx's constant-quality mode is crf with a zero target bitrate.
        options["crf"] = str(settings.crf if settings.crf is not None else _DEFAULT_CRF[fmt])
        options["b"] = "0"
    return options


def encode_video(
    frames: np.ndarray,
    fps: int | Fraction,
    container: VideoFormat = VideoFormat.MP4,
    settings: EncodeSettings = EncodeSettings(),
    *,
    pad_to_even: bool = False,
) -> bytes:
    """Encodes RGB frames into a complete file of `container`; returns its bytes.

    frames: uint8 (F, H, W, 3). fps: frames per second (> 0). With odd width or height, raises
    InvalidArgument naming it, or with `pad_to_even` repeats the last row/column (the file is
    then one pixel larger). Raises InvalidArgument for malformed frames, fps or crf.
    """
    container = VideoFormat(container)
    frames = _check_frames(frames, pad_to_even)
    rate = Fraction(fps).limit_denominator(1001)
    if rate <= 0:
        raise InvalidArgument("fps", f"is {fps}; must be positive")
    if settings.crf is not None and not 0 <= settings.crf <= _MAX_CRF[container]:
        raise InvalidArgument("crf", f"is {settings.crf}; must be in 0..{_MAX_CRF[container]} for {container.value}")

    # A real file, not BytesIO: +faststart rewrites the finished file, reopening it by name.
    fd, path = tempfile.mkstemp(suffix=container.extension, prefix="genmedia-video-")
    os.close(fd)
    try:
        _write(path, frames, rate, container, settings)
        with open(path, "rb") as fh:
            return fh.read()
    finally:
        os.unlink(path)


def _write(path: str, frames: np.ndarray, rate: Fraction, container: VideoFormat, settings: EncodeSettings) -> None:
    _, height, width, _ = frames.shape
    options = {"movflags": "+faststart"} if container is VideoFormat.MP4 else {}
    with av.open(path, mode="w", format=container.value, options=options) as output:
        stream = output.add_stream(container.codec, rate=rate, options=_codec_options(container, settings))
        stream.width, stream.height, stream.pix_fmt = width, height, PIXEL_FORMAT
        if settings.bitrate is not None:
            stream.bit_rate = int(settings.bitrate)
        for index, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = index
            for packet in stream.encode(frame.reformat(format=PIXEL_FORMAT)):
                output.mux(packet)
        for packet in stream.encode():  # flush the encoder's delayed frames
            output.mux(packet)


def decode_video(data: bytes) -> tuple[np.ndarray, float]:
    """Decodes the first video stream of a file; returns (uint8 (F, H, W, 3) RGB frames, fps).

    Raises InvalidArgument("video", ...) when the bytes are not a decodable video.
    """
    try:
        with av.open(io.BytesIO(data), mode="r") as source:
            if not source.streams.video:
                raise InvalidArgument("video", "has no video stream")
            stream = source.streams.video[0]
            frames = [frame.to_ndarray(format="rgb24") for frame in source.decode(stream)]
            rate = stream.average_rate or stream.guessed_rate
    except av.error.FFmpegError as exc:
        raise InvalidArgument("video", f"cannot be decoded ({type(exc).__name__})") from exc
    if not frames:
        raise InvalidArgument("video", "has no frames")
    return np.stack(frames), float(rate) if rate else 0.0
