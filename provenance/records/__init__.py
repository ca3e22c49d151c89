"""The provenance record store: what was generated, when, with which model, for whom.

    from provenance.records import RecordStore, GenerationRecord, ArtifactRecord
    store = RecordStore.open("sqlite:///var/records.db")   # or postgresql+psycopg://...
    store.add(GenerationRecord(...))

SQLAlchemy Core over SQLite (embedded default) or PostgreSQL (production); the schema
(`models`) is versioned with Alembic (`schema.migrate`, scripts in ``migrations/versions``). Prompts
are kept as HMACs (`hmac.prompt_hmac`), the plain text only where the tenant allows it;
generation parameters are purged after a retention period (`retention`). No Ray here.

Modules: ``types`` (the record dataclasses), ``models`` (tables), ``engine`` (engines, error
mapping, safe URLs), ``schema`` (migrations), ``store``, ``hmac``, ``retention``.
"""

from provenance.records.hmac import prompt_hmac, watermark_payload
from provenance.records.schema import migrate
from provenance.records.store import DuplicateRecord, MediaFingerprintRow, RecordStore, SchemaNotReady
from provenance.records.types import KINDS, ArtifactRecord, GenerationRecord, MediaFingerprint

__all__ = [
    "KINDS",
    "ArtifactRecord",
    "DuplicateRecord",
    "GenerationRecord",
    "MediaFingerprint",
    "MediaFingerprintRow",
    "RecordStore",
    "SchemaNotReady",
    "migrate",
    "prompt_hmac",
    "watermark_payload",
]
