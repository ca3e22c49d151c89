"""Idempotency keys: a repeated request returns the first result instead of generating again.

The same key from the same tenant produces at most one generation, even when the calls arrive
at the same instant on different ingress replicas:

- Calls on one replica wait on the first one's future (no store traffic for them).
- Across replicas the artifact store arbitrates: the first call creates the key's marker object
  with a conditional write (`ArtifactStore.create`: S3 ``If-None-Match: *``, a hard link
  locally), exactly one caller wins. The marker says ``running`` with a lease the owner renews
  every `HEARTBEAT_S` while it generates; other callers poll it until it says ``done`` (then
  they return that generation) or disappears (the owner failed; the next caller claims it).
- A marker whose lease ran out (its owner died without cleaning up) is taken over: deleted,
  then claimed again through the same conditional write.
- Finished keys stay in the store, so retries after a restart find them too.

Waiting callers wait as long as their own call lives (its deadline or cancellation ends it).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import AsyncIterator

from genmedia.errors import NotFound
from services.records import idempotency_object_key
from storage import ArtifactStore

logger = logging.getLogger(__name__)

HEARTBEAT_S = 5.0  # the owner renews its lease this often
LEASE_S = 30.0  # a running marker not renewed for this long belongs to a dead owner
POLL_S = 0.25  # how often a waiter on another replica looks at the marker


@dataclass
class Claim:
    existing_id: str | None  # set when an earlier request with this key already finished
    _recorded: list[str] = field(default_factory=list)

    def record(self, generation_id: str) -> None:
        """Marks the generation this key produced (written when the claim is released)."""
        self._recorded.append(generation_id)


@dataclass(frozen=True)
class Marker:
    state: str  # "running" or "done"
    generation_id: str | None
    lease_until: float  # wall-clock seconds; meaningful while running

    @staticmethod
    def parse(data: bytes) -> "Marker":
        doc = json.loads(data)
        # Pointers written before markers existed hold only the generation id: finished ones.
        return Marker(doc.get("state", "done"), doc.get("generation_id"), float(doc.get("lease_until", 0)))

    def encode(self) -> bytes:
        return json.dumps({"state": self.state, "generation_id": self.generation_id,
                           "lease_until": self.lease_until}).encode()


class IdempotencyGuard:
    def __init__(self, store: ArtifactStore, *, heartbeat_s: float = HEARTBEAT_S, lease_s: float = LEASE_S,
                 poll_s: float = POLL_S):
        self.store = store
        self.heartbeat_s = heartbeat_s
        self.lease_s = lease_s
        self.poll_s = poll_s
        self._in_flight: dict[tuple[str, str], asyncio.Future] = {}

    # -- the marker in the store (blocking calls, run in the executor) -------------------------

    def _read(self, tenant: str, key: str) -> Marker | None:
        try:
            return Marker.parse(self.store.get(idempotency_object_key(tenant, key)))
        except NotFound:
            return None

    def _running(self) -> Marker:
        return Marker("running", None, time.time() + self.lease_s)

    def _create(self, tenant: str, key: str) -> bool:
        return self.store.create(idempotency_object_key(tenant, key), self._running().encode(),
                                 content_type="application/json")

    def _renew(self, tenant: str, key: str) -> None:
        self.store.put(idempotency_object_key(tenant, key), self._running().encode(),
                       content_type="application/json")

    def _finish(self, tenant: str, key: str, generation_id: str) -> None:
        self.store.put(
            idempotency_object_key(tenant, key), Marker("done", generation_id, 0.0).encode(),
            content_type="application/json", metadata={"generation-id": generation_id},
        )

    def _release(self, tenant: str, key: str) -> None:
        self.store.delete(idempotency_object_key(tenant, key))

    # -- claiming --------------------------------------------------------------------------------

    async def _acquire(self, tenant: str, key: str) -> str | None:
        """Returns the finished generation id for the key, or None once this call owns it."""
        loop = asyncio.get_running_loop()
        while True:
            marker = await loop.run_in_executor(None, self._read, tenant, key)
            if marker is not None and marker.state == "done" and marker.generation_id:
                return marker.generation_id
            if marker is None:
                if await loop.run_in_executor(None, self._create, tenant, key):
                    return None
                continue  # another replica claimed it between our read and our write
            if marker.lease_until < time.time():
                logger.warning("idempotency key of tenant %s: lease of a dead owner expired; taking over", tenant)
                await loop.run_in_executor(None, self._release, tenant, key)
                continue
            await asyncio.sleep(self.poll_s)  # another replica is generating it

    async def _heartbeat(self, tenant: str, key: str) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.heartbeat_s)
            try:
                await loop.run_in_executor(None, self._renew, tenant, key)
            except Exception as exc:  # the store blinked; the lease has slack for a few misses
                logger.warning("idempotency lease renewal failed: %s", type(exc).__name__)

    @asynccontextmanager
    async def claim(self, tenant: str, key: str | None) -> AsyncIterator[Claim]:
        if key is None:
            yield Claim(existing_id=None)
            return
        loop = asyncio.get_running_loop()
        slot = (tenant, key)
        while slot in self._in_flight:
            try:
                existing = await asyncio.shield(self._in_flight[slot])
            except Exception:
                continue  # the first attempt failed: this one may try (the slot is gone by now)
            yield Claim(existing_id=existing)
            return
        # Claim the slot before any await, so concurrent callers on this replica wait on us.
        future: asyncio.Future = loop.create_future()
        self._in_flight[slot] = future
        claim = Claim(existing_id=None)
        owned = heartbeat = None
        try:
            existing = await self._acquire(tenant, key)
            if existing is not None:
                future.set_result(existing)
                yield Claim(existing_id=existing)
                return
            owned = True
            heartbeat = asyncio.create_task(self._heartbeat(tenant, key))
            yield claim
            if not claim._recorded:
                raise RuntimeError("idempotent generation finished without a result")
            heartbeat.cancel()
            await loop.run_in_executor(None, self._finish, tenant, key, claim._recorded[0])
            owned = False
            future.set_result(claim._recorded[0])
        except BaseException as exc:
            if not future.done():
                future.set_exception(exc if isinstance(exc, Exception) else RuntimeError("cancelled"))
                future.exception()  # mark retrieved: there may be no waiter
            raise
        finally:
            self._in_flight.pop(slot, None)
            if heartbeat is not None:
                heartbeat.cancel()
            if owned:  # failed or cancelled: free the key so a retry can generate
                try:
                    await asyncio.shield(loop.run_in_executor(None, self._release, tenant, key))
                except Exception as exc:  # the lease runs out by itself
                    logger.warning("idempotency key release failed: %s", type(exc).__name__)
