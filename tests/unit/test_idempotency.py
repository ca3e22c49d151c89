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
