"""Alembic environment of the record store.

Configured in code by `provenance.records.schema`: the caller hands an open connection in
``config.attributes["connection"]`` (its transaction, and on PostgreSQL an advisory lock, are
the caller's). Offline (``--sql``) mode renders the SQL for ``sqlalchemy.url``'s dialect.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import JSON

from provenance.records.schema import VERSION_TABLE
from provenance.records.models import UTCDateTime, metadata


def _render_item(type_: str, obj, autogen_context):
    # Scripts stay free of imports from the (changing) models: UTCDateTime is plain
    # DateTime(timezone=True) in the database, and models' JSON is JSON / jsonb.
    if type_ != "type":
        return False
    if isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if isinstance(obj, JSON) and "postgresql" in getattr(obj, "_variant_mapping", {}):
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return ("sa.JSON(none_as_null=True).with_variant("
                "postgresql.JSONB(none_as_null=True), 'postgresql')")
    return False


def _options(dialect_name: str) -> dict:
    return {
        "target_metadata": metadata,
        "render_item": _render_item,
        "version_table": VERSION_TABLE,
        "compare_type": True,
        # SQLite cannot ALTER most things: autogenerate then writes batch (copy-and-move) ops.
        "render_as_batch": dialect_name == "sqlite",
    }


def run_offline() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    dialect = url.split(":", 1)[0].split("+", 1)[0]
    context.configure(url=url, literal_binds=True, **_options(dialect))
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through provenance.records.schema, which passes "
                           "a connection in config.attributes['connection']")
    context.configure(connection=connection, **_options(connection.dialect.name))
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
