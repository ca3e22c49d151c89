"""The deadline check before the expensive stage: learned seconds per unit of work, and the drop."""

from __future__ import annotations

import pytest

from genmedia.errors import DeadlineExceeded
from services.deadlines import StageClock, StepTimer, deadline_from


def test_deadline_is_read_from_the_metadata():
    assert deadline_from([("authorization", "x"), ("genmedia-deadline", "1700000000.250")]) == 1700000000.25
    assert deadline_from([("authorization", "x")]) is None
    assert deadline_from([("genmedia-deadline", "soon")]) is None


def test_no_deadline_or_no_history_never_drops_a_live_request():
    clock = StageClock("denoising")
    clock.check(None, "m", (64, 64, 1), 1000, now=0.0)
    clock.check(10.0, "m", (64, 64, 1), 1000, now=0.0)  # nothing observed yet: only a passed deadline drops


def test_a_passed_deadline_drops():
    with pytest.raises(DeadlineExceeded, match="^deadline: passed 2.00 s ago, before denoising"):
        StageClock("denoising").check(8.0, "m", (64, 64, 1), 1, now=10.0)


def test_drops_when_the_steps_need_more_than_what_is_left():
    clock = StageClock("denoising")
    clock.observe("m", (64, 64, 1), 0.1)  # 0.1 s per step
    clock.check(100.0, "m", (64, 64, 1), 50, now=94.0)  # 5 s needed, 6 s left
    with pytest.raises(DeadlineExceeded) as err:
        clock.check(100.0, "m", (64, 64, 1), 50, now=96.0)  # 4 s left
    assert err.value.message.startswith("deadline: 4.00 s left, but denoising of m needs at least 5.00 s")
    clock.check(100.0, "other-model", (64, 64, 1), 50, now=96.0)  # per model


def test_an_unseen_shape_borrows_only_from_shapes_it_covers():
    """The estimate is a lower bound: a bigger shape is at least as slow per step as a smaller one
    seen; a smaller (or not comparable) one learns nothing from a bigger one."""
    clock = StageClock("video generation")
    clock.observe("m", (64, 64, 2), 0.2)
    clock.observe("m", (256, 256, 2), 1.0)
    assert clock.expected_s("m", (256, 256, 8), 10) == pytest.approx(10.0)  # covers both: the slowest
    assert clock.expected_s("m", (128, 128, 2), 10) == pytest.approx(2.0)  # covers the small one only
    assert clock.expected_s("m", (32, 32, 2), 10) == 0.0  # smaller than all seen
    assert clock.expected_s("m", (512, 64, 1), 10) == 0.0  # fewer frames: not comparable


def test_fixed_costs_of_tiny_requests_do_not_inflate_long_ones():
    """Regression (CI): the clock once divided a whole generation's time, waiting and decoding
    included, by its work; a 1-step clip then predicted a 150-step one at 2,196 s and dropped it
    with 600 s left. Rates now come from the stage's own step reports."""
    timer = StepTimer()
    timer.report(1, now=100.0)  # the first step reported after 3 s of setup and waiting
    timer.report(2, now=100.5)
    timer.report(5, now=102.0)
    assert timer.per_unit_s() == pytest.approx(0.5)
    one_step = StepTimer()
    one_step.report(1, now=100.0)
    assert one_step.per_unit_s() is None  # a single report times nothing
    clock = StageClock("video generation")
    clock.observe("m", (64, 64, 2), one_step.per_unit_s())
    clock.observe("m", (64, 64, 2), timer.per_unit_s())
    clock.check(700.0, "m", (256, 256, 16), 150, now=100.0)  # 75 s needed at least, 600 s left


def test_the_estimate_follows_recent_observations():
    clock = StageClock("denoising")
    clock.observe("m", (64, 64, 1), 0.1)
    for _ in range(20):
        clock.observe("m", (64, 64, 1), 0.3)  # the stage slowed down (load)
    assert clock.expected_s("m", (64, 64, 1), 10) == pytest.approx(3.0, rel=0.01)
    clock.observe("m", (64, 64, 1), 0.0)  # ignored
    clock.observe("m", (64, 64, 1), None)
    assert clock.expected_s("m", (64, 64, 1), 10) == pytest.approx(3.0, rel=0.01)
