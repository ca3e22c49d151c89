"""stream_progress: progress items in order, then Finished; a caller that stops early stops the work."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from genmedia.errors import Cancelled
from services.threaded_work import Finished, stream_progress


def test_progress_then_the_result():
    def work(on_progress, should_stop):
        for i in range(1, 4):
            on_progress(i, 3)
        return "done"

    async def collect():
        with ThreadPoolExecutor(1) as pool:
            return [item async for item in stream_progress(pool, work, lambda d, t: (d, t))]

    items = asyncio.run(collect())
    assert items[:3] == [(1, 3), (2, 3), (3, 3)]
    assert isinstance(items[3], Finished) and items[3].value == "done" and items[3].seconds >= 0


def test_errors_of_the_work_reach_the_caller():
    def work(on_progress, should_stop):
        raise ValueError("model failed")

    async def collect():
        with ThreadPoolExecutor(1) as pool:
            return [item async for item in stream_progress(pool, work, lambda d, t: d)]

    with pytest.raises(ValueError, match="model failed"):
        asyncio.run(collect())


def test_a_caller_that_leaves_stops_the_work_at_its_next_step():
    stopped_at = []
    released = threading.Event()

    def work(on_progress, should_stop):
        for step in range(1, 10_000):
            if should_stop():
                stopped_at.append(step)
                released.set()
                raise Cancelled("the caller went away")
            on_progress(step, 10_000)
            time.sleep(0.001)
        return "never"

    async def leave_after_two():
        with ThreadPoolExecutor(1) as pool:
            stream = stream_progress(pool, work, lambda d, t: d)
            seen = [await stream.__anext__(), await stream.__anext__()]
            await stream.aclose()
            # The worker is free again at once: the next job runs right away.
            assert await asyncio.get_running_loop().run_in_executor(pool, released.wait, 5)
            return seen

    assert asyncio.run(leave_after_two()) == [1, 2]
    assert stopped_at and stopped_at[0] < 100
