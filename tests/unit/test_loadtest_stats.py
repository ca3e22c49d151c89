"""The benchmark's pure helpers: summaries, per-request CPU, batch sizes, and the printed table."""

from __future__ import annotations

import json

import pytest

from loadtests.report import comparison_table, cpu_text, render_report, write_json
from loadtests.stats import batch_report, histogram, per_unit, stage_medians, summarize


def test_summarize_percentiles():
    s = summarize([float(v) for v in range(1, 101)])
    assert s["n"] == 100
    assert s["p50"] == pytest.approx(50.5)
    assert s["p95"] == pytest.approx(95.05)
    assert s["mean"] == pytest.approx(50.5)
    assert (s["min"], s["max"]) == (1.0, 100.0)


def test_summarize_empty_and_single():
    assert summarize([]) == {"n": 0}
    assert summarize([2.0]) == {"n": 1, "p50": 2.0, "p95": 2.0, "mean": 2.0, "min": 2.0, "max": 2.0}


def test_per_unit_orders_roles_and_drops_tiny_ones():
    out = per_unit({"Ingress": 0.2, "Denoiser": 1.0, "raylet": 0.0004}, n=2)
    assert list(out) == ["total", "Denoiser", "Ingress"]
    assert out["total"] == pytest.approx(0.6002)
    assert out["Denoiser"] == pytest.approx(0.5)
    assert per_unit({"Denoiser": 1.0}, n=0) == {}


def test_stage_medians_over_rows_that_have_the_key():
    rows = [{"a": 1.0, "b": 10.0}, {"a": 3.0}, {"a": 2.0, "b": 30.0}]
    assert stage_medians(rows) == {"a": 2.0, "b": 20.0}
    assert stage_medians([]) == {}


def test_histogram_sorted():
    assert histogram([3, 1, 3, 2, 3]) == {1: 1, 2: 1, 3: 3}
    assert list(histogram([8, 1])) == [1, 8]


def test_batch_report():
    before = {"Denoiser": {"steps_run": 10, "batch_sizes": [1] * 10}, "VAEDecoder": {"batch_sizes": [1]}}
    after = {"Denoiser": {"steps_run": 14, "batch_sizes": [1] * 10 + [2, 2, 1, 3]},
             "VAEDecoder": {"batch_sizes": [1, 1, 2, 1]}}
    out = batch_report(before, after, images=4, steps_per_image=2)
    assert out["denoiser"] == {"steps_run": 4, "mean": 2.0, "max": 3, "histogram": {1: 1, 2: 2, 3: 1},
                               "histogram_of_last_steps": 4}
    # The last decode calls that add up to the 4 images: 1 + 2 + 1.
    assert out["vae_decoder"] == {"calls": 3, "mean": 4 / 3, "max": 2, "histogram": {1: 2, 2: 1}, "complete": True}
    assert batch_report(None, after, 4, 2) is None


def test_cpu_text_groups_the_rest():
    per = {"total": 0.010, **{f"r{i}": 0.001 for i in range(10)}}
    assert cpu_text(per, top=2) == "total 10 = r0 1, r1 1, others 8"


def _comparison() -> dict:
    return {
        "model": "cpu-small", "width": 256, "height": 256, "steps": 20, "guidance": 7.5,
        "bare_s": summarize([1.0, 1.2]), "e2e_s": summarize([1.1, 1.3]), "errors": [],
        "ratio_p50": 1.2 / 1.1, "ratio_p95": 1.0, "target_ratio_p50": 1.10, "pass_p50": False,
        "foreign_load_cores": summarize([0.0, 0.1]), "noisy_kept": 0, "discarded_noisy": 1,
        "cpu_s_per_request": {"e2e": {"total": 2.0, "Denoiser": 1.5}},
        "bare_stage_medians_s": {"text_encode_s": 0.01, "total_s": 1.1},
        "e2e_stage_medians_s": {"denoise_s": 1.0, "client_overhead_s": 0.02},
    }


def test_comparison_table():
    lines = comparison_table(_comparison())
    assert lines[0] == ("cpu-small 256x256, 20 steps, guidance 7.5, sequential, n=2 timed "
                        "(interleaved bare/e2e)")
    assert lines[2] == "  bare pipeline (in-proc)      1100.0     1190.0     1100.0     1000.0     1200.0"
    assert "  ratio e2e/bare: p50 1.091  p95 1.000   target p50 <= 1.10: FAIL" in lines
    assert "  CPU ms per request, e2e: total 2000 = Denoiser 1500" in lines
    assert lines[-1].startswith("  other processes' CPU load during kept calls: median 0.05, max 0.10 cores; "
                                "re-measured 1 disturbed call(s)")


def test_render_report_and_json(tmp_path):
    row = {"clients": 1, "requests": 4, "errors": 0, "seconds": 2.0, "images_per_s": 2.0,
           "latency_s": summarize([0.5]), "foreign_load_cores": 0.0, "machine_busy_cores": 1.0,
           "cpu_s_per_image": {"total": 0.1, "Denoiser": 0.1}, "batches": None}
    report = {
        "machine": {"cpu_count": 2, "affinity_cpus": 2, "processor": "x86_64", "platform": "Linux",
                    "python": "3.11", "torch": "2.x", "cuda": False},
        "args": {"denoiser_threads": "2", "vae_threads": "2"}, "service_start_s": 30.0,
        "latency": [_comparison()], "gpu": "skipped: no GPU",
        "throughput": {"model": "tiny-sd", "single": row, "concurrent": {**row, "clients": 8},
                       "ratio": 1.0, "target_ratio": 2.0, "pass": False},
    }
    text = render_report(report)
    lines = text.splitlines()
    assert lines[0] == "" and lines[1] == "=" * 100 and lines[-1] == "=" * 100
    assert "CUDA: no" in text and "GPU comparison: skipped: no GPU" in text
    assert "  ratio 8 clients / 1 client: 1.00x   target >= 2.0x: FAIL" in lines
    path = tmp_path / "report.json"
    write_json(report, path)
    assert render_report(json.loads(path.read_text())) == text
