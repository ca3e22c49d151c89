"""Admission at the ingress: who is calling (API key → tenant) and whether their quota lets the
call in. Runs before any other work on every call except the health checks.

Quotas live in a `QuotaBook` (genmedia/quotas.py). With `quotas.scope: cluster` (the default) the
book is held by one named `QuotaLedger` actor that every ingress replica calls, so a tenant's
rate and concurrency hold however many ingress replicas the autoscaler runs. With
`scope: replica` each replica keeps its own book (exact with one replica, no actor call).

A ledger that cannot be reached does not take the service down with it: the call is admitted
and `genmedia_quota_ledger_failures_total` counts it (quotas protect capacity, they are not a
security boundary; authentication is, and it never fails open).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from typing import Iterable

import ray

from genmedia.api_keys import Caller, KeyRing, NoAuth
from genmedia.errors import ResourceExhausted
from genmedia.proxy_admission import Limit, publish
from genmedia.quotas import Quota, QuotaBook
from services.config import IngressSettings, QuotaSettings

logger = logging.getLogger("genmedia.admission")

LEDGER_NAME = "genmedia-quota-ledger"


def quota_book(settings: QuotaSettings) -> QuotaBook:
    def quota(q) -> Quota:
        return Quota(q.requests_per_s, q.burst, q.max_concurrent_generations)

    return QuotaBook(quota(settings.default), {t: quota(q) for t, q in settings.tenants.items()},
                     concurrency_retry_after_s=settings.concurrency_retry_after_s,
                     lease_ttl_s=settings.lease_ttl_s)


@ray.remote(num_cpus=0, max_restarts=-1, max_concurrency=1)
class QuotaLedger:
    """The quota book shared by all ingress replicas. A restart loses the counters: buckets start
    full and running generations are forgotten (admitting up to one extra limit's worth for as
    long as those generations run)."""

    def __init__(self, settings: QuotaSettings):
        self.book = quota_book(settings)

    def configure(self, settings: QuotaSettings) -> None:
        """New limits (an ingress started with a changed config); the counters are kept."""
        fresh = quota_book(settings)
        self.book.default, self.book.tenants = fresh.default, fresh.tenants
        self.book.concurrency_retry_after_s, self.book.lease_ttl_s = \
            fresh.concurrency_retry_after_s, fresh.lease_ttl_s

    def admit(self, tenant: str, generation: bool, holder: str = "") -> str | ResourceExhausted | None:
        try:
            return self.book.admit(tenant, generation, holder)
        except ResourceExhausted as over:
            return over  # a value, not a raised error: cheaper, and keeps retry_after_s intact

    def release(self, lease: str) -> None:
        self.book.release(lease)

    def renew(self, holder: str) -> int:
        return self.book.renew(holder)


@dataclass
class Admitted:
    caller: Caller
    lease: str | None
    generation: bool = False  # holds one of the replica's max_generations_in_flight


class Admission:
    def __init__(self, settings: IngressSettings, metrics, app_name: str = "genmedia"):
        self.settings = settings
        self.metrics = metrics
        auth = settings.auth
        self.keys = KeyRing(auth.api_keys_file, auth.reload_s) if auth.api_keys_file else NoAuth(settings.tenant)
        quotas = settings.quotas
        self._holder = uuid.uuid4().hex  # this replica, as the holder of its generation leases
        self._held = 0
        self._renewing: asyncio.Task | None = None
        self._book: QuotaBook | None = None
        self._ledger = None
        self._publish_proxy_limit(app_name)
        if not quotas.enabled:
            pass
        elif quotas.scope == "replica":
            self._book = quota_book(quotas)
        else:
            self._ledger = QuotaLedger.options(name=f"{LEDGER_NAME}-{app_name}", get_if_exists=True,
                                               lifetime="detached").remote(quotas)
            self._ledger.configure.remote(quotas)

    def _publish_proxy_limit(self, app_name: str) -> None:
        """Tells the gRPC proxies this application's bound (genmedia/proxy_admission.py). Without it
        the proxies refuse nothing and this replica's own bound still holds, so a failure is logged."""
        limit = Limit(self.settings.proxy_max_generations_in_flight, self.settings.overload_retry_after_s)
        try:
            publish(app_name, limit)
        except Exception:  # noqa: BLE001
            logger.exception("could not publish the proxy's admission bound for %s", app_name)

    def authenticate(self, metadata: Iterable[tuple[str, str]]) -> Caller:
        """The caller of a call with this metadata. Raises Unauthenticated."""
        return self.keys.authenticate(metadata)

    async def take(self, caller: Caller, generation: bool) -> Admitted:
        """Takes one call (and for a generation, a slot) from the caller's quota. Raises
        ResourceExhausted with the retry advice."""
        lease = None
        if self._book is not None:
            lease = self._book.admit(caller.tenant, generation, self._holder)
        elif self._ledger is not None:
            try:
                answer = await self._ledger.admit.remote(caller.tenant, generation, self._holder)
            except Exception:  # noqa: BLE001 - fail open on quotas only; see the module docstring
                logger.exception("quota ledger unreachable; admitting %s without a quota check", caller.tenant)
                self.metrics.quota_ledger_failures.inc()
                answer = None
            if isinstance(answer, ResourceExhausted):
                raise answer
            lease = answer
        if lease is not None:
            self._held += 1
            if self._renewing is None or self._renewing.done():
                self._renewing = asyncio.get_running_loop().create_task(self._renew_leases())
        return Admitted(caller, lease)

    async def _renew_leases(self) -> None:
        """While this replica holds generation slots, renews them every third of `lease_ttl_s`: if
        the replica dies, its slots expire instead of blocking its tenants."""
        period = self.settings.quotas.lease_ttl_s / 3
        while self._held > 0:
            await asyncio.sleep(period)
            try:
                if self._book is not None:
                    self._book.renew(self._holder)
                elif self._ledger is not None:
                    await self._ledger.renew.remote(self._holder)
            except Exception:  # noqa: BLE001 - retried next period; the lease has two more periods
                logger.warning("quota ledger unreachable; could not renew this replica's generation slots")

    async def release(self, admitted: Admitted) -> None:
        if admitted.lease is None:
            return
        lease, admitted.lease = admitted.lease, None  # released once, however often this is called
        self._held -= 1
        if self._book is not None:
            self._book.release(lease)
        elif self._ledger is not None:
            try:
                await self._ledger.release.remote(lease)
            except Exception:  # noqa: BLE001 - the lease expires after lease_ttl_s
                logger.exception("quota ledger unreachable; lease %s expires on its own", lease)
                self.metrics.quota_ledger_failures.inc()
