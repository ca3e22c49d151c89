"""The deadline check before the expensive stage: learned seconds per unit of work, and the drop."""

from __future__ import annotations

import pytest

from genmedia.errors import DeadlineExceeded
from services.deadlines import StageClock, deadline_from


def test_deadline_is_read_from_the_metadata():
    assert deadline_from([("authorization", "x"), ("genmedia-deadline", "1700000000.250")]) == 1700000000.25
    assert deadline_from([("authorization", "x")]) is None
    assert deadline_from([("genmedia-deadline", "soon")]) is None


def test_no_deadline_or_no_history_never_drops_a_live_request():
    clock = StageClock("denoising")
    clock.check(None, "m", 1000, now=0.0)
    clock.check(10.0, "m", 1000, now=0.0)  # nothing observed yet: only a passed deadline drops


def test_a_passed_deadline_drops():
    with pytest.raises(DeadlineExceeded, match="^deadline: passed 2.00 s ago, before denoising"):
        StageClock("denoising").check(8.0, "m", 1, now=10.0)


def test_drops_when_the_expected_time_exceeds_what_is_left():
    clock = StageClock("denoising")
    clock.observe("m", units=10, seconds=1.0)  # 0.1 s per unit
    clock.check(100.0, "m", 50, now=94.0)  # 5 s needed, 6 s left
    with pytest.raises(DeadlineExceeded) as err:
        clock.check(100.0, "m", 50, now=96.0)  # 4 s left
    assert err.value.message.startswith("deadline: 4.00 s left, but denoising of m is taking about 5.00 s")
    clock.check(100.0, "other-model", 50, now=96.0)  # per model


def test_the_estimate_follows_recent_observations():
    clock = StageClock("denoising")
    clock.observe("m", 10, 1.0)
    for _ in range(20):
        clock.observe("m", 10, 3.0)  # the stage slowed down (load): 0.3 s per unit
    assert clock.expected_s("m", 10) == pytest.approx(3.0, rel=0.01)
    clock.observe("m", 0, 5.0)  # ignored
    assert clock.expected_s("m", 10) == pytest.approx(3.0, rel=0.01)
