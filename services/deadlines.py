"""The client's deadline, carried through the pipeline, and the drop-before-the-expensive-stage rule.

The gRPC proxy turns the client's `grpc-timeout` into the metadata `genmedia-deadline` (absolute
Unix seconds; genmedia/grpc_servicers.py), which reaches the ingress with the call. Before a
generation goes to the denoiser (or the video or music generator), the ingress compares the time
left with what that stage is known to need for it. A request that can no longer finish in time
fails there with DEADLINE_EXCEEDED naming `deadline`: its GPU time goes to a request that can
still use it. A request whose time runs out later is cancelled by the client's own deadline, which
stops the work at the next step (services/threaded_work.py, the step batcher).

What the stage needs is a lower bound, so that a request that could still make it is never
dropped:
- it is learned per model and per shape (width, height, frames or images) as seconds per step,
  timed between the stage's own step reports: neither the wait for a replica nor a generation's
  fixed costs (setup, decoding) are in it, so it does not grow when tiny requests are measured
  and long ones predicted (a 1-step 64 px clip says nothing of a 150-step 256 px one);
- a shape never seen borrows the slowest rate among the seen shapes it covers in every dimension
  (more pixels, frames or images never make a step cheaper); with none, nothing is dropped
  except a deadline that has already passed.

Absolute time assumes the proxy's and the ingress's clocks agree (NTP keeps nodes within a few
milliseconds, far below any generation's deadline).
"""

from __future__ import annotations

import time
from typing import Iterable

from genmedia.errors import DeadlineExceeded
from genmedia.grpc_servicers import DEADLINE_KEY

EWMA_WEIGHT = 0.3  # of the newest observation

Shape = tuple[int, ...]


def deadline_from(metadata: Iterable[tuple[str, str]]) -> float | None:
    """The call's absolute deadline (Unix seconds), or None when the client set none."""
    for key, value in metadata:
        if key == DEADLINE_KEY:
            try:
                return float(value)
            except (TypeError, ValueError):
                return None
    return None


class StepTimer:
    """Seconds per unit of progress, from the first to the last progress report of one run."""

    def __init__(self) -> None:
        self._first: tuple[float, float] | None = None
        self._last: tuple[float, float] | None = None

    def report(self, done: float, now: float | None = None) -> None:
        at = time.perf_counter() if now is None else now
        if self._first is None:
            self._first = (at, done)
        self._last = (at, done)

    def per_unit_s(self) -> float | None:
        if self._first is None or self._last is None or self._last[1] <= self._first[1]:
            return None
        return (self._last[0] - self._first[0]) / (self._last[1] - self._first[1])


def _covers(shape: Shape, seen: Shape) -> bool:
    return len(shape) == len(seen) and all(a >= b for a, b in zip(shape, seen))


class StageClock:
    """Recent seconds per unit of work (a step, a second of audio) of one stage, per model and shape."""

    def __init__(self, stage: str):
        self.stage = stage
        self._per_unit: dict[tuple[str, Shape], float] = {}

    def observe(self, model: str, shape: Shape, per_unit_s: float | None) -> None:
        if per_unit_s is None or per_unit_s <= 0:
            return
        key = (model, tuple(shape))
        old = self._per_unit.get(key)
        self._per_unit[key] = per_unit_s if old is None else (1 - EWMA_WEIGHT) * old + EWMA_WEIGHT * per_unit_s

    def expected_s(self, model: str, shape: Shape, units: float) -> float:
        """A lower bound of the seconds `units` of work take now; 0 when no covered shape was seen."""
        shape = tuple(shape)
        rates = [rate for (m, seen), rate in self._per_unit.items() if m == model and _covers(shape, seen)]
        return max(rates, default=0.0) * units

    def check(self, deadline: float | None, model: str, shape: Shape, units: float,
              now: float | None = None) -> None:
        """Raises DeadlineExceeded when the time left is less than the stage is known to need."""
        if deadline is None:
            return
        left = deadline - (time.time() if now is None else now)
        if left <= 0:
            raise DeadlineExceeded(f"deadline: passed {-left:.2f} s ago, before {self.stage}")
        needed = self.expected_s(model, shape, units)
        if needed > left:
            raise DeadlineExceeded(
                f"deadline: {left:.2f} s left, but {self.stage} of {model} needs at least {needed:.2f} s "
                f"now; dropped before it started")
