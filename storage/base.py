"""The `ArtifactStore` contract shared by every backend.

`ArtifactStore.put` validates its inputs and computes the SHA-256 once, here, so backends
only store bytes; they implement the ``_put`` hook and the other abstract methods.
Every backend makes writes atomic: a reader sees the old object, the new one or none,
never a half-written one.
"""

from __future__ import annotations

import abc
import hashlib
import re
from dataclasses import dataclass, field

from genmedia.errors import InvalidArgument, NotFound
from storage.keys import check_key

# S3 lower-cases user metadata names and allows 2 KB in all; both backends apply the same
# limits so that moving from local to S3 never breaks a caller.
_METADATA_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_METADATA_VALUE = re.compile(r"[\x20-\x7e]{0,1024}")
_METADATA_MAX_BYTES = 2048
_CONTENT_TYPE = re.compile(r"[a-z0-9][a-z0-9.+-]{0,63}/[a-z0-9][a-z0-9.+-]{0,127}")

SHA256_METADATA = "sha256"  # reserved: the store writes it, callers cannot


@dataclass(frozen=True)
class StoredObject:
    """What a store knows about one object.

    ``metadata`` is the caller's metadata as given to `ArtifactStore.put` (for example
    ``{"generation-id": ...}``); the digest is in ``sha256``, not repeated there.
    """

    key: str
    uri: str
    size: int
    sha256: str
    content_type: str
    metadata: dict[str, str] = field(default_factory=dict)


def check_metadata(metadata: dict[str, str] | None) -> dict[str, str]:
    """Return a copy of ``metadata`` if storable everywhere; raise `InvalidArgument` if not."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise InvalidArgument("metadata", "must be a dict of str to str")
    total = 0
    for name, value in metadata.items():
        if not isinstance(name, str) or _METADATA_NAME.fullmatch(name) is None:
            raise InvalidArgument("metadata", f"name {name!r:.70} must match [a-z0-9][a-z0-9-]*")
        if name == SHA256_METADATA:
            raise InvalidArgument(f"metadata.{name}", "is reserved; the store computes it")
        if not isinstance(value, str) or _METADATA_VALUE.fullmatch(value) is None:
            raise InvalidArgument(f"metadata.{name}", "must be printable ASCII, at most 1024")
        total += len(name) + len(value)
    if total > _METADATA_MAX_BYTES - 100:  # room for the sha256 entry the store adds
        raise InvalidArgument("metadata", "is too large")
    return dict(metadata)


def check_content_type(content_type: str) -> str:
    """Return ``content_type`` if it is a plain ``type/subtype``; raise `InvalidArgument`."""
    if not isinstance(content_type, str) or _CONTENT_TYPE.fullmatch(content_type) is None:
        raise InvalidArgument(
            "content_type", f"must be a lowercase type/subtype, got {content_type!r:.80}"
        )
    return content_type


class ArtifactStore(abc.ABC):
    """Where artifacts live. Keys come from `storage.keys`; see `check_key` for what is valid.

    Errors: `InvalidArgument` for a bad key, URI or metadata (naming the field),
    `NotFound` for a missing object, `Unavailable` when the backend cannot be reached or
    refuses us (safe to retry).
    """

    def put(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str,
        metadata: dict[str, str] | None = None,
    ) -> StoredObject:
        """Store ``data`` under ``key`` atomically, replacing any object already there.

        ``metadata`` (lowercase names such as ``generation-id``, printable ASCII values) is
        stored with the object along with its ``sha256``. Returns the stored object's
        description. Raises `InvalidArgument`, `Unavailable`.
        """
        check_key(key)
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise InvalidArgument("data", f"must be bytes, got {type(data).__name__}")
        data = bytes(data)
        stored = StoredObject(
            key=key,
            uri=self.uri(key),
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            content_type=check_content_type(content_type),
            metadata=check_metadata(metadata),
        )
        self._put(stored, data)
        return stored

    @abc.abstractmethod
    def _put(self, obj: StoredObject, data: bytes) -> None:
        """Backend hook: write ``data`` and ``obj``'s metadata atomically (inputs checked)."""

    def create(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str,
        metadata: dict[str, str] | None = None,
    ) -> bool:
        """Store ``data`` under ``key`` only if no object is there; True if this call created it.

        Atomic against every other `create` of the same key, from any process or host sharing
        the store (S3 conditional writes, ``If-None-Match: *``; a hard link on the local file
        system): of concurrent callers exactly one gets True. Raises `InvalidArgument`,
        `Unavailable`.
        """
        check_key(key)
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise InvalidArgument("data", f"must be bytes, got {type(data).__name__}")
        data = bytes(data)
        stored = StoredObject(
            key=key,
            uri=self.uri(key),
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            content_type=check_content_type(content_type),
            metadata=check_metadata(metadata),
        )
        return self._create(stored, data)

    @abc.abstractmethod
    def _create(self, obj: StoredObject, data: bytes) -> bool:
        """Backend hook: as `_put`, but only if the key is free; False if it is taken."""

    @abc.abstractmethod
    def get(self, key: str) -> bytes:
        """Return the object's bytes. Raises `NotFound`, `InvalidArgument`, `Unavailable`."""

    @abc.abstractmethod
    def head(self, key: str) -> StoredObject:
        """Describe the object without reading it.

        Raises `NotFound`, `InvalidArgument`, `Unavailable`.
        """

    def exists(self, key: str) -> bool:
        """True if an object is stored under ``key``. Raises `InvalidArgument`, `Unavailable`."""
        try:
            self.head(key)
        except NotFound:
            return False
        return True

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object; no error if it is already gone.

        Raises `InvalidArgument`, `Unavailable`.
        """

    @abc.abstractmethod
    def presigned_url(self, key: str, expires_s: int | None = None) -> str | None:
        """A URL that lets anyone GET the object for ``expires_s`` seconds, or None if the
        backend has no such thing (local). Does not check that the object exists."""

    @abc.abstractmethod
    def uri(self, key: str) -> str:
        """The object's URI (``file://...``, ``s3://...``). Raises `InvalidArgument`."""

    @abc.abstractmethod
    def key_for_uri(self, uri: str) -> str:
        """Inverse of `uri`. Raises `InvalidArgument` ("uri") for a URI not of this store."""

    def get_by_uri(self, uri: str) -> bytes:
        """Return the bytes of the object ``uri`` names, if it is in this store.

        Raises `InvalidArgument` ("uri") for a URI of any other store or scheme, then as `get`.
        """
        return self.get(self.key_for_uri(uri))
