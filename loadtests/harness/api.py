"""One run, start to verdict: the function the CLI, the capacity search and the tests call.

    from loadtests.harness.api import run_scenario
    from loadtests.harness.target import Target
    from loadtests.harness.workload import load_scenario
    with Target("127.0.0.1:9000", start_service=False) as target:
        report = run_scenario(target, load_scenario("loadtests/scenarios/smoke.yaml"), Path("var/loadtest"))
    sys.exit(report["slo"]["exit_code"])
"""

from __future__ import annotations

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
    result = runner.run(target.address, scenario)
    replicas = target.replicas(result.t0_unix, result.wall_seconds + 2 * scenario.replica_poll_s)
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
