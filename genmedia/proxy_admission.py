"""The capacity bound in Ray's gRPC proxy: a generation call over it is refused there, before it is
routed to an Ingress replica.

Why in the proxy: under overload most calls are refusals. Refused by the Ingress, each one also
costs a Ray actor call to the replica, the replica's request handling and a reply, and waits
behind whatever that replica's event loop is doing (at 5x tiny-sd's capacity on 2 cores the
Ingress used 0.39 cores and the proxy 0.23, nearly all of it on refusals). Refused here, it costs
the proxy's handler alone. The Ingress's own `max_generations_in_flight` stays as the second line.

The bound is the application's `ingress.proxy_max_generations_in_flight`: generation calls
(GENERATION_METHODS) that one proxy (Ray runs one per node that serves gRPC) has forwarded to the
application and that have not finished. Ingress replicas publish it with `publish` in Ray's
internal key-value store (the GCS), so it lives in the application's config like every other
setting; each proxy reads it again every REFRESH_S in a worker thread (`ProxyGate`), so a changed
config reaches running proxies. Until a proxy has read it (its first call, a GCS that cannot be
reached) no call is refused here.

In: the method, the call's invocation metadata (the `application` key names the app, as for Ray's
own routing). Out: admitted, or refused with RESOURCE_EXHAUSTED, `retry-after-ms` trailing
metadata, and the refusal counted in `genmedia_grpc_requests_total` and
`genmedia_admission_rejections_total` (deployment `grpc-proxy`, tenant '': refused before
authentication).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from dataclasses import dataclass
from typing import Callable

logger = logging.getLogger("genmedia.proxy_admission")

GENERATION_METHODS = frozenset(f"/genmedia.v1.GenerationService/{m}" for m in (
    "GenerateImage", "StreamImage", "GenerateVideo", "StreamVideo", "GenerateAudio", "StreamAudio"))
KV_NAMESPACE = "genmedia"
KV_PREFIX = "proxy-admission/"  # + application name
REFRESH_S = 2.0
RETRY_AFTER_KEY = "retry-after-ms"
PROXY_DEPLOYMENT = "grpc-proxy"  # the `deployment` label of what the proxy counts


@dataclass(frozen=True)
class Limit:
    max_generations_in_flight: int  # 0: no bound in the proxy
    retry_after_s: float

    def encode(self) -> bytes:
        return json.dumps({"max_generations_in_flight": self.max_generations_in_flight,
                           "retry_after_s": self.retry_after_s}).encode()

    @classmethod
    def decode(cls, data: bytes) -> "Limit":
        d = json.loads(data)
        return cls(int(d["max_generations_in_flight"]), float(d["retry_after_s"]))


def publish(app_name: str, limit: Limit) -> None:
    """Stores the application's bound where every proxy of the cluster reads it (an Ingress replica
    calls this at start; blocking, one GCS write)."""
    from ray.experimental.internal_kv import _internal_kv_put

    _internal_kv_put(KV_PREFIX + app_name, limit.encode(), overwrite=True, namespace=KV_NAMESPACE)


def _read_published() -> dict[str, Limit]:
    """Every application's published bound (blocking: GCS reads)."""
    from ray.experimental.internal_kv import _internal_kv_get, _internal_kv_initialized, _internal_kv_list

    if not _internal_kv_initialized():
        return {}
    limits = {}
    for key in _internal_kv_list(KV_PREFIX, namespace=KV_NAMESPACE):
        key = key.decode() if isinstance(key, bytes) else key
        data = _internal_kv_get(key, namespace=KV_NAMESPACE)
        if data:
            try:
                limits[key[len(KV_PREFIX):]] = Limit.decode(data)
            except (ValueError, KeyError, TypeError):
                logger.warning("ignoring a malformed proxy admission entry %s", key)
    return limits


class Refused(Exception):
    def __init__(self, app: str, limit: Limit):
        super().__init__(f"the service is at capacity ({limit.max_generations_in_flight} generations in flight "
                         "through this gRPC proxy); retry after a short delay")
        self.app = app
        self.limit = limit

    @property
    def trailing_metadata(self) -> tuple[tuple[str, str], ...]:
        return ((RETRY_AFTER_KEY, str(max(1, math.ceil(self.limit.retry_after_s * 1000)))),)


class ProxyGate:
    """Counts this proxy's generation calls per application and refuses those over the bound.
    Used from the proxy's event loop only (the counters need no lock); `read` runs in a thread."""

    def __init__(self, read: Callable[[], dict[str, Limit]] = _read_published, refresh_s: float = REFRESH_S,
                 clock: Callable[[], float] = time.monotonic):
        self._read = read
        self._refresh_s = refresh_s
        self._clock = clock
        self._limits: dict[str, Limit] = {}
        self._read_at = -math.inf
        self._reading: asyncio.Future | None = None
        self.in_flight: dict[str, int] = {}

    def _refresh(self) -> None:
        """Starts a read of the published bounds when the last is older than refresh_s; the call that
        starts it goes on with the bounds already known."""
        if self._reading is not None or self._clock() - self._read_at < self._refresh_s:
            return
        self._read_at = self._clock()
        self._reading = asyncio.get_running_loop().run_in_executor(None, self._read)
        self._reading.add_done_callback(self._read_done)

    def _read_done(self, future: asyncio.Future) -> None:
        self._reading = None
        try:
            limits = future.result()
            if limits != self._limits:
                logger.info("gRPC proxy admission bounds now %s", limits)
            self._limits = limits
        except Exception:  # noqa: BLE001 - keep the bounds last read; the Ingress bound still holds
            logger.warning("could not read the proxy admission bounds; keeping the last ones", exc_info=True)

    def enter(self, metadata) -> str:
        """Takes a slot for one generation call and returns the key to `leave` with: the call's
        `application` metadata, or '' when it names none (Ray then routes it to the only
        application, whose bound it counts against). Every call is counted, also before the bounds
        are known. Raises Refused when the application's bound is reached."""
        self._refresh()
        key = ""
        for name, value in metadata or ():
            if name == "application":
                key = value
                break
        sole = next(iter(self._limits)) if len(self._limits) == 1 else None
        app = key or sole
        limit = self._limits.get(app) if app else None
        if limit is not None and limit.max_generations_in_flight:
            in_flight = self.in_flight.get(app, 0) + (self.in_flight.get("", 0) if app == sole else 0)
            if in_flight >= limit.max_generations_in_flight:
                raise Refused(app, limit)
        self.in_flight[key] = self.in_flight.get(key, 0) + 1
        return key

    def leave(self, key: str | None) -> None:
        if key is not None:
            self.in_flight[key] -= 1


class RefusalMetrics:
    """The proxy's counts of its refusals, under the ingress's metric names (services/metrics.py) so
    the SLO rules and dashboards see them; created on the first refusal."""

    def __init__(self):
        self._counters = None
        self._replica = ""

    def count(self, app: str, method: str) -> None:
        try:
            if self._counters is None:
                self._counters = self._make()
            requests, rejections = self._counters
            base = {"application": app, "deployment": PROXY_DEPLOYMENT, "replica": self._replica}
            requests.inc(tags={**base, "method": method.rsplit("/", 1)[-1], "code": "RESOURCE_EXHAUSTED"})
            rejections.inc(tags={**base, "reason": "capacity", "tenant": ""})
        except Exception:  # noqa: BLE001 - a metrics failure must not turn a refusal into an error
            logger.warning("could not count a proxy refusal", exc_info=True)

    def _make(self):
        import ray
        from ray.util.metrics import Counter

        self._replica = f"{PROXY_DEPLOYMENT}#{ray.get_runtime_context().get_node_id()[:12]}"
        # Same names, descriptions and label keys, in the same order, as a replica's metrics
        # (services/metrics.py; Ray puts deployment, replica and application first there).
        from services.metrics import (ADMISSION_REJECTIONS, ADMISSION_REJECTIONS_DESCRIPTION, RPC_DESCRIPTION,
                                      RPC_NAME)

        keys = ("deployment", "replica", "application")
        return (Counter(RPC_NAME, description=RPC_DESCRIPTION, tag_keys=(*keys, "method", "code")),
                Counter(ADMISSION_REJECTIONS, description=ADMISSION_REJECTIONS_DESCRIPTION,
                        tag_keys=(*keys, "reason", "tenant")))
