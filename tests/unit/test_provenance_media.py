"""Provenance of videos and audio: sealing, H.264 / MP3 re-encodes, trims, verification."""

from __future__ import annotations

import io
from datetime import datetime, timezone

import av
import numpy as np
import pytest

from engines.video_files import EncodeSettings, VideoFormat, encode_video
from genmedia.errors import InvalidArgument
from provenance.c2pa import ManifestVerifier
from provenance.fingerprint import HammingIndex, hamming
from provenance.fingerprint.audio import AudioIndex, audio_fingerprint
from provenance.fingerprint.video import query_frames, sample_frames, video_fingerprint
from provenance.keys import load_keys
from provenance.media_files import decode_video_sample, sniff_kind
from provenance.media_verification import load_media_indexes
from provenance.records import ArtifactRecord, GenerationRecord, RecordStore, prompt_hmac
from provenance.sealing import Sealer
from provenance.verification import Authenticity, Verifier

skimage_data = pytest.importorskip("skimage.data")
FPS = 8
GID_VIDEO = "0192f3c4-5d6e-7f80-9a1b-2c3d4e5f6a01"
GID_WEBM = "0192f3c4-5d6e-7f80-9a1b-2c3d4e5f6a02"
GID_AUDIO = "0192f3c4-5d6e-7f80-9a1b-2c3d4e5f6a03"


# -- synthetic media -----------------------------------------------------------------------

def panning_video(name: str = "coffee", seconds: int = 3, side: int = 256) -> np.ndarray:
    """A camera pan over a photo: textured frames that change over time. 256 px: the image
    watermark's tile is 128 px at least, and at 128 x 128 (one tile) it is out of its range."""
    import cv2

    photo = cv2.resize(np.ascontiguousarray(getattr(skimage_data, name)()[..., :3]), (2 * side, 2 * side))
    n = seconds * FPS
    return np.stack([photo[i * 2:i * 2 + side, i * 3:i * 3 + side] for i in range(n)])


def h264(frames: np.ndarray, crf: int = 23) -> bytes:
    return encode_video(frames, FPS, VideoFormat.MP4, EncodeSettings(crf=crf, preset="veryfast"))


def decode_all(data: bytes) -> np.ndarray:
    with av.open(io.BytesIO(data)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])


def music(seconds: float = 4.0, rate: int = 44100, seed: int = 1) -> np.ndarray:
    """A chord progression with overtones and a little noise, stereo float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    x = np.zeros_like(t)
    for start in np.arange(0, seconds, 0.5):
        env = np.clip((t - start) * 20, 0, 1) * np.exp(-np.clip(t - start, 0, None) * 2.5) * (t >= start)
        for f in rng.uniform(150, 1500, 3):
            for h in (1, 2, 3, 5):
                x += env * np.sin(2 * np.pi * f * h * t + rng.uniform(0, 6)) / h
    x += rng.normal(0, 0.02, x.shape)
    x = 0.5 * x / np.abs(x).max()
    return np.stack([x, np.roll(x, 30)], axis=1).astype(np.float32)


def encode_audio(samples: np.ndarray, rate: int, fmt: str) -> bytes:
    codec, sample_fmt = {"flac": ("flac", "s16"), "mp3": ("libmp3lame", "fltp"), "wav": ("pcm_s16le", "s16")}[fmt]
    x = np.atleast_2d(samples.T) if samples.ndim == 2 else samples[None]
    layout = "stereo" if len(x) == 2 else "mono"
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as c:
        s = c.add_stream(codec, rate=rate, layout=layout)
        if fmt == "mp3":
            s.bit_rate = 128_000
        data = (np.clip(x, -1, 1) * 32767).astype(np.int16).T.reshape(1, -1) if sample_fmt == "s16" \
            else np.ascontiguousarray(x, dtype=np.float32)
        frame = av.AudioFrame.from_ndarray(data, format=sample_fmt, layout=layout)
        frame.sample_rate = rate
        for p in s.encode(frame):
            c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    return buf.getvalue()


def decode_audio(data: bytes) -> tuple[np.ndarray, int]:
    with av.open(io.BytesIO(data)) as c:
        rate = c.streams.audio[0].rate
        res = av.AudioResampler(format="flt", layout="stereo", rate=rate)
        chunks = [o.to_ndarray().reshape(-1, 2) for f in c.decode(audio=0) for o in res.resample(f)]
    return np.concatenate(chunks), rate


# -- the world: keys, sealed artifacts, records, indexes ------------------------------------

@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    return load_keys(env={}, dev_dir=tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def sealer(keys):
    return Sealer(keys, "0.1.0")


def media_record(gid: str, kind: str, artifact: ArtifactRecord) -> GenerationRecord:
    return GenerationRecord(generation_id=gid, tenant="acme", kind=kind, model="tiny", model_version="v1",
                            prompt_hmac=prompt_hmac(b"k" * 16, "acme", "p"), created_at=datetime.now(timezone.utc),
                            artifacts=(artifact,))


@pytest.fixture(scope="module")
def sealed(sealer):
    frames = panning_video()
    video = sealer.seal_video(frames, FPS, "video/mp4", lambda f: encode_video(f, FPS, VideoFormat.MP4),
                              generation_id=GID_VIDEO, index=0, model="tiny", model_version="v1")
    webm = sealer.seal_video(panning_video("astronaut", seconds=2), FPS, "video/webm",
                             lambda f: encode_video(f, FPS, VideoFormat.WEBM),
                             generation_id=GID_WEBM, index=0, model="tiny", model_version="v1")
    audio = sealer.seal_audio(music(), 44100, "audio/flac", lambda x: encode_audio(x, 44100, "flac"),
                              generation_id=GID_AUDIO, index=0, model="tiny", model_version="v1")
    return {"frames": frames, "video": video, "webm": webm, "audio": audio}


@pytest.fixture(scope="module")
def world(tmp_path_factory, keys, sealer, sealed):
    store = RecordStore.open(f"sqlite:///{tmp_path_factory.mktemp('db') / 'records.db'}")
    for gid, s, mime in ((GID_VIDEO, sealed["video"], "video/mp4"), (GID_WEBM, sealed["webm"], "video/webm")):
        store.add(media_record(gid, "video", ArtifactRecord(
            gid, 0, f"file:///{gid}.mp4", s.sha256, mime, s.payload, s.fingerprint, width=s.width,
            height=s.height, duration_s=s.duration_s, kind="video", media_fingerprints=s.media_fingerprints)))
    a = sealed["audio"]
    store.add(media_record(GID_AUDIO, "audio", ArtifactRecord(
        GID_AUDIO, 0, "file:///a.flac", a.sha256, "audio/flac", a.payload, None, duration_s=a.duration_s,
        kind="audio", media_fingerprints=a.media_fingerprints)))
    video_index, audio_index = HammingIndex(), AudioIndex()
    assert load_media_indexes(store, video_index, audio_index) == (3 + 2, 1)
    verifier = Verifier(sealer.watermarker, store, HammingIndex(), ManifestVerifier(keys.c2pa_trust_anchors),
                        video_index=video_index, audio_index=audio_index)
    yield store, verifier
    store.close()


# -- fingerprints ----------------------------------------------------------------------------

def test_video_fingerprint_samples_one_frame_per_second():
    assert sample_frames(24, 8) == [(0, 0), (1, 8), (2, 16)]
    assert sample_frames(10, 2.5) == [(0, 0), (1, 2), (2, 5), (3, 8)]   # nearest frame to each second
    assert sample_frames(1, 30) == [(0, 0)]
    assert query_frames(24, 8) == list(range(24)) and len(query_frames(10_000, 30)) <= 65
    fp = video_fingerprint(panning_video(), FPS)
    assert [h.second for h in fp] == [0, 1, 2] and [h.offset_s for h in fp] == [0.0, 1.0, 2.0]
    assert all(len(h.bits) == 32 and h.quality >= 50 for h in fp)
    assert hamming(fp[0].bits, fp[2].bits) > 31          # the pan changes the picture


def test_audio_fingerprint_survives_mp3_resampling_and_trims():
    x = music()
    fp = audio_fingerprint(x, 44100)
    assert fp.words.dtype == np.uint32 and 110 <= len(fp.words) <= 125     # 31.25 a second, less one frame
    seconds = fp.per_second()
    assert [s for s, _, _ in seconds] == [0, 1, 2, 3] and sum(len(b) for _, _, b in seconds) == 4 * len(fp.words)
    index = AudioIndex()
    index.add("ours", fp.words)
    index.add("other", audio_fingerprint(music(seed=2), 44100).words)
    y, rate = decode_audio(encode_audio(x, 44100, "mp3"))
    assert index.search(audio_fingerprint(y, rate).words)[0].key == "ours"
    trimmed = index.search(audio_fingerprint(y[int(1.3 * rate):int(2.6 * rate)], rate).words)
    assert trimmed[0].key == "ours" and abs(trimmed[0].offset - 1.3 * 31.25) <= 2
    assert index.search(audio_fingerprint(x[::2], 22050).words)[0].ber < 0.1
    assert index.search(audio_fingerprint(music(seed=3), 44100).words) == []
    index.remove("ours")
    assert "ours" not in index and len(index) == 1


# -- video ----------------------------------------------------------------------------------

def test_sealed_video_every_frame_carries_the_watermark_after_h264(sealer, sealed):
    video = sealed["video"]
    assert video.c2pa_signed and len(video.payload) == 8 and (video.width, video.height) == (256, 256)
    assert [m.second for m in video.media_fingerprints] == [0, 1, 2] and video.duration_s == 3.0
    assert video.fingerprint == video.media_fingerprints[0].hash
    reencoded = decode_all(h264(decode_all(video.data), crf=23))
    found = [sealer.watermarker.detect(frame) for frame in reencoded[::4]]
    assert all(det.found and det.payload == video.payload for det in found), [d.found for d in found]
    assert not sealer.watermarker.detect(decode_all(h264(panning_video("astronaut")))[5]).found


def test_video_frames_are_marked_at_the_psnr_of_their_size(sealer):
    from provenance.media_sealing import SMALL_VIDEO_PSNR_DB, VIDEO_PSNR_DB, video_psnr_db

    assert video_psnr_db(256, 448) == SMALL_VIDEO_PSNR_DB == 36.0
    assert video_psnr_db(512, 768) == VIDEO_PSNR_DB == 38.0
    for side in (256, 512):
        frames = panning_video(seconds=1, side=side)[:2]
        video = sealer.seal_video(frames, FPS, "video/mp4", lambda f: encode_video(f, FPS, VideoFormat.MP4),
                                  generation_id=GID_VIDEO, index=0, model="tiny", model_version="v1")
        marked = sealer.video_watermarker_for(side, side).embed(frames[0], video.payload)
        mse = np.mean((marked.astype(np.float64) - frames[0]) ** 2)
        assert abs(10 * np.log10(255.0 ** 2 / mse) - video_psnr_db(side, side)) < 0.5


def test_sealed_mp4_is_generated_here(world, sealed):
    _, verifier = world
    report = verifier.verify(sealed["video"].data)
    assert report.media_kind == "video" and report.authenticity is Authenticity.GENERATED_HERE
    assert report.watermark_found and report.payload == sealed["video"].payload
    assert report.record.generation_id == GID_VIDEO and report.record.artifacts[0].kind == "video"
    assert report.c2pa.present and report.c2pa.valid and report.c2pa.trusted and report.c2pa.generation_id == GID_VIDEO
    assert report.matched_seconds == (0, 1, 2)


def test_webm_has_no_manifest_but_is_found(world, sealed):
    _, verifier = world
    assert not sealed["webm"].c2pa_signed
    report = verifier.verify(sealed["webm"].data)
    assert report.authenticity is Authenticity.GENERATED_HERE and report.c2pa is None
    assert report.record.generation_id == GID_WEBM


def test_trim_reencoded_matches_by_fingerprint(world, sealed, keys):
    store, verifier = world
    frames = decode_all(sealed["video"].data)
    trim = h264(frames[FPS:2 * FPS], crf=23)                # second 1..2, re-encoded
    assert verifier.verify(trim).authenticity is Authenticity.GENERATED_HERE
    # Without the watermark key only the fingerprint is left: still found.
    from provenance.watermark import ImageWatermarker

    blind = Verifier(ImageWatermarker(b"another key of 32 bytes, padded!"), store, HammingIndex(),
                     ManifestVerifier(keys.c2pa_trust_anchors), video_index=verifier.video_index)
    report = blind.verify(trim)
    assert not report.watermark_found
    assert report.authenticity is Authenticity.LIKELY_GENERATED_HERE and report.record.generation_id == GID_VIDEO
    assert 1 in report.matches[0].seconds and 0 not in report.matches[0].seconds
    longer = blind.verify(h264(frames[4:], crf=23))        # starts mid-second: 2.5 s left
    assert longer.authenticity is Authenticity.LIKELY_GENERATED_HERE and len(longer.matches[0].seconds) >= 2


def test_unrelated_video_is_not_found(world):
    _, verifier = world
    report = verifier.verify(h264(panning_video("chelsea")))
    assert report.authenticity is Authenticity.NOT_FOUND and report.record is None and not report.matches


# -- audio ----------------------------------------------------------------------------------

def test_sealed_audio_is_generated_here_and_survives_mp3(world, sealed):
    _, verifier = world
    audio = sealed["audio"]
    assert audio.c2pa_signed and audio.duration_s == 4.0 and len(audio.media_fingerprints) == 4
    report = verifier.verify(audio.data)
    assert report.media_kind == "audio" and report.authenticity is Authenticity.GENERATED_HERE
    assert report.payload == audio.payload[:4] and report.record.generation_id == GID_AUDIO
    assert report.c2pa.present and report.c2pa.valid and report.c2pa.generation_id == GID_AUDIO
    assert report.matches[0].generation_id == GID_AUDIO and report.matches[0].ber < 0.05
    samples, rate = decode_audio(audio.data)
    mp3 = verifier.verify(encode_audio(samples, rate, "mp3"))
    assert mp3.authenticity is Authenticity.GENERATED_HERE and mp3.watermark_found
    assert mp3.record.generation_id == GID_AUDIO and mp3.matches and mp3.c2pa is not None and not mp3.c2pa.present


def test_unrelated_audio_is_not_found(world):
    _, verifier = world
    report = verifier.verify(encode_audio(music(seed=5), 44100, "wav"))
    assert report.media_kind == "audio" and report.authenticity is Authenticity.NOT_FOUND and not report.matches


# -- bad input ------------------------------------------------------------------------------

@pytest.mark.parametrize("data", [b"", b"not a media file at all", b"\x00\x00\x00\x18ftypisom" + b"\x00" * 64,
                                  b"RIFF\x00\x00\x00\x00WAVEfmt " + b"\x01" * 40, b"\x1a\x45\xdf\xa3" + b"\xff" * 50])
def test_bad_bytes_are_invalid_argument_naming_data(world, data):
    _, verifier = world
    with pytest.raises(InvalidArgument) as err:
        verifier.verify(data)
    assert err.value.field == "data"


def test_too_large_is_invalid_argument(world, monkeypatch):
    import provenance.media_files as media_files

    monkeypatch.setattr(media_files, "MAX_MEDIA_BYTES", 1000)
    _, verifier = world
    with pytest.raises(InvalidArgument, match="byte limit") as err:
        verifier.verify(h264(panning_video(seconds=1)))
    assert err.value.field == "data"


def test_sniffing_and_sampling_limits(monkeypatch):
    import provenance.media_files as media_files

    data = h264(panning_video(seconds=3))
    assert sniff_kind(data) == "video" and sniff_kind(encode_audio(music(2.0), 44100, "flac")) == "audio"
    monkeypatch.setattr(media_files, "MAX_SAMPLED_FRAMES", 5)
    sample = decode_video_sample(data, "data")
    assert len(sample.frames) == 5 and sample.fps == FPS and sample.duration_s == 3.0


def test_a_wav_with_a_damaged_header_is_invalid_argument_not_a_crash():
    # Found by the fuzzer: a WAV header claiming a ~2 GHz sample rate made PyAV raise AttributeError
    # on the stream's rate, which surfaced as INTERNAL through Verify.
    import io
    import wave

    from genmedia.errors import InvalidArgument
    from provenance.media_files import decode_audio_clip

    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(32000)
        w.writeframes(b"\x00\x01" * 4000)
    data = bytearray(buf.getvalue())
    data[24:28] = (0x77DDDAA0).to_bytes(4, "little")  # the fmt chunk's sample rate
    with pytest.raises(InvalidArgument) as err:
        decode_audio_clip(bytes(data), "data")
    assert err.value.field == "data"
