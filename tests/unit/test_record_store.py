"""The provenance record store on SQLite (a temp file) and on a real PostgreSQL server.

PostgreSQL comes from `tests.fixtures.postgres_server` (a throwaway cluster on 127.0.0.1); the
test session fails if its binaries are missing (`scripts/install_system_deps.sh`).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, event, text

from genmedia.errors import InvalidArgument, NotFound, Unavailable
from provenance.records import (
    ArtifactRecord,
    DuplicateRecord,
    GenerationRecord,
    RecordStore,
    SchemaNotReady,
    migrate,
    prompt_hmac,
    watermark_payload,
)
from provenance.records import retention
from provenance.records.engine import create_engine
from provenance.records.models import metadata
from provenance.records.schema import current_revision, head_revision, schema_diff
from tests.fixtures.postgres_server import (  # noqa: F401
    PostgresNotInstalled,
    PostgresServer,
    find_pg_bindir,
    free_port,
    postgres_server,
    postgres_url,
)

REPO = Path(__file__).resolve().parents[2]
KEY = b"k" * 32
NOW = datetime(2026, 5, 20, 12, 0, 0, 123456, tzinfo=UTC)
BACKENDS = ["sqlite", "postgresql"]


# -- records ---------------------------------------------------------------------------------

def make_record(created_at: datetime = NOW, *, tenant: str = "acme", n_artifacts: int = 2,
                prompt: str | None = None, parameters: dict | None = None,
                key_id: str = "default", generation_id: str | None = None) -> GenerationRecord:
    gid = generation_id or str(uuid.uuid4())
    arts = tuple(
        ArtifactRecord(
            generation_id=gid, index=i, uri=f"file:///var/artifacts/{gid}/{i}.png",
            sha256=f"{i:064x}", media_type="image/png",
            watermark_payload=watermark_payload(KEY, gid, i),
            fingerprint=bytes([i]) * 32, safety={"action": "allow", "scores": {"nsfw": 0.01}},
            width=64, height=48, watermark_key_id=key_id)
        for i in range(n_artifacts))
    return GenerationRecord(
        generation_id=gid, tenant=tenant, kind="image", model="tiny-sd", model_version="abc123",
        prompt_hmac=prompt_hmac(KEY, tenant, prompt or "a cat"), created_at=created_at,
        artifacts=arts, user_id="user-7", prompt=prompt,
        parameters={"seed": 7, "steps": 4, "guidance_scale": 7.5} if parameters is None
        else parameters,
        prompt_safety={"action": "allow", "categories": []})


# -- stores on both backends -----------------------------------------------------------------

@pytest.fixture(scope="session")
def pg_records_url(postgres_server: PostgresServer) -> str:  # noqa: F811
    """A database of the session server, migrated once; tests empty its tables."""
    url = postgres_server.create_database("records")
    migrate(url)
    return url


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def store_url(backend, tmp_path, request) -> str:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'records.db'}"
        migrate(url)
        return url
    url = request.getfixturevalue("pg_records_url")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("TRUNCATE media_fingerprints, artifacts, generations"))
    engine.dispose()
    return url


@pytest.fixture
def store(store_url):
    with RecordStore(store_url) as s:
        yield s


@pytest.fixture
def empty_url(backend, tmp_path, request) -> str:
    """A database with nothing in it, not even the schema."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'empty' / 'records.db'}"
    return request.getfixturevalue("postgres_server").create_database()


# -- round trip, tenancy, lookups ------------------------------------------------------------

def test_add_get_round_trip(store):
    record = make_record()
    store.add(record)
    assert store.get(record.generation_id) == record
    got = store.get(record.generation_id, tenant="acme")
    assert got == record
    assert got.created_at == NOW and got.created_at.tzinfo is not None
    assert [a.index for a in got.artifacts] == [0, 1]
    assert got.artifacts[1].fingerprint == bytes([1]) * 32
    assert got.parameters_purged_at is None
    # Canonical id in any case, or as a UUID object.
    assert store.get(record.generation_id.upper()) == record
    assert store.get(uuid.UUID(record.generation_id)) == record


def test_generation_without_artifacts(store):
    record = make_record(n_artifacts=0, parameters={})
    store.add(record)
    assert store.get(record.generation_id) == record


def test_other_tenant_is_not_found(store):
    record = make_record(tenant="acme")
    store.add(record)
    with pytest.raises(NotFound) as other:
        store.get(record.generation_id, tenant="globex")
    absent_id = str(uuid.uuid4())
    with pytest.raises(NotFound) as absent:
        store.get(absent_id)
    # Same wording: a caller cannot tell "another tenant's" from "absent".
    assert other.value.message == f"generation {record.generation_id} not found"
    assert absent.value.message == f"generation {absent_id} not found"
    with pytest.raises(InvalidArgument) as bad:
        store.get("not-a-uuid")
    assert bad.value.field == "generation_id"


def test_find_by_payload(store):
    record = make_record()
    store.add(record)
    found = store.find_by_payload(watermark_payload(KEY, record.generation_id, 1))
    assert found == record.artifacts[1]
    assert found.generation_id == record.generation_id
    assert store.find_by_payload(watermark_payload(KEY, str(uuid.uuid4()), 0)) is None
    assert store.find_by_payload(found.watermark_payload, key_id="rotated-2027") is None
    with pytest.raises(InvalidArgument):
        store.find_by_payload(b"short")


def test_iter_fingerprints_streams_in_batches(store):
    records = [make_record(n_artifacts=2) for _ in range(5)]
    for record in records:
        store.add(record)
    expected = sorted((r.generation_id, a.index, a.fingerprint)
                      for r in records for a in r.artifacts)

    queries: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if "fingerprint" in statement and "FROM artifacts" in statement:
            queries.append(statement)

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        walk = store.iter_fingerprints(batch_size=3)
        assert queries == []                       # lazy: nothing read before the first item
        first = next(walk)
        assert len(queries) == 1                   # one batch of 3 read, not all 10 rows
        rest = list(walk)
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    got = [first, *rest]
    if store.backend == "sqlite":                  # CHAR(32) order is the same as UUID order
        assert got == expected
    assert sorted(got) == expected
    assert len(queries) == 4                       # 3 + 3 + 3 + 1 rows
    assert all(isinstance(g, str) and isinstance(i, int) and isinstance(f, bytes)
               for g, i, f in got)
    assert list(store.iter_fingerprints()) == got  # default batch: one query


def test_delete(store):
    record = make_record()
    store.add(record)
    assert store.delete(record.generation_id) is True
    with pytest.raises(NotFound):
        store.get(record.generation_id)
    assert store.find_by_payload(record.artifacts[0].watermark_payload) is None
    assert list(store.iter_fingerprints()) == []
    assert store.delete(record.generation_id) is False
    store.add(record)                              # the id and payloads are free again
    assert store.get(record.generation_id) == record


def test_duplicate_add_is_a_clear_error(store):
    record = make_record()
    store.add(record)
    with pytest.raises(DuplicateRecord) as dup:
        store.add(record)
    assert dup.value.what == "generation_id"
    assert dup.value.generation_id == record.generation_id
    assert record.generation_id in dup.value.message

    # Another generation reusing a payload in the same key scope: refused as a whole.
    other = make_record()
    clash = replace(other, artifacts=(
        other.artifacts[0],
        replace(other.artifacts[1], watermark_payload=record.artifacts[0].watermark_payload)))
    with pytest.raises(DuplicateRecord) as dup:
        store.add(clash)
    assert dup.value.what == "watermark_payload"
    with pytest.raises(NotFound):
        store.get(other.generation_id)             # one transaction: nothing of it was kept
    assert store.get(record.generation_id) == record

    # The same payloads under another watermark key are another scope.
    rotated = replace(other, artifacts=tuple(
        replace(a, generation_id=other.generation_id, watermark_key_id="rotated-2027")
        for a in record.artifacts))
    store.add(rotated)
    found = store.find_by_payload(record.artifacts[0].watermark_payload, key_id="rotated-2027")
    assert found.generation_id == other.generation_id
    assert store.find_by_payload(record.artifacts[0].watermark_payload).generation_id == \
        record.generation_id


def test_plain_prompt_stored_only_when_given(store):
    hidden = make_record()
    allowed = make_record(prompt="a red bicycle", tenant="open-tenant")
    store.add(hidden)
    store.add(allowed)
    assert store.get(hidden.generation_id).prompt is None
    assert store.get(allowed.generation_id).prompt == "a red bicycle"
    assert store.get(allowed.generation_id).prompt_hmac == prompt_hmac(KEY, "open-tenant",
                                                                       "a red bicycle")
    with store.engine.connect() as connection:
        prompts = dict(connection.execute(text("SELECT tenant, prompt FROM generations")).all())
    assert prompts == {"acme": None, "open-tenant": "a red bicycle"}


# -- retention -------------------------------------------------------------------------------

def test_purge_job(store):
    old = make_record(NOW - timedelta(days=100))
    recent = make_record(NOW - timedelta(days=10))
    old_without_parameters = replace(make_record(NOW - timedelta(days=100)), parameters=None)
    for record in (old, recent, old_without_parameters):
        store.add(record)

    assert retention.purge_job(store, 90, now=NOW) == 1
    purged = store.get(old.generation_id)
    assert purged.parameters is None
    assert purged.parameters_purged_at == NOW
    assert replace(purged, parameters=old.parameters, parameters_purged_at=None) == old
    assert store.get(recent.generation_id) == recent
    assert store.get(old_without_parameters.generation_id) == old_without_parameters
    assert retention.purge_job(store, 90, now=NOW) == 0           # idempotent
    assert retention.purge_job(store, 5, now=NOW) == 1            # shorter period: recent too
    assert store.get(recent.generation_id).parameters is None


def test_purge_works_in_batches(store):
    records = [make_record(NOW - timedelta(days=200 + i), n_artifacts=0) for i in range(5)]
    for record in records:
        store.add(record)
    assert store.purge_parameters(now=NOW, batch_size=2) == 5
    assert store.purge_parameters(now=NOW, batch_size=2) == 0
    with pytest.raises(InvalidArgument):
        store.purge_parameters(now=datetime(2026, 1, 1))            # naive: zone unknown


def test_retention_cli(store, store_url, capsys):
    store.add(make_record(datetime.now(UTC) - timedelta(days=100)))
    store.add(make_record(datetime.now(UTC) - timedelta(days=10)))
    assert retention.main(["--url", store_url, "--days", "90"]) == 0
    assert capsys.readouterr().out.strip() == "1"
    assert retention.main(["--url", store_url]) == 0
    assert capsys.readouterr().out.strip() == "0"


def test_retention_cli_as_module(tmp_path):
    url = f"sqlite:///{tmp_path / 'records.db'}"
    with RecordStore.open(url) as store:
        store.add(make_record(datetime.now(UTC) - timedelta(days=100)))
    env = {**os.environ, "GENMEDIA_RECORDS_URL": url}
    result = subprocess.run([sys.executable, "-m", "provenance.records.retention", "--days", "90"],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"


def test_retention_cli_unavailable_exits_1(capsys):
    url = f"postgresql+psycopg://purger:hunter2secret@127.0.0.1:{free_port()}/records"
    assert retention.main(["--url", url]) == 1
    err = capsys.readouterr().err
    assert "unavailable" in err and "hunter2secret" not in err


# -- migrations ------------------------------------------------------------------------------

def _ddl_statements(engine) -> list[str]:
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(("CREATE", "ALTER", "DROP")):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    return seen


def test_migrate_creates_schema_and_twice_is_a_no_op(empty_url):
    engine = create_engine(empty_url)
    try:
        assert current_revision(engine) is None
        ddl = _ddl_statements(engine)
        migrate(engine)
        assert current_revision(engine) == head_revision()
        assert any("CREATE TABLE generations" in s for s in ddl)
        assert any("CREATE TABLE artifacts" in s for s in ddl)
        ddl.clear()
        migrate(engine)
        migrate(empty_url)                          # by URL too
        assert ddl == []
        assert current_revision(engine) == head_revision()
        with RecordStore.open(empty_url) as store:  # open migrates: a no-op here
            record = make_record()
            store.add(record)
            assert store.get(record.generation_id) == record
    finally:
        engine.dispose()


def test_models_match_migrations(store):
    assert schema_diff(store.engine) == []
    # The check is not vacuous: a column the migrations lack is reported.
    changed = MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.tables.values():
        table.to_metadata(changed)
    changed.tables["generations"].append_column(Column("extra", Integer, nullable=True))
    diff = schema_diff(store.engine, changed)
    assert [d[0] for d in diff] == ["add_column"]


def test_open_without_migrate_checks_the_schema(empty_url):
    with pytest.raises(SchemaNotReady):
        RecordStore.open(empty_url, migrate=False)
    migrate(empty_url)
    with RecordStore.open(empty_url, migrate=False) as store:
        store.ping()


def test_postgres_url_fixture(postgres_url):  # noqa: F811
    assert postgres_url.startswith("postgresql+psycopg://postgres@127.0.0.1:")
    with RecordStore.open(postgres_url) as store:
        assert store.backend == "postgresql"
        store.ping()


# -- PostgreSQL outages ----------------------------------------------------------------------

def test_restart_of_postgresql_is_survived(postgres_server, pg_records_url):  # noqa: F811
    record = make_record()
    with RecordStore(pg_records_url) as store, \
            RecordStore(pg_records_url, pool_pre_ping=False) as naive:
        store.add(record)
        naive.ping()                                 # both pools now hold a live connection
        postgres_server.restart()                    # ... which the restart kills
        assert store.get(record.generation_id) == record   # pre-ping replaced it
        # Without pre-ping the dead connection is handed out: the restart was real.
        with pytest.raises(Unavailable):
            naive.ping()
        naive.ping()                                 # the pool dropped it; next one is fresh
        assert store.delete(record.generation_id)


def test_stopped_postgresql_is_unavailable(postgres_server, pg_records_url, caplog):  # noqa: F811
    with RecordStore(pg_records_url) as store:
        store.ping()
        postgres_server.stop()
        try:
            with caplog.at_level(logging.WARNING, logger="provenance.records"):
                with pytest.raises(Unavailable) as down:
                    store.ping()
                with pytest.raises(Unavailable):
                    store.get(str(uuid.uuid4()))
                with pytest.raises(Unavailable):
                    store.add(make_record())
            assert "127.0.0.1" not in down.value.message
        finally:
            postgres_server.start()
        store.ping()                                 # back without reopening the store
        assert caplog.records


def test_unreachable_database_is_unavailable_without_credentials(caplog):
    url = f"postgresql+psycopg://recorder:s3cretPassw0rd@127.0.0.1:{free_port()}/records"
    store = RecordStore(url, connect_args={"connect_timeout": 2})
    assert "s3cretPassw0rd" not in repr(store) and "***" in store.url
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(Unavailable) as down:
            store.ping()
        with pytest.raises(Unavailable):
            RecordStore.open(url)
    assert "s3cretPassw0rd" not in down.value.message
    assert "s3cretPassw0rd" not in caplog.text
    assert "refused" in caplog.text.lower()          # the cause is logged, masked
    store.close()


# -- keyed digests and record validation ------------------------------------------------------

def test_prompt_hmac():
    digest = prompt_hmac(KEY, "acme", "a cat")
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert digest == prompt_hmac(KEY, "acme", "a cat")
    assert digest != prompt_hmac(KEY, "globex", "a cat")           # tenant-scoped
    assert digest != prompt_hmac(b"x" * 16, "acme", "a cat")       # keyed
    assert prompt_hmac(KEY, "acme", "caf\u00e9") == prompt_hmac(KEY, "acme", "cafe\u0301")  # NFC
    assert prompt_hmac(KEY, "ac", "me") != prompt_hmac(KEY, "acm", "e")  # unambiguous framing
    with pytest.raises(ValueError):
        prompt_hmac(b"short", "acme", "a cat")


def test_watermark_payload():
    gid = str(uuid.uuid4())
    payload = watermark_payload(KEY, gid, 0)
    assert isinstance(payload, bytes) and len(payload) == 8
    assert payload == watermark_payload(KEY, uuid.UUID(gid), 0)
    assert payload != watermark_payload(KEY, gid, 1)
    assert payload != watermark_payload(b"y" * 16, gid, 0)
    assert len(watermark_payload(KEY, gid, 0, nbytes=6)) == 6
    payloads = {watermark_payload(KEY, str(uuid.uuid4()), i) for i in range(4) for _ in range(500)}
    assert len(payloads) == 2000
    for bad in [dict(key=b"short"), dict(generation_id="nope"), dict(index=-1),
                dict(nbytes=2)]:
        args = {"key": KEY, "generation_id": gid, "index": 0, **bad}
        with pytest.raises(ValueError):
            watermark_payload(**args)


@pytest.mark.parametrize("change,field", [
    ({"kind": "text"}, "record.kind"),
    ({"tenant": "Bad Tenant"}, "record.tenant"),
    ({"prompt_hmac": "abc"}, "record.prompt_hmac"),
    ({"created_at": datetime(2026, 1, 1)}, "record.created_at"),
    ({"generation_id": "nope"}, "record.generation_id"),
    ({"parameters": {"x": object()}}, "record.parameters"),
    ({"generation_id": str(uuid.uuid4())}, "record.artifacts[0].generation_id"),
])
def test_invalid_records_name_the_field(change, field):
    record = make_record()
    with pytest.raises(InvalidArgument) as bad:
        replace(record, **change)
    assert bad.value.field == field


def test_invalid_artifacts_name_the_field():
    artifact = make_record().artifacts[0]
    for change, field in [({"sha256": "ABC"}, "sha256"), ({"fingerprint": b"x"}, "fingerprint"),
                          ({"watermark_payload": b"x" * 9}, "watermark_payload"),
                          ({"index": -1}, "index"), ({"width": 0}, "width")]:
        with pytest.raises(InvalidArgument) as bad:
            replace(artifact, **change)
        assert bad.value.field == field
    record = make_record()
    with pytest.raises(InvalidArgument) as bad:
        replace(record, artifacts=(record.artifacts[0], record.artifacts[0]))
    assert bad.value.field == "record.artifacts[1].index"


def test_created_at_is_normalised_to_utc():
    plus2 = datetime(2026, 5, 20, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    record = make_record(plus2)
    assert record.created_at.tzinfo == UTC and record.created_at.hour == 12
    assert record.created_at == plus2


def test_duplicate_record_pickles():
    import pickle

    error = pickle.loads(pickle.dumps(DuplicateRecord("dup", "g", what="watermark_payload")))
    assert (error.message, error.generation_id, error.what) == ("dup", "g", "watermark_payload")


# -- PostgreSQL binaries and their installer --------------------------------------------------

def test_postgres_binaries_are_found_or_the_fixture_fails(tmp_path, monkeypatch):
    assert (find_pg_bindir() / "initdb").exists()
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PostgresNotInstalled, match="install_system_deps.sh"):
        find_pg_bindir(search_glob=str(tmp_path / "none" / "*"))


def test_fixture_fails_not_skips_without_postgres(tmp_path):
    (tmp_path / "test_needs_pg.py").write_text(
        "from tests.fixtures.postgres_server import postgres_server, postgres_url  # noqa\n"
        "def test_db(postgres_url):\n    pass\n")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
           "PG_BINDIR_GLOB": str(tmp_path / "none" / "*"), "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             "test_needs_pg.py"], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 1, result.stdout
    assert "1 error" in result.stdout and "skipped" not in result.stdout
    assert "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found" in result.stdout
