"""The schema of the record store: tables ``generations``, ``artifacts`` and
``media_fingerprints`` (per-second fingerprints of videos and audio) (SQLAlchemy Core).

Portable types only, so one schema serves SQLite (embedded default) and PostgreSQL
(production): `Uuid` (native ``uuid`` on PostgreSQL, CHAR(32) on SQLite), `JSON` (``jsonb`` on
PostgreSQL), `LargeBinary` (``bytea`` / BLOB) and tz-aware timestamps (``timestamptz``; SQLite
keeps UTC text, read back as UTC). Constraint names follow `NAMING_CONVENTION`, so
migrations can name them on every backend.

This module is the target of the migrations: a change here needs a new revision under
``migrations/versions`` (``tests/unit/test_record_store.py`` fails while they differ).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB

from provenance.records.types import (
    FINGERPRINT_BYTES,
    MAX_KEY_ID,
    MAX_NAME,
    MAX_MEDIA_HASH_BYTES,
    MAX_URI,
    PAYLOAD_BYTES,
)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator):
    """``DateTime(timezone=True)`` that only accepts aware datetimes and always returns UTC.

    PostgreSQL stores ``timestamptz``; SQLite has no zone, so values are converted to UTC
    before they are written and read back as UTC (comparisons stay correct on both)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _json() -> JSON:
    # SQL NULL (not JSON 'null') for None, so "IS NULL" means "absent" on both backends.
    return JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


generations = Table(
    "generations",
    metadata,
    Column("generation_id", Uuid(as_uuid=True), nullable=False),
    Column("tenant", String(63), nullable=False),
    Column("user_id", String(MAX_NAME), nullable=True),
    Column("kind", String(16), nullable=False),
    Column("model", String(MAX_NAME), nullable=False),
    Column("model_version", String(MAX_NAME), nullable=False),
    Column("prompt_hmac", String(64), nullable=False),
    Column("prompt", Text, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("parameters", _json(), nullable=True),
    Column("parameters_purged_at", UTCDateTime(), nullable=True),
    Column("prompt_safety", _json(), nullable=True),
    PrimaryKeyConstraint("generation_id"),
    CheckConstraint("kind IN ('image', 'video', 'audio')", name="kind"),
    CheckConstraint("length(prompt_hmac) = 64", name="prompt_hmac_length"),
    Index(None, "tenant", "created_at"),
    Index(None, "created_at"),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("generation_id", Uuid(as_uuid=True), nullable=False),
    Column("index", Integer, nullable=False),
    Column("uri", String(MAX_URI), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("media_type", String(MAX_NAME), nullable=False),
    Column("watermark_key_id", String(MAX_KEY_ID), nullable=False),
    Column("watermark_payload", LargeBinary(PAYLOAD_BYTES), nullable=False),
    Column("fingerprint", LargeBinary(FINGERPRINT_BYTES), nullable=True),  # None: audio
    Column("safety", _json(), nullable=True),
    Column("width", Integer, nullable=True),
    Column("height", Integer, nullable=True),
    Column("duration_s", Float, nullable=True),
    Column("kind", String(16), nullable=False, server_default="image"),
    PrimaryKeyConstraint("generation_id", "index"),
    ForeignKeyConstraint(["generation_id"], ["generations.generation_id"], ondelete="CASCADE"),
    # Payload first: the unique index also serves lookups by payload alone.
    UniqueConstraint("watermark_payload", "watermark_key_id"),
    CheckConstraint(f"length(watermark_payload) = {PAYLOAD_BYTES}", name="payload_length"),
    CheckConstraint(f"length(fingerprint) = {FINGERPRINT_BYTES}", name="fingerprint_length"),
    CheckConstraint('"index" >= 0', name="index_non_negative"),
    CheckConstraint("kind IN ('image', 'video', 'audio')", name="kind"),
    CheckConstraint("kind = 'audio' OR fingerprint IS NOT NULL", name="fingerprint_required"),
)

# One row per second of a video (PDQ hash of the frame nearest that second, ``quality`` its PDQ
# quality) or an audio clip (that second's 32-bit sub-fingerprints, ``quality`` NULL).
media_fingerprints = Table(
    "media_fingerprints",
    metadata,
    Column("generation_id", Uuid(as_uuid=True), nullable=False),
    Column("index", Integer, nullable=False),
    Column("second", Integer, nullable=False),
    Column("offset_s", Float, nullable=False),
    Column("hash", LargeBinary(MAX_MEDIA_HASH_BYTES), nullable=False),
    Column("quality", Integer, nullable=True),
    PrimaryKeyConstraint("generation_id", "index", "second"),
    ForeignKeyConstraint(["generation_id", "index"], ["artifacts.generation_id", "artifacts.index"],
                         ondelete="CASCADE"),
    CheckConstraint('"second" >= 0', name="second_non_negative"),
    CheckConstraint(f"length(hash) BETWEEN 1 AND {MAX_MEDIA_HASH_BYTES}", name="hash_length"),
)
