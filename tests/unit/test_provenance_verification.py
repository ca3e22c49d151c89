"""Sealing and verification as a library: every kind of evidence, and keys from the environment."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from provenance.c2pa import ManifestVerifier
from provenance.fingerprint import HammingIndex
from provenance.keys import RECORD_KEY, WATERMARK_KEY, SecretError, load_keys
from provenance.records import ArtifactRecord, GenerationRecord, RecordStore, prompt_hmac
from provenance.sealing import Sealer
from provenance.verification import Authenticity, Verifier, index_key
from provenance.watermark import ImageWatermarker

skimage_data = pytest.importorskip("skimage.data")


def encode_png(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    return load_keys(env={}, dev_dir=tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def sealer(keys):
    return Sealer(keys, "0.1.0")


def photo(name: str = "coffee") -> np.ndarray:
    import cv2

    return cv2.resize(np.ascontiguousarray(getattr(skimage_data, name)()[..., :3]), (512, 512))


def record_for(sealed, generation_id: str, tenant: str = "acme") -> GenerationRecord:
    from datetime import datetime, timezone

    return GenerationRecord(
        generation_id=generation_id, tenant=tenant, kind="image", model="tiny-sd", model_version="v1",
        prompt_hmac=prompt_hmac(b"k" * 16, tenant, "a cup of coffee"), created_at=datetime.now(timezone.utc),
        artifacts=(ArtifactRecord(generation_id, 0, "file:///x/0.png", sealed.sha256, "image/png", sealed.payload,
                                  sealed.fingerprint, width=sealed.width, height=sealed.height),),
    )


@pytest.fixture()
def world(tmp_path, keys, sealer):
    store = RecordStore.open(f"sqlite:///{tmp_path / 'records.db'}")
    index = HammingIndex()
    verifier = Verifier(sealer.watermarker, store, index, ManifestVerifier(keys.c2pa_trust_anchors))
    gid = "0192f3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b"
    sealed = sealer.seal(photo(), "image/png", encode_png, generation_id=gid, index=0, model="tiny-sd",
                         model_version="v1")
    store.add(record_for(sealed, gid))
    index.add(index_key(gid, 0), sealed.fingerprint)
    return store, index, verifier, gid, sealed


def test_sealed_image_is_generated_here(world):
    _, _, verifier, gid, sealed = world
    report = verifier.verify(sealed.data)
    assert report.authenticity is Authenticity.GENERATED_HERE
    assert report.watermark_found and report.payload == sealed.payload
    assert report.c2pa.present and report.c2pa.valid and report.c2pa.trusted and report.c2pa.generation_id == gid
    assert report.record.generation_id == gid and report.matches[0].distance <= 4


def test_without_the_watermark_the_fingerprint_still_finds_the_record(world, keys):
    store, index, _, gid, sealed = world
    other_key = Verifier(ImageWatermarker(b"another key of 32 bytes, padded!"), store, index,
                         ManifestVerifier(keys.c2pa_trust_anchors))
    report = other_key.verify(sealed.data)
    assert not report.watermark_found
    assert report.authenticity is Authenticity.LIKELY_GENERATED_HERE and report.record.generation_id == gid


def test_a_valid_manifest_alone_is_only_a_claim(world, sealer):
    _, _, verifier, _, _ = world
    unrecorded = sealer.seal(photo("chelsea"), "image/png", encode_png, generation_id="0192f3c4-0000-7000-8000-000000000001",
                             index=0, model="tiny-sd", model_version="v1")
    report = verifier.verify(unrecorded.data)
    assert report.watermark_found and report.record is None
    assert report.authenticity is Authenticity.CLAIMED_ONLY


def test_unrelated_photo_is_not_found(world):
    _, _, verifier, _, _ = world
    report = verifier.verify(encode_png(photo("astronaut")))
    assert report.authenticity is Authenticity.NOT_FOUND and report.record is None and not report.matches


def test_keys_from_the_environment(tmp_path, keys):
    env = {WATERMARK_KEY: "ab" * 16, RECORD_KEY: "cd" * 32, "GENMEDIA_C2PA_CERT_CHAIN": str(keys.c2pa_cert_chain),
           "GENMEDIA_C2PA_PRIVATE_KEY": str(keys.c2pa_private_key)}
    loaded = load_keys(env=env)
    assert loaded.watermark_key == bytes.fromhex("ab" * 16) and not loaded.dev
    assert "ab" * 16 not in repr(loaded)
    with pytest.raises(SecretError, match=WATERMARK_KEY):
        load_keys(env={k: v for k, v in env.items() if k != WATERMARK_KEY})
    with pytest.raises(SecretError, match="at least 16 bytes"):
        load_keys(env={**env, RECORD_KEY: "ab"})
    with pytest.raises(SecretError, match="hex"):
        load_keys(env={**env, RECORD_KEY: "not hex"})
    with pytest.raises(SecretError, match="GENMEDIA_C2PA_PRIVATE_KEY is not set, but its pair is"):
        load_keys(env={k: v for k, v in env.items() if k != "GENMEDIA_C2PA_PRIVATE_KEY"}, dev_dir=tmp_path)


def test_dev_keys_are_generated_once_and_kept(tmp_path):
    first = load_keys(env={}, dev_dir=tmp_path)
    again = load_keys(env={}, dev_dir=tmp_path)
    assert first.dev and first.watermark_key == again.watermark_key and first.record_key == again.record_key
    assert (tmp_path / "genmedia_watermark_key.hex").stat().st_mode & 0o077 == 0


# Found by the fuzzer (loadtests/fuzz): each was INTERNAL through Verify.
def test_an_image_too_small_for_mark_and_fingerprint_is_reported_not_found(world):
    _, _, verifier, _, _ = world
    report = verifier.verify(encode_png(photo()[:16, :16]))
    assert report.authenticity is Authenticity.NOT_FOUND and not report.watermark_found
    assert any("too small" in r for r in report.reasons)


def test_a_png_too_damaged_for_c2pa_is_still_checked(world):
    _, _, verifier, _, sealed = world
    data = encode_png(photo("astronaut")[:64, :64])
    broken = data[:-8] + b"IE\x00D" + data[-4:]  # the IEND chunk's name corrupted: PIL reads it, c2pa cannot
    report = verifier.verify(broken)
    assert report.authenticity is Authenticity.NOT_FOUND and report.c2pa is None
    assert any("could not be parsed" in r for r in report.reasons)
