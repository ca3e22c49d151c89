import asyncio

import pytest

from services.idempotency import IdempotencyGuard
from storage import LocalArtifactStore


def run(coro):
    return asyncio.run(coro)


@pytest.fixture()
def guard(tmp_path):
    return IdempotencyGuard(LocalArtifactStore(tmp_path))


def test_concurrent_claims_generate_once(guard):
    generated = []

    async def call(i):
        async with guard.claim("local", "k1") as claim:
            if claim.existing_id:
                return claim.existing_id
            await asyncio.sleep(0.05)
            gid = f"gen-{i}"
            generated.append(gid)
            claim.record(gid)
            return gid

    async def main():
        return await asyncio.gather(*(call(i) for i in range(5)))

    results = run(main())
    assert len(generated) == 1 and set(results) == {generated[0]}


def test_finished_key_is_found_in_the_store(guard, tmp_path):
    async def first():
        async with guard.claim("local", "k2") as claim:
            claim.record("gen-a")

    async def second(g):
        async with g.claim("local", "k2") as claim:
            return claim.existing_id

    run(first())
    fresh = IdempotencyGuard(LocalArtifactStore(tmp_path))  # as after a restart
    assert run(second(fresh)) == "gen-a"


def test_failed_first_attempt_lets_the_next_one_run(guard):
    async def failing():
        async with guard.claim("local", "k3"):
            await asyncio.sleep(0.02)
            raise ValueError("boom")

    async def retry():
        await asyncio.sleep(0.01)
        async with guard.claim("local", "k3") as claim:
            assert claim.existing_id is None
            claim.record("gen-b")
            return "gen-b"

    async def main():
        return await asyncio.gather(failing(), retry(), return_exceptions=True)

    failed, retried = run(main())
    assert isinstance(failed, ValueError) and retried == "gen-b"


def test_no_key_never_dedupes(guard):
    async def main():
        async with guard.claim("local", None) as claim:
            return claim.existing_id

    assert run(main()) is None


def test_replicas_sharing_a_store_generate_once(tmp_path):
    """Two ingress replicas (two guards, one store): simultaneous calls make one generation."""
    store = LocalArtifactStore(tmp_path)
    replicas = [IdempotencyGuard(store, poll_s=0.01) for _ in range(3)]
    generated = []

    async def call(i):
        async with replicas[i % 3].claim("acme", "same") as claim:
            if claim.existing_id:
                return claim.existing_id
            await asyncio.sleep(0.1)
            generated.append(f"gen-{i}")
            claim.record(f"gen-{i}")
            return f"gen-{i}"

    async def main():
        return await asyncio.gather(*(call(i) for i in range(12)))

    results = run(main())
    assert len(generated) == 1 and set(results) == {generated[0]}


def test_the_owner_renews_its_lease_while_it_generates(tmp_path):
    store = LocalArtifactStore(tmp_path)
    owner = IdempotencyGuard(store, heartbeat_s=0.1, lease_s=0.6, poll_s=0.01)
    other = IdempotencyGuard(store, heartbeat_s=0.1, lease_s=0.6, poll_s=0.01)
    generated = []

    async def slow():
        async with owner.claim("acme", "k") as claim:
            await asyncio.sleep(2.0)  # over three leases long
            generated.append("slow")
            claim.record("gen-slow")

    async def later():
        await asyncio.sleep(0.05)
        async with other.claim("acme", "k") as claim:
            if claim.existing_id is None:
                generated.append("later")
                claim.record("gen-later")
            return claim.existing_id

    async def main():
        return await asyncio.gather(slow(), later())

    _, seen = run(main())
    assert generated == ["slow"] and seen == "gen-slow"


def test_a_dead_owners_claim_is_taken_over_after_its_lease(tmp_path):
    store = LocalArtifactStore(tmp_path)
    dead = IdempotencyGuard(store, lease_s=0.05)
    assert dead._create("acme", "k")  # claimed, then the replica died: no heartbeat, no release
    alive = IdempotencyGuard(store, lease_s=0.05, poll_s=0.01)

    async def retry():
        async with alive.claim("acme", "k") as claim:
            assert claim.existing_id is None
            claim.record("gen-retry")

    run(retry())
    assert IdempotencyGuard(store)._read("acme", "k").generation_id == "gen-retry"


def test_a_failed_owner_frees_the_key_for_other_replicas(tmp_path):
    store = LocalArtifactStore(tmp_path)
    first, second = IdempotencyGuard(store, poll_s=0.01), IdempotencyGuard(store, poll_s=0.01)

    async def failing():
        async with first.claim("acme", "k"):
            await asyncio.sleep(0.05)
            raise ValueError("boom")

    async def waiting():
        await asyncio.sleep(0.01)
        async with second.claim("acme", "k") as claim:
            assert claim.existing_id is None  # it waited for the owner, which failed
            claim.record("gen-second")
            return "gen-second"

    async def main():
        return await asyncio.gather(failing(), waiting(), return_exceptions=True)

    failed, second_result = run(main())
    assert isinstance(failed, ValueError) and second_result == "gen-second"


def test_pointers_written_before_markers_read_as_finished(tmp_path):
    store = LocalArtifactStore(tmp_path)
    from services.records import idempotency_object_key
    store.put(idempotency_object_key("acme", "old"), b'{"generation_id": "gen-old"}', content_type="application/json")

    async def again():
        async with IdempotencyGuard(store).claim("acme", "old") as claim:
            return claim.existing_id

    assert run(again()) == "gen-old"
