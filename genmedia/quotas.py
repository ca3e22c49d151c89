"""Per-tenant quotas: a request rate (token bucket) and a number of concurrent generations.

`QuotaBook.admit` is called once per call before any work; over quota it raises
ResourceExhausted with the delay after which a retry would be admitted (the ingress sends it as
the `retry-after-ms` trailing metadata). A generation holds a lease until it ends. Each lease
names its holder (an ingress replica), which renews all its leases every `lease_ttl_s / 3`; the
leases of a holder that died (an ingress replica killed mid-generation) expire within
`lease_ttl_s`, so a lost replica does not keep its tenants' slots.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Callable

from genmedia.errors import ResourceExhausted


@dataclass(frozen=True)
class Quota:
    requests_per_s: float
    burst: int
    max_concurrent_generations: int


class TokenBucket:
    """`rate` tokens a second, holding at most `burst`; starts full."""

    def __init__(self, rate: float, burst: int, now: float):
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._at = now

    def take(self, now: float) -> float:
        """Takes one token and returns 0, or returns the seconds until one is available."""
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.rate if self.rate > 0 else math.inf


class QuotaBook:
    """Counters of every tenant. Thread-safe; the same book runs in the ingress (scope `replica`)
    or in the QuotaLedger actor that all ingress replicas share (scope `cluster`)."""

    def __init__(self, default: Quota, tenants: dict[str, Quota] | None = None, *,
                 concurrency_retry_after_s: float = 1.0, lease_ttl_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic):
        self.default = default
        self.tenants = dict(tenants or {})
        self.concurrency_retry_after_s = concurrency_retry_after_s
        self.lease_ttl_s = lease_ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, TokenBucket] = {}
        self._leases: dict[str, tuple[str, float, str]] = {}  # lease id -> (tenant, expiry, holder)
        self._running: dict[str, int] = {}

    def quota(self, tenant: str) -> Quota:
        return self.tenants.get(tenant, self.default)

    def admit(self, tenant: str, generation: bool, holder: str = "") -> str | None:
        """Admits one call of `tenant`: a lease id for a generation (give it to `release` when the
        generation ends; `holder` renews it with `renew`), None for any other call. Raises
        ResourceExhausted with `retry_after_s` when the tenant is over its rate or at its
        concurrent-generation limit."""
        quota = self.quota(tenant)
        with self._lock:
            now = self._clock()
            running = self._running.get(tenant, 0)
            if generation and running >= quota.max_concurrent_generations:
                running = self._expire(tenant, now)
            if generation and running >= quota.max_concurrent_generations:
                raise ResourceExhausted(
                    f"tenant {tenant!r} has {running} generations running, its limit; retry when one ends",
                    self.concurrency_retry_after_s, "concurrency")
            bucket = self._buckets.get(tenant)
            if bucket is None:
                bucket = self._buckets[tenant] = TokenBucket(quota.requests_per_s, quota.burst, now)
            wait = bucket.take(now)
            if wait > 0:
                raise ResourceExhausted(
                    f"tenant {tenant!r} is over its rate of {quota.requests_per_s:g} requests/s; "
                    f"retry in {wait:.3f} s", wait, "rate")
            if not generation:
                return None
            lease = uuid.uuid4().hex
            self._leases[lease] = (tenant, now + self.lease_ttl_s, holder)
            self._running[tenant] = running + 1
            return lease

    def release(self, lease: str) -> None:
        """Frees a generation slot; unknown or already released leases are ignored."""
        with self._lock:
            held = self._leases.pop(lease, None)
            if held is not None:
                self._drop(held[0])

    def renew(self, holder: str) -> int:
        """Extends every lease of `holder` by `lease_ttl_s` from now; returns how many it holds."""
        with self._lock:
            expiry = self._clock() + self.lease_ttl_s
            held = [lease for lease, (_, _, owner) in self._leases.items() if owner == holder]
            for lease in held:
                tenant, _, _ = self._leases[lease]
                self._leases[lease] = (tenant, expiry, holder)
            return len(held)

    def _drop(self, tenant: str) -> None:
        left = self._running.get(tenant, 0) - 1
        if left > 0:
            self._running[tenant] = left
        else:
            self._running.pop(tenant, None)

    def _expire(self, tenant: str, now: float) -> int:
        """Frees `tenant`'s leases past their expiry (their holder died); returns what still runs."""
        for lease, (owner, expiry, _) in list(self._leases.items()):
            if owner == tenant and expiry <= now:
                del self._leases[lease]
                self._drop(tenant)
        return self._running.get(tenant, 0)

    def running(self, tenant: str) -> int:
        return self._running.get(tenant, 0)
