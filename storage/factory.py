"""`StorageConfig` and `open_store`: from validated settings to an `ArtifactStore`.

Credentials are deliberately not settings: they come from the environment through boto3's
default chain (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN``, config
files, IAM role), so a Serve config YAML never holds a secret.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from storage.base import ArtifactStore
from storage.local import LocalArtifactStore
from storage.s3 import MAX_PART_BYTES, MAX_PRESIGN_S, MIB, MIN_PART_BYTES, S3ArtifactStore

# Checked in this order when ``s3_endpoint_url`` is unset (MinIO, moto, other S3 servers).
ENDPOINT_ENV_VARS = ("S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3")


class StorageConfig(BaseModel):
    """Where artifacts are stored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Literal["local", "s3"] = Field(
        "local", description="Storage backend: 'local' (files under local_root) or 's3'."
    )
    local_root: Path = Field(
        Path("var/artifacts"),
        description="Root folder of the local backend; a relative path is taken from the "
        "working directory.",
    )
    s3_bucket: str | None = Field(
        None, description="S3 bucket name; required when backend is 's3'."
    )
    s3_prefix: str = Field("", description="Key prefix inside the bucket, without a trailing '/'.")
    s3_endpoint_url: str | None = Field(
        None,
        description="S3 endpoint URL for S3-compatible servers; if unset, the S3_ENDPOINT_URL or "
        "AWS_ENDPOINT_URL_S3 environment variable, else AWS's own endpoint.",
    )
    s3_region: str | None = Field(
        None, description="S3 region; if unset, boto3's default (AWS_REGION, config files)."
    )
    presign_expires_s: int = Field(
        3600, ge=60, le=MAX_PRESIGN_S, description="Lifetime of presigned download URLs, seconds."
    )
    max_attempts: int = Field(
        5, ge=1, le=20, description="Attempts per S3 request, the first included, with backoff."
    )

    s3_multipart_threshold_bytes: int = Field(
        16 * MIB, ge=MIN_PART_BYTES,
        description="Objects larger than this (videos, long audio) go up as S3 multipart uploads.",
    )
    s3_multipart_part_bytes: int = Field(
        8 * MIB, ge=MIN_PART_BYTES, le=MAX_PART_BYTES, description="Part size of multipart uploads (S3: >= 5 MiB).",
    )

    @model_validator(mode="after")
    def _s3_needs_bucket(self) -> StorageConfig:
        if self.backend == "s3" and not self.s3_bucket:
            raise ValueError("s3_bucket is required when backend is 's3'")
        if self.s3_multipart_threshold_bytes < self.s3_multipart_part_bytes:
            raise ValueError("s3_multipart_threshold_bytes must be at least s3_multipart_part_bytes")
        return self


def open_store(config: StorageConfig, *, environ: Mapping[str, str] | None = None) -> ArtifactStore:
    """Build the store ``config`` describes.

    ``environ`` (default ``os.environ``) is read only for the endpoint override; credentials
    are left to boto3. Raises `ValueError` for settings the backend rejects (bad bucket
    name or prefix), `OSError` if the local root cannot be created.
    """
    if config.backend == "local":
        return LocalArtifactStore(config.local_root)
    env = os.environ if environ is None else environ
    endpoint_url = config.s3_endpoint_url or next(
        (env[name] for name in ENDPOINT_ENV_VARS if env.get(name)), None
    )
    return S3ArtifactStore(
        config.s3_bucket or "",
        config.s3_prefix,
        endpoint_url=endpoint_url,
        region=config.s3_region,
        max_attempts=config.max_attempts,
        presign_expires_s=config.presign_expires_s,
        multipart_threshold_bytes=config.s3_multipart_threshold_bytes,
        multipart_part_bytes=config.s3_multipart_part_bytes,
    )
