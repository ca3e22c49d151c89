"""Blocking model work on a worker thread, streamed to an async caller, stopped when the caller leaves.

The video and music engines run one generation at a time on a worker thread and report progress
through a callback. `stream_progress` turns that into an async iterator of progress items
followed by the result. If the caller stops iterating (its gRPC call was cancelled, or a later
stage failed), the `should_stop` flag is set and the engine raises Cancelled at its next step,
which frees the worker for the next request at once.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import AsyncIterator, Callable, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Finished(Generic[T]):
    """The last item: the work's return value and how long the worker ran it."""

    value: T
    seconds: float


Work = Callable[[Callable[[int, int], None], Callable[[], bool]], T]


async def stream_progress(executor: Executor, work: Work, progress: Callable[[int, int], object]
                          ) -> AsyncIterator[object]:
    """Runs ``work(on_progress, should_stop)`` on ``executor``; yields ``progress(done, total)``
    for each report, then `Finished`. Raises what the work raises."""
    loop = asyncio.get_running_loop()
    stop = threading.Event()
    queue: asyncio.Queue = asyncio.Queue()

    def on_progress(done: int, total: int) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, progress(done, total))

    def timed() -> Finished:
        import time

        start = time.perf_counter()
        value = work(on_progress, stop.is_set)
        return Finished(value, time.perf_counter() - start)

    future = loop.run_in_executor(executor, timed)
    try:
        while True:
            getter = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait({getter, future}, return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                yield getter.result()
                continue
            getter.cancel()
            while not queue.empty():
                yield queue.get_nowait()
            yield future.result()
            return
    finally:
        stop.set()  # a no-op when finished; otherwise the engine stops at its next step
        if not future.done():  # its Cancelled is expected: retrieve it so it is not logged as lost
            future.add_done_callback(lambda f: f.cancelled() or f.exception())
