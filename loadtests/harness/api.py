"""One run, start to verdict: the function the CLI, the capacity search and the tests call.

    from loadtests.harness.api import run_scenario
    from loadtests.harness.target import Target
    from loadtests.harness.workload import load_scenario
    with Target("127.0.0.1:9000", start_service=False) as target:
        report = run_scenario(target, load_scenario("loadtests/scenarios/smoke.yaml"), Path("var/loadtest"))
    sys.exit(report["slo"]["exit_code"])
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from loadtests.common import log
from loadtests.harness import report as reporting
from loadtests.harness import runner, slo
from loadtests.harness.target import Target
from loadtests.harness.workload import Scenario


def run_scenario(target: Target, scenario: Scenario, out_dir: Path | None, stem: str | None = None,
                 chart: bool = True) -> dict[str, Any]:
    """Runs `scenario` against `target`; returns the report (with `slo`) and, when `out_dir` is
    given, writes `<stem>.json` and `<stem>.png` there (stem: the scenario's name). Raises
    runner.SetupError when the run could not start."""
    log(f"scenario {scenario.name}: {len(scenario.schedule.times())} requests over "
        f"{scenario.schedule.duration_s:.1f} s against {target.address}")
    result = runner.run(target.address, scenario, inject=target.inject if scenario.faults else None)
    until_s = result.wall_seconds
    if scenario.faults:  # give Serve time to finish replacing what was killed late in the run
        until_s = max(until_s, _await_replacements(target, result, scenario))
    replicas = target.replicas(result.t0_unix, until_s + 2 * scenario.replica_poll_s)
    doc = reporting.build(result, replicas, {"address": target.address,
                                             "started_by_harness": target.service is not None})
    doc["slo"] = slo.judge(doc, scenario.slo)
    if out_dir is not None:
        stem = stem or scenario.name
        doc["files"] = {"json": str(out_dir / f"{stem}.json"), "png": str(out_dir / f"{stem}.png") if chart else None}
        reporting.write_json(doc, out_dir / f"{stem}.json")
        if chart:
            reporting.write_chart(doc, out_dir / f"{stem}.png")
    return doc


def _await_replacements(target: Target, result: runner.RunResult, scenario: Scenario,
                        timeout_s: float = 120.0) -> float:
    """Fills each fault's `replaced_after_s` (seconds until Serve ran a replacement), waiting up to
    `timeout_s` after the run for replicas still starting (None if one never came back); returns
    the seconds from t0 it waited until."""
    deadline = time.monotonic() + timeout_s
    while True:
        kills = [f for f in result.faults if f.get("action") == "kill_replica"]
        for fault in kills:
            fault["replaced_after_s"] = target.replaced_after_s(fault)
        pending = [f for f in kills if f.get("ok") and f["replaced_after_s"] is None]
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(scenario.replica_poll_s)
    return time.time() - result.t0_unix
