"""The run's report: a JSON document and a PNG chart.

JSON (`report.json`), keys:
- `scenario`: the configuration as run (schedule, mix, SLO, client settings); `target`; `machine`
- `rates`: planned requests, offered rate (planned / schedule duration), sent rate, achieved rate
  (OK completions / time from the first intended send to the last completion)
- `latency_s`: HDR percentiles p50/p90/p99/p99.9 (+ min, mean, max, count) for `admitted`
  requests, `ok` requests, `rejected` (RESOURCE_EXHAUSTED) and `rejected_from_send` (the same from
  the actual send: the service's share), `by_kind` (admitted), `first_event_by_kind` (streams); `hdr` holds the
  encoded histograms; `send_lag_s`: actual minus intended send time (the client's own lag)
- `counts`: `total` (= requests planned: each ends in exactly one code), `by_code`, `by_kind_code`
- `timeseries`: per second from the first intended send: `sent` (intended arrivals), `completed`
  (OK), `errors` (server-side codes), `p50_s`, `p99_s` (of requests completing that second)
- `replicas`: `t` (s), `running` and `total` per deployment, from ray.serve.status()
- `faults`: the chaos scenario's faults as carried out: `at_s`, `action`, `deployment`, the
  `replica` killed, `ok`, and `replaced_after_s` (until Serve ran a replacement; None: never)
- `validity`: valve hits, peak in-flight, send lag; `valid` and its `reasons`
- `slo`: the verdict (loadtests.harness.slo) with the exit code

PNG (`report.png`, matplotlib Agg): latency percentiles per second, throughput (offered, OK,
errors) per second, replicas per deployment.
"""

from __future__ import annotations

import json
import math
import os
import platform
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from loadtests.harness.histogram import Latency
from loadtests.harness.runner import RunResult

SCHEMA = "genmedia.loadtest.report/1"
CLIENT_CODES = ("CLIENT_NO_ARTIFACT", "CLIENT_ERROR")


def _hist(values) -> Latency:
    h = Latency()
    for v in values:
        h.record(v)
    return h


def machine() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (None, None, None)
    return {"host": platform.node(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "loadavg_1m_at_end": load[0]}


def _timeseries(result: RunResult, error_codes: tuple[str, ...]) -> dict[str, Any]:
    records = result.records
    seconds = max(1, math.ceil(max([r.done for r in records] + [result.issue_seconds, 0.0])))
    sent = np.zeros(seconds, int)
    completed = np.zeros(seconds, int)
    errors = np.zeros(seconds, int)
    latencies: dict[int, list[float]] = defaultdict(list)
    for r in records:
        sent[min(seconds - 1, max(0, int(r.intended)))] += 1
        b = min(seconds - 1, max(0, int(r.done)))
        if r.code == "OK":
            completed[b] += 1
        elif r.code in error_codes:
            errors[b] += 1
        if r.sent is not None and r.code != "RESOURCE_EXHAUSTED" and r.code not in CLIENT_CODES:
            latencies[b].append(r.latency)
    pct = {q: [float(np.percentile(latencies[b], q)) if latencies[b] else None for b in range(seconds)]
           for q in (50, 99)}
    return {"t": list(range(seconds)), "sent": sent.tolist(), "completed": completed.tolist(),
            "errors": errors.tolist(), "p50_s": pct[50], "p99_s": pct[99]}


def build(result: RunResult, replicas: dict[str, Any], target: dict[str, Any]) -> dict[str, Any]:
    """The report document (without the verdict: slo.judge adds it)."""
    scenario = result.scenario
    records = result.records
    admitted = [r for r in records if r.sent is not None and r.code != "RESOURCE_EXHAUSTED"
                and r.code not in CLIENT_CODES]
    ok = [r for r in records if r.code == "OK"]
    h_rejected = _hist(r.latency for r in records if r.sent is not None and r.code == "RESOURCE_EXHAUSTED")
    # The service's share of a refusal: from the actual send, without the client's own lag.
    h_rejected_sent = _hist(r.done - r.sent for r in records if r.sent is not None and r.code == "RESOURCE_EXHAUSTED")
    duration = scenario.schedule.duration_s
    h_admitted = _hist(r.latency for r in admitted)
    h_ok = _hist(r.latency for r in ok)
    by_kind = {kind: _hist(r.latency for r in admitted if r.kind == kind)
               for kind in sorted({r.kind for r in records})}
    first = {kind: _hist(r.first_event - r.intended for r in records if r.kind == kind and r.first_event is not None)
             for kind in sorted({r.kind for r in records if r.first_event is not None})}
    lag = _hist(max(0.0, r.sent - r.intended) for r in records if r.sent is not None)
    by_code = Counter(r.code for r in records)
    by_kind_code: dict[str, Counter] = defaultdict(Counter)
    for r in records:
        by_kind_code[r.kind][r.code] += 1
    retried = [r for r in records if r.attempts > 1]
    retries = {"requests_retried": len(retried), "extra_attempts": sum(r.attempts - 1 for r in retried),
               "final_codes_of_retried": dict(sorted(Counter(r.code for r in retried).items())),
               "first_attempt_by_code": dict(sorted(Counter(r.first_code or r.code for r in records).items()))}

    reasons = []
    if result.valve_hits:
        reasons.append(f"the client's safety valve (max_in_flight={scenario.max_in_flight}) shut "
                       f"{result.valve_hits} time(s): the client shaped the load")
    lag_p99 = lag.percentile(99) if lag.count else 0.0
    if lag_p99 > scenario.max_send_lag_s:
        reasons.append(f"send lag p99 {lag_p99:.3f} s > {scenario.max_send_lag_s} s: the client could not keep its "
                       "schedule (a starved or overloaded client machine)")
    if by_code.get("CLIENT_ERROR"):
        reasons.append(f"{by_code['CLIENT_ERROR']} request(s) failed inside the harness")
    if by_code.get("CLIENT_NO_ARTIFACT"):
        reasons.append(f"{by_code['CLIENT_NO_ARTIFACT']} verify/get_generation request(s) had no artifact")
    for fault in result.faults:
        if not fault.get("ok"):
            reasons.append(f"fault {fault['action']} {fault.get('deployment') or fault.get('name')} at "
                           f"{fault['at_s']:.1f} s was not carried "
                           f"out: {fault.get('error')}")
    if len(records) != result.planned:
        reasons.append(f"{result.planned - len(records)} planned request(s) have no record")

    last_done = max((r.done for r in records), default=0.0)
    return {
        "schema": SCHEMA,
        "scenario": scenario.describe(),
        "target": target,
        "machine": machine(),
        "started_unix": result.t0_unix,
        "rates": {
            "planned_requests": result.planned,
            "schedule_duration_s": duration,
            "offered_rps": result.planned / duration if duration else None,
            "sent_rps": sum(r.sent is not None for r in records) / duration if duration else None,
            "achieved_rps": len(ok) / last_done if last_done else None,
            "issue_seconds": result.issue_seconds,
            "wall_seconds": result.wall_seconds,
        },
        "latency_s": {
            "measured_from": "intended send time",
            "admitted": h_admitted.summary(),
            "ok": h_ok.summary(),
            "rejected": h_rejected.summary(),  # RESOURCE_EXHAUSTED: how fast overload is refused
            "rejected_from_send": h_rejected_sent.summary(),  # the same, without the client's send lag
            "by_kind": {k: h.summary() for k, h in by_kind.items()},
            "first_event_by_kind": {k: h.summary() for k, h in first.items()},
            "send_lag_s": lag.summary(),
            "hdr": {"admitted": h_admitted.encoded(), **{f"kind:{k}": h.encoded() for k, h in by_kind.items()}},
        },
        "counts": {"total": len(records), "by_code": dict(sorted(by_code.items())),
                   "by_kind_code": {k: dict(sorted(c.items())) for k, c in sorted(by_kind_code.items())},
                   "retries": retries},
        "warmup": result.warmup,
        "timeseries": _timeseries(result, scenario.slo.error_codes),
        "replicas": replicas,
        "faults": result.faults,
        "validity": {"valid": not reasons, "reasons": reasons, "valve_hits": result.valve_hits,
                     "max_in_flight": scenario.max_in_flight, "peak_in_flight": result.max_in_flight_seen,
                     "send_lag_p99_s": lag_p99},
    }


def write_json(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, sort_keys=False, allow_nan=False, default=str) + "\n")


def write_chart(report: dict[str, Any], path: Path) -> None:
    """Three panels sharing the time axis: latency, throughput, replicas."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ts = report["timeseries"]
    t = np.array(ts["t"]) + 0.5
    fig, (ax_lat, ax_rate, ax_rep) = plt.subplots(3, 1, figsize=(10, 9), sharex=True)
    title = report["scenario"]["name"]
    verdict = report.get("slo", {}).get("verdict")
    fig.suptitle(f"{title}: {verdict}" if verdict else title)

    def series(key):
        return np.array([np.nan if v is None else v for v in ts[key]], float)

    ax_lat.plot(t, series("p50_s"), label="p50 (per second)", marker=".")
    ax_lat.plot(t, series("p99_s"), label="p99 (per second)", marker=".")
    slo_p99 = report["scenario"]["slo"]["p99_s"]
    ax_lat.axhline(slo_p99, color="red", linestyle="--", linewidth=1, label=f"SLO p99 {slo_p99} s")
    overall = report["latency_s"]["admitted"]["p99"]
    if overall is not None:
        ax_lat.axhline(overall, color="gray", linestyle=":", linewidth=1, label=f"run p99 {overall:.3f} s")
    ax_lat.set_ylabel("latency from intended send (s)")
    ax_lat.legend(loc="upper left", fontsize=8)
    ax_lat.grid(alpha=0.3)

    ax_rate.step(t, ts["sent"], where="mid", label="offered (intended sends/s)")
    ax_rate.step(t, ts["completed"], where="mid", label="completed OK/s")
    ax_rate.step(t, ts["errors"], where="mid", label="server errors/s", color="red")
    ax_rate.set_ylabel("requests / s")
    ax_rate.legend(loc="upper left", fontsize=8)
    ax_rate.grid(alpha=0.3)

    rep = report["replicas"]
    if rep.get("t"):
        names = sorted(rep["running"])
        for i, name in enumerate(names):
            # a small vertical offset per deployment, so equal counts stay visible as separate lines
            offset = 0.04 * (i - (len(names) - 1) / 2)
            ax_rep.step(rep["t"], np.array(rep["running"][name]) + offset, where="post", label=name)
        top = max((max(v) for v in rep["running"].values() if v), default=1)
        ax_rep.set_ylim(-0.2, top + 1)
        ax_rep.yaxis.get_major_locator().set_params(integer=True)
        ax_rep.legend(loc="upper left", fontsize=7, ncol=4)
    else:
        ax_rep.text(0.5, 0.5, "replica counts unavailable: " + str(rep.get("unavailable", "")), ha="center",
                    va="center", transform=ax_rep.transAxes, fontsize=8)
    ax_rep.set_ylabel("running replicas\n(lines offset slightly)")
    ax_rep.set_xlabel("seconds from the first intended send")
    ax_rep.grid(alpha=0.3)
    for fault in report.get("faults", []):
        for ax in (ax_lat, ax_rate, ax_rep):
            ax.axvline(fault["at_s"], color="black", linestyle="-.", linewidth=0.8)
        label = f"kill {fault['deployment']}" if fault["action"] == "kill_replica" else fault.get("name", "exec")
        if fault.get("undone_after_s"):
            for ax in (ax_lat, ax_rate, ax_rep):
                ax.axvspan(fault["at_s"], fault["at_s"] + fault["undone_after_s"], color="gray", alpha=0.15)
        ax_rep.annotate(label, (fault["at_s"], ax_rep.get_ylim()[1]), fontsize=7, rotation=90, va="top", ha="right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def summary_lines(report: dict[str, Any]) -> list[str]:
    r, lat, counts = report["rates"], report["latency_s"], report["counts"]
    fmt = (lambda v: "n/a" if v is None else f"{v:.3f}")
    lines = [f"scenario {report['scenario']['name']}: {r['planned_requests']} requests over "
             f"{r['schedule_duration_s']:.1f} s; offered {fmt(r['offered_rps'])} req/s, "
             f"achieved {fmt(r['achieved_rps'])} req/s (OK)"]
    lines.append(f"{'':16}{'count':>7}{'p50':>9}{'p90':>9}{'p99':>9}{'p99.9':>9}{'max':>9}   (s, from intended send)")
    rows = [("admitted", lat["admitted"])] + [(k, s) for k, s in lat["by_kind"].items()]
    if lat.get("rejected", {}).get("count"):
        rows.append(("rejected", lat["rejected"]))
        if "rejected_from_send" in lat:
            rows.append(("rejected (sent)", lat["rejected_from_send"]))
    rows += [(f"{k} 1st event", s) for k, s in lat["first_event_by_kind"].items()]
    for name, s in rows:
        values = "".join(f"{fmt(s[k]):>9}" for k in ("p50", "p90", "p99", "p99.9", "max"))
        lines.append(f"{name:16}{s['count']:>7}{values}")
    lines.append("codes: " + ", ".join(f"{c} {n}" for c, n in counts["by_code"].items()))
    retries = counts.get("retries") or {}
    if retries.get("requests_retried"):
        lines.append(f"retried after retry-after-ms: {retries['requests_retried']} requests "
                     f"({retries['extra_attempts']} extra attempts), final codes "
                     + ", ".join(f"{c} {n}" for c, n in retries["final_codes_of_retried"].items())
                     + "; first attempts: "
                     + ", ".join(f"{c} {n}" for c, n in retries["first_attempt_by_code"].items()))
    for f in report.get("faults", []):
        if f["action"] != "kill_replica":
            undone = f.get("undone_after_s")
            lines.append(f"fault at {f['at_s']:.1f} s: exec {f.get('name')}: " + (
                ("ok" + (f", undone after {undone:.1f} s" if undone else "")) if f.get("ok") else
                f"FAILED ({f.get('error')})"))
            continue
        back = f.get("replaced_after_s")
        lines.append(f"fault at {f['at_s']:.1f} s: {f['action']} {f['deployment']} {f.get('replica', '')}: "
                     + (f"replaced after {back:.1f} s" if back is not None else
                        "NOT replaced" if f.get("ok") else f"not carried out ({f.get('error')})"))
    v = report["validity"]
    lines.append(f"client: peak in flight {v['peak_in_flight']}/{v['max_in_flight']}, valve hits {v['valve_hits']}, "
                 f"send lag p99 {v['send_lag_p99_s'] * 1000:.1f} ms, scheduling "
                 f"{report['scenario']['client'].get('scheduling', 'normal')}" + ("" if v["valid"] else
                                                                       "  INVALID: " + "; ".join(v["reasons"])))
    return lines
