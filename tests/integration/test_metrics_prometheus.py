"""genmedia's metrics in a real Prometheus: scraped from the running service while requests flow.

A Prometheus server (Debian's binary) on 127.0.0.1 scrapes the Ray node's metrics port every
second and evaluates the chart's SLO and alert rules. The tests check, through Prometheus' HTTP
API, that the per-RPC request counts grow by exactly what this test sent (per method and status
code), that histogram_quantile over every stage histogram returns a value, that the recording
rules produce the SLO series, that Ray Serve's own metrics are there too, and that every
Grafana panel query parses and returns data.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import grpc
import pytest
import yaml

from services.metrics import STAGES
from tests.fixtures.prometheus_server import PrometheusServer, start_prometheus
from tests.service_process import REPO

RULES_DIR = REPO / "deploy" / "helm" / "genmedia" / "files" / "rules"
RPC_COUNTS = ('sum by (method, code) (ray_genmedia_grpc_requests_total'
              '{method=~"GenerateImage|StreamImage|GenerateVideo|GenerateAudio|ClassifyPrompt"})')
VIDEO = dict(prompt="a small boat", model="tiny-t2v", width=64, height=64, num_frames=2, fps=2, steps=1)
AUDIO = dict(prompt="a short tune", model="tiny-musicgen", duration_s=2.0)


def fast_rule_files(tmp: Path) -> list[Path]:
    """The chart's rule files with every group evaluated every 2 s (production: 30 s and 2 m), so
    the long-window series exist moments after Prometheus starts, not minutes."""
    out = []
    for path in sorted(RULES_DIR.glob("*.rules.yaml")):
        rules = yaml.safe_load(path.read_text())
        for group in rules["groups"]:
            group["interval"] = "2s"
        out.append(tmp / path.name)
        out[-1].write_text(yaml.safe_dump(rules))
    return out


@pytest.fixture(scope="module")
def prometheus(service, tmp_path_factory) -> PrometheusServer:
    from loadtests.service_runner import metrics_port

    port = metrics_port(service)
    assert port, "the Ray node exports no metrics port"
    rule_files = fast_rule_files(tmp_path_factory.mktemp("rules"))
    with start_prometheus([f"127.0.0.1:{port}"], rule_files) as server:
        deadline = time.monotonic() + 60
        while not server.targets_up():
            assert time.monotonic() < deadline, "Prometheus could not scrape the Ray metrics port"
            time.sleep(1)
        yield server


def _counts(prometheus: PrometheusServer) -> dict[tuple[str, str], float]:
    return {(s["metric"]["method"], s["metric"]["code"]): float(s["value"][1]) for s in prometheus.query(RPC_COUNTS)}


def _settled_counts(prometheus: PrometheusServer) -> dict[tuple[str, str], float]:
    """The counts once Ray's periodic export and the scrape have caught up (two equal reads)."""
    last = _counts(prometheus)
    for _ in range(20):
        time.sleep(12)  # longer than Ray's metrics report interval (10 s) plus one scrape
        now = _counts(prometheus)
        if now == last:
            return now
        last = now
    return last


def _wait_for(prometheus: PrometheusServer, promql: str, timeout_s: float = 90) -> list[dict]:
    deadline = time.monotonic() + timeout_s
    while True:
        result = prometheus.query(promql)
        if result or time.monotonic() > deadline:
            return result
        time.sleep(2)


@pytest.fixture(scope="module")
def traffic(client_module, prometheus):
    """Sends a known mix of calls; returns the counts before and what was sent per (method, code).

    One generation first, before the counts are read: every series of the image path then exists
    in Prometheus before the counted traffic, so rate() and increase() see all of it (a series
    born with its first export would show no increase)."""
    client_module.generate_image(prompt="a first light", seed=99, steps=2, timeout=120)
    client_module.generate_video(**VIDEO, seed=99, timeout=300)
    client_module.generate_audio(**AUDIO, seed=99, timeout=300)
    before = _settled_counts(prometheus)
    sent: dict[tuple[str, str], int] = {}

    def count(method: str, code: grpc.StatusCode) -> None:
        sent[(method, code.name)] = sent.get((method, code.name), 0) + 1

    for seed in range(3):
        client_module.generate_image(prompt=f"a lighthouse at dusk {seed}", seed=seed, steps=3, timeout=120)
        count("GenerateImage", grpc.StatusCode.OK)
    for width in (100, 56):
        with pytest.raises(grpc.RpcError) as err:
            client_module.generate_image(prompt="x", width=width, timeout=30)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        count("GenerateImage", grpc.StatusCode.INVALID_ARGUMENT)
    with pytest.raises(grpc.RpcError) as err:
        client_module.generate_image(prompt="a n.u.d.e woman posing on a bed", seed=1, steps=2, timeout=60)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    count("GenerateImage", grpc.StatusCode.PERMISSION_DENIED)
    events = list(client_module.stream_image(prompt="a quiet harbour", seed=4, steps=3, timeout=120))
    assert events[-1].HasField("done")
    count("StreamImage", grpc.StatusCode.OK)
    client_module.generate_video(**VIDEO, seed=1, timeout=300)
    count("GenerateVideo", grpc.StatusCode.OK)
    client_module.generate_audio(**AUDIO, seed=1, timeout=300)
    count("GenerateAudio", grpc.StatusCode.OK)
    for prompt in ("a red bicycle", "a blue kite"):
        client_module.classify_prompt(prompt, timeout=30)
        count("ClassifyPrompt", grpc.StatusCode.OK)
    return before, sent


@pytest.fixture(scope="module")
def client_module(service):
    from genmedia.client import GenmediaClient

    with GenmediaClient(service.address) as c:
        yield c


def test_request_counts_match_what_was_sent(prometheus, traffic):
    before, sent = traffic
    deadline = time.monotonic() + 90
    while True:
        after = _counts(prometheus)
        grown = {key: after.get(key, 0.0) - before.get(key, 0.0) for key in set(after) | set(before)}
        grown = {key: n for key, n in grown.items() if n}
        if grown == {key: float(n) for key, n in sent.items()} or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert grown == {key: float(n) for key, n in sent.items()}


@pytest.mark.parametrize("stage", STAGES)
def test_histogram_quantile_over_each_stage_histogram(prometheus, traffic, stage):
    promql = (f'histogram_quantile(0.9, sum by (le) '
              f'(increase(ray_genmedia_stage_duration_seconds_bucket{{stage="{stage}"}}[10m])))')
    result = _wait_for(prometheus, promql)
    assert result, f"no series for stage {stage}"
    value = float(result[0]["value"][1])
    assert math.isfinite(value) and 0 < value < 120, f"{stage}: p90 {value}"


def test_rpc_latency_generation_latency_and_batch_histograms(prometheus, traffic):
    for promql in (
        'histogram_quantile(0.99, sum by (le, method) (increase(ray_genmedia_grpc_request_duration_seconds_bucket'
        '{method="GenerateImage"}[10m])))',
        'histogram_quantile(0.5, sum by (le, model_class) (increase(ray_genmedia_generation_duration_seconds_bucket'
        '{kind="image"}[10m])))',
        'histogram_quantile(0.5, sum by (le, stage) (increase(ray_genmedia_batch_size_bucket[10m])))',
    ):
        result = _wait_for(prometheus, promql)
        assert result and all(math.isfinite(float(s["value"][1])) for s in result), promql
    classes = {s["metric"].get("model_class") for s in prometheus.query(
        'sum by (model_class) (ray_genmedia_generation_duration_seconds_count)')}
    assert classes == {"tiny"}


def test_counters_of_the_image_path(prometheus, traffic):
    for promql in (
        'sum(ray_genmedia_images_produced_total) > 0',
        'sum(ray_genmedia_video_seconds_produced_total) > 0',
        'sum(ray_genmedia_audio_seconds_produced_total) > 0',
        'sum(ray_genmedia_provenance_seals_total{outcome="ok"}) > 0',
        'sum by (result) (ray_genmedia_prompt_cache_lookups_total)',
        'sum(ray_genmedia_safety_verdicts_total{kind="prompt", category="sexual", action="block"}) > 0',
        'sum(ray_genmedia_safety_verdicts_total{kind="image"}) > 0',
        # Ray exports a gauge only while it is being set: look back over the test's window.
        'max(max_over_time(ray_genmedia_generations_in_flight[10m])) >= 0',
        'max(max_over_time(ray_genmedia_denoiser_waiting_requests[10m])) >= 0',
    ):
        assert _wait_for(prometheus, promql), promql


def test_ray_serve_metrics_stay_on(prometheus, traffic):
    for name in ("ray_serve_deployment_processing_latency_ms_count", "ray_serve_deployment_queued_queries",
                 "ray_serve_replica_processing_queries", "ray_serve_deployment_replica_starts_total"):
        deployments = {s["metric"].get("deployment") for s in _wait_for(prometheus, f"sum by (deployment) ({name})")}
        assert deployments, name


def test_slo_recording_rules_evaluate_on_the_live_series(prometheus, traffic):
    assert sorted(RULES_DIR.glob("*.rules.yaml")), f"no rule files in {RULES_DIR}"
    groups = prometheus.api("rules")["groups"]
    unhealthy = [(r["name"], r.get("lastError")) for g in groups for r in g["rules"] if r.get("health") == "err"]
    assert not unhealthy
    availability = _wait_for(prometheus, "genmedia:availability_errors:ratio_rate5m")
    context = (prometheus.query(RPC_COUNTS), [(r["name"], r.get("health"), r.get("lastError"))
                                               for g in prometheus.api("rules")["groups"] for r in g["rules"]][:6])
    assert availability, f"no availability ratio; counts and first rules: {context}"
    assert float(availability[0]["value"][1]) == 0.0  # nothing failed server-side
    latency = _wait_for(prometheus, 'genmedia:latency_slow:ratio_rate5m{model_class="tiny"}')
    assert latency and 0.0 <= float(latency[0]["value"][1]) <= 1.0
    firing = [a for a in prometheus.api("alerts")["alerts"] if a["state"] == "firing"]
    assert not [a["labels"]["alertname"] for a in firing if a["labels"].get("severity") == "page"]


def test_every_dashboard_query_parses_and_returns_data(prometheus, traffic):
    from tests.grafana_queries import dashboard_queries

    queries = dashboard_queries()
    assert queries
    _wait_for(prometheus, "genmedia:availability_errors:ratio_rate5m")
    empty, failed = [], []
    for q in queries:
        try:
            result = _wait_for(prometheus, q.expr_substituted, timeout_s=20)
        except Exception as exc:  # PromQLError: the query does not parse or evaluate
            failed.append(f"{q.dashboard}/{q.panel}/{q.ref_id}: {exc}")
            continue
        if not result:
            empty.append(f"{q.dashboard}/{q.panel}/{q.ref_id}: {q.expr_substituted}")
    assert not failed, "\n".join(failed)
    assert not empty, "queries with no data:\n" + "\n".join(empty)
