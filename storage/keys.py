"""Object keys: the one place where an artifact's location is decided and checked.

Layout: ``{tenant}/{yyyy}/{mm}/{dd}/{generation_id}/{index}.{ext}`` plus one
``manifest.json`` per generation. Every component is matched against a strict pattern
(``re.fullmatch``, never ``$``, which lets a trailing newline through), so no request field
can steer a key outside its tenant's prefix. Backends run raw keys through `check_key` too,
so a key that did not come from here gets the same protection.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from genmedia.errors import InvalidArgument

MAX_KEY_BYTES = 1024  # S3's limit; the local backend keeps it so both accept the same keys

_TENANT = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_GENERATION_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_INDEX_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_EXT = re.compile(r"[a-z0-9]{1,8}")
# Visible ASCII only: no spaces, no control characters, no NUL, nothing that normalises.
_KEY_CHARS = re.compile(r"[\x21-\x7e]+")

MANIFEST_NAME = "manifest"


def _check(field: str, value: object, pattern: re.Pattern[str], expected: str) -> str:
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        raise InvalidArgument(field, f"must be {expected}, got {value!r:.80}")
    return value


def check_tenant(tenant: str) -> str:
    """Return ``tenant`` if it is a valid tenant id; raise `InvalidArgument` ("tenant") if not."""
    return _check("tenant", tenant, _TENANT, "1-63 characters of [a-z0-9_-] starting with [a-z0-9]")


def check_generation_id(generation_id: str) -> str:
    """Return ``generation_id`` if it is a canonical lowercase UUID; else `InvalidArgument`."""
    return _check("generation_id", generation_id, _GENERATION_ID, "a canonical lowercase UUID")


def _index_component(index: int | str) -> str:
    # bool is an int subclass; True would silently become "1".
    if isinstance(index, int) and not isinstance(index, bool):
        if index < 0:
            raise InvalidArgument("index", f"must be non-negative, got {index}")
        return str(index)
    name = _check("index", index, _INDEX_NAME, "a non-negative int or a name of [a-z0-9_-]")
    if name == MANIFEST_NAME:
        # Reserved so that no artifact can overwrite the generation's manifest.
        raise InvalidArgument("index", f"{MANIFEST_NAME!r} is reserved")
    return name


def _date_prefix(tenant: str, created: datetime) -> str:
    check_tenant(tenant)
    if not isinstance(created, datetime):
        raise InvalidArgument("created", f"must be a datetime, got {type(created).__name__}")
    # Naive datetimes are taken as UTC; aware ones are converted, so the date folder does not
    # depend on the server's time zone.
    if created.tzinfo is not None:
        created = created.astimezone(UTC)
    return f"{tenant}/{created:%Y}/{created:%m}/{created:%d}"


def artifact_key(
    tenant: str, generation_id: str, index: int | str, ext: str, created: datetime
) -> str:
    """Key of one artifact of a generation.

    ``index`` is the artifact's position (non-negative int) or a name such as ``"preview"``;
    ``ext`` is the file extension without the dot. ``created`` picks the date folder (UTC).
    Returns ``{tenant}/{yyyy}/{mm}/{dd}/{generation_id}/{index}.{ext}``.
    Raises `InvalidArgument` naming the first bad field.
    """
    prefix = _date_prefix(tenant, created)
    check_generation_id(generation_id)
    name = _index_component(index)
    _check("ext", ext, _EXT, "1-8 characters of [a-z0-9]")
    return check_key(f"{prefix}/{generation_id}/{name}.{ext}")


def manifest_key(tenant: str, generation_id: str, created: datetime) -> str:
    """Key of a generation's manifest: ``{tenant}/{yyyy}/{mm}/{dd}/{generation_id}/manifest.json``.

    Raises `InvalidArgument` naming the first bad field.
    """
    prefix = _date_prefix(tenant, created)
    check_generation_id(generation_id)
    return check_key(f"{prefix}/{generation_id}/{MANIFEST_NAME}.json")


def check_key(key: str, field: str = "key") -> str:
    """Return ``key`` if it is safe to hand to any backend; raise `InvalidArgument` otherwise.

    Safe means: a non-empty str of visible ASCII, at most 1024 bytes, no leading ``/``, no
    backslash, no empty segment (``a//b``, trailing ``/``) and no segment starting with ``.``
    (covers ``.`` and ``..``, and keeps names free for the local backend's temp files).
    """
    if not isinstance(key, str) or not key:
        raise InvalidArgument(field, "must be a non-empty string")
    if len(key) > MAX_KEY_BYTES:
        raise InvalidArgument(field, f"must be at most {MAX_KEY_BYTES} bytes")
    if _KEY_CHARS.fullmatch(key) is None:
        raise InvalidArgument(field, "must be visible ASCII (no spaces, control characters or NUL)")
    if "\\" in key:
        raise InvalidArgument(field, "must not contain a backslash")
    if key.startswith("/"):
        raise InvalidArgument(field, "must not start with '/'")
    for segment in key.split("/"):
        if not segment:
            raise InvalidArgument(field, "must not contain an empty segment")
        if segment.startswith("."):
            raise InvalidArgument(field, "must not contain a segment starting with '.'")
    return key
