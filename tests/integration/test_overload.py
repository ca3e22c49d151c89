"""The capacity bound in Ray's gRPC proxy, on the real service (genmedia/proxy_admission.py).

The Ingress replicas publish the config's `ingress.proxy_max_generations_in_flight` (64 in the test
service, above anything the other tests run at once) in Ray's internal KV store, and the proxy
reads it from there. This test lowers the published bound to 1 from a Ray driver, as a config
change would, holds one long video generation, and checks that the next generation call is refused
by the proxy: RESOURCE_EXHAUSTED at once, with retry-after-ms, counted in the exported metrics, and
never reaching an Ingress replica. Then it puts the bound back."""

from __future__ import annotations

import time
import urllib.request

import grpc
import pytest

from genmedia.proxy_admission import KV_NAMESPACE, KV_PREFIX, REFRESH_S, Limit
from loadtests.service_runner import _driver_line, metrics_port

APP = "genmedia"
LONG_VIDEO = dict(prompt="a long river", model="tiny-t2v", width=256, height=256, num_frames=8, fps=4, steps=150,
                  seed=11)

_KV_CODE = r"""
import sys, ray
from ray.experimental.internal_kv import _internal_kv_get, _internal_kv_put
ray.init(address=sys.argv[1], log_to_driver=False, logging_level="ERROR")
key, namespace, new = sys.argv[2], sys.argv[3], sys.argv[4]
old = _internal_kv_get(key, namespace=namespace)
if new:
    _internal_kv_put(key, new.encode(), overwrite=True, namespace=namespace)
print("KV=" + (old or b"").decode())
"""


def _swap_limit(service, new: Limit | None) -> Limit | None:
    """The application's published bound; writes `new` in its place first when given."""
    found = _driver_line(service, _KV_CODE, "KV=", KV_PREFIX + APP, KV_NAMESPACE,
                         new.encode().decode() if new else "")
    assert found is not None, "could not reach the service's Ray cluster"
    return Limit.decode(found) if found else None


def _until_refused(client, deadline_s: float = 30.0) -> grpc.RpcError:
    """Short generations until one is refused (the proxy reads the bound every REFRESH_S)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            client.generate_image(prompt="a probe", seed=1, steps=1, timeout=60)
        except grpc.RpcError as err:
            return err
        time.sleep(0.2)
    raise AssertionError(f"no call was refused within {deadline_s} s of lowering the bound")


def _proxy_refusals(port: int) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    total = 0.0
    for line in text.splitlines():
        if (line.startswith("ray_genmedia_grpc_requests_total{") and 'deployment="grpc-proxy"' in line
                and 'code="RESOURCE_EXHAUSTED"' in line and 'method="GenerateImage"' in line):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_proxy_refuses_generations_over_the_published_bound(service, client):
    published = _swap_limit(service, None)
    assert published == Limit(64, 1.0), published  # what conftest's config says, published by the Ingress
    held = None
    try:
        _swap_limit(service, Limit(1, 0.5))
        held = client.stream_video(timeout=600, **LONG_VIDEO)
        assert any(event.HasField("step") for event in held)  # running: it holds the proxy's one slot

        err = _until_refused(client)
        assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, (err.code(), err.details())
        assert "1 generations in flight through this gRPC proxy" in err.details(), err.details()
        assert dict(err.trailing_metadata())["retry-after-ms"] == "500"

        # Refused in the proxy, it is fast; a non-generation call still goes through.
        start = time.perf_counter()
        with pytest.raises(grpc.RpcError) as again:
            client.generate_image(prompt="refused", seed=2, steps=1, timeout=60)
        assert again.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert time.perf_counter() - start < 2.0
        assert client.classify_prompt("a cat on a sofa", timeout=60)

        # Counted under the ingress's metric names (deployment "grpc-proxy"), as Ray exports them.
        port = metrics_port(service)
        assert port
        end = time.monotonic() + 60
        while _proxy_refusals(port) < 2:
            assert time.monotonic() < end, "the proxy's refusals never reached the metrics endpoint"
            time.sleep(2)
    finally:
        if held is not None:
            held.cancel()
        _swap_limit(service, published)
        time.sleep(REFRESH_S + 0.5)
        client.generate_image(prompt="reads the bound again", seed=3, steps=1, timeout=120)
        time.sleep(1.0)
    # The bound is back: two generations at once are both admitted.
    first = client.stream_video(timeout=600, **LONG_VIDEO)
    try:
        assert any(event.HasField("step") for event in first)
        assert client.generate_image(prompt="admitted again", seed=4, steps=1, timeout=120).generation_id
    finally:
        first.cancel()
