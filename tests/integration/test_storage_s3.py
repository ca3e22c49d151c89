"""S3ArtifactStore against a real S3 server (moto) over HTTP on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import time
import urllib.request
import uuid

import boto3
import pytest
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from pydantic import ValidationError

from genmedia.errors import InvalidArgument, NotFound, Unavailable
from storage import S3ArtifactStore, StorageConfig, open_store
from storage.s3 import map_s3_error
from tests.fixtures.s3_server import S3Server, free_port, s3_server, start_moto_server  # noqa: F401

pytestmark = pytest.mark.integration

KEY = "acme/2025/03/07/0f8fad5b-d9cb-469f-a165-70867728950e/0.png"
META = {"generation-id": "0f8fad5b-d9cb-469f-a165-70867728950e"}


def make_store(server: S3Server, bucket: str, prefix: str = "", **kwargs) -> S3ArtifactStore:
    store = S3ArtifactStore(
        bucket, prefix, endpoint_url=server.endpoint_url, region=server.region,
        **server.credentials(), **kwargs,
    )
    store.ensure_bucket()
    return store


def raw_client(server: S3Server):
    """A plain boto3 client, to check what the store wrote without going through it."""
    return boto3.session.Session().client(
        "s3", endpoint_url=server.endpoint_url, region_name=server.region,
        aws_access_key_id=server.access_key_id, aws_secret_access_key=server.secret_access_key,
    )


@pytest.fixture
def bucket() -> str:
    return f"genmedia-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def store(s3_server, bucket) -> S3ArtifactStore:  # noqa: F811
    return make_store(s3_server, bucket, "artifacts/v1")


def test_put_get_head_round_trip(store, s3_server, bucket):  # noqa: F811
    data = b"\x89PNG fake bytes"
    digest = hashlib.sha256(data).hexdigest()
    stored = store.put(KEY, data, content_type="image/png", metadata=META)
    assert (stored.key, stored.size, stored.sha256) == (KEY, len(data), digest)
    assert stored.uri == f"s3://{bucket}/artifacts/v1/{KEY}"
    assert store.get(KEY) == data
    assert store.head(KEY) == stored
    assert store.exists(KEY)

    head = raw_client(s3_server).head_object(
        Bucket=bucket, Key=f"artifacts/v1/{KEY}", ChecksumMode="ENABLED"
    )
    assert head["ContentType"] == "image/png"
    assert head["Metadata"] == {"sha256": digest, **META}
    assert head["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(data).digest()).decode()


def test_missing_object_and_idempotent_delete(store):
    with pytest.raises(NotFound):
        store.get(KEY)
    with pytest.raises(NotFound):
        store.head(KEY)
    assert not store.exists(KEY)
    store.put(KEY, b"x", content_type="image/png")
    store.delete(KEY)
    store.delete(KEY)
    assert not store.exists(KEY)


def test_presigned_url_downloads_the_bytes(store):
    data = b"presigned payload"
    store.put(KEY, data, content_type="image/png")
    url = store.presigned_url(KEY, 120)
    assert url.startswith("http://127.0.0.1:") and "X-Amz-Expires=120" in url
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=10) as response:
        assert response.read() == data
        assert response.headers["Content-Type"] == "image/png"
    assert "X-Amz-Expires=3600" in store.presigned_url(KEY)
    for bad in (0, 7 * 86400 + 1, True):
        with pytest.raises(InvalidArgument) as info:
            store.presigned_url(KEY, bad)
        assert info.value.field == "expires_s"


def test_prefix_is_respected(store, s3_server, bucket):  # noqa: F811
    store.put(KEY, b"x", content_type="image/png")
    listed = raw_client(s3_server).list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in listed["Contents"]] == [f"artifacts/v1/{KEY}"]
    sibling = make_store(s3_server, bucket, "artifacts/v2")
    assert not sibling.exists(KEY)
    assert make_store(s3_server, bucket).get(f"artifacts/v1/{KEY}") == b"x"
    assert store.get_by_uri(f"s3://{bucket}/artifacts/v1/{KEY}") == b"x"
    for uri in (
        f"s3://{bucket}/artifacts/v2/{KEY}",
        f"s3://{bucket}/{KEY}",
        f"s3://{bucket}/artifacts/v1/../v2/{KEY}",
        f"s3://other-bucket/artifacts/v1/{KEY}",
        f"s3://{bucket}/artifacts/v1x/{KEY}",
        f"file:///artifacts/v1/{KEY}",
        "",
    ):
        with pytest.raises(InvalidArgument) as info:
            store.get_by_uri(uri)
        assert info.value.field == "uri", uri


def test_bad_keys_rejected_before_any_request(store):
    for key in ("../x", "/abs", "a//b", "a\\b", "a\x00b"):
        with pytest.raises(InvalidArgument) as info:
            store.put(key, b"x", content_type="image/png")
        assert info.value.field == "key"


def test_ensure_bucket_is_idempotent(store):
    store.ensure_bucket()
    store.ensure_bucket()


def test_closed_port_is_unavailable_within_bounded_time():
    store = S3ArtifactStore(
        "genmedia-test", endpoint_url=f"http://127.0.0.1:{free_port()}", region="us-east-1",
        access_key_id="AKIDDUMMY", secret_access_key="very-secret-value",
        max_attempts=2, connect_timeout_s=0.5, read_timeout_s=0.5,
    )
    for call in (lambda: store.get(KEY), lambda: store.put(KEY, b"x", content_type="image/png"),
                 lambda: store.head(KEY), lambda: store.delete(KEY)):
        started = time.monotonic()
        with pytest.raises(Unavailable) as info:
            call()
        assert time.monotonic() - started < 10
        assert "s3://genmedia-test" in info.value.message
        assert "very-secret-value" not in str(info.value)
        # The botocore cause stays chained for server logs; only the message reaches clients.
        assert isinstance(info.value.__cause__, BotoCoreError)


def test_stopped_server_is_unavailable(bucket):
    with start_moto_server() as server:
        store = make_store(
            server, bucket, max_attempts=2, connect_timeout_s=0.5, read_timeout_s=0.5
        )
        store.put(KEY, b"x", content_type="image/png")
        assert store.get(KEY) == b"x"
    started = time.monotonic()
    with pytest.raises(Unavailable):
        store.get(KEY)
    assert time.monotonic() - started < 10


def test_open_store_uses_env_endpoint_and_credentials(s3_server, bucket, monkeypatch):  # noqa: F811
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_access_key)
    config = StorageConfig(
        backend="s3", s3_bucket=bucket, s3_region=s3_server.region, s3_prefix="p"
    )
    store = open_store(config, environ={"S3_ENDPOINT_URL": s3_server.endpoint_url})
    assert isinstance(store, S3ArtifactStore)
    store.ensure_bucket()
    store.put(KEY, b"env", content_type="image/png")
    assert raw_client(s3_server).get_object(Bucket=bucket, Key=f"p/{KEY}")["Body"].read() == b"env"


def test_storage_config_validation(tmp_path):
    with pytest.raises(ValidationError, match="s3_bucket"):
        StorageConfig(backend="s3")
    for bad in (59, 7 * 86400 + 1):
        with pytest.raises(ValidationError):
            StorageConfig(presign_expires_s=bad)
    with pytest.raises(ValidationError):
        StorageConfig(aws_secret_access_key="nope")
    local = open_store(StorageConfig(local_root=tmp_path / "a"))
    assert local.uri("t/x.png").startswith("file:///")
    assert all(field.description for field in StorageConfig.model_fields.values())


def _client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "GetObject",
    )


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (_client_error("NoSuchKey", 404), NotFound),
        (_client_error("404", 404), NotFound),
        (_client_error("AccessDenied", 403), Unavailable),
        (_client_error("InvalidAccessKeyId", 403), Unavailable),
        (_client_error("NoSuchBucket", 404), Unavailable),
        (_client_error("SlowDown", 503), Unavailable),
        (_client_error("InternalError", 500), Unavailable),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), Unavailable),
        (ReadTimeoutError(endpoint_url="http://127.0.0.1:1"), Unavailable),
    ],
)
def test_error_mapping(exc, expected):
    assert type(map_s3_error(exc, "s3://b", "get")) is expected


# --- multipart uploads (large videos and audio) ---------------------------------------------------
MIB = 1024 * 1024


def test_large_objects_go_up_as_multipart_uploads(s3_server, bucket):  # noqa: F811
    store = make_store(s3_server, bucket, "mp", multipart_threshold_bytes=6 * MIB, multipart_part_bytes=5 * MIB)
    data = bytes(range(256)) * (12 * MIB // 256 + 7)  # 12 MiB and a bit: three parts, the last short
    obj = store.put("acme/v/0.mp4", data, content_type="video/mp4", metadata=META)
    assert store.get("acme/v/0.mp4") == data
    assert obj.sha256 == hashlib.sha256(data).hexdigest() == store.head("acme/v/0.mp4").sha256
    head = raw_client(s3_server).head_object(Bucket=bucket, Key="mp/acme/v/0.mp4", PartNumber=1)
    assert head["PartsCount"] == 3  # S3 reports the part count only for multipart objects
    assert raw_client(s3_server).list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_small_objects_stay_single_part(s3_server, bucket):  # noqa: F811
    store = make_store(s3_server, bucket, "mp", multipart_threshold_bytes=6 * MIB, multipart_part_bytes=5 * MIB)
    store.put("acme/v/small.png", b"x" * 1000, content_type="image/png")
    head = raw_client(s3_server).head_object(Bucket=bucket, Key="mp/acme/v/small.png", PartNumber=1)
    assert "PartsCount" not in head


def test_a_failed_multipart_upload_is_aborted_and_leaves_nothing(s3_server, bucket, monkeypatch):  # noqa: F811
    store = make_store(s3_server, bucket, "mp", multipart_threshold_bytes=6 * MIB, multipart_part_bytes=5 * MIB)
    real_upload_part = store.client.upload_part
    calls = []

    def flaky_upload_part(**kwargs):
        calls.append(kwargs["PartNumber"])
        if kwargs["PartNumber"] == 2:
            raise EndpointConnectionError(endpoint_url=s3_server.endpoint_url)
        return real_upload_part(**kwargs)

    monkeypatch.setattr(store.client, "upload_part", flaky_upload_part)
    with pytest.raises(Unavailable):
        store.put("acme/v/1.mp4", b"y" * (11 * MIB), content_type="video/mp4")
    assert calls == [1, 2]
    assert not store.exists("acme/v/1.mp4")
    assert raw_client(s3_server).list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_multipart_settings_are_checked():
    with pytest.raises(ValueError, match="multipart_part_bytes"):
        S3ArtifactStore("bucket-name", multipart_part_bytes=MIB)
    with pytest.raises(ValidationError, match="s3_multipart_threshold_bytes"):
        StorageConfig(backend="s3", s3_bucket="b-name", s3_multipart_threshold_bytes=5 * MIB,
                      s3_multipart_part_bytes=6 * MIB)


def test_create_only_if_absent_is_one_winner_among_concurrent_callers(store):
    """S3 conditional writes (If-None-Match: *) arbitrate idempotency keys across replicas."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        wins = list(pool.map(lambda i: store.create(KEY, b"%d" % i, content_type="text/plain"), range(24)))
    assert wins.count(True) == 1
    assert store.get(KEY) == b"%d" % wins.index(True)
    assert store.create(KEY, b"again", content_type="text/plain") is False
    store.delete(KEY)
    assert store.create(KEY, b"again", content_type="text/plain") is True
