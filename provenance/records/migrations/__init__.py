"""Alembic migrations of the record store (``env.py``, ``versions/``); run through
`provenance.records.schema`, which configures Alembic in code (no alembic.ini)."""
