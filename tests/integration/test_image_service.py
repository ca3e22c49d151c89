"""The image path end to end: real Ray Serve, the real gRPC proxy, S3 on moto, over loopback."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import grpc
import numpy as np
import pytest
from PIL import Image

from engines.loading import DECODE_PARTS, DENOISE_PARTS, TEXT_PARTS, load_parts, model_info
from engines.params import RawImageFields, resolve_image_params
from engines.reference import run_pipeline
from engines.registry import ModelSpec
from genmedia.v1 import generation_pb2 as pb
from tests.integration.conftest import BUCKET, TINY_MODELS, sealed_pixels
from tests.service_process import REPO

pytestmark = pytest.mark.integration
GRPCURL = Path(sys.executable).parent / "grpcurl"
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def decode_png(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def test_health_and_reflection_with_grpcurl(service):
    listed = subprocess.run([GRPCURL, "-plaintext", service.address, "list"], capture_output=True, text=True,
                            timeout=30, check=True).stdout.split()
    assert {"genmedia.v1.GenerationService", "genmedia.v1.SafetyService", "grpc.health.v1.Health"} <= set(listed)
    health = subprocess.run([GRPCURL, "-plaintext", service.address, "grpc.health.v1.Health/Check"],
                            capture_output=True, text=True, timeout=30, check=True).stdout
    assert '"SERVING"' in health
    described = subprocess.run([GRPCURL, "-plaintext", service.address, "describe", "genmedia.v1.ImageRequest"],
                               capture_output=True, text=True, timeout=30, check=True).stdout
    assert "idempotency_key" in described


def test_grpcurl_generate_image(service, api_keys):
    out = subprocess.run(
        [GRPCURL, "-plaintext", "-H", f"authorization: Bearer {api_keys['local']}",
         "-d", '{"prompt": "a lighthouse at dusk", "seed": 3}', service.address,
         "genmedia.v1.GenerationService/GenerateImage"],
        capture_output=True, text=True, timeout=60, check=True).stdout
    assert '"generation_id"' in out and "s3://" in out


def test_unknown_health_service_is_not_found(client):
    from grpc_health.v1 import health_pb2

    with pytest.raises(grpc.RpcError) as err:
        client.health.Check(health_pb2.HealthCheckRequest(service="nope"), timeout=10)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_generate_stores_in_s3_with_presigned_url(client, s3_store):
    result = client.generate_image(prompt="a lighthouse at dusk", seed=11, num_images=2, return_bytes=True,
                                   timeout=120)
    assert result.seed == 11 and result.model == "tiny-sd" and len(result.model_version) == 16
    assert [i.index for i in result.images] == [0, 1]
    for image in result.images:
        assert image.uri.startswith(f"s3://genmedia-test/artifacts/local/")
        assert image.uri.endswith(f"/{result.generation_id}/{image.index}.png")
        assert hashlib.sha256(image.data).hexdigest() == image.sha256
        fetched = NO_PROXY.open(image.url, timeout=10).read()
        assert fetched == image.data
        head = s3_store.client.head_object(Bucket="genmedia-test", Key=image.uri.split("/", 3)[3])
        assert head["ContentType"] == "image/png"
        assert head["Metadata"]["generation-id"] == result.generation_id
        assert head["Metadata"]["sha256"] == image.sha256
    assert result.timings.total_s > 0 and result.timings.denoise_s > 0


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def test_server_picks_and_returns_a_seed(client):
    a = client.generate_image(prompt="a lighthouse", return_bytes=True, timeout=60)
    b = client.generate_image(prompt="a lighthouse", timeout=60)
    assert a.seed != b.seed
    again = client.generate_image(prompt="a lighthouse", seed=a.seed, return_bytes=True, timeout=60)
    # Same seed, same picture; each release carries its own watermark payload (PSNR >= 40 dB each).
    assert psnr(decode_png(again.images[0].data), decode_png(a.images[0].data)) > 36


def test_stream_events_in_order_with_previews(client):
    events = list(client.stream_image(prompt="a lighthouse", seed=1, steps=3, preview=True, timeout=60))
    kinds = [e.WhichOneof("event") for e in events]
    assert kinds == ["queued", "prompt_checked", "prompt_encoded", "step", "step", "step", "decoded", "stored", "done"]
    assert [e.step.step for e in events if e.HasField("step")] == [1, 2, 3]
    assert all(e.step.total == 3 and e.step.preview_png.startswith(b"\x89PNG") for e in events if e.HasField("step"))
    gid = events[-1].done.generation_id
    assert all(e.generation_id == gid for e in events)
    assert list(events[-2].stored.uris) == [i.uri for i in events[-1].done.images]


def test_get_generation_returns_the_result_again(client):
    first = client.generate_image(prompt="a red fox", seed=5, format=pb.IMAGE_FORMAT_WEBP, timeout=60)
    again = client.get_generation(first.generation_id, timeout=30)
    assert again.generation_id == first.generation_id
    assert [(i.uri, i.sha256, i.content_type) for i in again.images] == \
           [(i.uri, i.sha256, "image/webp") for i in first.images]
    assert again.seed == 5 and again.model_version == first.model_version
    with pytest.raises(grpc.RpcError) as err:
        client.get_generation("01a20043-8896-7cf3-82bc-b4af6ccf4246", timeout=30)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_idempotency_key_concurrent_and_later(client, s3_server):
    """Simultaneous calls with one key, spread over both ingress replicas, make one generation."""
    def generation_folders() -> set[str]:
        s3 = boto3.session.Session().client("s3", endpoint_url=s3_server.endpoint_url, region_name=s3_server.region,
                                            **{f"aws_{k}": v for k, v in s3_server.credentials().items()})
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="artifacts/")
        return {o["Key"].rsplit("/", 1)[0] for page in pages for o in page.get("Contents", [])
                if o["Key"].endswith("/manifest.json")}

    before = generation_folders()
    fields = dict(prompt="a blue whale", idempotency_key="test-key-1", timeout=60)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: client.generate_image(**fields), range(8)))
    assert len({r.generation_id for r in results}) == 1
    assert len({(i.uri, i.sha256) for r in results for i in r.images}) == len(results[0].images)
    made = generation_folders() - before
    assert len(made) == 1 and results[0].generation_id in made.pop()  # never two generations
    later = client.generate_image(**fields)
    assert later.generation_id == results[0].generation_id
    other = client.generate_image(prompt="a blue whale", idempotency_key="test-key-2", timeout=60)
    assert other.generation_id != later.generation_id


@pytest.mark.parametrize("model", TINY_MODELS)
def test_service_equals_monolithic_pipeline(client, provenance_keys, model):
    """Through every deployment, a lone request is bit-identical to one diffusers pipeline call
    (sealed with the same watermark the service embeds)."""
    result = client.generate_image(prompt="a lighthouse at dusk", model=model, seed=42, steps=3, return_bytes=True,
                                   timeout=120)
    spec = ModelSpec(name=model, source=f"preset:{model}")
    parts = load_parts(spec, REPO / "var" / "cache", TEXT_PARTS | DENOISE_PARTS | DECODE_PARTS)
    params = resolve_image_params(RawImageFields(prompt="a lighthouse at dusk", model=model, seed=42, steps=3),
                                  model_info(spec, parts), seed_if_unset=0)
    expected = sealed_pixels(provenance_keys, run_pipeline(parts, params)[0], result.generation_id)
    assert np.array_equal(decode_png(result.images[0].data), expected)


def test_concurrent_requests_all_succeed_and_match_alone(client):
    """Eight concurrent requests (batched in the stages) agree with the same requests sent alone."""
    def generate(seed):
        return client.generate_image(prompt=f"a cat number {seed}", seed=seed, return_bytes=True, timeout=120)

    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(generate, range(100, 108)))
    alone = [generate(seed) for seed in range(100, 104)]
    for t, a in zip(together, alone):  # within one 8-bit level before sealing; watermarks differ
        assert psnr(decode_png(t.images[0].data), decode_png(a.images[0].data)) > 36


def test_cancelled_stream_frees_the_denoiser(client):
    stream = client.stream_image(prompt="a long one", seed=1, steps=150, timeout=120)
    for event in stream:
        if event.HasField("step") and event.step.step >= 2:
            stream.cancel()
            break
    result = client.generate_image(prompt="next", seed=2, steps=2, timeout=60)
    assert result.images


def test_a_request_that_cannot_finish_in_time_is_dropped_before_the_denoiser(client):
    """The client's deadline reaches the ingress (the proxy adds it as metadata); a request whose
    denoising alone would outlast it fails at once with DEADLINE_EXCEEDED from the server, naming
    `deadline`, instead of holding the denoiser until the client gives up."""
    # Learn seconds per step at this shape (timed between steps: setup and waiting are not in it).
    client.generate_image(prompt="teach the clock", seed=1, width=512, height=512, num_images=2, steps=3, timeout=120)
    start = time.perf_counter()
    with pytest.raises(grpc.RpcError) as err:
        client.generate_image(prompt="a huge slow one", seed=2, width=512, height=512, num_images=2, steps=150,
                              timeout=4)
    took = time.perf_counter() - start
    assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert err.value.details().startswith("deadline: "), err.value.details()  # ours, not the client's timer
    assert took < 4
    # Without a deadline the same request would be admitted; with a generous one a small request runs.
    assert client.generate_image(prompt="in time", seed=3, steps=2, timeout=120).images
