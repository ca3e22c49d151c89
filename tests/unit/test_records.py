import uuid
from datetime import datetime, timezone

import pytest

from genmedia.errors import InvalidArgument, NotFound
from services.records import (GenerationRecord, ImageRecord, generation_time, load_manifest, new_generation_id,
                              save_manifest)
from storage import LocalArtifactStore


def test_generation_ids_are_uuid7_and_time_ordered():
    ids = [new_generation_id() for _ in range(50)]
    assert all(uuid.UUID(i).version == 7 for i in ids)
    assert len(set(ids)) == 50
    created = generation_time(ids[0])
    assert abs((datetime.now(timezone.utc) - created).total_seconds()) < 5


# The last: a well-formed UUIDv7 whose timestamp is in the year 10389, beyond datetime (found by the
# fuzzer as INTERNAL from GetRecord).
@pytest.mark.parametrize("bad", ["", "nope", str(uuid.uuid4()), "01A20043-8896-7CF3-82BC-B4AF6CCF4246", "../x",
                                 "f1a24e97-860e-7881-9596-925f49a3a679", "ffffffff-ffff-7fff-bfff-ffffffffffff"])
def test_bad_ids_are_invalid_argument(bad):
    with pytest.raises(InvalidArgument) as err:
        generation_time(bad)
    assert err.value.field == "generation_id"


def test_manifest_round_trip(tmp_path):
    store = LocalArtifactStore(tmp_path)
    gid = new_generation_id()
    record = GenerationRecord(gid, "local", "tiny-sd", "abc", 1, 64, 64, 4, 7.5, "default", "2026-01-01T00:00:00Z",
                              (ImageRecord(0, "k", "file:///k", 64, 64, "00", "image/png"),), {"total_s": 1.0})
    save_manifest(store, record)
    assert load_manifest(store, "local", gid) == record
    with pytest.raises(NotFound):
        load_manifest(store, "other-tenant", gid)
