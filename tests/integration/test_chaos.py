"""Chaos through the load-test harness against the real service: one replica of each deployment is
killed in turn during steady load. Accepted requests succeed (stage calls whose replica died are
made again) or fail with UNAVAILABLE; none hangs, none is lost; every replica is replaced; at least
99% succeed. Same scenario format as loadtests/scenarios/chaos-replica-kill.yaml, shortened for CI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.integration.test_loadtest_smoke import harness

pytestmark = pytest.mark.integration

# The Ingress first: the calls in flight on it when it dies are lost with it (UNAVAILABLE; a client
# retries them, safely with an idempotency key); any other stage's calls are made again. Kills are
# 20 s apart, more than a replacement takes, so each outage is one stage at a time.
DEPLOYMENTS = ("Ingress", "Denoiser", "TextEncoder", "VAEDecoder", "Safety", "Provenance", "VideoGenerator",
               "AudioGenerator")
DEADLINE_S = 60.0


def test_killing_a_replica_of_each_deployment_loses_no_request(service, tmp_path):
    scenario = {
        "name": "chaos-ci",
        "schedule": {"process": "constant", "seed": 7, "shape": {"type": "constant", "rate": 1.0, "duration": 170}},
        "limits": {"max_requests": 200, "max_seconds": 180},
        "mix": [{"kind": "image", "weight": 3, "deadline_s": DEADLINE_S, "params": {"model": "tiny-sd", "steps": 2}},
                {"kind": "classify", "weight": 1, "deadline_s": DEADLINE_S}],
        "faults": [{"at_s": 5 + 20 * i, "kill_replica": name} for i, name in enumerate(DEPLOYMENTS)],
        "slo": {"p99_s": DEADLINE_S, "max_error_ratio": 0.01},
        "client": {"max_in_flight": 256, "max_send_lag_s": 1.0},
    }
    gcs = service.gcs_address()
    assert gcs, "the replica faults need the service's Ray GCS address"
    path = tmp_path / "chaos-ci.yaml"
    path.write_text(yaml.safe_dump(scenario))
    proc = harness(service, "run", "--scenario", str(path), "--address", service.address,
                   "--ray-address", gcs, "--out", str(tmp_path), timeout=600)
    print(proc.stdout, proc.stderr[-4000:], sep="\n")
    report = json.loads((tmp_path / "chaos-ci.json").read_text())

    faults = report["faults"]
    assert [f["deployment"] for f in faults] == list(DEPLOYMENTS)
    for fault in faults:
        assert fault["ok"], fault
        assert fault["replaced_after_s"] is not None, f"{fault['deployment']} was not replaced: {fault}"

    counts = report["counts"]
    assert counts["total"] == report["rates"]["planned_requests"]  # none lost: every request has an outcome
    assert set(counts["by_code"]) <= {"OK", "UNAVAILABLE"}, counts["by_code"]  # nothing else, no INTERNAL
    assert counts["by_code"].get("OK", 0) >= 0.99 * counts["total"], counts["by_code"]
    assert report["latency_s"]["admitted"]["max"] < DEADLINE_S  # none hung until its deadline
    assert report["slo"]["checks"]["replicas_replaced"]["ok"]
    assert proc.returncode == report["slo"]["exit_code"]
    if report["validity"]["valid"]:
        assert proc.returncode == 0
