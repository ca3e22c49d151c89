"""MeteredStore: storage errors are counted by operation and kind; caller errors are not."""

from __future__ import annotations

import pytest

from genmedia.errors import InvalidArgument, NotFound, Unavailable
from services.metered_store import MeteredStore
from storage import LocalArtifactStore


class Recorded:
    """Stands in for a Ray metric: keeps what was recorded."""

    def __init__(self):
        self.calls: list[tuple[float, dict]] = []

    def inc(self, value: float = 1.0, tags: dict | None = None) -> None:
        self.calls.append((value, tags or {}))

    observe = inc


class RecordedMetrics:
    def __init__(self):
        self.storage_errors = Recorded()
        self.stage_duration = Recorded()


class DownStore(LocalArtifactStore):
    def get(self, key: str) -> bytes:
        raise Unavailable("storage: the disk is gone")

    def delete(self, key: str) -> None:
        raise OSError("unexpected")


@pytest.fixture()
def metrics():
    return RecordedMetrics()


def test_put_time_is_recorded_and_results_pass_through(tmp_path, metrics):
    store = MeteredStore(LocalArtifactStore(tmp_path), "local", metrics)
    obj = store.put("t/a.png", b"x", content_type="image/png")
    assert store.get("t/a.png") == b"x" and store.uri("t/a.png") == obj.uri
    assert [tags["stage"] for _, tags in metrics.stage_duration.calls] == ["storage_put"]
    assert metrics.storage_errors.calls == []


def test_caller_errors_are_not_storage_errors(tmp_path, metrics):
    store = MeteredStore(LocalArtifactStore(tmp_path), "local", metrics)
    with pytest.raises(NotFound):
        store.get("t/missing.png")
    with pytest.raises(InvalidArgument):
        store.get("../escape")
    assert metrics.storage_errors.calls == []


def test_server_side_failures_are_counted_by_operation_and_kind(tmp_path, metrics):
    store = MeteredStore(DownStore(tmp_path), "local", metrics)
    with pytest.raises(Unavailable):
        store.get("t/a.png")
    with pytest.raises(OSError):
        store.delete("t/a.png")
    assert [tags for _, tags in metrics.storage_errors.calls] == [
        {"backend": "local", "operation": "get", "kind": "unavailable"},
        {"backend": "local", "operation": "delete", "kind": "other"},
    ]
