"""The SLO verdict and the exit code a release pipeline gates on.

- p99 latency (from the intended send time) of *admitted* requests <= `slo.p99_s`. Admitted: every
  request the service did not shed with RESOURCE_EXHAUSTED (those count as errors instead), and
  that was actually sent; timeouts count at their deadline, so a slow service cannot pass by timing
  out.
- error ratio <= `slo.max_error_ratio`: requests ending with a server-side code (`slo.error_codes`:
  UNAVAILABLE, INTERNAL, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED, ...) over all requests sent.
  Client-caused codes (INVALID_ARGUMENT, PERMISSION_DENIED for a blocked prompt, NOT_FOUND) are
  counted per code in the report but are not errors of the service.
- chaos scenarios (`faults`): every replica killed was replaced by Serve (`replicas_replaced`).

Exit codes: 0 the SLO holds and the run is valid; 1 the SLO failed; 2 the harness could not judge:
setup error, no request completed, or the run is invalid (the client's safety valve shut, the
client lagged its own schedule, or the harness itself failed requests) and the SLO would otherwise
have passed. An SLO failure stays 1 even in an invalid run: latencies count from the intended send
time, so time spent waiting at the valve or in a lagging client is charged to the request, and the
service would have queued that work itself had it been sent on time.
"""

from __future__ import annotations

from typing import Any

from loadtests.harness import EXIT_ERROR, EXIT_PASS, EXIT_SLO_FAILED
from loadtests.harness.workload import Slo


def judge(report: dict[str, Any], slo: Slo) -> dict[str, Any]:
    """The verdict for a report made by loadtests.harness.report.build (or read from its JSON)."""
    counts: dict[str, int] = report["counts"]["by_code"]
    sent = report["counts"]["total"]
    errors = sum(n for code, n in counts.items() if code in slo.error_codes)
    ratio = errors / sent if sent else None
    p99 = report["latency_s"]["admitted"]["p99"]
    checks = {
        "p99_s": {"limit": slo.p99_s, "value": p99, "ok": p99 is not None and p99 <= slo.p99_s},
        "error_ratio": {"limit": slo.max_error_ratio, "value": ratio, "errors": errors,
                        "ok": ratio is not None and ratio <= slo.max_error_ratio},
    }
    faults = [f for f in report.get("faults", []) if f.get("ok") and f.get("action", "kill_replica") == "kill_replica"]
    if faults:  # chaos: every killed replica must have been replaced
        replaced = [f.get("replaced_after_s") for f in faults]
        checks["replicas_replaced"] = {"limit": len(faults), "value": sum(r is not None for r in replaced),
                                       "replaced_after_s": replaced, "ok": all(r is not None for r in replaced)}
    slo_ok = all(c["ok"] for c in checks.values())
    validity = report["validity"]
    if not sent or p99 is None:
        exit_code, verdict = EXIT_ERROR, "ERROR: no admitted request completed"
    elif not slo_ok:
        exit_code, verdict = EXIT_SLO_FAILED, "FAIL"
    elif not validity["valid"]:
        exit_code, verdict = EXIT_ERROR, "INVALID: " + "; ".join(validity["reasons"])
    else:
        exit_code, verdict = EXIT_PASS, "PASS"
    return {"verdict": verdict, "exit_code": exit_code, "slo_ok": slo_ok, "checks": checks}


def describe(verdict: dict[str, Any]) -> str:
    c = verdict["checks"]
    p99 = c["p99_s"]["value"]
    ratio = c["error_ratio"]["value"]
    fmt = (lambda v, spec: "n/a" if v is None else format(v, spec))
    return (f"SLO {verdict['verdict']} (exit {verdict['exit_code']}): p99 {fmt(p99, '.3f')} s "
            f"<= {c['p99_s']['limit']} s {'ok' if c['p99_s']['ok'] else 'NO'}; error ratio {fmt(ratio, '.4f')} "
            f"<= {c['error_ratio']['limit']} {'ok' if c['error_ratio']['ok'] else 'NO'}")
