"""The release protocol: no record without its artifacts, no released artifact without its record.

Drives ImageGeneration.release with a real local store and a real record store (SQLite), failing
each step in turn: storing an image, writing the record, writing the manifest.
"""

from __future__ import annotations

import asyncio
import io

import numpy as np
import pytest
from PIL import Image

from engines.families import Family
from engines.image_files import ImageFormat
from engines.params import RawImageFields, resolve_image_params
from engines.registry import ModelInfo
from engines.schedulers import SchedulerName
from genmedia.errors import NotFound, Unavailable
from provenance.keys import load_keys
from provenance.records import RecordStore
from provenance.sealing import Sealer
from safety.policy import PolicyBook
from services.image_generation import ImageGeneration, ImageJob
from services.metrics import Metrics
from services.provenance import record_for_commit
from services.records import new_generation_id
from services.safety import ImageCheck
from storage import LocalArtifactStore

INFO = ModelInfo(name="m", family=Family.SD, version="v1", default_width=64, default_height=64, default_steps=2,
                 default_guidance=7.5, default_scheduler=SchedulerName.DDIM, max_prompt_tokens=77)


class _Remote:
    def __init__(self, fn):
        self._fn = fn

    async def remote(self, arg):
        return self._fn(arg)


class FakeProvenance:
    """The Provenance deployment's commit/forget, in process, on a real record store."""

    def __init__(self, records: RecordStore, fail_commit: bool = False):
        self.records = records
        self.commit = _Remote(self._commit)
        self.forget = _Remote(self._forget)
        self.fail_commit = fail_commit

    def _commit(self, request):
        if self.fail_commit:
            raise Unavailable("provenance record store unavailable (adding a record failed); retry later")
        self.records.add(record_for_commit(request, b"r" * 32, keep_prompt=False))

    def _forget(self, generation_id):
        self.records.delete(generation_id)


class FlakyStore(LocalArtifactStore):
    def __init__(self, root, fail_on: str):
        super().__init__(root)
        self.fail_on = fail_on
        self.puts = 0

    def put(self, key, data, **kwargs):
        self.puts += 1
        if (self.fail_on == "second image" and key.endswith("/1.png")) or \
                (self.fail_on == "manifest" and key.endswith("manifest.json")):
            raise Unavailable(f"storage unavailable (put {key})")
        return super().put(key, data, **kwargs)


@pytest.fixture(scope="module")
def sealed_pair(tmp_path_factory):
    keys = load_keys(env={}, dev_dir=tmp_path_factory.mktemp("keys"))
    sealer = Sealer(keys, "0.1.0")
    gid = new_generation_id()
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (64, 64, 3), dtype=np.uint8) for _ in range(2)]

    def encode(px):
        buf = io.BytesIO()
        Image.fromarray(px).save(buf, format="PNG")
        return buf.getvalue()

    sealed = tuple(sealer.seal(img, "image/png", encode, generation_id=gid, index=i, model="m", model_version="v1")
                   for i, img in enumerate(images))
    return gid, images, sealed


def run_release(tmp_path, sealed_pair, fail_on: str = "", fail_commit: bool = False):
    gid, images, sealed = sealed_pair
    store = FlakyStore(tmp_path / "artifacts", fail_on)
    records = RecordStore.open(f"sqlite:///{tmp_path / 'records.db'}")
    generation = ImageGeneration(None, None, None, None, FakeProvenance(records, fail_commit), store, 1,
                                 Metrics(), {})
    params = resolve_image_params(RawImageFields(prompt="a cat", num_images=2), INFO, seed_if_unset=1)
    job = ImageJob(gid, "acme", params, "v1", ImageFormat.PNG, False, False)
    verdict = PolicyBook().resolve("acme").decide([], rules_version="r", model_versions={})
    check = ImageCheck((verdict, verdict), tuple(images))
    outcome = None
    try:
        outcome = asyncio.run(generation.release(job, check, sealed, verdict, {}))
    except Unavailable as exc:
        outcome = exc
    stored = sorted(str(p.relative_to(tmp_path / "artifacts")) for p in (tmp_path / "artifacts").rglob("*")
                    if p.is_file() and not p.name.endswith(".meta.json"))
    return outcome, stored, records, gid


def test_success_stores_records_and_manifests(tmp_path, sealed_pair):
    outcome, stored, records, gid = run_release(tmp_path, sealed_pair)
    record, _ = outcome
    assert len(stored) == 3 and any(s.endswith("manifest.json") for s in stored)
    saved = records.get(gid)
    assert [a.uri for a in saved.artifacts] == [i.uri for i in record.images]
    assert saved.prompt is None and len(saved.prompt_hmac) == 64


@pytest.mark.parametrize("fail_on, fail_commit", [("second image", False), ("", True), ("manifest", False)])
def test_any_failure_leaves_neither_record_nor_artifact(tmp_path, sealed_pair, fail_on, fail_commit):
    outcome, stored, records, gid = run_release(tmp_path, sealed_pair, fail_on, fail_commit)
    assert isinstance(outcome, Unavailable)
    assert stored == []
    with pytest.raises(NotFound):
        records.get(gid)
