"""The client's deadline, carried through the pipeline, and the drop-before-the-expensive-stage rule.

The gRPC proxy turns the client's `grpc-timeout` into the metadata `genmedia-deadline` (absolute
Unix seconds; genmedia/grpc_servicers.py), which reaches the ingress with the call. Before a
generation goes to the denoiser (or the video or music generator), the ingress compares the time
left with what that stage has recently taken per unit of work for the model (seconds per step,
or per second of audio; an exponentially weighted mean of the last generations). A request that
can no longer finish in time fails there with DEADLINE_EXCEEDED naming `deadline`: its GPU time
goes to a request that can still use it. A request whose time runs out later is cancelled by the
client's own deadline, which stops the work at the next step (services/threaded_work.py, the
step batcher).

Absolute time assumes the proxy's and the ingress's clocks agree (NTP keeps nodes within a few
milliseconds, far below any generation's deadline).
"""

from __future__ import annotations

import time
from typing import Iterable

from genmedia.errors import DeadlineExceeded
from genmedia.grpc_servicers import DEADLINE_KEY

EWMA_WEIGHT = 0.3  # of the newest observation


def deadline_from(metadata: Iterable[tuple[str, str]]) -> float | None:
    """The call's absolute deadline (Unix seconds), or None when the client set none."""
    for key, value in metadata:
        if key == DEADLINE_KEY:
            try:
                return float(value)
            except (TypeError, ValueError):
                return None
    return None


class StageClock:
    """Recent seconds per unit of work (a step, a second of audio) of one stage, per model."""

    def __init__(self, stage: str):
        self.stage = stage
        self._per_unit: dict[str, float] = {}

    def observe(self, model: str, units: float, seconds: float) -> None:
        if units <= 0 or seconds <= 0:
            return
        rate = seconds / units
        old = self._per_unit.get(model)
        self._per_unit[model] = rate if old is None else (1 - EWMA_WEIGHT) * old + EWMA_WEIGHT * rate

    def expected_s(self, model: str, units: float) -> float:
        """The seconds `units` of work are expected to take; 0 before any observation."""
        return self._per_unit.get(model, 0.0) * units

    def check(self, deadline: float | None, model: str, units: float, now: float | None = None) -> None:
        """Raises DeadlineExceeded when the time left is less than the stage is expected to take."""
        if deadline is None:
            return
        left = deadline - (time.time() if now is None else now)
        needed = self.expected_s(model, units)
        if left <= 0:
            raise DeadlineExceeded(f"deadline: passed {-left:.2f} s ago, before {self.stage}")
        if needed > left:
            raise DeadlineExceeded(
                f"deadline: {left:.2f} s left, but {self.stage} of {model} is taking about {needed:.2f} s "
                f"now; dropped before it started")
