"""Idempotency keys: a retried request returns the first result instead of generating again.

Two layers: concurrent calls with the same key on this replica wait on the first one's future;
a key whose generation finished is found through a small pointer object in the artifact store,
written right after the manifest, so retries after a restart find it too. Across several ingress
replicas, two calls arriving at the same instant can still both run until a shared store (issue
7: Redis) arbitrates; they never mix results.
"""

from __future__ import annotations

import asyncio
import json
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import AsyncIterator

from genmedia.errors import NotFound
from services.records import idempotency_object_key
from storage import ArtifactStore


@dataclass
class Claim:
    existing_id: str | None  # set when an earlier request with this key already finished
    _recorded: list[str] = field(default_factory=list)

    def record(self, generation_id: str) -> None:
        """Marks the generation this key produced (written when the claim is released)."""
        self._recorded.append(generation_id)


class IdempotencyGuard:
    def __init__(self, store: ArtifactStore):
        self.store = store
        self._in_flight: dict[tuple[str, str], asyncio.Future] = {}

    def _lookup(self, tenant: str, key: str) -> str | None:
        try:
            return json.loads(self.store.get(idempotency_object_key(tenant, key)))["generation_id"]
        except NotFound:
            return None

    def _save(self, tenant: str, key: str, generation_id: str) -> None:
        self.store.put(
            idempotency_object_key(tenant, key), json.dumps({"generation_id": generation_id}).encode(),
            content_type="application/json", metadata={"generation-id": generation_id},
        )

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
        try:
            existing = await loop.run_in_executor(None, self._lookup, tenant, key)
            if existing is not None:
                future.set_result(existing)
                yield Claim(existing_id=existing)
                return
            yield claim
            if not claim._recorded:
                raise RuntimeError("idempotent generation finished without a result")
            await loop.run_in_executor(None, self._save, tenant, key, claim._recorded[0])
            future.set_result(claim._recorded[0])
        except BaseException as exc:
            if not future.done():
                future.set_exception(exc if isinstance(exc, Exception) else RuntimeError("cancelled"))
                future.exception()  # mark retrieved: there may be no waiter
            raise
        finally:
            self._in_flight.pop(slot, None)
