"""API keys: who is calling, as a tenant. Keys are stored hashed, in a file that is re-read when it
changes, so keys are added, rotated and revoked without a restart.

A key looks like ``gmk_<id>_<secret>``: the id (8 hex digits) names the key in logs and in the
file, the secret is 32 random bytes. The file keeps only the SHA-256 of the whole key (a key is
random, so a plain digest is enough; a slow hash guards low-entropy passwords, not these):

    version: 1
    keys:
      - id: 3f2a9c1e
        tenant: acme
        sha256: 9b4c...            # of "gmk_3f2a9c1e_..."
        created: "2026-11-22T08:00:00Z"
        note: "acme batch renderer"

Rotation: add a second key for the tenant (`genmedia keys create`), move the client over, then
revoke the first (`genmedia keys revoke`). On Kubernetes the file is a Secret mounted as a volume;
the kubelet updates it in place and the ingress picks it up within `reload_s`.

A file that stops parsing keeps the last good key set (logged as an error) rather than locking
every tenant out; a file missing or invalid at start-up is an error.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

import yaml

from genmedia.errors import Unauthenticated

logger = logging.getLogger("genmedia.auth")

KEY_PREFIX = "gmk"
HEADER = "authorization"
SCHEME = "bearer"
MAX_KEY_CHARS = 200


@dataclass(frozen=True)
class KeyEntry:
    id: str
    tenant: str
    sha256: str
    created: str = ""
    note: str = ""


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> tuple[str, str]:
    """(key id, key): a fresh key to hand to a client once."""
    key_id = secrets.token_hex(4)
    return key_id, f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"


def _check_tenant(tenant: str) -> str:
    # Artifact keys start with the tenant: it must be one safe path segment.
    if not tenant or len(tenant) > 64 or not all(c.isalnum() or c in "-_." for c in tenant) or tenant[0] == ".":
        raise ValueError(f"tenant {tenant!r}: 1-64 characters of letters, digits, '-', '_', '.', not starting with '.'")
    return tenant


def read_key_file(path: Path) -> list[KeyEntry]:
    """The entries of a key file. Raises ValueError naming what is wrong."""
    data = yaml.safe_load(Path(path).read_text()) or {}
    if not isinstance(data, dict) or data.get("version") != 1 or not isinstance(data.get("keys", []), list):
        raise ValueError(f"{path}: expected a mapping with 'version: 1' and a 'keys' list")
    entries, ids, digests = [], set(), set()
    for n, raw in enumerate(data.get("keys") or []):
        if not isinstance(raw, dict) or not {"id", "tenant", "sha256"} <= raw.keys():
            raise ValueError(f"{path}: keys[{n}] needs id, tenant and sha256")
        unknown = set(raw) - {"id", "tenant", "sha256", "created", "note"}
        if unknown:
            raise ValueError(f"{path}: keys[{n}] has unknown fields {sorted(unknown)}")
        entry = KeyEntry(str(raw["id"]), _check_tenant(str(raw["tenant"])), str(raw["sha256"]).lower(),
                         str(raw.get("created", "")), str(raw.get("note", "")))
        if len(entry.sha256) != 64 or any(c not in "0123456789abcdef" for c in entry.sha256):
            raise ValueError(f"{path}: keys[{n}].sha256 is not a SHA-256 hex digest")
        if entry.id in ids or entry.sha256 in digests:
            raise ValueError(f"{path}: keys[{n}] repeats an id or a digest")
        ids.add(entry.id)
        digests.add(entry.sha256)
        entries.append(entry)
    return entries


def write_key_file(path: Path, entries: Iterable[KeyEntry]) -> None:
    """Writes atomically (a reader never sees half a file), readable by the owner only."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump({"version": 1, "keys": [asdict(e) for e in entries]}, f, sort_keys=False)
    os.replace(tmp, path)


def create_key(path: Path, tenant: str, note: str = "") -> tuple[KeyEntry, str]:
    """Adds a key for `tenant` to the file (created if missing); returns its entry and the key,
    which is shown once and stored nowhere."""
    entries = read_key_file(path) if Path(path).exists() else []
    key_id, key = new_key()
    created = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    entry = KeyEntry(key_id, _check_tenant(tenant), hash_key(key), created, note)
    write_key_file(path, [*entries, entry])
    return entry, key


def revoke_key(path: Path, key_id: str) -> KeyEntry:
    """Removes the key with this id. Raises KeyError when there is none."""
    entries = read_key_file(path)
    gone = [e for e in entries if e.id == key_id]
    if not gone:
        raise KeyError(key_id)
    write_key_file(path, [e for e in entries if e.id != key_id])
    return gone[0]


@dataclass(frozen=True)
class Caller:
    tenant: str
    key_id: str  # "" when authentication is off


class KeyRing:
    """Maps the `authorization` metadata of a call to its tenant, re-reading the key file when its
    modification time or size changes (checked at most every `reload_s`)."""

    def __init__(self, path: Path, reload_s: float = 5.0, clock: Callable[[], float] = time.monotonic):
        self.path = Path(path)
        self.reload_s = reload_s
        self._clock = clock
        self._lock = threading.Lock()
        self._stamp = self._stat()
        self._by_digest = self._index(read_key_file(self.path))  # raises: a bad file at start-up is fatal
        self._checked = clock()

    def _stat(self) -> tuple[int, int] | None:
        try:
            s = self.path.stat()
            return s.st_mtime_ns, s.st_size
        except FileNotFoundError:
            return None

    @staticmethod
    def _index(entries: list[KeyEntry]) -> dict[str, KeyEntry]:
        return {e.sha256: e for e in entries}

    def _maybe_reload(self) -> None:
        now = self._clock()
        if now - self._checked < self.reload_s:
            return
        with self._lock:
            if now - self._checked < self.reload_s:
                return
            self._checked = now
            stamp = self._stat()
            if stamp == self._stamp:
                return
            try:
                by_digest = self._index(read_key_file(self.path))
            except (OSError, ValueError, yaml.YAMLError) as exc:
                logger.error("API key file %s is unreadable; keeping the %d keys loaded before: %s",
                             self.path, len(self._by_digest), exc)
                return
            self._stamp = stamp
            self._by_digest = by_digest
            logger.info("API key file %s reloaded: %d keys", self.path, len(by_digest))

    def authenticate(self, metadata: Iterable[tuple[str, str | bytes]]) -> Caller:
        """The caller of a call with this metadata. Raises Unauthenticated naming `authorization`."""
        values = [v for k, v in metadata if k.lower() == HEADER]
        if not values:
            raise Unauthenticated("authorization: missing; send the metadata 'authorization: Bearer <API key>'")
        value = values[0]
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        scheme, _, key = value.strip().partition(" ")
        key = key.strip()
        if scheme.lower() != SCHEME or not key or len(key) > MAX_KEY_CHARS:
            raise Unauthenticated("authorization: expected 'Bearer <API key>'")
        self._maybe_reload()
        digest = hash_key(key)
        entry = self._by_digest.get(digest)
        if entry is None or not hmac.compare_digest(entry.sha256, digest):
            raise Unauthenticated("authorization: unknown or revoked API key")
        return Caller(entry.tenant, entry.id)

    @property
    def tenants(self) -> set[str]:
        return {e.tenant for e in self._by_digest.values()}


class NoAuth:
    """Authentication off (the embedded default): every call is the one local tenant."""

    def __init__(self, tenant: str):
        self._caller = Caller(_check_tenant(tenant), "")

    def authenticate(self, metadata) -> Caller:
        return self._caller
