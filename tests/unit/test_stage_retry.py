"""A stage call whose replica died is made again; streams restart without repeating steps."""

import asyncio

import pytest
from ray.exceptions import ActorDiedError

import services.stage_retry as stage_retry
from engines.step_batching import StepEvent
from services.stage_retry import ATTEMPTS, retried, retried_stream


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    monkeypatch.setattr(stage_retry, "BACKOFF_S", 0.0)


class Counted:
    def __init__(self):
        self.calls = []

    def inc(self, tags):
        self.calls.append(tags["stage"])


class FakeMetrics:
    def __init__(self):
        self.stage_retries = Counted()


def test_a_call_whose_replica_died_is_made_again():
    attempts = []
    metrics = FakeMetrics()

    async def call():
        attempts.append(1)
        if len(attempts) < ATTEMPTS:
            raise ActorDiedError()
        return "ok"

    assert asyncio.run(retried("decode", call, metrics)) == "ok"
    assert len(attempts) == ATTEMPTS and metrics.stage_retries.calls == ["decode"] * (ATTEMPTS - 1)


def test_after_the_last_attempt_the_error_reaches_the_caller():
    async def call():
        raise ActorDiedError()

    with pytest.raises(ActorDiedError):
        asyncio.run(retried("decode", call))


def test_other_errors_are_not_retried():
    attempts = []

    async def call():
        attempts.append(1)
        raise ValueError("a bug or a client error: retrying cannot help")

    with pytest.raises(ValueError):
        asyncio.run(retried("decode", call))
    assert len(attempts) == 1


class FakeStream:
    """A Serve response generator: yields steps 1..n then a result, dying once after `die_after`."""

    def __init__(self, n, die_after=None):
        self.n, self.die_after, self.cancelled = n, die_after, False

    def __aiter__(self):
        return self._items()

    async def _items(self):
        for step in range(1, self.n + 1):
            if self.die_after is not None and step > self.die_after:
                raise ActorDiedError()
            yield StepEvent(step, self.n)
        yield "result"

    def cancel(self):
        self.cancelled = True


def test_a_stream_is_reopened_and_steps_are_not_repeated():
    streams = [FakeStream(5, die_after=3), FakeStream(5)]
    opened = []

    def open_stream():
        opened.append(streams[len(opened)])
        return opened[-1]

    async def collect():
        return [item async for item in retried_stream("denoise", open_stream)]

    items = asyncio.run(collect())
    assert [i.step for i in items if isinstance(i, StepEvent)] == [1, 2, 3, 4, 5]
    assert items[-1] == "result" and len(opened) == 2


def test_leaving_a_stream_early_cancels_it():
    stream = FakeStream(5)

    async def first_step():
        gen = retried_stream("denoise", lambda: stream)
        async for item in gen:
            break
        await gen.aclose()

    asyncio.run(first_step())
    assert stream.cancelled
