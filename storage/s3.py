"""`S3ArtifactStore`: artifacts in an S3 bucket (AWS or any S3-compatible server).

A single PUT is atomic in S3, so the atomicity contract holds without extra work; the
SHA-256 travels both as user metadata (``x-amz-meta-sha256``, readable by any client) and as
the S3 checksum (``ChecksumSHA256``), so the server rejects a body damaged on the way.
Retries with backoff are botocore's (``standard`` or ``adaptive`` mode); what still fails
after them becomes `Unavailable`, naming the store and never the credentials.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from typing import Literal

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    PartialCredentialsError,
)

from genmedia.errors import GenMediaError, InvalidArgument, NotFound, Unavailable
from storage.base import SHA256_METADATA, ArtifactStore, StoredObject
from storage.keys import check_key

logger = logging.getLogger(__name__)

_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_NOT_FOUND_CODES = {"NoSuchKey", "404", "NotFound"}
# Transient: logged as warnings. Every other failure (AccessDenied, NoSuchBucket, bad
# credentials) is our own misconfiguration, not the client's fault: logged as an error.
_THROTTLING_CODES = {
    "SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequests",
    "RequestTimeout",
}
MAX_PRESIGN_S = 7 * 86400  # SigV4's limit
MIB = 1024 * 1024
MIN_PART_BYTES = 5 * MIB  # S3: every part but the last is at least 5 MiB
MAX_PART_BYTES = 5 * 1024 * MIB


_CONDITION_FAILED_CODES = {"PreconditionFailed", "ConditionalRequestConflict", "412", "409"}


def map_s3_error(exc: Exception, store: str, action: str) -> GenMediaError:
    """The taxonomy error for a botocore ``exc`` raised by ``action`` on ``store``; logs it.

    404s become `NotFound`; everything else (connection errors, timeouts, throttling and 5xx
    that outlived the retries, access denied, missing bucket) becomes `Unavailable`.
    """
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in _NOT_FOUND_CODES:
            return NotFound("artifact not found")
        # Only code and status are logged: S3 error bodies can echo the access key id.
        transient = code in _THROTTLING_CODES or (isinstance(status, int) and status >= 500)
        level = logging.WARNING if transient else logging.ERROR
        logger.log(level, "%s: %s failed: S3 error %s (HTTP %s)", store, action, code, status)
    else:
        misconfigured = isinstance(exc, (NoCredentialsError, PartialCredentialsError))
        level = logging.ERROR if misconfigured else logging.WARNING
        logger.log(level, "%s: %s failed: %s", store, action, type(exc).__name__)
    return Unavailable(f"artifact store {store} is unavailable")


class S3ArtifactStore(ArtifactStore):
    """An `ArtifactStore` on S3. URIs are ``s3://bucket/prefix/key``.

    Credentials: pass all of ``access_key_id``/``secret_access_key`` (and ``session_token``)
    or none, in which case boto3's default chain applies (environment, config files, IAM role).
    ``max_attempts`` counts the first try. Invalid settings raise `ValueError`.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
        max_attempts: int = 5,
        retry_mode: Literal["standard", "adaptive"] = "standard",
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 30.0,
        addressing_style: Literal["auto", "path", "virtual"] = "auto",
        presign_expires_s: int = 3600,
        checksum_sha256: bool = True,
        multipart_threshold_bytes: int = 16 * MIB,
        multipart_part_bytes: int = 8 * MIB,
    ):
        if not isinstance(bucket, str) or _BUCKET.fullmatch(bucket) is None:
            raise ValueError(f"bucket: not a valid S3 bucket name: {bucket!r}")
        prefix = prefix.rstrip("/")
        if prefix:
            try:
                check_key(prefix, "prefix")
            except InvalidArgument as exc:
                raise ValueError(str(exc)) from exc
        if (access_key_id is None) != (secret_access_key is None):
            raise ValueError("access_key_id and secret_access_key: give both or neither")
        if session_token is not None and access_key_id is None:
            raise ValueError("session_token: needs access_key_id and secret_access_key")
        if max_attempts < 1:
            raise ValueError(f"max_attempts: must be >= 1, got {max_attempts}")
        if not 1 <= presign_expires_s <= MAX_PRESIGN_S:
            raise ValueError(f"presign_expires_s: must be in 1..{MAX_PRESIGN_S}")
        if not MIN_PART_BYTES <= multipart_part_bytes <= MAX_PART_BYTES:
            raise ValueError(f"multipart_part_bytes: must be in {MIN_PART_BYTES}..{MAX_PART_BYTES} (S3's part limits)")
        if multipart_threshold_bytes < multipart_part_bytes:
            raise ValueError("multipart_threshold_bytes: must be at least multipart_part_bytes")
        self._multipart_threshold = multipart_threshold_bytes
        self._part_bytes = multipart_part_bytes
        self._bucket = bucket
        self._prefix = prefix
        self._presign_expires_s = presign_expires_s
        self._checksum_sha256 = checksum_sha256
        self._name = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
        config = Config(
            # total_max_attempts counts the first try, which is what "max_attempts" means here
            # (botocore's own "max_attempts" counts only the retries).
            retries={"total_max_attempts": max_attempts, "mode": retry_mode},
            connect_timeout=connect_timeout_s,
            read_timeout=read_timeout_s,
            signature_version="s3v4",
            s3={"addressing_style": addressing_style},
        )
        # A session of our own: boto3's default session is process-global mutable state.
        session = boto3.session.Session(
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            aws_session_token=session_token,
            region_name=region,
        )
        self._client = session.client("s3", endpoint_url=endpoint_url, config=config)

    def __repr__(self) -> str:
        return f"S3ArtifactStore({self._name!r})"

    @property
    def client(self):
        """The underlying boto3 S3 client (for tests and tools)."""
        return self._client

    def _full_key(self, key: str, field: str = "key") -> str:
        check_key(key, field)
        return check_key(f"{self._prefix}/{key}" if self._prefix else key, field)

    def _fail(self, exc: Exception, action: str, key: str = "") -> GenMediaError:
        error = map_s3_error(exc, self._name, action)
        return NotFound(f"artifact {key} not found") if isinstance(error, NotFound) else error

    def _put(self, obj: StoredObject, data: bytes) -> None:
        if len(data) > self._multipart_threshold:
            self._put_multipart(obj, data)
            return
        extra = {}
        if self._checksum_sha256:
            # Our precomputed value, not botocore's default CRC32: S3 verifies it on arrival.
            extra["ChecksumAlgorithm"] = "SHA256"
            extra["ChecksumSHA256"] = base64.b64encode(bytes.fromhex(obj.sha256)).decode()
        try:
            self._client.put_object(
                Bucket=self._bucket,
                Key=self._full_key(obj.key),
                Body=data,
                ContentType=obj.content_type,
                Metadata={**obj.metadata, SHA256_METADATA: obj.sha256},
                **extra,
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, "put") from exc

    def _create(self, obj: StoredObject, data: bytes) -> bool:
        # S3 conditional writes (If-None-Match: *): 412 when the key exists, 409 when another
        # conditional write of the key is in flight; either way someone else holds the key.
        try:
            self._client.put_object(
                Bucket=self._bucket,
                Key=self._full_key(obj.key),
                Body=data,
                ContentType=obj.content_type,
                Metadata={**obj.metadata, SHA256_METADATA: obj.sha256},
                IfNoneMatch="*",
            )
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code", "")) in _CONDITION_FAILED_CODES:
                return False
            raise self._fail(exc, "create") from exc
        except BotoCoreError as exc:
            raise self._fail(exc, "create") from exc
        return True

    def _put_multipart(self, obj: StoredObject, data: bytes) -> None:
        """Uploads in parts of `multipart_part_bytes`, each with its SHA-256 checked by S3. The
        object appears only when the upload completes (atomic like put_object); on any failure
        the upload is aborted so no parts are left billed in the bucket."""
        full = self._full_key(obj.key)
        extra = {"ChecksumAlgorithm": "SHA256"} if self._checksum_sha256 else {}
        try:
            upload_id = self._client.create_multipart_upload(
                Bucket=self._bucket, Key=full, ContentType=obj.content_type,
                Metadata={**obj.metadata, SHA256_METADATA: obj.sha256}, **extra,
            )["UploadId"]
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, "put") from exc
        try:
            parts = []
            view = memoryview(data)
            for number, start in enumerate(range(0, len(data), self._part_bytes), start=1):
                chunk = view[start:start + self._part_bytes]
                part_extra = {}
                if self._checksum_sha256:
                    part_extra["ChecksumAlgorithm"] = "SHA256"
                    part_extra["ChecksumSHA256"] = base64.b64encode(hashlib.sha256(chunk).digest()).decode()
                response = self._client.upload_part(Bucket=self._bucket, Key=full, UploadId=upload_id,
                                                    PartNumber=number, Body=bytes(chunk), **part_extra)
                part = {"PartNumber": number, "ETag": response["ETag"]}
                if self._checksum_sha256 and response.get("ChecksumSHA256"):
                    part["ChecksumSHA256"] = response["ChecksumSHA256"]
                parts.append(part)
            self._client.complete_multipart_upload(Bucket=self._bucket, Key=full, UploadId=upload_id,
                                                   MultipartUpload={"Parts": parts})
        except (ClientError, BotoCoreError) as exc:
            self._abort_quietly(full, upload_id)
            raise self._fail(exc, "put") from exc
        except BaseException:
            self._abort_quietly(full, upload_id)
            raise

    def _abort_quietly(self, full_key: str, upload_id: str) -> None:
        try:
            self._client.abort_multipart_upload(Bucket=self._bucket, Key=full_key, UploadId=upload_id)
        except (ClientError, BotoCoreError):  # the original error is what the caller must see
            logger.warning("%s: could not abort multipart upload of %s", self._name, full_key)

    def get(self, key: str) -> bytes:
        full = self._full_key(key)
        try:
            response = self._client.get_object(Bucket=self._bucket, Key=full)
            # Reading the body is inside the try: a connection dropped mid-body is Unavailable too.
            return response["Body"].read()
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, "get", key) from exc

    def head(self, key: str) -> StoredObject:
        full = self._full_key(key)
        try:
            response = self._client.head_object(Bucket=self._bucket, Key=full)
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, "head", key) from exc
        metadata = dict(response.get("Metadata", {}))
        sha256 = metadata.pop(SHA256_METADATA, "")  # "" for objects not written by a store
        return StoredObject(
            key=key,
            uri=self.uri(key),
            size=int(response["ContentLength"]),
            sha256=sha256,
            content_type=response.get("ContentType", "application/octet-stream"),
            metadata=metadata,
        )

    def delete(self, key: str) -> None:
        full = self._full_key(key)
        try:
            self._client.delete_object(Bucket=self._bucket, Key=full)  # idempotent in S3
        except (ClientError, BotoCoreError) as exc:
            error = self._fail(exc, "delete", key)
            if not isinstance(error, NotFound):
                raise error from exc

    def presigned_url(self, key: str, expires_s: int | None = None) -> str | None:
        """A presigned GET URL, valid ``expires_s`` seconds (default: the store's setting).

        With temporary credentials (IAM role, session token) the URL also stops working when
        they expire. Raises `InvalidArgument` ("expires_s") outside 1..604800, `Unavailable`.
        """
        expires_s = self._presign_expires_s if expires_s is None else expires_s
        valid = isinstance(expires_s, int) and not isinstance(expires_s, bool)
        if not valid or not 1 <= expires_s <= MAX_PRESIGN_S:
            raise InvalidArgument("expires_s", f"must be an int in 1..{MAX_PRESIGN_S}")
        full = self._full_key(key)
        try:
            return self._client.generate_presigned_url(
                "get_object", Params={"Bucket": self._bucket, "Key": full}, ExpiresIn=expires_s
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, "presign") from exc

    def uri(self, key: str) -> str:
        return f"s3://{self._bucket}/{self._full_key(key)}"

    def key_for_uri(self, uri: str) -> str:
        base = f"{self._name}/"
        if not isinstance(uri, str) or not uri.startswith(base):
            raise InvalidArgument("uri", "is not a URI of this artifact store")
        key = uri[len(base):]
        self._full_key(key, field="uri")
        return key

    def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist (tests, dev). Raises `Unavailable`."""
        try:
            self._client.head_bucket(Bucket=self._bucket)
            return
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code"))
            if code not in {"404", "NoSuchBucket", "NotFound"}:
                raise self._fail(exc, "head bucket") from exc
        except BotoCoreError as exc:
            raise self._fail(exc, "head bucket") from exc
        region = self._client.meta.region_name
        extra = {}
        if region and region != "us-east-1":  # us-east-1 rejects an explicit constraint
            extra["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            self._client.create_bucket(Bucket=self._bucket, **extra)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
                raise self._fail(exc, "create bucket") from exc
        except BotoCoreError as exc:
            raise self._fail(exc, "create bucket") from exc
