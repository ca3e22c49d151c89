"""Engines for the record store, URLs safe to print, and database errors as genmedia errors.

`create_engine` sets what both backends need: a pool that pre-pings (a connection that died
with a database restart is replaced, not handed out), statement parameters hidden from
exception text (prompts must not leak into logs), and on PostgreSQL a short connect
timeout, so an unreachable database fails fast with `Unavailable`. SQLite gets
foreign keys, a busy timeout, WAL for files, and real transactions (``BEGIN`` issued by
SQLAlchemy, not pysqlite's legacy autocommit of DDL).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy
from sqlalchemy import Engine, event, exc
from sqlalchemy.engine import URL, make_url

from genmedia.errors import Unavailable

logger = logging.getLogger("provenance.records")

CONNECT_TIMEOUT_S = 5
POOL_TIMEOUT_S = 10
SQLITE_BUSY_TIMEOUT_MS = 5000


def parse_url(url: str | URL) -> URL:
    """``url`` as a SQLAlchemy `URL`; `ValueError` (without echoing it) when malformed."""
    if isinstance(url, URL):
        return url
    try:
        return make_url(url)
    except (exc.ArgumentError, ValueError, TypeError):
        raise ValueError("record store URL is not a valid SQLAlchemy URL "
                         "(e.g. sqlite:///var/records.db or postgresql+psycopg://...)") from None


def safe_url(url: str | URL | Engine) -> str:
    """The URL with its password masked: the only form that is ever logged or shown."""
    if isinstance(url, Engine):
        url = url.url
    try:
        return parse_url(url).render_as_string(hide_password=True)
    except ValueError:
        return "<invalid URL>"


def create_engine(url: str | URL, **options) -> Engine:
    """An `Engine` for ``url`` (``sqlite:///path``, ``postgresql+psycopg://...``).

    ``options`` go to `sqlalchemy.create_engine` and override the defaults here (``pool_size``,
    ``pool_recycle``, ...). A relative SQLite path is taken from the working directory and its
    folder is created."""
    parsed = parse_url(url)
    backend = parsed.get_backend_name()
    kwargs: dict = {"pool_pre_ping": True, "hide_parameters": True}
    if backend == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    elif backend == "postgresql":
        kwargs.update(pool_size=5, max_overflow=10, pool_timeout=POOL_TIMEOUT_S,
                      pool_recycle=1800)
        if parsed.get_driver_name() in ("psycopg", "psycopg2"):
            kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_S,
                                      "application_name": "genmedia-provenance"}
    kwargs.update(options)
    engine = sqlalchemy.create_engine(parsed, **kwargs)
    if backend == "sqlite":
        _sqlite_setup(engine, file_backed=bool(parsed.database) and parsed.database != ":memory:")
    return engine


def _sqlite_setup(engine: Engine, file_backed: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # pysqlite's own transaction handling would commit before DDL and never BEGIN for
        # SELECT; turn it off and let the "begin" hook below start every transaction.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            if file_backed:
                cursor.execute("PRAGMA journal_mode = WAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN")


#: Errors that mean "the database cannot be reached or is not answering": safe to retry.
UNAVAILABLE_ERRORS = (exc.OperationalError, exc.InterfaceError, exc.DisconnectionError,
                      exc.TimeoutError)


def describe(error: BaseException, url: URL | None = None) -> str:
    """A one-line description of a database error for logs: the driver's message (statement
    parameters are hidden by the engine), with the URL's password masked if it shows up."""
    original = getattr(error, "orig", None) or error
    lines = str(original).strip().splitlines()
    text = f"{type(original).__name__}: {lines[0] if lines else ''}"
    if url is not None and url.password:
        text = text.replace(str(url.password), "***")
    return text[:500]


@contextmanager
def unavailable_on_db_errors(action: str, url: URL | None = None) -> Iterator[None]:
    """Turn connection-level database errors raised inside the block into `Unavailable`."""
    try:
        yield
    except UNAVAILABLE_ERRORS as error:
        logger.warning("record store %s: %s failed: %s", safe_url(url) if url else "", action,
                       describe(error, url))
        raise Unavailable(f"provenance record store unavailable ({action} failed); "
                          "retry later") from None
