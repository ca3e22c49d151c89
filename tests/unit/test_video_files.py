"""Video containers (MP4/H.264, WebM/VP9) and the temporal-consistency figure."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest

from engines.temporal import temporal_consistency
from engines.video_files import EncodeSettings, VideoFormat, decode_video, encode_video
from genmedia.errors import InvalidArgument


def _moving_gradient(frames: int = 6, height: int = 48, width: int = 80) -> np.ndarray:
    x = np.linspace(0, 255, width)[None, :]
    y = np.linspace(0, 255, height)[:, None]
    video = np.empty((frames, height, width, 3), np.uint8)
    for i in range(frames):
        video[i, ..., 0] = (x + 10 * i) % 256
        video[i, ..., 1] = y
        video[i, ..., 2] = 128
    return video


@pytest.mark.parametrize("container", list(VideoFormat))
def test_encode_then_decode_keeps_count_size_and_rate(container: VideoFormat) -> None:
    frames = _moving_gradient()
    data = encode_video(frames, 12, container)
    decoded, fps = decode_video(data)
    assert decoded.shape == frames.shape and decoded.dtype == np.uint8
    assert fps == 12
    assert np.abs(decoded.astype(int) - frames).mean() < 4  # lossy, but close at the default crf

    with av.open(io.BytesIO(data)) as probe:
        stream = probe.streams.video[0]
        assert stream.codec_context.name == container.codec_name
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert (stream.codec_context.width, stream.codec_context.height) == (80, 48)


def test_mp4_is_h264_yuv420p_with_faststart() -> None:
    data = encode_video(_moving_gradient(), 8)
    assert data[4:8] == b"ftyp"
    assert 0 < data.find(b"moov") < data.find(b"mdat")  # index first: plays while downloading
    with av.open(io.BytesIO(data)) as probe:
        assert "mp4" in probe.format.name
        assert probe.streams.video[0].codec_context.name == "h264"
        assert probe.streams.video[0].codec_context.pix_fmt == "yuv420p"


def test_webm_is_vp9() -> None:
    data = encode_video(_moving_gradient(), 8, VideoFormat.WEBM, EncodeSettings(crf=40))
    assert data[:4] == b"\x1aE\xdf\xa3"  # EBML
    with av.open(io.BytesIO(data)) as probe:
        assert probe.streams.video[0].codec_context.name == "vp9"


def test_bitrate_mode_and_fractional_rate() -> None:
    decoded, fps = decode_video(encode_video(_moving_gradient(), 24, settings=EncodeSettings(bitrate=200_000)))
    assert fps == 24 and decoded.shape[0] == 6


def test_odd_size_is_refused_or_padded() -> None:
    frames = _moving_gradient(height=47)
    with pytest.raises(InvalidArgument) as err:
        encode_video(frames, 8)
    assert err.value.field == "height"
    decoded, _ = decode_video(encode_video(frames, 8, pad_to_even=True))
    assert decoded.shape == (6, 48, 80, 3)


@pytest.mark.parametrize(
    ("frames", "fps", "settings", "field"),
    [
        (np.zeros((2, 16, 16, 3), np.float32), 8, EncodeSettings(), "frames"),
        (np.zeros((0, 16, 16, 3), np.uint8), 8, EncodeSettings(), "frames"),
        (np.zeros((2, 16, 16, 3), np.uint8), 0, EncodeSettings(), "fps"),
        (np.zeros((2, 16, 16, 3), np.uint8), 8, EncodeSettings(crf=52), "crf"),
    ],
)
def test_bad_input_names_the_field(frames, fps, settings, field) -> None:
    with pytest.raises(InvalidArgument) as err:
        encode_video(frames, fps, settings=settings)
    assert err.value.field == field


def test_decoding_garbage_is_invalid_argument() -> None:
    with pytest.raises(InvalidArgument) as err:
        decode_video(b"not a video at all")
    assert err.value.field == "video"


def test_format_properties() -> None:
    assert (VideoFormat.MP4.extension, VideoFormat.MP4.content_type) == (".mp4", "video/mp4")
    assert (VideoFormat.WEBM.extension, VideoFormat.WEBM.content_type) == (".webm", "video/webm")


# --- temporal consistency ---------------------------------------------------------------------


def test_still_video_is_perfectly_consistent() -> None:
    frame = np.random.default_rng(0).integers(0, 256, (1, 32, 40, 3), dtype=np.uint8)
    assert temporal_consistency(np.repeat(frame, 5, axis=0)) == 1.0
    assert temporal_consistency(frame) == 1.0  # a single frame has nothing to differ from


def test_random_video_is_inconsistent_and_smooth_motion_is_in_between() -> None:
    noise = np.random.default_rng(1).integers(0, 256, (6, 32, 40, 3), dtype=np.uint8)
    smooth = _moving_gradient()
    random_score, smooth_score = temporal_consistency(noise), temporal_consistency(smooth)
    assert abs(random_score) < 0.1
    assert random_score < smooth_score < 1.0


def test_temporal_consistency_rejects_non_frames() -> None:
    with pytest.raises(ValueError):
        temporal_consistency(np.zeros((3, 8, 8), np.uint8))
