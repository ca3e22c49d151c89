"""Capacity: the highest constant rate at which the SLO still holds, for one model and mix.

Search: constant-rate steps of `step_seconds` each (open loop, like every run), the rate
multiplied by `growth` from `start_rps` until a step fails the SLO (or is invalid: the client's
valve shut) or `max_rps` is reached (if `start_rps` already fails, divided by `growth` until a
step passes or `min_rps` is passed); then `refine` bisection steps (in log space) between the
highest passing and the lowest failing rate. A step passes when its verdict is PASS (p99 of admitted requests within
the SLO, error ratio within the limit, run valid). `cooldown_s` separates the steps, and every
step waits for all of its requests to end, so one step's queue does not spill into the next
(autoscaled replicas can carry over: the replica series of each step is in its report).

Then, optionally, `confirm` runs at fractions of the capacity found (e.g. 0.5 and 0.9) report
p50/p99 with headroom. Output: a table on stdout and `capacity.json` (every step's summary, the
capacity, the confirmations); each step's full report in `steps/`.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from loadtests.common import log
from loadtests.harness import EXIT_ERROR, EXIT_PASS, EXIT_SLO_FAILED
from loadtests.harness.api import run_scenario
from loadtests.harness.schedule import Schedule, constant
from loadtests.harness.target import Target
from loadtests.harness.workload import BUILTIN_MIXES, Mix, Scenario, Slo, load_scenario, mix_from_list


def build_mix(mix: str, model: str | None, steps: int | None, deadline_s: float) -> Mix:
    """A built-in mix name (image, stream_image, classify, image+classify, ...) or a scenario
    file whose `mix:` is used; `model` and `steps` override the generation kinds' parameters."""
    if mix in BUILTIN_MIXES:
        items = [dict(i, deadline_s=deadline_s) for i in BUILTIN_MIXES[mix]]
    elif Path(mix).is_file():
        items = [{"kind": k.kind, "weight": k.weight, "deadline_s": k.deadline_s, "params": dict(k.params),
                  "prompt": k.prompt, "unique_prompts": k.unique_prompts} for k in load_scenario(mix).mix.kinds]
    else:
        raise ValueError(f"--mix must be one of {sorted(BUILTIN_MIXES)} or a scenario file, got {mix!r}")
    for item in items:
        if item["kind"] in ("image", "stream_image", "video", "audio"):
            params = dict(item.get("params") or {})
            if model and item["kind"] in ("image", "stream_image"):
                params["model"] = model
            if steps and item["kind"] in ("image", "stream_image", "video"):
                params["steps"] = steps
            item["params"] = params
    return mix_from_list(items)


def step_scenario(base: Scenario, rate: float, seconds: float, warmup: int) -> Scenario:
    schedule = Schedule(constant(rate, seconds), process=base.schedule.process, seed=base.schedule.seed,
                        max_requests=max(1, math.ceil(rate * seconds) + 1), max_seconds=seconds)
    return replace(base, name=f"{base.name}-{rate:.3f}rps", schedule=schedule, warmup_requests=warmup)


def row(rate: float, doc: dict[str, Any]) -> dict[str, Any]:
    lat = doc["latency_s"]["admitted"]
    return {"rate_rps": rate, "offered_rps": doc["rates"]["offered_rps"], "achieved_rps": doc["rates"]["achieved_rps"],
            "requests": doc["counts"]["total"], "p50_s": lat["p50"], "p90_s": lat["p90"], "p99_s": lat["p99"],
            "p99.9_s": lat["p99.9"], "error_ratio": doc["slo"]["checks"]["error_ratio"]["value"],
            "valid": doc["validity"]["valid"], "verdict": doc["slo"]["verdict"], "pass": doc["slo"]["exit_code"] == 0,
            "codes": doc["counts"]["by_code"], "report": doc.get("files", {}).get("json")}


def format_row(r: dict[str, Any], label: str = "") -> str:
    f = (lambda v, w=8, spec=".3f": f"{'n/a':>{w}}" if v is None else f"{v:>{w}{spec}}")
    return (f"{label:>6}{f(r['rate_rps'], 8, '.3f')}{f(r['achieved_rps'])}{r['requests']:>6}{f(r['p50_s'])}"
            f"{f(r['p90_s'])}{f(r['p99_s'])}{f(r['error_ratio'], 8, '.4f')}  {r['verdict'][:40]}")


HEADER = f"{'':>6}{'rate':>8}{'achvd':>8}{'n':>6}{'p50':>8}{'p90':>8}{'p99':>8}{'err':>8}  verdict"


def search(target: Target, base: Scenario, out_dir: Path, *, start_rps: float, growth: float, max_rps: float,
           step_seconds: float, refine: int, cooldown_s: float, confirm: tuple[float, ...],
           min_rps: float = 0.1) -> dict[str, Any]:
    steps: list[dict[str, Any]] = []
    print(HEADER, flush=True)

    def probe(rate: float, label: str) -> dict[str, Any]:
        if steps:
            time.sleep(cooldown_s)
        scenario = step_scenario(base, rate, step_seconds, warmup=0 if steps else max(base.warmup_requests, 2))
        doc = run_scenario(target, scenario, out_dir / "steps", stem=f"{label}-{rate:.3f}rps")
        r = {**row(rate, doc), "phase": label}
        steps.append(r)
        print(format_row(r, label), flush=True)
        return r

    best, worst = None, None
    rate = start_rps
    while rate <= max_rps * (1 + 1e-9):
        r = probe(rate, "grow")
        if not r["pass"]:
            worst = rate
            break
        best = rate
        rate = rate * growth
    rate = start_rps / growth
    while best is None and rate >= min_rps * (1 - 1e-9):  # the start rate failed: go down
        if probe(rate, "shrink")["pass"]:
            best = rate
        else:
            worst = rate
            rate = rate / growth
    for _ in range(refine if best is not None and worst is not None else 0):
        if worst / best < 1.03:
            break
        mid = math.sqrt(best * worst)  # bisect in log space: relative precision
        if probe(mid, "refine")["pass"]:
            best = mid
        else:
            worst = mid
    confirmations = []
    if best is not None:
        for fraction in confirm:
            confirmations.append({**probe(best * fraction, f"{fraction:.0%}"), "fraction": fraction})
    out = {
        "capacity_rps": best, "first_failing_rps": worst,
        "note": None if worst is not None else "max_rps reached without a failure",
        "slo": {"p99_s": base.slo.p99_s, "max_error_ratio": base.slo.max_error_ratio},
        "mix": base.mix.describe(), "step_seconds": step_seconds, "process": base.schedule.process,
        "steps": steps, "confirmations": confirmations,
    }
    log(f"capacity: {'none' if best is None else f'{best:.3f} req/s'} "
        f"(first failing rate: {'none' if worst is None else f'{worst:.3f}'})")
    return out


def exit_code(result: dict[str, Any]) -> int:
    if not result["steps"]:
        return EXIT_ERROR
    return EXIT_PASS if result["capacity_rps"] is not None else EXIT_SLO_FAILED


def base_scenario(mix: Mix, slo: Slo, process: str, seed: int, max_in_flight: int, replica_poll_s: float) -> Scenario:
    return Scenario(name="capacity", schedule=Schedule(constant(1.0, 1.0), process=process, seed=seed), mix=mix,
                    slo=slo, max_in_flight=max_in_flight, warmup_requests=1, replica_poll_s=replica_poll_s,
                    source="capacity search")
