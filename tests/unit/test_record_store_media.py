"""Video and audio artifacts in the record store (SQLite and a real PostgreSQL), and migration 0002."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from genmedia.errors import InvalidArgument
from provenance.records import ArtifactRecord, GenerationRecord, MediaFingerprint, RecordStore, migrate, watermark_payload
from provenance.records.engine import create_engine
from provenance.records.schema import current_revision, head_revision
from tests.unit.test_record_store import (  # noqa: F401  (fixtures)
    KEY,
    NOW,
    backend,
    empty_url,
    make_record,
    pg_records_url,
    postgres_server,
    store,
    store_url,
)


def media_record(kind: str, seconds: int = 3, gid: str | None = None) -> GenerationRecord:
    gid = gid or str(uuid.uuid4())
    media = tuple(MediaFingerprint(s, s * 1.0, bytes([s + 1]) * (32 if kind == "video" else 124),
                                   90 if kind == "video" else None) for s in range(seconds))
    artifact = ArtifactRecord(gid, 0, f"file:///{gid}.bin", "ab" * 32, "video/mp4" if kind == "video" else "audio/flac",
                              watermark_payload(KEY, gid, 0), bytes([7]) * 32 if kind == "video" else None,
                              duration_s=float(seconds), kind=kind, media_fingerprints=media)
    return GenerationRecord(generation_id=gid, tenant="acme", kind=kind, model="m", model_version="v",
                            prompt_hmac="0" * 64, created_at=NOW, artifacts=(artifact,))


def test_media_round_trip_and_iteration(store):
    image, video, audio = make_record(), media_record("video"), media_record("audio", seconds=2)
    for record in (image, video, audio):
        store.add(record)
    assert store.get(video.generation_id) == video and store.get(audio.generation_id) == audio
    assert store.get(image.generation_id) == image
    assert store.get(audio.generation_id).artifacts[0].fingerprint is None
    # iter_fingerprints stays the image index; videos on request, audio never.
    assert {g for g, _, _ in store.iter_fingerprints()} == {image.generation_id}
    assert [(g, fp) for g, _, fp in store.iter_fingerprints(kind="video")] == [(video.generation_id, bytes([7]) * 32)]
    with pytest.raises(InvalidArgument):
        store.iter_fingerprints(kind="audio")
    rows = list(store.iter_media_fingerprints("video", batch_size=2))
    assert [(r.generation_id, r.second, r.quality) for r in rows] == [(video.generation_id, s, 90) for s in range(3)]
    assert rows[1].hash == bytes([2]) * 32 and rows[1].offset_s == 1.0
    assert [r.second for r in store.iter_media_fingerprints("audio")] == [0, 1]
    assert list(store.iter_media_fingerprints("video", after=(video.generation_id, 0, 1)))[0].second == 2
    # Audio watermarks carry a prefix of the payload.
    payload = audio.artifacts[0].watermark_payload
    assert [a.generation_id for a in store.find_by_payload_prefix(payload[:4], kind="audio")] == [audio.generation_id]
    assert store.find_by_payload_prefix(payload[:4], kind="video") == []
    assert store.delete(video.generation_id)
    assert list(store.iter_media_fingerprints("video")) == []


def test_media_fields_are_checked():
    gid = str(uuid.uuid4())
    payload = watermark_payload(KEY, gid, 0)
    with pytest.raises(InvalidArgument, match="fingerprint"):
        ArtifactRecord(gid, 0, "file:///x", "ab" * 32, "video/mp4", payload, None, kind="video")
    with pytest.raises(InvalidArgument, match="media_fingerprints"):
        ArtifactRecord(gid, 0, "file:///x", "ab" * 32, "image/png", payload, b"\0" * 32,
                       media_fingerprints=(MediaFingerprint(0, 0.0, b"\0" * 32),))
    with pytest.raises(InvalidArgument, match="second"):
        ArtifactRecord(gid, 0, "file:///x", "ab" * 32, "video/mp4", payload, b"\0" * 32, kind="video",
                       media_fingerprints=(MediaFingerprint(0, 0.0, b"\0"), MediaFingerprint(0, 0.1, b"\1")))
    with pytest.raises(InvalidArgument, match="kind"):
        ArtifactRecord(gid, 0, "file:///x", "ab" * 32, "x/y", payload, b"\0" * 32, kind="text")
    with pytest.raises(InvalidArgument, match="hash"):
        MediaFingerprint(0, 0.0, b"")


def test_upgrade_from_0001_keeps_image_rows(empty_url):
    migrate(empty_url, "0001")
    record = make_record()
    engine = create_engine(empty_url)
    try:
        art = record.artifacts[0]
        with engine.begin() as connection:   # written as the 0001 code wrote it
            connection.execute(text(
                "INSERT INTO generations (generation_id, tenant, user_id, kind, model, model_version, prompt_hmac, "
                "created_at) VALUES (:g, 'acme', NULL, 'image', 'tiny-sd', 'abc123', :h, :c)"),
                {"g": uuid.UUID(record.generation_id) if engine.dialect.name == "postgresql"
                 else uuid.UUID(record.generation_id).hex, "h": record.prompt_hmac,
                 "c": NOW if engine.dialect.name == "postgresql" else NOW.replace(tzinfo=None)})
            connection.execute(text(
                'INSERT INTO artifacts (generation_id, "index", uri, sha256, media_type, watermark_key_id, '
                "watermark_payload, fingerprint) VALUES (:g, 0, :u, :s, 'image/png', 'default', :p, :f)"),
                {"g": uuid.UUID(record.generation_id) if engine.dialect.name == "postgresql"
                 else uuid.UUID(record.generation_id).hex, "u": art.uri, "s": art.sha256,
                 "p": art.watermark_payload, "f": art.fingerprint})
        migrate(empty_url)
        assert current_revision(engine) == head_revision() == "0002"
        with RecordStore(empty_url) as store:
            got = store.get(record.generation_id)
            assert got.artifacts[0].kind == "image" and got.artifacts[0].fingerprint == art.fingerprint
            assert list(store.iter_fingerprints()) == [(record.generation_id, 0, art.fingerprint)]
            video = media_record("video")
            store.add(video)
            assert store.get(video.generation_id) == video
        with engine.begin() as connection:   # the CHECK: only audio may lack a fingerprint
            with pytest.raises(Exception):
                connection.execute(text("UPDATE artifacts SET fingerprint = NULL WHERE kind = 'image'"))
    finally:
        engine.dispose()
