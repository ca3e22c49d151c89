"""API keys: hashed storage, authentication, reload on change, rotation, and the file's validation."""

from __future__ import annotations

import os

import pytest
import yaml

from genmedia.api_keys import KeyRing, NoAuth, create_key, hash_key, read_key_file, revoke_key
from genmedia.errors import Unauthenticated


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def bearer(key: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {key}")]


def test_the_file_keeps_only_a_digest(tmp_path):
    path = tmp_path / "keys.yaml"
    entry, key = create_key(path, "acme", note="batch")
    text = path.read_text()
    assert key not in text and key.split("_")[2] not in text
    assert entry.sha256 == hash_key(key) and entry.sha256 in text
    assert key.startswith(f"gmk_{entry.id}_") and len(key) > 40
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"


def test_a_key_authenticates_as_its_tenant(tmp_path):
    path = tmp_path / "keys.yaml"
    entry, key = create_key(path, "acme")
    ring = KeyRing(path)
    caller = ring.authenticate(bearer(key))
    assert (caller.tenant, caller.key_id) == ("acme", entry.id)
    assert ring.authenticate([("authorization", f"bearer   {key} ")]).tenant == "acme"


@pytest.mark.parametrize("metadata, message", [
    ([], "authorization: missing"),
    ([("x-other", "1")], "authorization: missing"),
    ([("authorization", "Basic abc")], "authorization: expected 'Bearer <API key>'"),
    ([("authorization", "Bearer")], "authorization: expected 'Bearer <API key>'"),
    ([("authorization", "Bearer " + "x" * 500)], "authorization: expected 'Bearer <API key>'"),
    ([("authorization", "Bearer gmk_00000000_wrong")], "authorization: unknown or revoked API key"),
])
def test_bad_credentials_are_unauthenticated_naming_authorization(tmp_path, metadata, message):
    path = tmp_path / "keys.yaml"
    create_key(path, "acme")
    with pytest.raises(Unauthenticated) as err:
        KeyRing(path).authenticate(metadata)
    assert err.value.message.startswith(message)


def test_rotation_and_revocation_take_effect_after_reload_s(tmp_path):
    path = tmp_path / "keys.yaml"
    old_entry, old = create_key(path, "acme")
    clock = Clock()
    ring = KeyRing(path, reload_s=5.0, clock=clock)
    new_entry, new = create_key(path, "acme")
    with pytest.raises(Unauthenticated):
        ring.authenticate(bearer(new))  # not re-read yet
    clock.now = 5.0
    assert ring.authenticate(bearer(new)).key_id == new_entry.id
    assert ring.authenticate(bearer(old)).key_id == old_entry.id  # both work during the switch
    revoke_key(path, old_entry.id)
    clock.now = 10.0
    with pytest.raises(Unauthenticated):
        ring.authenticate(bearer(old))
    assert ring.authenticate(bearer(new)).tenant == "acme"


def test_a_broken_file_keeps_the_last_good_keys(tmp_path, caplog):
    path = tmp_path / "keys.yaml"
    _, key = create_key(path, "acme")
    clock = Clock()
    ring = KeyRing(path, reload_s=1.0, clock=clock)
    path.write_text("version: 1\nkeys: [ {id: 1")
    clock.now = 2.0
    assert ring.authenticate(bearer(key)).tenant == "acme"
    assert "keeping the 1 keys loaded before" in caplog.text


def test_a_broken_file_at_start_up_is_an_error(tmp_path):
    path = tmp_path / "keys.yaml"
    path.write_text("keys: []")
    with pytest.raises(ValueError, match="version: 1"):
        KeyRing(path)
    with pytest.raises(FileNotFoundError):
        KeyRing(tmp_path / "missing.yaml")


@pytest.mark.parametrize("entry, message", [
    ({"id": "a", "tenant": "acme"}, "needs id, tenant and sha256"),
    ({"id": "a", "tenant": "acme", "sha256": "xyz"}, "not a SHA-256"),
    ({"id": "a", "tenant": "../etc", "sha256": "0" * 64}, "tenant"),
    ({"id": "a", "tenant": "acme", "sha256": "0" * 64, "role": "admin"}, "unknown fields"),
])
def test_key_file_validation(tmp_path, entry, message):
    path = tmp_path / "keys.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "keys": [entry]}))
    with pytest.raises(ValueError, match=message):
        read_key_file(path)


def test_duplicate_ids_are_refused(tmp_path):
    path = tmp_path / "keys.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "keys": [
        {"id": "a", "tenant": "x", "sha256": "0" * 64}, {"id": "a", "tenant": "y", "sha256": "1" * 64}]}))
    with pytest.raises(ValueError, match="repeats"):
        read_key_file(path)


def test_revoking_an_unknown_id_raises(tmp_path):
    path = tmp_path / "keys.yaml"
    create_key(path, "acme")
    with pytest.raises(KeyError):
        revoke_key(path, "nope")


def test_without_a_key_file_every_call_is_the_local_tenant():
    assert NoAuth("local").authenticate([]).tenant == "local"
    with pytest.raises(ValueError):
        NoAuth("a/b")


def test_cli_creates_lists_and_revokes_keys(tmp_path, capsys):
    from genmedia.cli import main

    path = str(tmp_path / "keys.yaml")
    assert main(["keys", "--file", path, "create", "--tenant", "acme", "--note", "renderer"]) == 0
    key = capsys.readouterr().out.strip()
    assert KeyRing(tmp_path / "keys.yaml").authenticate(bearer(key)).tenant == "acme"
    assert main(["keys", "--file", path, "list"]) == 0
    listed = capsys.readouterr().out
    key_id = listed.split("\t")[0]
    assert "acme" in listed and "renderer" in listed and key not in listed
    assert main(["keys", "--file", path, "revoke", key_id]) == 0
    assert main(["keys", "--file", path, "revoke", key_id]) == 1
    assert read_key_file(tmp_path / "keys.yaml") == []
