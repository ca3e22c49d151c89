"""Tenants over gRPC against the real service: API keys, rotation without a restart, isolation of
generations, artifacts and records, and per-tenant quotas (rate and concurrency) with the retry
delay in trailing metadata. The service's tenants are set up in conftest.py."""

from __future__ import annotations

import time

import grpc
import pytest

from genmedia.api_keys import create_key, revoke_key
from genmedia.client import GenmediaClient
from genmedia.v1 import provenance_pb2 as ppb
from genmedia.v1 import provenance_pb2_grpc as ppb_grpc


@pytest.fixture(scope="module")
def as_tenant(service, api_keys):
    clients: list[GenmediaClient] = []

    def make(tenant: str | None = None, key: str | None = None) -> GenmediaClient:
        c = GenmediaClient(service.address, api_key=key if key is not None else api_keys.get(tenant, ""))
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()


@pytest.fixture(scope="module")
def local_image(as_tenant):
    return as_tenant("local").generate_image(prompt="a tenant's lighthouse", seed=3, steps=2, timeout=120)


def _provenance(client: GenmediaClient):
    return ppb_grpc.ProvenanceServiceStub(client.channel)


def _code(call) -> tuple[grpc.StatusCode, str, dict]:
    with pytest.raises(grpc.RpcError) as err:
        call()
    return err.value.code(), err.value.details(), dict(err.value.trailing_metadata() or ())


# --- authentication --------------------------------------------------------------------------------
@pytest.mark.parametrize("key, message", [("", "authorization: missing"),
                                          ("gmk_00000000_not-a-key", "authorization: unknown or revoked")])
def test_every_rpc_needs_a_valid_key(as_tenant, key, message):
    client = as_tenant(key=key)
    for call in (lambda: client.generate_image(prompt="x", timeout=30),
                 lambda: client.classify_prompt("a cat", timeout=30),
                 lambda: client.get_generation("00000000-0000-0000-0000-000000000000", timeout=30),
                 lambda: _provenance(client).Verify(ppb.VerifyRequest(data=b"x"), timeout=30)):
        code, details, _ = _code(call)
        assert code == grpc.StatusCode.UNAUTHENTICATED and details.startswith(message), details


def test_health_checks_need_no_key(as_tenant):
    assert as_tenant(key="").is_serving()


def test_a_key_is_rotated_without_a_restart(as_tenant, service_workdir):
    keys_file = service_workdir / "api-keys.yaml"
    entry, key = create_key(keys_file, "other", note="rotation test")
    client = as_tenant(key=key)
    deadline = time.monotonic() + 15
    while True:  # the ingress re-reads the file within reload_s (0.5 s here)
        try:
            client.classify_prompt("a cat", timeout=30)
            break
        except grpc.RpcError as err:
            assert err.code() == grpc.StatusCode.UNAUTHENTICATED and time.monotonic() < deadline
            time.sleep(0.25)
    revoke_key(keys_file, entry.id)
    deadline = time.monotonic() + 15
    while True:
        try:
            client.classify_prompt("a cat", timeout=30)
            assert time.monotonic() < deadline, "a revoked key still works"
            time.sleep(0.25)
        except grpc.RpcError as err:
            assert err.code() == grpc.StatusCode.UNAUTHENTICATED
            break


# --- isolation -------------------------------------------------------------------------------------
def test_another_tenant_cannot_fetch_a_generation(as_tenant, local_image):
    code, details, _ = _code(lambda: as_tenant("other").get_generation(local_image.generation_id, timeout=30))
    assert code == grpc.StatusCode.NOT_FOUND, details
    assert as_tenant("local").get_generation(local_image.generation_id, timeout=30).generation_id == \
        local_image.generation_id


def test_another_tenant_cannot_read_an_artifact_by_uri(as_tenant, local_image):
    uri = local_image.images[0].uri
    code, details, _ = _code(lambda: _provenance(as_tenant("other")).Verify(ppb.VerifyRequest(uri=uri), timeout=60))
    assert code == grpc.StatusCode.NOT_FOUND and details.startswith("uri"), details
    own = _provenance(as_tenant("local")).Verify(ppb.VerifyRequest(uri=uri), timeout=60)
    assert own.record.generation_id == local_image.generation_id


def test_another_tenant_sees_no_private_record_fields(as_tenant, local_image):
    theirs = _provenance(as_tenant("other")).GetRecord(
        ppb.GetRecordRequest(generation_id=local_image.generation_id), timeout=60)
    assert not theirs.private_fields and not theirs.prompt_hmac and not theirs.tenant
    ours = _provenance(as_tenant("local")).GetRecord(
        ppb.GetRecordRequest(generation_id=local_image.generation_id), timeout=60)
    assert ours.private_fields and ours.tenant == "local"


def test_artifact_keys_carry_the_tenant(as_tenant):
    result = as_tenant("other").generate_image(prompt="another tenant's boat", seed=4, steps=2, timeout=120)
    assert "/other/" in result.images[0].uri
    record = _provenance(as_tenant("other")).GetRecord(
        ppb.GetRecordRequest(generation_id=result.generation_id), timeout=60)
    assert record.tenant == "other"


# --- quotas ----------------------------------------------------------------------------------------
def test_over_the_rate_is_resource_exhausted_with_the_retry_delay(as_tenant):
    client = as_tenant("tight")  # burst 3, then one call every 5 s
    for _ in range(3):
        client.classify_prompt("a cat", timeout=30)
    start = time.perf_counter()
    code, details, trailing = _code(lambda: client.classify_prompt("a cat", timeout=30))
    rejected_in = time.perf_counter() - start
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "rate" in details, details
    assert 1000 <= int(trailing["retry-after-ms"]) <= 5000, trailing
    assert rejected_in < 5
    # Other tenants are untouched.
    as_tenant("local").classify_prompt("a cat", timeout=30)


def test_over_the_concurrency_is_resource_exhausted_until_the_generation_ends(as_tenant):
    client = as_tenant("single")  # one generation at a time
    stream = client.stream_image(prompt="a slow harbour", seed=5, steps=40, timeout=300)
    first = next(iter(stream))  # admitted and running
    assert first.generation_id
    code, details, trailing = _code(lambda: client.generate_image(prompt="a second", seed=6, steps=2, timeout=60))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "generations running" in details, details
    assert trailing["retry-after-ms"] == "2000"
    client.classify_prompt("not a generation", timeout=30)  # only generations hold a slot
    events = list(stream)
    assert events[-1].HasField("done")
    assert client.generate_image(prompt="a second", seed=6, steps=2, timeout=120).generation_id


def test_a_cancelled_generation_gives_its_slot_back(as_tenant):
    client = as_tenant("single")
    stream = client.stream_image(prompt="a cancelled harbour", seed=7, steps=200, timeout=300)
    next(iter(stream))
    stream.cancel()
    deadline = time.monotonic() + 30
    while True:
        try:
            client.generate_image(prompt="after the cancel", seed=8, steps=2, timeout=120)
            break
        except grpc.RpcError as err:
            assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and time.monotonic() < deadline, err.details()
            time.sleep(0.5)
