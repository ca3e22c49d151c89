"""Integration fixtures: a moto S3 server and the real genmedia service on 127.0.0.1."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from genmedia.client import API_KEY_ENV, GenmediaClient
from storage import S3ArtifactStore
from tests.fixtures.postgres_server import PostgresServer, postgres_server  # noqa: F401
from tests.fixtures.s3_server import S3Server, free_port, s3_server  # noqa: F401
from tests.service_process import REPO, serve_config, start_service

TINY_MODELS = ("tiny-sd", "tiny-sdxl", "tiny-sd3", "tiny-flux")
VIDEO_MODELS = ("tiny-t2v", "tiny-animatediff")
BUCKET = "genmedia-test"


# Tenants of the test service (tests/integration/test_tenancy.py). Every test client speaks as
# "local" (its key is put in $GENMEDIA_API_KEY, which GenmediaClient, the harness and the fuzzer
# read); "other" proves isolation; "tight" runs out of its rate, "single" of its one generation slot.
TENANTS = ("local", "other", "tight", "single")
GENEROUS = {"requests_per_s": 1000.0, "burst": 1000, "max_concurrent_generations": 64}
QUOTAS = {"tight": {"requests_per_s": 0.2, "burst": 3, "max_concurrent_generations": 1},
          "single": {"requests_per_s": 1000.0, "burst": 1000, "max_concurrent_generations": 1}}


def app_args(s3: S3Server, workdir: Path, records_url: str | None = None) -> dict:
    small = {"actor": {"num_cpus": 0.1}, "torch_threads": 1, "autoscaling": {"min_replicas": 1, "max_replicas": 1}}
    return {
        "models": [{"name": m, "source": f"preset:{m}", "slo_class": "tiny"} for m in TINY_MODELS],
        "video_models": [{"name": m, "source": f"preset:{m}", "slo_class": "tiny", "torch_threads": 1}
                         for m in VIDEO_MODELS],
        "audio_models": [{"name": "tiny-musicgen", "source": "preset:tiny-musicgen", "slo_class": "tiny",
                          "torch_threads": 1}],
        "video_generator": {**small, "max_ongoing_requests": 8},
        "audio_generator": {**small, "max_ongoing_requests": 8},
        "cache_dir": str(REPO / "var" / "cache"),
        "storage": {"backend": "s3", "s3_bucket": BUCKET, "s3_prefix": "artifacts", "s3_endpoint_url": s3.endpoint_url,
                    "s3_region": s3.region, "presign_expires_s": 600},
        # Two ingress replicas: quotas and idempotency keys must hold across them.
        # The proxy's capacity bound above anything the tests run at once (test_overload.py lowers it).
        "ingress": {**small, "autoscaling": {"min_replicas": 2, "max_replicas": 2}, "max_ongoing_requests": 64,
                    "proxy_max_generations_in_flight": 64,
                    "auth": {"api_keys_file": str(workdir / "api-keys.yaml"), "reload_s": 0.5},
                    "quotas": {"default": GENEROUS, "tenants": QUOTAS, "concurrency_retry_after_s": 2.0}},
        "text_encoder": small,
        "denoiser": {**small, "torch_threads": 2, "max_batch_images": 8},
        "vae_decoder": small,
        # The local tenant blurs violent results instead of blocking them, so the blur path can be
        # driven end to end (random tiny models draw noise, never anything a detector would find).
        "safety": {**small, "policies": {"tenants": {"local": {
            "version": "test-1", "categories": {"violence": {"flag": 0.3, "blur": 0.5}}}}}},
        "provenance": {**small, "records_url": records_url or f"sqlite:///{workdir / 'records.db'}",
                       "dev_keys_dir": str(workdir / "keys"), "index_refresh_s": 1.0},
    }


@pytest.fixture(scope="session")
def s3_store(s3_server: S3Server) -> S3ArtifactStore:  # noqa: F811
    store = S3ArtifactStore(BUCKET, "artifacts", endpoint_url=s3_server.endpoint_url, region=s3_server.region,
                            **s3_server.credentials())
    store.ensure_bucket()
    return store


@pytest.fixture(scope="session")
def service_workdir(tmp_path_factory) -> Path:
    return Path(tmp_path_factory.mktemp("service"))


@pytest.fixture(scope="session")
def api_keys(service_workdir) -> dict[str, str]:
    """tenant -> API key, written (hashed) to the key file the service reads."""
    from genmedia.api_keys import create_key

    return {t: create_key(service_workdir / "api-keys.yaml", t, note="test")[1] for t in TENANTS}


@pytest.fixture(scope="session")
def records_url(postgres_server: PostgresServer) -> str:  # noqa: F811
    """The service's provenance records: a database of its own on the session's PostgreSQL server
    (production's backend; the chaos tests restart it)."""
    return postgres_server.create_database("genmedia_service")


@pytest.fixture(scope="session")
def service(s3_server: S3Server, s3_store, service_workdir, api_keys, records_url):  # noqa: F811
    workdir = service_workdir
    os.environ[API_KEY_ENV] = api_keys["local"]
    config = serve_config(app_args(s3_server, workdir, records_url), grpc_port=free_port(), http_port=free_port())
    env = {"AWS_ACCESS_KEY_ID": s3_server.access_key_id, "AWS_SECRET_ACCESS_KEY": s3_server.secret_access_key,
           "AWS_DEFAULT_REGION": s3_server.region, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    running = start_service(config, workdir, env=env)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def provenance_keys(service, service_workdir):
    """The development keys the running service generated (its Provenance replica wrote them)."""
    from provenance.keys import load_keys

    return load_keys(env={}, dev_dir=service_workdir / "keys")


def sealed_pixels(keys, pixels, generation_id: str, index: int = 0):
    """What the service releases for `pixels`: the same watermark embedding, same payload."""
    from provenance.records.hmac import watermark_payload
    from provenance.watermark import ImageWatermarker

    return ImageWatermarker(keys.watermark_key, payload_bytes=8).embed(
        pixels, watermark_payload(keys.record_key, generation_id, index, 8))


@pytest.fixture()
def client(service) -> GenmediaClient:
    with GenmediaClient(service.address) as c:
        yield c
