"""`RecordStore`: generation records in SQLite (embedded default) or PostgreSQL (production).

    store = RecordStore.open("sqlite:///var/records.db")      # migrates to the newest schema
    store.add(record)                                          # one transaction, all artifacts
    store.get(generation_id, tenant="acme")                    # NotFound for another tenant
    store.find_by_payload(payload)                             # watermark payload -> artifact
    for generation_id, index, fp in store.iter_fingerprints(): ...   # images; batches, not all rows
    for row in store.iter_media_fingerprints("video"): ...       # per-second hashes of videos
    store.find_by_payload_prefix(payload[:4], kind="audio")      # short (audio) watermark ids
    store.purge_parameters()                                   # retention: 90 days default

Errors: a database that cannot be reached (refused, gone away, pool exhausted, locked) is
`genmedia.errors.Unavailable` (safe to retry; the message names no host, user or password);
a malformed argument is `InvalidArgument`; a missing or other tenant's generation is
`NotFound`; storing an id (or a watermark payload in its key scope) twice is `DuplicateRecord`.
The pool pre-pings, so connections killed by a database restart are replaced, not used.

Calls block: from asyncio code, run them in a thread (``asyncio.to_thread``). The store is
thread-safe (one pooled `Engine`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, and_, delete, insert, null, or_, select, text, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from genmedia.errors import GenMediaError, InvalidArgument, NotFound
from provenance.records import schema
from provenance.records.engine import create_engine, safe_url, unavailable_on_db_errors
from provenance.records.models import artifacts, generations, media_fingerprints
from provenance.records.types import (
    DEFAULT_KEY_ID,
    KINDS,
    PAYLOAD_BYTES,
    ArtifactRecord,
    MediaFingerprint,
    GenerationRecord,
    canonical_generation_id,
    utc,
)

logger = logging.getLogger("provenance.records")

DEFAULT_URL = schema.DEFAULT_URL
DEFAULT_RETENTION = timedelta(days=90)
_BATCH = 1000


class DuplicateRecord(GenMediaError):
    """`RecordStore.add` of a generation id already stored (``what="generation_id"``), or of
    a watermark payload already used in its key scope (``what="watermark_payload"``).

    Ids are generated server-side, so this is a bug or a replayed write, never a client error:
    it is not mapped to a gRPC code of its own (INTERNAL)."""

    def __init__(self, message: str, generation_id: str = "", what: str = "generation_id"):
        super().__init__(message)
        self.generation_id = generation_id
        self.what = what

    def __reduce__(self):
        return (self.__class__, (self.message, self.generation_id, self.what))


class SchemaNotReady(RuntimeError):
    """The database's schema is missing or older than the code (run `migrate`)."""


@dataclass(frozen=True)
class MediaFingerprintRow:
    """One second of a recorded video's or audio clip's fingerprint (`iter_media_fingerprints`)."""

    generation_id: str
    index: int
    second: int
    offset_s: float
    hash: bytes
    quality: int | None


def _uuid(generation_id: str | uuid.UUID) -> uuid.UUID:
    return uuid.UUID(canonical_generation_id(generation_id))


def _artifact_row(artifact: ArtifactRecord) -> dict:
    return {
        "generation_id": uuid.UUID(artifact.generation_id),
        "index": artifact.index,
        "uri": artifact.uri,
        "sha256": artifact.sha256,
        "media_type": artifact.media_type,
        "watermark_key_id": artifact.watermark_key_id,
        "watermark_payload": artifact.watermark_payload,
        "fingerprint": artifact.fingerprint,
        "safety": artifact.safety,
        "width": artifact.width,
        "height": artifact.height,
        "duration_s": artifact.duration_s,
        "kind": artifact.kind,
    }


def _media_rows(artifact: ArtifactRecord) -> list[dict]:
    return [{"generation_id": uuid.UUID(artifact.generation_id), "index": artifact.index,
             "second": m.second, "offset_s": m.offset_s, "hash": m.hash, "quality": m.quality}
            for m in artifact.media_fingerprints]


def _artifact(row: RowMapping, prefix: str = "",
              media: tuple[MediaFingerprint, ...] = ()) -> ArtifactRecord:
    fingerprint = row[f"{prefix}fingerprint"]
    return ArtifactRecord(
        generation_id=str(row[f"{prefix}generation_id"]),
        index=row[f"{prefix}index"],
        uri=row[f"{prefix}uri"],
        sha256=row[f"{prefix}sha256"],
        media_type=row[f"{prefix}media_type"],
        watermark_payload=bytes(row[f"{prefix}watermark_payload"]),
        fingerprint=None if fingerprint is None else bytes(fingerprint),
        safety=row[f"{prefix}safety"],
        width=row[f"{prefix}width"],
        height=row[f"{prefix}height"],
        duration_s=row[f"{prefix}duration_s"],
        watermark_key_id=row[f"{prefix}watermark_key_id"],
        kind=row[f"{prefix}kind"],
        media_fingerprints=media,
    )


_ARTIFACT_COLUMNS = [column.label(f"a_{column.name}") for column in artifacts.c]


class RecordStore:
    """Generation records behind a SQLAlchemy URL (``sqlite:///...``, ``postgresql+psycopg://...``).

    ``RecordStore(url)`` does not touch the schema; `open` migrates it (or checks it) first.
    ``engine_options`` go to `sqlalchemy.create_engine` (``pool_size``, ...)."""

    def __init__(self, url: str = DEFAULT_URL, **engine_options):
        self._engine = create_engine(url, **engine_options)

    @classmethod
    def open(cls, url: str = DEFAULT_URL, *, migrate: bool = True, **engine_options) -> RecordStore:
        """A store whose schema is at the newest revision: upgraded when ``migrate`` (default),
        else checked (`SchemaNotReady` when missing or behind). `Unavailable` if unreachable."""
        store = cls(url, **engine_options)
        try:
            if migrate:
                schema.migrate(store._engine)
            else:
                store.check_schema()
        except BaseException:
            store.close()
            raise
        logger.info("record store open at %s", store.url)
        return store

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def url(self) -> str:
        """The database URL with its password masked."""
        return safe_url(self._engine)

    @property
    def backend(self) -> str:
        return self._engine.dialect.name

    def __repr__(self) -> str:
        return f"RecordStore(url={self.url!r})"

    def close(self) -> None:
        """Close the pooled connections (the store can still be used; it reconnects)."""
        self._engine.dispose()

    def __enter__(self) -> RecordStore:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _db(self, action: str):
        return unavailable_on_db_errors(action, self._engine.url)

    # -- health ------------------------------------------------------------------------------

    def ping(self) -> None:
        """Round trip to the database; `Unavailable` if it does not answer."""
        with self._db("ping"), self._engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def check_schema(self) -> None:
        """`SchemaNotReady` unless the schema is at (or, during a rollout, past) the code's
        newest revision."""
        current = schema.current_revision(self._engine)
        head = schema.head_revision()
        if current == head:
            return
        if current is None:
            raise SchemaNotReady(f"record store at {self.url} has no schema; run "
                                 "`python -m provenance.records upgrade` (or open with migrate=True)")
        if current in schema.known_revisions():
            raise SchemaNotReady(f"record store schema is at revision {current}, the code needs "
                                 f"{head}; run `python -m provenance.records upgrade`")
        logger.warning("record store schema is at revision %s, newer than this code's %s",
                       current, head)

    # -- writes ------------------------------------------------------------------------------

    def add(self, record: GenerationRecord) -> None:
        """Store ``record`` and all its artifacts in one transaction (all or nothing).

        `DuplicateRecord` if its id, or one of its watermark payloads in the same key scope,
        is already stored."""
        if not isinstance(record, GenerationRecord):
            raise InvalidArgument("record", f"must be a GenerationRecord, got "
                                            f"{type(record).__name__}")
        row = {
            "generation_id": uuid.UUID(record.generation_id),
            "tenant": record.tenant,
            "user_id": record.user_id,
            "kind": record.kind,
            "model": record.model,
            "model_version": record.model_version,
            "prompt_hmac": record.prompt_hmac,
            "prompt": record.prompt,
            "created_at": record.created_at,
            "parameters": record.parameters,
            "parameters_purged_at": record.parameters_purged_at,
            "prompt_safety": record.prompt_safety,
        }
        with self._db("storing a record"):
            try:
                with self._engine.begin() as connection:
                    connection.execute(insert(generations), row)
                    if record.artifacts:
                        connection.execute(insert(artifacts),
                                           [_artifact_row(a) for a in record.artifacts])
                    media = [row for a in record.artifacts for row in _media_rows(a)]
                    if media:
                        connection.execute(insert(media_fingerprints), media)
            except IntegrityError:
                duplicate = self._duplicate(record)
                if duplicate is None:
                    raise
                raise duplicate from None

    def _duplicate(self, record: GenerationRecord) -> DuplicateRecord | None:
        gid = record.generation_id
        with self._engine.connect() as connection:
            exists = connection.execute(select(generations.c.generation_id).where(
                generations.c.generation_id == uuid.UUID(gid))).first()
            if exists is not None:
                return DuplicateRecord(f"generation {gid} is already recorded", gid)
            for artifact in record.artifacts:
                taken = connection.execute(select(artifacts.c.generation_id).where(
                    artifacts.c.watermark_payload == artifact.watermark_payload,
                    artifacts.c.watermark_key_id == artifact.watermark_key_id)).first()
                if taken is not None:
                    return DuplicateRecord(
                        f"generation {gid}: the watermark payload of artifact {artifact.index} "
                        f"is already used (key {artifact.watermark_key_id!r})", gid,
                        what="watermark_payload")
        return None

    def delete(self, generation_id: str) -> bool:
        """Remove a generation and its artifacts (roll back a record whose artifact could not
        be stored). Returns whether there was one; deleting twice is harmless."""
        gid = _uuid(generation_id)
        with self._db("deleting a record"), self._engine.begin() as connection:
            connection.execute(delete(media_fingerprints).where(
                media_fingerprints.c.generation_id == gid))
            connection.execute(delete(artifacts).where(artifacts.c.generation_id == gid))
            result = connection.execute(delete(generations).where(
                generations.c.generation_id == gid))
            return result.rowcount > 0

    def purge_parameters(self, now: datetime | None = None,
                         retention: timedelta = DEFAULT_RETENTION,
                         batch_size: int = _BATCH) -> int:
        """Set ``parameters`` to NULL (and ``parameters_purged_at`` to ``now``) on generations
        created before ``now - retention``; other fields are kept. Returns how many were
        purged; a second run purges nothing more. Works in transactions of ``batch_size`` rows,
        so a large backlog never holds long locks."""
        now = utc(datetime.now(UTC) if now is None else now, "now")
        if not isinstance(retention, timedelta) or retention < timedelta(0):
            raise InvalidArgument("retention", "must be a timedelta >= 0")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidArgument("batch_size", "must be a positive int")
        cutoff = now - retention
        due = and_(generations.c.created_at < cutoff, generations.c.parameters.is_not(None))
        batch = select(generations.c.generation_id).where(due).limit(batch_size)
        purged = 0
        while True:
            with self._db("purging parameters"), self._engine.begin() as connection:
                result = connection.execute(
                    update(generations)
                    .where(generations.c.generation_id.in_(batch.scalar_subquery()), due)
                    .values(parameters=null(), parameters_purged_at=now))
            purged += result.rowcount
            if result.rowcount < batch_size:
                break
        if purged:
            logger.info("record store: purged the parameters of %d generations created before %s",
                        purged, cutoff.isoformat())
        return purged

    # -- reads -------------------------------------------------------------------------------

    def get(self, generation_id: str, tenant: str | None = None) -> GenerationRecord:
        """The record of ``generation_id``; `NotFound` if absent or (when ``tenant`` is given)
        another tenant's, with the same message either way."""
        gid = _uuid(generation_id)
        if tenant is not None and not isinstance(tenant, str):
            raise InvalidArgument("tenant", "must be a string")
        query = (select(generations, *_ARTIFACT_COLUMNS)
                 .outerjoin(artifacts, artifacts.c.generation_id == generations.c.generation_id)
                 .where(generations.c.generation_id == gid)
                 .order_by(artifacts.c.index))
        if tenant is not None:
            query = query.where(generations.c.tenant == tenant)
        with self._db("reading a record"), self._engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
            media: dict[int, list[MediaFingerprint]] = {}
            if any(row["a_kind"] not in (None, "image") for row in rows):
                for m in connection.execute(
                        select(media_fingerprints)
                        .where(media_fingerprints.c.generation_id == gid)
                        .order_by(media_fingerprints.c.index, media_fingerprints.c.second)
                ).mappings():
                    media.setdefault(m["index"], []).append(MediaFingerprint(
                        m["second"], m["offset_s"], bytes(m["hash"]), m["quality"]))
        if not rows:
            raise NotFound(f"generation {gid} not found")
        first = rows[0]
        return GenerationRecord(
            generation_id=str(first["generation_id"]),
            tenant=first["tenant"],
            kind=first["kind"],
            model=first["model"],
            model_version=first["model_version"],
            prompt_hmac=first["prompt_hmac"],
            created_at=first["created_at"],
            artifacts=tuple(_artifact(row, "a_", tuple(media.get(row["a_index"], ())))
                            for row in rows if row["a_index"] is not None),
            user_id=first["user_id"],
            prompt=first["prompt"],
            parameters=first["parameters"],
            prompt_safety=first["prompt_safety"],
            parameters_purged_at=first["parameters_purged_at"],
        )

    def find_by_payload(self, payload: bytes, key_id: str = DEFAULT_KEY_ID) -> ArtifactRecord | None:
        """The artifact whose watermark carries ``payload`` under watermark key ``key_id``, or
        None. (Callers resolve tenancy through `get` with the artifact's generation id.)"""
        if not isinstance(payload, (bytes, bytearray, memoryview)) or len(payload) != PAYLOAD_BYTES:
            raise InvalidArgument("payload", f"must be exactly {PAYLOAD_BYTES} bytes")
        if not isinstance(key_id, str):
            raise InvalidArgument("key_id", "must be a string")
        query = select(artifacts).where(artifacts.c.watermark_payload == bytes(payload),
                                        artifacts.c.watermark_key_id == key_id)
        with self._db("looking up a payload"), self._engine.connect() as connection:
            row = connection.execute(query).mappings().first()
        return None if row is None else _artifact(row)

    def find_by_payload_prefix(self, prefix: bytes, kind: str | None = None,
                               key_id: str = DEFAULT_KEY_ID, limit: int = 10) -> list[ArtifactRecord]:
        """The artifacts (at most ``limit``, of ``kind`` when given) whose recorded payload starts
        with ``prefix``: audio watermarks carry only the first bytes of the recorded payload
        (`provenance.records.hmac.watermark_payload` truncates one HMAC), so several artifacts
        can share a short prefix; callers disambiguate (by fingerprint) or report it.
        A range scan on the payload's unique index."""
        if not isinstance(prefix, (bytes, bytearray, memoryview)) or not (
                1 <= len(prefix) <= PAYLOAD_BYTES):
            raise InvalidArgument("prefix", f"must be 1 to {PAYLOAD_BYTES} bytes")
        if kind is not None and kind not in KINDS:
            raise InvalidArgument("kind", f"must be one of {', '.join(KINDS)} or None")
        if not isinstance(limit, int) or limit < 1:
            raise InvalidArgument("limit", "must be a positive int")
        pad = PAYLOAD_BYTES - len(prefix)
        low, high = bytes(prefix) + b"\x00" * pad, bytes(prefix) + b"\xff" * pad
        query = (select(artifacts)
                 .where(artifacts.c.watermark_payload >= low, artifacts.c.watermark_payload <= high,
                        artifacts.c.watermark_key_id == key_id)
                 .order_by(artifacts.c.generation_id, artifacts.c.index).limit(limit))
        if kind is not None:
            query = query.where(artifacts.c.kind == kind)
        with self._db("looking up a payload"), self._engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        return [_artifact(row) for row in rows]

    def iter_media_fingerprints(self, kind: str = "video", batch_size: int = _BATCH,
                                after: tuple[str, int, int] | None = None
                                ) -> Iterator[MediaFingerprintRow]:
        """Every per-second fingerprint of ``kind`` ("video" or "audio") artifacts, in key order
        ``(generation_id, index, second)``, in batches of ``batch_size`` rows (keyset
        pagination, as `iter_fingerprints`); ``after`` starts past that key."""
        if kind not in ("video", "audio"):
            raise InvalidArgument("kind", "must be 'video' or 'audio'")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidArgument("batch_size", "must be a positive int")
        start = None if after is None else (_uuid(after[0]), int(after[1]), int(after[2]))
        return self._media(kind, batch_size, start)

    def _media(self, kind: str, batch_size: int, after: tuple[uuid.UUID, int, int] | None
               ) -> Iterator[MediaFingerprintRow]:
        m = media_fingerprints.c
        join = media_fingerprints.join(artifacts, and_(artifacts.c.generation_id == m.generation_id,
                                                       artifacts.c.index == m.index))
        while True:
            query = (select(m.generation_id, m.index, m.second, m.offset_s, m.hash, m.quality)
                     .select_from(join).where(artifacts.c.kind == kind)
                     .order_by(m.generation_id, m.index, m.second).limit(batch_size))
            if after is not None:
                gid, index, second = after
                query = query.where(or_(m.generation_id > gid,
                                        and_(m.generation_id == gid, m.index > index),
                                        and_(m.generation_id == gid, m.index == index,
                                             m.second > second)))
            with self._db("reading media fingerprints"), self._engine.connect() as connection:
                rows = connection.execute(query).all()
            for gid, index, second, offset_s, hash_, quality in rows:
                yield MediaFingerprintRow(str(gid), index, second, offset_s, bytes(hash_), quality)
            if len(rows) < batch_size:
                return
            after = (rows[-1][0], rows[-1][1], rows[-1][2])

    def iter_fingerprints(self, batch_size: int = _BATCH, after: tuple[str, int] | None = None,
                          kind: str = "image") -> Iterator[tuple[str, int, bytes]]:
        """Every ``kind`` artifact's (images by default; "video": the PDQ hash of its first
        frame) ``(generation_id, index, fingerprint)`` in key order, read in
        batches of ``batch_size`` rows (keyset pagination: each batch is one short query, so
        memory stays flat and no transaction is held while the caller works). Artifacts
        added during the walk appear if their key is past the current position. ``after``
        starts past that key: generation ids are UUIDv7 (time-ordered), so a reader can pick up
        only what was added since a point in time."""
        if not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidArgument("batch_size", "must be a positive int")
        if kind not in ("image", "video"):
            raise InvalidArgument("kind", "must be 'image' or 'video' (audio has no PDQ hash)")
        start = None if after is None else (_uuid(after[0]), int(after[1]))
        return self._fingerprints(batch_size, start, kind)

    def _fingerprints(self, batch_size: int, after: tuple[uuid.UUID, int] | None = None,
                      kind: str = "image") -> Iterator[tuple[str, int, bytes]]:
        columns = (artifacts.c.generation_id, artifacts.c.index, artifacts.c.fingerprint)
        order = (artifacts.c.generation_id, artifacts.c.index)
        while True:
            query = select(*columns).where(artifacts.c.kind == kind).order_by(*order).limit(batch_size)
            if after is not None:
                gid, index = after
                query = query.where(or_(artifacts.c.generation_id > gid,
                                        and_(artifacts.c.generation_id == gid,
                                             artifacts.c.index > index)))
            with self._db("reading fingerprints"), self._engine.connect() as connection:
                rows = connection.execute(query).all()
            for gid, index, fingerprint in rows:
                yield str(gid), index, bytes(fingerprint)
            if len(rows) < batch_size:
                return
            after = (rows[-1][0], rows[-1][1])
