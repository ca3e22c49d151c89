"""The load-testing harness's CI smoke: the smoke scenario (25 s at 1 req/s: tiny-sd images with 2
steps and prompt classification) through the CLI against the real service, then its report, its
chart, its replica series and its exit code; and an impossible SLO that must exit 1."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.service_process import REPO

pytestmark = pytest.mark.integration

SCENARIO = REPO / "loadtests" / "scenarios" / "smoke.yaml"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def harness(service, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    # The service's environment carries its private Ray auth token, for the replica poller.
    return subprocess.run([sys.executable, "-m", "loadtests.harness", *args], cwd=REPO, env=service.env(),
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def smoke(service, tmp_path_factory):
    out = Path(tmp_path_factory.mktemp("loadtest"))
    gcs = service.gcs_address()
    proc = harness(service, "run", "--scenario", str(SCENARIO), "--address", service.address,
                   *(["--ray-address", gcs] if gcs else []), "--out", str(out))
    print(proc.stdout, proc.stderr[-3000:], sep="\n")
    return proc, out


def test_smoke_report_is_complete_and_consistent(smoke):
    proc, out = smoke
    report_path = out / "smoke.json"
    assert report_path.is_file(), proc.stderr[-2000:]
    report = json.loads(report_path.read_text())
    for key in ("schema", "scenario", "target", "rates", "latency_s", "counts", "timeseries", "replicas", "validity",
                "slo", "warmup", "machine"):
        assert key in report, key

    doc = yaml.safe_load(SCENARIO.read_text())
    rate = doc["schedule"]["shape"]["rate"]
    rates = report["rates"]
    assert rates["offered_rps"] == pytest.approx(rate, rel=0.05)
    assert rates["planned_requests"] == pytest.approx(rate * doc["schedule"]["shape"]["duration"], abs=1)
    assert rates["sent_rps"] == pytest.approx(rate, rel=0.05)

    counts = report["counts"]
    assert sum(counts["by_code"].values()) == counts["total"] == rates["planned_requests"]
    assert sum(sum(c.values()) for c in counts["by_kind_code"].values()) == counts["total"]
    assert set(counts["by_kind_code"]) <= {"image", "classify"}
    assert sum(report["timeseries"]["sent"]) == counts["total"]

    for summary in (report["latency_s"]["admitted"], *report["latency_s"]["by_kind"].values()):
        if summary["count"]:
            assert 0 < summary["min"] <= summary["p50"] <= summary["p90"] <= summary["p99"] <= summary["p99.9"] \
                <= summary["max"] * 1.001

    # Replica counts over time, from serve.status(): every stage of the image path has one running.
    replicas = report["replicas"]
    assert replicas["t"], replicas
    for name in ("Ingress", "TextEncoder", "Denoiser", "VAEDecoder"):
        assert max(replicas["running"][name]) >= 1, name

    # The exit code follows the verdict. At 1 req/s, far below capacity, the SLO holds (no errors,
    # p99 within 10 s) and the run passes. The one exception allowed: a CI runner so starved that
    # the client itself sent late (beyond the scenario's max_send_lag_s), which the harness must then
    # report as an invalid run, exit 2, never as a pass.
    assert proc.returncode == report["slo"]["exit_code"]
    assert report["slo"]["slo_ok"], report["slo"]
    assert report["validity"]["valve_hits"] == 0
    if report["validity"]["valid"]:
        assert proc.returncode == 0 and "SLO PASS" in proc.stdout, proc.stdout + proc.stderr[-2000:]
    else:
        assert proc.returncode == 2 and all("send lag" in r for r in report["validity"]["reasons"]), report["validity"]


def test_smoke_chart_is_a_png(smoke):
    _, out = smoke
    png = out / "smoke.png"
    assert png.is_file() and png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 10_000


def test_judge_with_an_impossible_slo_exits_1(smoke, service):
    _, out = smoke
    proc = harness(service, "judge", "--report", str(out / "smoke.json"), "--slo-p99", "0.000001")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "SLO FAIL" in proc.stdout


def test_run_with_an_impossible_slo_exits_1(service, tmp_path):
    # A short live run (4 s) whose p99 limit no gRPC call can meet.
    proc = harness(service, "run", "--scenario", str(SCENARIO), "--address", service.address, "--out", str(tmp_path),
                   "--max-seconds", "4", "--slo-p99", "0.000001", "--no-chart")
    assert proc.returncode == 1, proc.stdout + proc.stderr[-2000:]
    report = json.loads((tmp_path / "smoke.json").read_text())
    assert report["slo"]["verdict"] == "FAIL" and not report["slo"]["checks"]["p99_s"]["ok"]
    assert report["counts"]["total"] == 4
    assert report["replicas"]["t"] == [] and report["replicas"]["unavailable"]


def test_non_loopback_address_is_refused(service, tmp_path):
    proc = harness(service, "run", "--scenario", str(SCENARIO), "--address", "192.0.2.1:9000", "--out", str(tmp_path),
                   timeout=60)
    assert proc.returncode == 2 and "not a loopback address" in proc.stderr
