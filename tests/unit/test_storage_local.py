"""LocalArtifactStore: round trips, atomic writes, and keys or URIs that try to escape."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

import pytest

import storage.local
from genmedia.errors import InvalidArgument, NotFound, Unavailable
from storage import LocalArtifactStore, StoredObject

KEY = "acme/2025/03/07/0f8fad5b-d9cb-469f-a165-70867728950e/0.png"
META = {"generation-id": "0f8fad5b-d9cb-469f-a165-70867728950e"}


@pytest.fixture
def store(tmp_path: Path) -> LocalArtifactStore:
    return LocalArtifactStore(tmp_path / "artifacts")


def stray_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and p.name.startswith(".")]


def test_put_get_head_round_trip(store: LocalArtifactStore):
    data = b"\x89PNG fake bytes"
    stored = store.put(KEY, data, content_type="image/png", metadata=META)
    expected = StoredObject(
        key=KEY,
        uri=(store.root / KEY).as_uri(),
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        content_type="image/png",
        metadata=META,
    )
    assert stored == expected
    assert store.head(KEY) == expected
    assert store.get(KEY) == data
    assert store.exists(KEY)
    assert stored.uri.startswith("file:///")
    sidecar = json.loads((store.root / (KEY + ".meta.json")).read_text())
    assert sidecar["sha256"] == expected.sha256 and sidecar["metadata"] == META
    assert store.presigned_url(KEY, 60) is None
    assert stray_files(store.root) == []


def test_missing_object(store: LocalArtifactStore):
    with pytest.raises(NotFound):
        store.get(KEY)
    with pytest.raises(NotFound):
        store.head(KEY)
    assert not store.exists(KEY)
    store.put(KEY, b"x", content_type="image/png")
    prefix = KEY.rsplit("/", 1)[0]
    with pytest.raises(NotFound):  # a folder is not an object
        store.get(prefix)
    assert not store.exists(prefix)


def test_delete_is_idempotent(store: LocalArtifactStore):
    store.put(KEY, b"x", content_type="image/png", metadata=META)
    store.delete(KEY)
    assert not store.exists(KEY)
    assert not (store.root / (KEY + ".meta.json")).exists()
    store.delete(KEY)
    store.delete("never/written.png")


def test_overwrite_replaces_bytes_and_metadata(store: LocalArtifactStore):
    store.put(KEY, b"old", content_type="image/png", metadata={"v": "1"})
    store.put(KEY, b"newer", content_type="image/webp", metadata={"v": "2"})
    assert store.get(KEY) == b"newer"
    head = store.head(KEY)
    assert (head.size, head.content_type, head.metadata) == (5, "image/webp", {"v": "2"})


def test_failed_write_leaves_nothing_visible(store: LocalArtifactStore, monkeypatch):
    real_replace = os.replace

    def failing_replace(src, dst):
        if not str(dst).endswith(".meta.json"):
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(storage.local.os, "replace", failing_replace)
    with pytest.raises(Unavailable):
        store.put(KEY, b"data", content_type="image/png")
    assert not store.exists(KEY)
    with pytest.raises(NotFound):
        store.get(KEY)
    assert stray_files(store.root) == []


def test_readers_never_see_a_partial_object(store: LocalArtifactStore):
    payloads = [b"a" * (1 << 20), b"b" * (3 << 20)]
    store.put(KEY, payloads[0], content_type="image/png")
    stop = threading.Event()
    seen: list[bytes] = []

    def read_loop():
        while not stop.is_set():
            seen.append(store.get(KEY))

    readers = [threading.Thread(target=read_loop) for _ in range(3)]
    for reader in readers:
        reader.start()
    try:
        for i in range(40):
            store.put(KEY, payloads[i % 2], content_type="image/png")
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    assert seen and all(data in payloads for data in seen)
    assert stray_files(store.root) == []


@pytest.mark.parametrize(
    "key", ["../outside.png", "/etc/passwd", "acme/../../x", "a\\..\\x", "a\x00b", "acme/.x", "",
            KEY + ".meta.json"]
)
def test_bad_keys_rejected_everywhere(store: LocalArtifactStore, key):
    calls = [
        lambda: store.put(key, b"x", content_type="image/png"),
        lambda: store.get(key),
        lambda: store.head(key),
        lambda: store.exists(key),
        lambda: store.delete(key),
        lambda: store.uri(key),
        lambda: store.presigned_url(key),
    ]
    for call in calls:
        with pytest.raises(InvalidArgument) as info:
            call()
        assert info.value.field == "key"
    assert not (store.root.parent / "outside.png").exists()


def test_symlink_out_of_root_rejected(store: LocalArtifactStore, tmp_path: Path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (store.root / "acme").symlink_to(outside, target_is_directory=True)
    with pytest.raises(InvalidArgument) as info:
        store.put("acme/x.png", b"x", content_type="image/png")
    assert info.value.field == "key"
    assert list(outside.iterdir()) == []


def test_object_and_folder_cannot_share_a_key(store: LocalArtifactStore):
    store.put("acme/a", b"x", content_type="image/png")
    with pytest.raises(InvalidArgument) as info:
        store.put("acme/a/b", b"y", content_type="image/png")
    assert info.value.field == "key"
    with pytest.raises(InvalidArgument):
        store.put("acme", b"y", content_type="image/png")
    assert store.get("acme/a") == b"x"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"content_type": "image/png", "metadata": {"sha256": "f00"}}, "metadata.sha256"),
        ({"content_type": "image/png", "metadata": {"Generation-Id": "x"}}, "metadata"),
        ({"content_type": "image/png", "metadata": {"a": "line\nbreak"}}, "metadata.a"),
        ({"content_type": "image/png", "metadata": {"a": 1}}, "metadata.a"),
        ({"content_type": "image/png", "metadata": {f"k{i}": "v" * 200 for i in range(10)}},
         "metadata"),
        ({"content_type": "png"}, "content_type"),
        ({"content_type": "image/png\r\nX-Evil: 1"}, "content_type"),
    ],
)
def test_bad_put_arguments_rejected(store: LocalArtifactStore, kwargs, field):
    with pytest.raises(InvalidArgument) as info:
        store.put(KEY, b"x", **kwargs)
    assert info.value.field == field
    assert not store.exists(KEY)


def test_data_must_be_bytes(store: LocalArtifactStore):
    with pytest.raises(InvalidArgument) as info:
        store.put(KEY, "text", content_type="text/plain")  # type: ignore[arg-type]
    assert info.value.field == "data"


def test_get_by_uri_round_trip(store: LocalArtifactStore):
    stored = store.put("acme/odd%name#1?.png", b"odd", content_type="image/png")
    assert store.key_for_uri(stored.uri) == "acme/odd%name#1?.png"
    assert store.get_by_uri(stored.uri) == b"odd"


def test_get_by_uri_rejects_foreign_uris(store: LocalArtifactStore, tmp_path: Path):
    store.put(KEY, b"mine", content_type="image/png")
    secret = tmp_path / "secret.txt"
    secret.write_text("not an artifact")
    other = LocalArtifactStore(tmp_path / "other")
    other.put(KEY, b"theirs", content_type="image/png")
    root = store.root.as_uri()
    foreign = [
        secret.as_uri(),
        other.uri(KEY),
        f"s3://bucket/{KEY}",
        f"http://127.0.0.1/{KEY}",
        f"{root}/../secret.txt",
        f"{root}/acme/%2e%2e/%2e%2e/secret.txt",
        f"{root}/{KEY}.meta.json",
        f"{root}/{KEY}?x=1",
        f"{root}/{KEY}#frag",
        f"file://evil.example{store.root}/{KEY}",
        f"file:{store.root}/{KEY}",
        f"{root}/acme%2F2025/03/07/0f8fad5b-d9cb-469f-a165-70867728950e/0.png",
        root,
        f"{root}/",
        "",
        KEY,
        None,
    ]
    for uri in foreign:
        with pytest.raises(InvalidArgument) as info:
            store.get_by_uri(uri)
        assert info.value.field == "uri", uri
    assert store.get_by_uri(store.uri(KEY)) == b"mine"


def test_create_only_if_absent(store: LocalArtifactStore):
    assert store.create(KEY, b"first", content_type="application/json") is True
    assert store.create(KEY, b"second", content_type="application/json") is False
    assert store.get(KEY) == b"first" and store.head(KEY).size == 5
    store.delete(KEY)
    assert store.create(KEY, b"third", content_type="application/json") is True


def test_concurrent_creates_have_one_winner(store: LocalArtifactStore):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(16) as pool:
        wins = list(pool.map(lambda i: store.create(KEY, b"%d" % i, content_type="text/plain"), range(64)))
    assert wins.count(True) == 1
    assert store.get(KEY) == b"%d" % wins.index(True)
    assert not stray_files(store.root)  # losers leave no temp files
