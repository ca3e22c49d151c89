"""`LocalArtifactStore`: artifacts as files under one root folder (dev, tests, single node).

Each object is two files: ``<key>`` (the bytes) and ``<key>.meta.json`` (content type, size,
sha256, metadata). Both are written to a temp file in the same folder, fsynced and moved into
place with ``os.replace``; the metadata goes first, so an object is never visible without it.
An overwrite is last-writer-wins, and while it is in flight `head` may already describe the
new bytes that `get` does not return yet; artifact keys are written once, so this is moot.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from genmedia.errors import InvalidArgument, NotFound, Unavailable
from storage.base import ArtifactStore, StoredObject
from storage.keys import check_key

logger = logging.getLogger(__name__)

META_SUFFIX = ".meta.json"


class LocalArtifactStore(ArtifactStore):
    """An `ArtifactStore` on the local file system, rooted at ``root`` (created if missing).

    URIs are ``file:///abs/path``. Keys that reach outside ``root`` (through ``..`` or a
    symlink) are refused with `InvalidArgument`; so are keys ending in ``.meta.json`` and a
    key that is both an object and a folder (``a/b`` and ``a/b/c``), which S3 would allow.
    File system errors become `Unavailable`.
    """

    def __init__(self, root: Path):
        self._root = Path(root).resolve()
        self._root.mkdir(parents=True, exist_ok=True)

    @property
    def root(self) -> Path:
        return self._root

    def __repr__(self) -> str:
        return f"LocalArtifactStore(root={str(self._root)!r})"

    # -- paths -------------------------------------------------------------------------------

    def _path(self, key: str, field: str = "key") -> Path:
        check_key(key, field)
        if key.endswith(META_SUFFIX):
            raise InvalidArgument(field, f"must not end with {META_SUFFIX!r} (reserved)")
        path = (self._root / key).resolve()
        # check_key already excludes "..", but a symlink inside the root could still point out.
        if not path.is_relative_to(self._root):
            raise InvalidArgument(field, "resolves outside the store")
        return path

    def _unavailable(self, action: str, key: str, exc: OSError) -> Unavailable:
        logger.error("local artifact store %s: %s %s failed: %r", self._root, action, key, exc)
        return Unavailable(f"local artifact store: {action} failed")

    @staticmethod
    def _write_atomic(target: Path, data: bytes) -> str:
        """Write ``data`` to a fsynced temp file beside ``target``; return its path (not moved)."""
        # A leading "." cannot collide with a key: check_key refuses such segments.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        except BaseException:
            _unlink_quietly(tmp)
            raise
        return tmp

    # -- ArtifactStore -----------------------------------------------------------------------

    def _put(self, obj: StoredObject, data: bytes) -> None:
        path = self._path(obj.key)
        meta = json.dumps(
            {
                "content_type": obj.content_type,
                "size": obj.size,
                "sha256": obj.sha256,
                "metadata": obj.metadata,
            },
            sort_keys=True,
        ).encode()
        data_tmp = meta_tmp = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.parent.resolve().is_relative_to(self._root):  # a symlink raced in
                raise InvalidArgument("key", "resolves outside the store")
            data_tmp = self._write_atomic(path, data)
            meta_tmp = self._write_atomic(path.with_name(path.name + META_SUFFIX), meta)
            os.replace(meta_tmp, path.with_name(path.name + META_SUFFIX))
            meta_tmp = None
            os.replace(data_tmp, path)
            data_tmp = None
            _fsync_dir(path.parent)  # make the renames themselves durable
        except (FileExistsError, NotADirectoryError, IsADirectoryError) as exc:
            raise InvalidArgument("key", "collides with an existing object or folder") from exc
        except OSError as exc:
            raise self._unavailable("put", obj.key, exc) from exc
        finally:
            for tmp in (data_tmp, meta_tmp):
                if tmp is not None:
                    _unlink_quietly(tmp)

    def _create(self, obj: StoredObject, data: bytes) -> bool:
        # The metadata file is the object's presence (it goes first in `_put` too): linking it
        # into place fails if the name exists, which arbitrates between concurrent creators.
        path = self._path(obj.key)
        meta_path = path.with_name(path.name + META_SUFFIX)
        meta = json.dumps(
            {"content_type": obj.content_type, "size": obj.size, "sha256": obj.sha256,
             "metadata": obj.metadata},
            sort_keys=True,
        ).encode()
        data_tmp = meta_tmp = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.parent.resolve().is_relative_to(self._root):
                raise InvalidArgument("key", "resolves outside the store")
            if path.exists():
                return False
            data_tmp = self._write_atomic(path, data)
            meta_tmp = self._write_atomic(meta_path, meta)
            try:
                os.link(meta_tmp, meta_path)
            except FileExistsError:
                return False
            os.replace(data_tmp, path)
            data_tmp = None
            _fsync_dir(path.parent)
            return True
        except (NotADirectoryError, IsADirectoryError) as exc:
            raise InvalidArgument("key", "collides with an existing object or folder") from exc
        except OSError as exc:
            raise self._unavailable("create", obj.key, exc) from exc
        finally:
            for tmp in (data_tmp, meta_tmp):
                if tmp is not None:
                    _unlink_quietly(tmp)

    def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NotFound(f"artifact {key} not found") from None
        except OSError as exc:
            raise self._unavailable("get", key, exc) from exc

    def head(self, key: str) -> StoredObject:
        path = self._path(key)
        try:
            if not path.is_file():
                raise NotFound(f"artifact {key} not found")
            meta = json.loads(path.with_name(path.name + META_SUFFIX).read_bytes())
        except FileNotFoundError as exc:
            # The data file exists but its metadata does not: not something put/delete leave.
            raise self._unavailable("head (metadata missing)", key, exc) from exc
        except OSError as exc:
            raise self._unavailable("head", key, exc) from exc
        return StoredObject(
            key=key,
            uri=self.uri(key),
            size=int(meta["size"]),
            sha256=str(meta["sha256"]),
            content_type=str(meta["content_type"]),
            metadata=dict(meta["metadata"]),
        )

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            # Data first: once it is gone the object is gone, whatever happens to the sidecar.
            for target in (path, path.with_name(path.name + META_SUFFIX)):
                try:
                    target.unlink(missing_ok=True)
                except (IsADirectoryError, NotADirectoryError):
                    return  # a folder, or under a file: no object by that key
        except OSError as exc:
            raise self._unavailable("delete", key, exc) from exc

    def presigned_url(self, key: str, expires_s: int | None = None) -> str | None:
        self._path(key)
        return None

    def uri(self, key: str) -> str:
        self._path(key)
        return (self._root / key).as_uri()

    def key_for_uri(self, uri: str) -> str:
        if not isinstance(uri, str):
            raise InvalidArgument("uri", "must be a string")
        parts = urlsplit(uri)
        if parts.scheme != "file" or parts.netloc or parts.query or parts.fragment:
            raise InvalidArgument("uri", "is not a URI of this artifact store")
        path = PurePosixPath(unquote(parts.path))
        if not path.is_relative_to(self._root):
            raise InvalidArgument("uri", "is not a URI of this artifact store")
        key = path.relative_to(self._root).as_posix()
        self._path(key, field="uri")
        # Only the exact form uri() produces: no "%2F" tricks or alternative spellings.
        if self.uri(key) != uri:
            raise InvalidArgument("uri", "is not a canonical URI of this artifact store")
        return key


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # platforms without directory fds (Windows)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
