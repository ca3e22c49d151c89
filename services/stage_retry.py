"""Retrying a stage call whose replica died under it.

When a replica dies mid-call (killed, OOM, node lost), Ray raises `RayActorError` in the caller.
Serve's router drops the dead replica and routes the next call to a live one, or holds it until
the controller has started the replacement. Every stage this module wraps is a pure function of
its request (prompt checks, text encoding, seeded denoising, decoding, image checks, sealing), so
running it again gives the same answer: the call is retried up to `ATTEMPTS` times before the
client sees UNAVAILABLE. Storage writes and record commits are not retried here; they are undone.

A retried stream (denoising steps, video and audio generation) restarts from the beginning, and
progress events the caller has already seen are not repeated.
"""

from __future__ import annotations

import asyncio
import logging
from typing import AsyncIterator, Awaitable, Callable, TypeVar

from ray.exceptions import RayActorError

from engines.step_batching import StepEvent

logger = logging.getLogger("genmedia.ingress")

ATTEMPTS = 3
BACKOFF_S = 0.5  # before the first retry; doubled for each further one

T = TypeVar("T")


def _on_retry(stage: str, attempt: int, exc: BaseException, metrics) -> float:
    logger.warning("%s: its replica died mid-call (%s); retrying (%d of %d)", stage, type(exc).__name__,
                   attempt + 1, ATTEMPTS - 1)
    if metrics is not None:
        metrics.stage_retries.inc(tags={"stage": stage})
    return BACKOFF_S * 2 ** attempt


async def retried(stage: str, call: Callable[[], Awaitable[T]], metrics=None) -> T:
    """``await call()``, made again (a new remote call) if the replica serving it died."""
    for attempt in range(ATTEMPTS):
        try:
            return await call()
        except RayActorError as exc:
            if attempt == ATTEMPTS - 1:
                raise
            await asyncio.sleep(_on_retry(stage, attempt, exc, metrics))
    raise AssertionError("unreachable")


async def retried_stream(stage: str, open_stream: Callable[[], AsyncIterator], metrics=None) -> AsyncIterator:
    """Items of ``open_stream()``; reopened from the start if its replica died, with the `StepEvent`s
    already yielded skipped. The open stream is cancelled when the caller stops early."""
    seen_step = 0
    for attempt in range(ATTEMPTS):
        stream = open_stream()
        finished = False
        try:
            async for item in stream:
                if isinstance(item, StepEvent):
                    if item.step <= seen_step:
                        continue
                    seen_step = item.step
                yield item
            finished = True
            return
        except RayActorError as exc:
            if attempt == ATTEMPTS - 1:
                raise
            delay = _on_retry(stage, attempt, exc, metrics)
        finally:
            if not finished:
                stream.cancel()  # the client left or a stage failed: free the replica's slot now
        await asyncio.sleep(delay)
