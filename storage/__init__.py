"""Artifact storage: where generated media and manifests are kept (local folder or S3).

No Ray here: a notebook or a tool can open a store and read artifacts on its own.
"""

from storage.base import ArtifactStore, StoredObject
from storage.factory import StorageConfig, open_store
from storage.keys import artifact_key, check_key, manifest_key
from storage.local import LocalArtifactStore
from storage.s3 import S3ArtifactStore

__all__ = [
    "ArtifactStore",
    "LocalArtifactStore",
    "S3ArtifactStore",
    "StorageConfig",
    "StoredObject",
    "artifact_key",
    "check_key",
    "manifest_key",
    "open_store",
]
