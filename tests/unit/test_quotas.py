"""Per-tenant quotas: token bucket rate with its retry advice, concurrency leases, expiry."""

from __future__ import annotations

import pytest

from genmedia.errors import ResourceExhausted
from genmedia.quotas import Quota, QuotaBook, TokenBucket


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def book(clock, **tenants) -> QuotaBook:
    return QuotaBook(Quota(2.0, 4, 2), tenants, concurrency_retry_after_s=1.5, lease_ttl_s=60.0, clock=clock)


def test_token_bucket_allows_the_burst_then_the_rate():
    bucket = TokenBucket(rate=2.0, burst=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(0.0) == pytest.approx(0.5)
    assert bucket.take(0.5) == 0.0
    assert bucket.take(0.5) == pytest.approx(0.5)
    assert bucket.take(100.0) == 0.0  # refills to the burst, not beyond
    assert [bucket.take(100.0) for _ in range(2)] == [0.0, 0.0]
    assert bucket.take(100.0) > 0


def test_over_the_rate_raises_with_the_exact_wait():
    clock = Clock()
    quotas = book(clock)
    for _ in range(4):
        assert quotas.admit("acme", generation=False) is None
    with pytest.raises(ResourceExhausted) as err:
        quotas.admit("acme", generation=False)
    assert err.value.reason == "rate" and err.value.retry_after_s == pytest.approx(0.5)
    assert "'acme'" in err.value.message and "2 requests/s" in err.value.message
    clock.now += 0.5
    quotas.admit("acme", generation=False)


def test_tenants_have_their_own_buckets_and_quotas():
    clock = Clock()
    quotas = book(clock, tiny=Quota(1.0, 1, 1))
    quotas.admit("tiny", generation=False)
    with pytest.raises(ResourceExhausted):
        quotas.admit("tiny", generation=False)
    for _ in range(4):
        quotas.admit("acme", generation=False)


def test_concurrent_generations_hold_a_slot_until_released():
    clock = Clock()
    quotas = book(clock)
    first = quotas.admit("acme", generation=True)
    clock.now += 10  # refill the bucket: only the concurrency limit is in play
    second = quotas.admit("acme", generation=True)
    assert first and second and first != second and quotas.running("acme") == 2
    with pytest.raises(ResourceExhausted) as err:
        quotas.admit("acme", generation=True)
    assert err.value.reason == "concurrency" and err.value.retry_after_s == 1.5
    assert quotas.admit("acme", generation=False) is None  # other calls still go through
    quotas.release(first)
    quotas.release(first)  # twice is harmless
    assert quotas.running("acme") == 1
    assert quotas.admit("acme", generation=True)


def test_a_lease_whose_holder_died_expires():
    clock = Clock()
    quotas = book(clock, one=Quota(100.0, 100, 1))
    quotas.admit("one", generation=True)  # never released: its ingress replica was killed
    with pytest.raises(ResourceExhausted):
        quotas.admit("one", generation=True)
    clock.now += 61
    assert quotas.admit("one", generation=True)


def test_a_live_holder_keeps_its_leases_by_renewing_them_and_a_dead_one_loses_them():
    clock = Clock()
    quotas = book(clock, one=Quota(100.0, 100, 2))
    quotas.admit("one", generation=True, holder="alive")
    quotas.admit("one", generation=True, holder="dead")
    for _ in range(6):  # three TTLs: the live holder renews every third of one
        clock.now += 20
        assert quotas.renew("alive") == 1
    assert quotas.admit("one", generation=True, holder="alive")  # the dead holder's slot expired
    with pytest.raises(ResourceExhausted):
        quotas.admit("one", generation=True, holder="alive")  # the renewed one still counts


def test_a_refused_generation_takes_no_token():
    clock = Clock()
    quotas = book(clock, one=Quota(1.0, 2, 1))
    quotas.admit("one", generation=True)
    with pytest.raises(ResourceExhausted) as err:
        quotas.admit("one", generation=True)
    assert err.value.reason == "concurrency"
    assert quotas.admit("one", generation=False) is None  # the second token is still there


def test_resource_exhausted_survives_pickling():
    import pickle

    err = pickle.loads(pickle.dumps(ResourceExhausted("over", 0.25, "rate")))
    assert (err.message, err.retry_after_s, err.reason) == ("over", 0.25, "rate")
