"""The load-testing harness's pure parts: schedules, histograms, mixes, scenarios, the verdict."""

from __future__ import annotations

import asyncio
import math
import statistics
from pathlib import Path

import grpc
import pytest

from genmedia.v1 import generation_pb2, generation_pb2_grpc
from loadtests.harness import EXIT_ERROR, EXIT_PASS, EXIT_SLO_FAILED
from loadtests.harness.histogram import Latency
from loadtests.harness.schedule import HARD_MAX_REQUESTS, Schedule, constant, ramp, shape_from_dict, soak, spike, step
from loadtests.harness.slo import judge
from loadtests.harness.target import check_loopback
from loadtests.harness.workload import Slo, load_scenario, mix_from_list, scenario_from_dict

REPO = Path(__file__).resolve().parents[2]


# --- schedules -----------------------------------------------------------------------------------


def test_constant_is_evenly_spaced_at_the_rate():
    times = Schedule(constant(4.0, 10.0)).times()
    assert len(times) == 40
    assert times[0] == pytest.approx(0.125)
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert all(g == pytest.approx(0.25) for g in gaps)
    assert Schedule(constant(4.0, 10.0)).offered_rate() == pytest.approx(4.0)


def test_poisson_has_the_rate_exponential_gaps_and_is_repeatable():
    s = Schedule(constant(20.0, 200.0), process="poisson", seed=5)
    times = s.times()
    assert times == Schedule(constant(20.0, 200.0), process="poisson", seed=5).times()
    assert times != Schedule(constant(20.0, 200.0), process="poisson", seed=6).times()
    assert len(times) == pytest.approx(4000, rel=0.05)
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert statistics.mean(gaps) == pytest.approx(0.05, rel=0.05)
    assert statistics.stdev(gaps) == pytest.approx(0.05, rel=0.1)  # exponential: sd == mean
    assert all(0 <= t < 200 for t in times) and times == sorted(times)


def test_ramp_rate_grows_linearly():
    s = Schedule(ramp(0.0, 10.0, 20.0))
    times = s.times()
    assert len(times) == 100  # integral of the ramp: 10 * 20 / 2
    first_half = sum(t < 10 for t in times)
    assert first_half == 25  # a quarter of the mass lies in the first half of a linear ramp
    assert s.shape.rate_at(5.0) == pytest.approx(2.5)
    # arrival k sits where the integral t^2/4 reaches k + 1/2
    assert times[0] == pytest.approx(math.sqrt(4 * 0.5))


def test_ramp_down_and_poisson_ramp():
    assert len(Schedule(ramp(10.0, 0.0, 20.0)).times()) == 100
    times = Schedule(ramp(1.0, 9.0, 100.0), process="poisson", seed=1).times()
    assert len(times) == pytest.approx(500, rel=0.1)
    assert sum(t >= 50 for t in times) > 1.5 * sum(t < 50 for t in times)


def test_step_levels():
    s = Schedule(step([1, 3, 0, 2], hold=10))
    times = s.times()
    counts = [sum(10 * i <= t < 10 * (i + 1) for t in times) for i in range(4)]
    assert counts == [10, 30, 0, 20]
    assert s.shape.duration_s == 40


def test_spike():
    s = Schedule(spike(base=1, peak=10, at=20, length=5, duration=60))
    times = s.times()
    assert sum(20 <= t < 25 for t in times) == 50
    assert sum(t < 20 for t in times) == 20 and sum(t >= 25 for t in times) == 35
    with pytest.raises(ValueError):
        spike(1, 10, at=58, length=5, duration=60)


def test_soak_is_a_long_constant():
    s = Schedule(soak(0.5, 3600), max_seconds=4000)
    assert len(Schedule(soak(0.5, 3600)).times()) == 300  # the default bound: 600 s
    assert s.shape.kind == "soak" and len(s.times()) == 1800


def test_bounded_by_max_requests_and_max_seconds():
    assert len(Schedule(constant(100.0, 60.0), max_requests=123).times()) == 123
    s = Schedule(constant(10.0, 60.0), max_seconds=5.0)
    times = s.times()
    assert len(times) == 50 and max(times) < 5.0 and s.duration_s == 5.0
    assert len(Schedule(constant(1e9, 10.0), max_requests=10**9).times()) == HARD_MAX_REQUESTS


def test_shape_from_dict_and_errors():
    assert shape_from_dict({"type": "ramp", "from": 1, "to": 2, "duration": 3}).params == \
        {"from": 1.0, "to": 2.0, "duration": 3.0}
    for bad in ({"type": "zigzag"}, {"type": "constant", "rate": -1, "duration": 1},
                {"type": "constant", "rate": 1}, {"type": "constant", "rate": 1, "duration": 0}):
        with pytest.raises(ValueError):
            shape_from_dict(bad)
    with pytest.raises(ValueError):
        Schedule(constant(1, 1), process="bursty")


# --- histogram -----------------------------------------------------------------------------------


def test_histogram_percentiles_within_hdr_precision():
    h = Latency()
    values = [i / 1000 for i in range(1, 10_001)]  # 1 ms .. 10 s, uniform
    for v in values:
        h.record(v)
    s = h.summary()
    assert s["count"] == 10_000
    for key, exact in (("p50", 5.0), ("p90", 9.0), ("p99", 9.9), ("p99.9", 9.99)):
        assert s[key] == pytest.approx(exact, rel=2e-3), key
    assert s["min"] == pytest.approx(0.001, rel=2e-3) and s["max"] == pytest.approx(10.0, rel=2e-3)
    assert s["p50"] <= s["p90"] <= s["p99"] <= s["p99.9"] <= s["max"]


def test_histogram_wide_range_tail_and_empty():
    h = Latency()
    for _ in range(999):
        h.record(0.0002)  # 200 us
    h.record(1800.0)      # one half-hour outlier
    assert h.percentile(50) == pytest.approx(0.0002, rel=2e-3)
    assert h.percentile(99.95) == pytest.approx(1800.0, rel=2e-3)
    empty = Latency().summary()
    assert empty["count"] == 0 and empty["p99"] is None


def test_histogram_encode_decode_merge():
    a, b = Latency(), Latency()
    for i in range(100):
        a.record(0.01 * (i + 1))
        b.record(2.0)
    merged = Latency.decode(a.encoded()).merge(b)
    assert merged.count == 200
    assert merged.percentile(99) == pytest.approx(2.0, rel=2e-3)


# --- mixes, scenarios, verdicts, loopback ----------------------------------------------------------


def test_mix_draw_follows_weights_and_is_repeatable():
    mix = mix_from_list([{"kind": "image", "weight": 3}, {"kind": "classify", "weight": 1}])
    kinds = [k.kind for k in mix.draw(4000, seed=1)]
    assert kinds == [k.kind for k in mix.draw(4000, seed=1)]
    assert kinds.count("image") / 4000 == pytest.approx(0.75, abs=0.03)
    with pytest.raises(ValueError):
        mix_from_list([{"kind": "teleport"}])
    with pytest.raises(ValueError):
        mix_from_list([{"kind": "image", "colour": "red"}])


@pytest.mark.parametrize("name", ["smoke", "mixed", "spike", "soak", "step", "overload-2x", "overload-5x",
                                  "chaos-replica-kill", "chaos-s3-outage", "chaos-db-restart", "autoscale"])
def test_shipped_scenarios_load(name):
    scenario = load_scenario(REPO / "loadtests" / "scenarios" / f"{name}.yaml")
    times = scenario.schedule.times()
    assert 0 < len(times) <= scenario.schedule.max_requests
    assert max(times) < scenario.schedule.max_seconds
    assert scenario.describe()["schedule"]["offered_rate_mean"] > 0


def test_scenario_rejects_unknown_sections():
    with pytest.raises(ValueError):
        scenario_from_dict({"name": "x", "schedul": {}})


def _report(by_code: dict[str, int], p99: float | None, valid: bool = True) -> dict:
    return {"counts": {"total": sum(by_code.values()), "by_code": by_code}, "latency_s": {"admitted": {"p99": p99}},
            "validity": {"valid": valid, "reasons": [] if valid else ["valve shut"]}}


def test_verdict_exit_codes():
    slo = Slo(p99_s=1.0, max_error_ratio=0.05)
    assert judge(_report({"OK": 100}, 0.5), slo)["exit_code"] == EXIT_PASS
    assert judge(_report({"OK": 100}, 1.5), slo)["exit_code"] == EXIT_SLO_FAILED
    assert judge(_report({"OK": 90, "UNAVAILABLE": 10}, 0.5), slo)["exit_code"] == EXIT_SLO_FAILED
    # client-caused codes are not errors of the service
    assert judge(_report({"OK": 90, "INVALID_ARGUMENT": 10}, 0.5), slo)["exit_code"] == EXIT_PASS
    # a pass in an invalid run cannot be trusted; a failure stays a failure
    assert judge(_report({"OK": 100}, 0.5, valid=False), slo)["exit_code"] == EXIT_ERROR
    assert judge(_report({"OK": 100}, 1.5, valid=False), slo)["exit_code"] == EXIT_SLO_FAILED
    assert judge(_report({}, None), slo)["exit_code"] == EXIT_ERROR


def test_faults_parse_in_time_order_and_reject_nonsense():
    schedule = {"shape": {"type": "constant", "rate": 1.0, "duration": 30}}
    scenario = scenario_from_dict({"name": "c", "schedule": schedule, "mix": [{"kind": "image"}],
                                   "faults": [{"at_s": 20, "kill_replica": "TextEncoder"},
                                              {"at_s": 5, "kill_replica": "Denoiser"}]})
    assert [(f.at_s, f.deployment) for f in scenario.faults] == [(5.0, "Denoiser"), (20.0, "TextEncoder")]
    assert scenario.describe()["faults"][0] == {"at_s": 5.0, "action": "kill_replica", "deployment": "Denoiser"}
    for bad in ([{"at_s": 5}], [{"at_s": -1, "kill_replica": "Denoiser"}], [{"kill_replica": "Denoiser"}],
                [{"at_s": 5, "kill_replica": "Denoiser", "twice": True}]):
        with pytest.raises(ValueError):
            scenario_from_dict({"name": "c", "schedule": schedule, "mix": [{"kind": "image"}], "faults": bad})


def test_exec_faults_run_their_command_then_the_undo(tmp_path):
    from loadtests.harness.faults import run_exec

    schedule = {"shape": {"type": "constant", "rate": 1.0, "duration": 30}}
    marker = tmp_path / "state"
    scenario = scenario_from_dict({"name": "c", "schedule": schedule, "mix": [{"kind": "image"}], "faults": [
        {"at_s": 3, "name": "flip", "exec": ["touch", "${MARK}"], "undo_after_s": 0.2, "undo": ["rm", "${MARK}"]}]})
    fault = scenario.faults[0]
    assert fault.describe()["command"] == ["touch", "${MARK}"]
    record = run_exec(fault, env={"MARK": str(marker)})
    assert record["ok"] and record["run"]["argv"] == ["touch", str(marker)] and not marker.exists()
    assert record["undone_after_s"] >= 0.2
    failed = run_exec(scenario_from_dict({"name": "c", "schedule": schedule, "mix": [{"kind": "image"}],
                                          "faults": [{"at_s": 1, "exec": ["false"]}]}).faults[0])
    assert not failed["ok"] and failed["run"]["returncode"] == 1
    missing = run_exec(fault, env={})
    assert not missing["ok"] and "MARK" in missing["error"]


def test_a_killed_replica_that_never_came_back_fails_the_verdict():
    slo = Slo(p99_s=10.0, max_error_ratio=0.05)
    report = _report({"OK": 100}, 0.5)
    report["faults"] = [{"ok": True, "replaced_after_s": 4.2}, {"ok": True, "replaced_after_s": None}]
    verdict = judge(report, slo)
    assert verdict["exit_code"] == EXIT_SLO_FAILED and verdict["checks"]["replicas_replaced"]["value"] == 1
    report["faults"][1]["replaced_after_s"] = 6.0
    assert judge(report, slo)["exit_code"] == EXIT_PASS


def test_replacement_time_from_the_replica_samples():
    from loadtests.harness.replicas import ReplicaPoller

    poller = ReplicaPoller("127.0.0.1:1", {}, "genmedia")
    running = lambda n: {"Denoiser": {"RUNNING": n}}  # noqa: E731
    poller.samples = [
        {"t": 100.0, "deployments": running(1), "names": {"Denoiser": ["old"]}},
        {"t": 101.0, "deployments": running(1), "names": {}},  # serve.status has not noticed yet
        {"t": 102.0, "deployments": {"Denoiser": {"STARTING": 1}}, "names": {"Denoiser": ["new"]}},
        {"t": 106.5, "deployments": running(1), "names": {"Denoiser": ["new"]}},
    ]
    fault = {"t": 100.5, "ok": True, "deployment": "Denoiser", "replica": "old"}
    assert poller.replaced_after_s(fault) == pytest.approx(6.0)
    assert poller.replaced_after_s({**fault, "t": 107.0}) is None


def test_loopback_only_unless_allowed():
    check_loopback("127.0.0.1:9000")
    check_loopback("localhost:9000")
    check_loopback("[::1]:9000")
    with pytest.raises(ValueError):
        check_loopback("192.0.2.10:9000")
    with pytest.raises(ValueError):
        check_loopback("no-port")
    check_loopback("192.0.2.10:9000", allow_remote=True)


def test_started_service_config_adds_models_and_the_admission_bound(tmp_path):
    from loadtests.harness.target import harness_serve_config

    args = harness_serve_config(9000, 9001, tmp_path, ("cpu-small", "tiny-sd"), 5)["applications"][0]["args"]
    names = [m["name"] for m in args["models"]]
    assert names.count("tiny-sd") == 1 and names[-1] == "cpu-small"
    assert args["ingress"]["max_generations_in_flight"] == 5
    assert args["ingress"]["proxy_max_generations_in_flight"] == 5
    plain = harness_serve_config(9000, 9001, tmp_path)["applications"][0]["args"]
    assert "cpu-small" not in [m["name"] for m in plain["models"]]


def test_set_overrides_application_args_by_dotted_path(tmp_path):
    from loadtests.harness.target import apply_override, harness_serve_config

    args = harness_serve_config(9000, 9001, tmp_path, overrides=(
        "denoiser.autoscaling.max_replicas=3", "denoiser.actor.num_cpus=0.2",
        "denoiser.autoscaling.downscale_delay_s=10"))["applications"][0]["args"]
    assert args["denoiser"]["autoscaling"]["max_replicas"] == 3 and args["denoiser"]["actor"]["num_cpus"] == 0.2
    assert args["denoiser"]["autoscaling"]["min_replicas"] == 1  # the rest of the section is kept
    for bad in ("novalue", "=3", "a..b=1", "denoiser.torch_threads.x=1"):
        with pytest.raises(ValueError):
            apply_override(args, bad)


def test_client_scheduling_is_validated_and_recorded():
    doc = {"schedule": {"shape": {"type": "constant", "rate": 1.0, "duration": 1}},
           "mix": [{"kind": "image", "weight": 1}]}
    assert scenario_from_dict(doc).client_scheduling == "normal"
    fifo = scenario_from_dict({**doc, "client": {"scheduling": "fifo"}})
    assert fifo.describe()["client"]["scheduling"] == "fifo"
    with pytest.raises(ValueError, match="client.scheduling"):
        scenario_from_dict({**doc, "client": {"scheduling": "realtime"}})


def test_client_scheduling_fifo_covers_every_thread_and_is_put_back():
    import os
    import subprocess
    import sys
    import threading

    from loadtests.harness import client_scheduling

    if not hasattr(os, "SCHED_FIFO"):
        pytest.skip("SCHED_FIFO is Linux only")
    started, release = threading.Event(), threading.Event()
    seen: dict[str, int] = {}

    def worker() -> None:
        seen["tid"] = threading.get_native_id()
        started.set()
        release.wait(10)

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    started.wait(10)
    try:
        try:
            changed = client_scheduling.apply("fifo")
        except client_scheduling.SchedulingError as exc:  # not root here: the error says what is needed
            assert "CAP_SYS_NICE" in str(exc)
            return
        assert changed >= 2
        assert client_scheduling.current() == "fifo"
        assert os.sched_getscheduler(seen["tid"]) & ~os.SCHED_RESET_ON_FORK == os.SCHED_FIFO
        assert os.sched_getparam(seen["tid"]).sched_priority == client_scheduling.FIFO_PRIORITY
        child = subprocess.run([sys.executable, "-c", "import os; print(os.sched_getscheduler(0))"],
                               capture_output=True, text=True, check=True)
        assert int(child.stdout) == os.SCHED_OTHER  # what the client starts runs on the normal policy
    finally:
        client_scheduling.apply("normal")
        release.set()
    assert client_scheduling.current() == "normal"
    assert os.sched_getscheduler(seen["tid"]) == os.SCHED_OTHER


class _RefusingGeneration(generation_pb2_grpc.GenerationServiceServicer):
    """GenerateImage refuses each request's first `refusals` attempts with RESOURCE_EXHAUSTED and
    `retry-after-ms` 20, then answers; counts the attempts per seed."""

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.attempts: dict[int, int] = {}

    async def GenerateImage(self, request, context):
        n = self.attempts[request.seed] = self.attempts.get(request.seed, 0) + 1
        if n <= self.refusals:
            context.set_trailing_metadata((("retry-after-ms", "20"),))
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "full")
        return generation_pb2.GenerationResult(generation_id=f"g{request.seed}", seed=request.seed)


@pytest.mark.parametrize("retry_refused", [0, 3])
def test_refused_calls_are_retried_after_retry_after_ms_when_asked(retry_refused):
    from loadtests.harness import runner
    from loadtests.harness.report import build, summary_lines

    servicer = _RefusingGeneration(refusals=2)
    scenario = scenario_from_dict({
        "schedule": {"process": "constant", "shape": {"type": "constant", "rate": 20.0, "duration": 0.2}},
        "mix": [{"kind": "image", "weight": 1, "deadline_s": 5}], "warmup": {"requests_per_kind": 0},
        "client": {"retry_refused": retry_refused}})

    async def main():
        server = grpc.aio.server()
        generation_pb2_grpc.add_GenerationServiceServicer_to_server(servicer, server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            return await runner.run_async(f"127.0.0.1:{port}", scenario)
        finally:
            await server.stop(None)

    result = asyncio.run(main())
    assert len(result.records) == 4
    if retry_refused:
        assert all(r.code == "OK" and r.attempts == 3 and r.first_code == "RESOURCE_EXHAUSTED" for r in result.records)
        assert all(r.latency >= 0.04 for r in result.records)  # two waits of 20 ms
    else:
        assert all(r.code == "RESOURCE_EXHAUSTED" and r.attempts == 1 for r in result.records)
    assert set(servicer.attempts.values()) == {3 if retry_refused else 1}
    report = build(result, {}, {"address": "test"})
    retries = report["counts"]["retries"]
    assert retries["requests_retried"] == (4 if retry_refused else 0)
    assert retries["first_attempt_by_code"] == {"RESOURCE_EXHAUSTED": 4}
    assert any(line.startswith("retried after retry-after-ms: 4 requests") for line in summary_lines(
        {**report, "slo": {}})) == bool(retry_refused)
