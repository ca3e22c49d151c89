"""Chaos through the load-test harness against the real service: one replica of each deployment is
killed in turn during steady load. Accepted requests succeed (stage calls whose replica died are
made again) or fail with UNAVAILABLE; none hangs, none is lost; every replica is replaced; at least
99% succeed. Same scenario format as loadtests/scenarios/chaos-replica-kill.yaml, shortened for CI."""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import grpc
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


# --- dependencies down during load: the artifact store, the records database -----------------

def _steady_load(client, count: int, rate: float, fault_index: int, fault) -> list[tuple[str, object]]:
    """`count` GenerateImage calls at `rate` per second (open loop, each with a 60 s deadline), with
    `fault()` run in the background when call `fault_index` goes out. Returns (code, result) each."""
    def call(i: int):
        try:
            return "OK", client.generate_image(prompt=f"chaos dependency {i}", seed=i, steps=2, timeout=DEADLINE_S)
        except grpc.RpcError as exc:
            return exc.code().name, exc.details()

    start = time.monotonic()
    with ThreadPoolExecutor(32) as pool:
        futures, faulted = [], None
        for i in range(count):
            time.sleep(max(0.0, start + i / rate - time.monotonic()))
            if i == fault_index:
                faulted = pool.submit(fault)
            futures.append(pool.submit(call, i))
        outcomes = [f.result(timeout=DEADLINE_S + 30) for f in futures]  # none hangs past its deadline
        faulted.result(timeout=120)
    return outcomes


def _audit(outcomes, records_url: str, s3_store, since: datetime) -> dict:
    """Every released image has its record; every record made since `since` has its artifacts."""
    import sqlalchemy as sa

    released = {r.generation_id: r for code, r in outcomes if code == "OK"}
    engine = sa.create_engine(records_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT g.generation_id, a.uri, a.sha256 FROM generations g JOIN artifacts a "
                "ON a.generation_id = g.generation_id WHERE g.created_at >= :since"), {"since": since}).all()
    finally:
        engine.dispose()
    recorded: dict[str, set[tuple[str, str]]] = {}
    for generation_id, uri, sha256 in rows:
        recorded.setdefault(str(generation_id), set()).add((uri, sha256))
    for generation_id, result in released.items():  # no artifact released without its record
        assert {(i.uri, i.sha256) for i in result.images} <= recorded.get(generation_id, set()), generation_id
    for generation_id, artifacts in recorded.items():  # no record without its artifact
        for uri, sha256 in artifacts:
            assert s3_store.head(s3_store.key_for_uri(uri)).sha256 == sha256, (generation_id, uri)
    return {"released": len(released), "recorded": len(recorded)}


def _check_outcomes(outcomes, client) -> None:
    codes = Counter(code for code, _ in outcomes)
    assert set(codes) <= {"OK", "UNAVAILABLE"}, codes  # affected calls fail UNAVAILABLE or succeed
    assert codes["OK"] >= len(outcomes) // 2, codes
    # It recovers by itself: a call after the fault succeeds.
    assert client.generate_image(prompt="after the fault", seed=1, steps=2, timeout=DEADLINE_S).images


def test_the_artifact_store_down_for_10_s_loses_nothing_and_recovers(client, s3_server, s3_store, records_url):
    """The S3 server stops answering for 10 s (SIGSTOP, then SIGCONT: connections hang, as in an
    outage) during load at 2 req/s."""
    assert s3_server.pid
    since = datetime.now(timezone.utc)

    def outage():
        os.kill(s3_server.pid, signal.SIGSTOP)
        try:
            time.sleep(10)
        finally:
            os.kill(s3_server.pid, signal.SIGCONT)

    outcomes = _steady_load(client, count=60, rate=2.0, fault_index=10, fault=outage)
    print(Counter(code for code, _ in outcomes), _audit(outcomes, records_url, s3_store, since))
    _check_outcomes(outcomes, client)
    _audit(outcomes, records_url, s3_store, since)


def test_restarting_the_records_database_loses_nothing_and_recovers(client, postgres_server, s3_store, records_url):
    """PostgreSQL is restarted (fast shutdown: every connection dropped) during load at 2 req/s."""
    since = datetime.now(timezone.utc)
    outcomes = _steady_load(client, count=60, rate=2.0, fault_index=10, fault=postgres_server.restart)
    print(Counter(code for code, _ in outcomes), _audit(outcomes, records_url, s3_store, since))
    _check_outcomes(outcomes, client)
