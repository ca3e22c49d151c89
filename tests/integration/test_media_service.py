"""Video and music end to end over gRPC with the tiny presets: generate, decode the files, verify
their watermarks and records through Verify, stream progress, and cancel mid-generation."""

from __future__ import annotations

import time

import av
import grpc
import numpy as np
import pytest

from engines.audio_files import decode_audio
from engines.video_files import VideoFormat, decode_video, encode_video
from genmedia.client import GenmediaClient
from genmedia.v1 import generation_pb2 as pb
from genmedia.v1 import provenance_pb2 as ppb
from genmedia.v1 import provenance_pb2_grpc as ppb_grpc

pytestmark = pytest.mark.integration

VIDEO = dict(prompt="waves rolling onto a beach", model="tiny-t2v", width=256, height=256, num_frames=8, fps=4,
             steps=2, seed=3)


@pytest.fixture(scope="module")
def client(service):
    with GenmediaClient(service.address) as c:
        yield c


@pytest.fixture(scope="module")
def provenance(client):
    return ppb_grpc.ProvenanceServiceStub(client.channel)


@pytest.fixture(scope="module")
def video(client):
    return client.generate_video(**VIDEO, return_bytes=True, timeout=300)


@pytest.fixture(scope="module")
def music(client):
    return client.generate_audio(prompt="a calm piano melody", model="tiny-musicgen", duration_s=2.0, seed=5,
                                 return_bytes=True, timeout=300)


# --- video -----------------------------------------------------------------------------------------
def test_video_is_an_h264_mp4_with_the_requested_frames_size_and_rate(video):
    assert video.kind == pb.MEDIA_KIND_VIDEO and len(video.videos) == 1 and not video.images
    v = video.videos[0]
    assert (v.width, v.height, v.num_frames, v.fps) == (256, 256, 8, 4) and v.duration_s == 2.0
    assert v.content_type == "video/mp4" and v.c2pa_embedded and v.uri.endswith(".mp4")
    frames, fps = decode_video(v.data)
    assert frames.shape == (8, 256, 256, 3) and fps == 4
    with av.open(__import__("io").BytesIO(v.data)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
    assert 0.0 <= v.temporal_consistency <= 1.0
    assert (video.num_frames, video.fps, video.seed, video.model) == (8, 4, 3, "tiny-t2v")
    assert v.safety.action and video.prompt_safety.action


def test_video_verifies_as_generated_here_also_after_reencoding(video, provenance):
    data = video.videos[0].data
    result = provenance.Verify(ppb.VerifyRequest(data=data), timeout=120)
    assert result.media_kind == "video"
    assert result.authenticity == ppb.AUTHENTICITY_GENERATED_HERE, list(result.reasons)
    assert result.record.generation_id == video.generation_id and result.record.kind == "video"
    assert result.watermark.found and result.c2pa.present and result.c2pa.valid
    # An H.264 re-encode at a normal quality (CRF 23) of the first 1 s: the watermark in the
    # frames still decodes and the per-second fingerprints still match.
    frames, fps = decode_video(data)
    from engines.video_files import EncodeSettings
    trimmed = encode_video(frames[:4], int(fps), VideoFormat.MP4, EncodeSettings(crf=23))
    again = provenance.Verify(ppb.VerifyRequest(data=trimmed), timeout=120)
    assert again.authenticity in (ppb.AUTHENTICITY_GENERATED_HERE, ppb.AUTHENTICITY_LIKELY_GENERATED_HERE), \
        list(again.reasons)
    assert again.record.generation_id == video.generation_id


def test_video_result_comes_back_from_get_generation(video, client):
    again = client.get_generation(video.generation_id, timeout=60)
    assert again.kind == pb.MEDIA_KIND_VIDEO and again.videos[0].sha256 == video.videos[0].sha256


def test_stream_video_reports_steps_then_each_phase(client):
    events = list(client.stream_video(prompt="a kite over a hill", model="tiny-animatediff", width=64, height=64,
                                      num_frames=4, fps=2, steps=3, seed=1, container=pb.VIDEO_CONTAINER_WEBM,
                                      timeout=300))
    kinds = [e.WhichOneof("event") for e in events]
    assert kinds[:3] == ["queued", "prompt_checked", "prompt_encoded"] and kinds[-2:] == ["stored", "done"]
    assert [e.step.step for e in events if e.HasField("step")] == [1, 2, 3]
    phases = [e.phase.name for e in events if e.HasField("phase")]
    P = pb.GenerationEvent.Phase
    assert phases == [P.NAME_DECODING, P.NAME_SAFETY_CHECK, P.NAME_SEALING, P.NAME_STORING]
    done = events[-1].done.videos[0]
    assert done.content_type == "video/webm" and not done.c2pa_embedded and done.num_frames == 4


# --- music -----------------------------------------------------------------------------------------
def test_music_is_a_wav_of_the_requested_length(music):
    assert music.kind == pb.MEDIA_KIND_AUDIO and len(music.audios) == 1
    a = music.audios[0]
    assert a.content_type == "audio/wav" and a.sample_rate == 32000 and a.channels == 1 and a.c2pa_embedded
    samples, rate = decode_audio(a.data)
    assert rate == 32000 and abs(len(samples) / rate - 2.0) < 0.05 and abs(a.duration_s - 2.0) < 0.05
    assert np.abs(samples).max() > 0
    assert (music.duration_s, music.top_k, music.seed) == (2.0, 250, 5)


def test_music_verifies_as_generated_here(music, provenance):
    result = provenance.Verify(ppb.VerifyRequest(data=music.audios[0].data), timeout=120)
    assert result.media_kind == "audio"
    assert result.authenticity == ppb.AUTHENTICITY_GENERATED_HERE, list(result.reasons)
    assert result.record.generation_id == music.generation_id and result.record.kind == "audio"


@pytest.mark.parametrize("fmt, content_type", [(pb.AUDIO_FORMAT_FLAC, "audio/flac"),
                                                (pb.AUDIO_FORMAT_MP3, "audio/mpeg")])
def test_music_formats(client, fmt, content_type):
    result = client.generate_audio(prompt="drums", model="tiny-musicgen", duration_s=2.0, seed=2, format=fmt,
                                   return_bytes=True, timeout=300)
    a = result.audios[0]
    assert a.content_type == content_type
    samples, rate = decode_audio(a.data)
    assert rate == 32000 and abs(len(samples) / rate - 2.0) < 0.1


def test_stream_audio_reports_token_progress(client):
    events = list(client.stream_audio(prompt="a slow cello", model="tiny-musicgen", duration_s=2.0, seed=4,
                                      timeout=300))
    steps = [(e.step.step, e.step.total) for e in events if e.HasField("step")]
    assert steps and steps[-1][0] == steps[-1][1] and [s for s, _ in steps] == sorted(s for s, _ in steps)
    assert events[-1].HasField("done") and events[-1].done.kind == pb.MEDIA_KIND_AUDIO


# --- cancellation: the replica is freed at the next step -------------------------------------------
def _cancel_after_first_step(call) -> float:
    """Reads a stream until its first step event, cancels it, returns the seconds one step took."""
    start = time.perf_counter()
    for event in call:
        if event.HasField("step"):
            first = time.perf_counter() - start
            call.cancel()
            return first
    raise AssertionError("the stream ended before its first step")


@pytest.mark.parametrize("long_request, short_request", [
    (("stream_video", dict(prompt="a long river", model="tiny-t2v", width=256, height=256, num_frames=8, fps=4,
                           steps=150, seed=9)),
     ("generate_video", dict(prompt="a short river", model="tiny-t2v", width=64, height=64, num_frames=2, fps=2,
                             steps=1, seed=9))),
    (("stream_audio", dict(prompt="a very long song", model="tiny-musicgen", duration_s=30.0, seed=9)),
     ("generate_audio", dict(prompt="a short jingle", model="tiny-musicgen", duration_s=2.0, seed=9))),
], ids=["video", "audio"])
def test_cancelling_mid_generation_frees_the_replica_at_once(client, long_request, short_request):
    method, fields = long_request
    call = getattr(client, method)(timeout=600, **fields)
    _cancel_after_first_step(call)
    with pytest.raises(grpc.RpcError) as err:
        next(iter(call))
    assert err.value.code() == grpc.StatusCode.CANCELLED
    # The cancelled job would hold the generator for its remaining steps (150 denoising steps at
    # 256 px, or 1500 tokens); the next request must run now, not after it.
    method, fields = short_request
    start = time.perf_counter()
    result = getattr(client, method)(timeout=120, **fields)
    took = time.perf_counter() - start
    assert result.generation_id
    assert took < 30, f"the next request waited {took:.1f} s: the cancelled generation kept the replica"


# --- errors ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("call, fields, field", [
    ("generate_video", dict(prompt="x", model="tiny-t2v", num_frames=1000), "num_frames"),
    ("generate_video", dict(prompt="x", model="tiny-t2v", width=100), "width"),
    ("generate_video", dict(prompt="x", model="tiny-sd"), "model"),
    ("generate_video", dict(prompt="x", model="tiny-t2v", fps=500), "fps"),
    ("generate_audio", dict(prompt="x", model="tiny-musicgen", duration_s=31), "duration_s"),
    ("generate_audio", dict(prompt="x", model="tiny-musicgen", duration_s=0.5), "duration_s"),
    ("generate_audio", dict(prompt="x", model="tiny-musicgen", top_p=1.5), "top_p"),
    ("generate_audio", dict(prompt="x", model="tiny-sd"), "model"),
    ("generate_audio", dict(prompt="", model="tiny-musicgen"), "prompt"),
])
def test_bad_media_requests_name_the_field(client, call, fields, field):
    with pytest.raises(grpc.RpcError) as err:
        getattr(client, call)(timeout=60, **fields)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
    assert err.value.details().startswith(f"{field}"), err.value.details()


@pytest.mark.parametrize("call, model", [("generate_video", "tiny-t2v"), ("generate_audio", "tiny-musicgen")])
def test_blocked_prompt_spends_no_generation_time(client, call, model):
    with pytest.raises(grpc.RpcError) as err:
        getattr(client, call)(prompt="a n.u.d.e woman posing on a bed", model=model, timeout=60)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "sexual" in err.value.details()


# --- the command line ------------------------------------------------------------------------------
@pytest.mark.parametrize("argv, suffix", [
    (["video", "a paper boat", "--model", "tiny-t2v", "--width", "64", "--height", "64", "--frames", "2",
      "--fps", "2", "--steps", "1"], ".mp4"),
    (["audio", "a paper boat song", "--model", "tiny-musicgen", "--duration", "2", "--format", "flac"], ".flac"),
], ids=["video", "audio"])
def test_cli_generates_video_and_audio_files(service, tmp_path, argv, suffix):
    import subprocess
    import sys

    out = tmp_path / f"out{suffix}"
    done = subprocess.run([sys.executable, "-m", "genmedia.cli", "--address", service.address, "generate", *argv,
                           "--out", str(out), "--no-progress"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(out) and out.stat().st_size > 0
    if suffix == ".mp4":
        frames, fps = decode_video(out.read_bytes())
        assert frames.shape[0] == 2 and fps == 2
    else:
        samples, rate = decode_audio(out.read_bytes())
        assert rate == 32000 and abs(len(samples) / rate - 2.0) < 0.1


def test_an_expired_deadline_stops_the_generation_and_frees_the_replica(client):
    """A unary call whose deadline passes mid-generation: the client gets DEADLINE_EXCEEDED and the
    generator stops at its next step, so the next request runs at once."""
    with pytest.raises(grpc.RpcError) as err:
        client.generate_video(prompt="an endless road", model="tiny-t2v", width=256, height=256, num_frames=8,
                              fps=4, steps=150, seed=8, timeout=6)
    assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    start = time.perf_counter()
    client.generate_video(prompt="a short road", model="tiny-t2v", width=64, height=64, num_frames=2, fps=2,
                          steps=1, seed=8, timeout=120)
    took = time.perf_counter() - start
    assert took < 30, f"the next request waited {took:.1f} s: the expired generation kept the replica"
