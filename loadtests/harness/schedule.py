"""Arrival schedules: when each request is meant to be sent, fixed before the run.

A *shape* is the offered rate over time, as piecewise-linear segments `(duration_s, rate_from,
rate_to)` (requests per second). A *process* turns the rate into arrival times:

- `constant`: deterministic, the k-th arrival where the cumulative rate integral reaches k + 1/2
  (so `rate * duration` arrivals, evenly spaced at a constant rate);
- `poisson`: a (non-homogeneous) Poisson process, by time rescaling: unit-exponential gaps in the
  cumulative-rate domain, mapped back through the inverse of the integral. Seeded: repeatable.

Shapes: `constant(rate, duration)`, `soak(rate, duration)` (a long constant), `ramp(from, to,
duration)`, `step(levels, hold)`, `spike(base, peak, at, length, duration)`.

Every schedule is bounded: by the shape's duration, by `max_seconds` and by `max_requests`, and
never more than HARD_MAX_REQUESTS whatever the settings say.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any, Iterable

HARD_MAX_REQUESTS = 1_000_000
PROCESSES = ("constant", "poisson")


@dataclass(frozen=True)
class Segment:
    duration_s: float
    rate_from: float
    rate_to: float

    def integral(self, t: float) -> float:
        """Expected arrivals in [0, t) of this segment (0 <= t <= duration)."""
        slope = (self.rate_to - self.rate_from) / self.duration_s
        return self.rate_from * t + 0.5 * slope * t * t

    def inverse(self, y: float) -> float:
        """The t in [0, duration] where integral(t) == y (0 <= y <= integral(duration))."""
        a = 0.5 * (self.rate_to - self.rate_from) / self.duration_s
        b = self.rate_from
        root = math.sqrt(max(0.0, b * b + 4.0 * a * y))
        denominator = b + root
        if denominator <= 0.0:
            return 0.0
        return min(self.duration_s, 2.0 * y / denominator)  # stable form of the quadratic root


@dataclass(frozen=True)
class Shape:
    """The offered rate over time; `kind` and `params` say how it was built (for the report)."""

    kind: str
    segments: tuple[Segment, ...]
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return sum(s.duration_s for s in self.segments)

    def rate_at(self, t: float) -> float:
        start = 0.0
        for seg in self.segments:
            if t < start + seg.duration_s:
                return seg.rate_from + (seg.rate_to - seg.rate_from) * (t - start) / seg.duration_s
            start += seg.duration_s
        return 0.0

    def expected(self, until: float | None = None) -> float:
        """Expected arrivals in [0, until) (the whole shape by default)."""
        until = self.duration_s if until is None else until
        total, start = 0.0, 0.0
        for seg in self.segments:
            if until <= start:
                break
            total += seg.integral(min(seg.duration_s, until - start))
            start += seg.duration_s
        return total

    def invert(self, y: float) -> float | None:
        """The time at which the cumulative rate reaches `y`; None past the end of the shape."""
        start = 0.0
        for seg in self.segments:
            mass = seg.integral(seg.duration_s)
            if y <= mass and mass > 0.0:
                return start + seg.inverse(y)
            y -= mass
            start += seg.duration_s
        return None


def _positive(name: str, value: Any) -> float:
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return value


def _rate(name: str, value: Any) -> float:
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a rate >= 0 (requests/s), got {value!r}")
    return value


def constant(rate: float, duration: float) -> Shape:
    r, d = _rate("rate", rate), _positive("duration", duration)
    return Shape("constant", (Segment(d, r, r),), {"rate": r, "duration": d})


def soak(rate: float, duration: float) -> Shape:
    shape = constant(rate, duration)
    return Shape("soak", shape.segments, shape.params)


def ramp(rate_from: float, rate_to: float, duration: float) -> Shape:
    a, b, d = _rate("from", rate_from), _rate("to", rate_to), _positive("duration", duration)
    return Shape("ramp", (Segment(d, a, b),), {"from": a, "to": b, "duration": d})


def step(levels: Iterable[float], hold: float) -> Shape:
    levels = [_rate("levels[]", x) for x in levels]
    if not levels:
        raise ValueError("step needs at least one level")
    h = _positive("hold", hold)
    return Shape("step", tuple(Segment(h, x, x) for x in levels), {"levels": levels, "hold": h})


def spike(base: float, peak: float, at: float, length: float, duration: float) -> Shape:
    b, p = _rate("base", base), _rate("peak", peak)
    d, n = _positive("duration", duration), _positive("length", length)
    at = float(at)
    if not 0 <= at or at + n > d:
        raise ValueError(f"spike must fit in the duration: at={at} length={n} duration={d}")
    segments = [Segment(at, b, b)] if at > 0 else []
    segments.append(Segment(n, p, p))
    if d - at - n > 0:
        segments.append(Segment(d - at - n, b, b))
    return Shape("spike", tuple(segments), {"base": b, "peak": p, "at": at, "length": n, "duration": d})


SHAPES = {"constant": constant, "soak": soak, "ramp": ramp, "step": step, "spike": spike}


def shape_from_dict(spec: dict[str, Any]) -> Shape:
    """`{type: ramp, from: 1, to: 5, duration: 30}` and the like -> Shape (ValueError if wrong)."""
    spec = dict(spec)
    kind = spec.pop("type", None)
    if kind not in SHAPES:
        raise ValueError(f"shape.type must be one of {sorted(SHAPES)}, got {kind!r}")
    if kind == "ramp":
        spec = {"rate_from": spec.pop("from", None), "rate_to": spec.pop("to", None), **spec}
    try:
        return SHAPES[kind](**spec)
    except TypeError as exc:
        raise ValueError(f"shape {kind}: {exc}") from None


@dataclass(frozen=True)
class Schedule:
    shape: Shape
    process: str = "constant"
    seed: int = 0
    max_requests: int = 10_000
    max_seconds: float = 600.0

    def __post_init__(self) -> None:
        if self.process not in PROCESSES:
            raise ValueError(f"process must be one of {PROCESSES}, got {self.process!r}")
        if self.max_requests < 1 or self.max_seconds <= 0:
            raise ValueError("max_requests and max_seconds must be positive")

    @property
    def duration_s(self) -> float:
        """How long arrivals are issued: the shape, cut at max_seconds."""
        return min(self.shape.duration_s, self.max_seconds)

    def offered_rate(self) -> float:
        """Mean intended rate over the run (requests/s), before the max_requests cut."""
        return self.shape.expected(self.duration_s) / self.duration_s

    def times(self) -> list[float]:
        """Intended send times in seconds from the start, ascending, bounded in count and time."""
        cap = min(self.max_requests, HARD_MAX_REQUESTS)
        end = self.duration_s
        rng = random.Random(self.seed)
        out: list[float] = []
        y = 0.5 if self.process == "constant" else rng.expovariate(1.0)
        while len(out) < cap:
            t = self.shape.invert(y)
            if t is None or t >= end:
                break
            out.append(t)
            y += 1.0 if self.process == "constant" else rng.expovariate(1.0)
        return out

    def describe(self) -> dict[str, Any]:
        return {"process": self.process, "seed": self.seed, "shape": {"type": self.shape.kind, **self.shape.params},
                "max_requests": self.max_requests, "max_seconds": self.max_seconds,
                "duration_s": self.duration_s, "offered_rate_mean": self.offered_rate()}


def schedule_from_dict(spec: dict[str, Any], limits: dict[str, Any] | None = None) -> Schedule:
    """The scenario's `schedule:` and `limits:` sections -> Schedule."""
    limits = limits or {}
    process = spec.get("process", "constant")
    return Schedule(shape=shape_from_dict(spec.get("shape") or {}), process=process, seed=int(spec.get("seed", 0)),
                    max_requests=int(limits.get("max_requests", 10_000)),
                    max_seconds=float(limits.get("max_seconds", 600.0)))
