"""The harness's command line.

    python -m loadtests.harness run --scenario loadtests/scenarios/smoke.yaml --address 127.0.0.1:9000 \
        --out var/loadtest/ [--ray-address 127.0.0.1:6379] [--slo-p99 S] [--max-error-ratio R]
    python -m loadtests.harness run --scenario loadtests/scenarios/smoke.yaml --start-service --out var/loadtest/
    python -m loadtests.harness capacity --model tiny-sd --mix image --steps 2 --slo-p99 2.0 --start-service \
        --out var/loadtest/capacity [--step-seconds 20] [--start-rps 0.5] [--growth 1.5] [--refine 3] \
        [--confirm 0.5,0.9]
    python -m loadtests.harness judge --report var/loadtest/smoke.json [--slo-p99 S] [--max-error-ratio R]

Exit codes (a release pipeline gates on them): 0 the SLO holds; 1 the SLO failed (capacity: even
the first rate failed); 2 the harness could not run or judge (setup error, invalid run). Targets
must be loopback unless --allow-remote is given.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from loadtests.common import log
from loadtests.harness import EXIT_ERROR
from loadtests.harness.schedule import Schedule


def _target_args(p: argparse.ArgumentParser) -> None:
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--address", help="host:port of a running service's gRPC proxy (loopback)")
    where.add_argument("--start-service", action="store_true",
                       help="start the service here (config/local.yaml: tiny models, local storage) and stop it after")
    p.add_argument("--allow-remote", action="store_true", help="allow a non-loopback --address")
    p.add_argument("--add-model", action="append", default=[], metavar="PRESET",
                   help="with --start-service: also serve this built-in preset (e.g. cpu-small); repeatable")
    p.add_argument("--max-generations-in-flight", type=int, default=None,
                   help="with --start-service: the admission bound, at the ingress replica and in the proxy "
                        "(config/local.yaml's otherwise)")
    p.add_argument("--set", action="append", default=[], metavar="PATH=VALUE", dest="overrides",
                   help="with --start-service: override an application arg of config/local.yaml by dotted path, "
                        "the value read as YAML (e.g. denoiser.autoscaling.max_replicas=3); repeatable")
    p.add_argument("--ray-address", help="the running service's Ray GCS host:port, for replica counts "
                   "(auth token from RAY_AUTH_TOKEN); not needed with --start-service")
    p.add_argument("--app", default="genmedia", help="the Serve application name (default genmedia)")
    p.add_argument("--out", type=Path, default=Path("var/loadtest"), help="output folder (default var/loadtest)")


def _slo_args(p: argparse.ArgumentParser, required: bool = False) -> None:
    p.add_argument("--slo-p99", type=float, required=required, help="p99 latency limit in seconds (overrides)")
    p.add_argument("--max-error-ratio", type=float, help="server-side error ratio limit (overrides)")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m loadtests.harness", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a scenario file; exit code = SLO verdict")
    run.add_argument("--scenario", type=Path, required=True)
    _target_args(run)
    _slo_args(run)
    run.add_argument("--max-seconds", type=float, help="cut the schedule at this many seconds (overrides)")
    run.add_argument("--max-requests", type=int, help="cut the schedule at this many requests (overrides)")
    run.add_argument("--no-chart", action="store_true")
    run.add_argument("--retry-refused", type=int, default=None, metavar="N",
                     help="send a call refused with RESOURCE_EXHAUSTED again after its retry-after-ms, up to N "
                          "times within its deadline (overrides the scenario's client.retry_refused)")
    run.add_argument("--client-scheduling", choices=("normal", "fifo"), default=None,
                     help="the load generator's CPU policy (overrides the scenario's client.scheduling); fifo "
                          "stands in for a client machine of its own when client and service share the cores "
                          "(needs root)")

    cap = sub.add_parser("capacity", help="find the highest constant rate at which the SLO holds")
    _target_args(cap)
    _slo_args(cap, required=True)
    cap.add_argument("--model", default="tiny-sd", help="model of the image kinds (default tiny-sd)")
    cap.add_argument("--mix", default="image", help="built-in mix (image, stream_image, classify, image+classify, "
                     "verify, audio, video) or a scenario file whose mix is used")
    cap.add_argument("--steps", type=int, default=None, help="denoising steps (default: the mix's, 2 for built-ins)")
    cap.add_argument("--deadline", type=float, default=30.0, help="per-request deadline in seconds (default 30)")
    cap.add_argument("--process", choices=("constant", "poisson"), default="constant")
    cap.add_argument("--seed", type=int, default=1)
    cap.add_argument("--start-rps", type=float, default=0.5)
    cap.add_argument("--growth", type=float, default=1.5)
    cap.add_argument("--max-rps", type=float, default=50.0)
    cap.add_argument("--min-rps", type=float, default=0.1, help="lowest rate tried when the start rate fails")
    cap.add_argument("--step-seconds", type=float, default=20.0)
    cap.add_argument("--refine", type=int, default=3, help="bisection steps after the first failure (default 3)")
    cap.add_argument("--cooldown", type=float, default=3.0)
    cap.add_argument("--confirm", default="", help="fractions of the capacity to run again, e.g. 0.5,0.9")
    cap.add_argument("--max-in-flight", type=int, default=512)
    cap.add_argument("--client-scheduling", choices=("normal", "fifo"), default="normal",
                     help="the load generator's CPU policy (see run --client-scheduling)")

    judge = sub.add_parser("judge", help="re-judge a report.json against (other) SLO limits")
    judge.add_argument("--report", type=Path, required=True)
    _slo_args(judge)
    return parser.parse_args(argv)


def _slo(base, args):
    from loadtests.harness.workload import Slo

    return Slo(p99_s=args.slo_p99 if args.slo_p99 is not None else base.p99_s,
               max_error_ratio=args.max_error_ratio if args.max_error_ratio is not None else base.max_error_ratio,
               error_codes=base.error_codes)


def cmd_run(args) -> int:
    from loadtests.harness.api import run_scenario
    from loadtests.harness.report import summary_lines
    from loadtests.harness.slo import describe
    from loadtests.harness.target import Target
    from loadtests.harness.workload import load_scenario

    scenario = load_scenario(args.scenario)
    s = scenario.schedule
    if args.max_seconds or args.max_requests:
        scenario = replace(scenario, schedule=Schedule(s.shape, s.process, s.seed, args.max_requests or s.max_requests,
                                                       args.max_seconds or s.max_seconds))
    scenario = replace(scenario, slo=_slo(scenario.slo, args))
    if args.client_scheduling:
        scenario = replace(scenario, client_scheduling=args.client_scheduling)
    if args.retry_refused is not None:
        scenario = replace(scenario, retry_refused=args.retry_refused)
    with Target(args.address, args.start_service, args.allow_remote, args.ray_address, args.app,
                scenario.replica_poll_s, add_models=tuple(args.add_model),
                max_generations_in_flight=args.max_generations_in_flight, overrides=tuple(args.overrides)) as target:
        report = run_scenario(target, scenario, args.out, chart=not args.no_chart)
    for line in summary_lines(report):
        print(line)
    print(describe(report["slo"]))
    png = report["files"]["png"]
    print(f"report: {report['files']['json']}" + (f"  chart: {png}" if png else ""))
    return report["slo"]["exit_code"]


def cmd_capacity(args) -> int:
    from loadtests.harness import capacity
    from loadtests.harness.target import Target
    from loadtests.harness.workload import Slo

    mix = capacity.build_mix(args.mix, args.model, args.steps, args.deadline)
    slo = _slo(Slo(), args)
    base = replace(capacity.base_scenario(mix, slo, args.process, args.seed, args.max_in_flight, 1.0),
                   client_scheduling=args.client_scheduling)
    confirm = tuple(float(x) for x in args.confirm.split(",") if x.strip())
    with Target(args.address, args.start_service, args.allow_remote, args.ray_address, args.app, 1.0,
                add_models=tuple(args.add_model), max_generations_in_flight=args.max_generations_in_flight,
                overrides=tuple(args.overrides)) as target:
        result = capacity.search(target, base, args.out, start_rps=args.start_rps, growth=args.growth,
                                 max_rps=args.max_rps, step_seconds=args.step_seconds, refine=args.refine,
                                 cooldown_s=args.cooldown, confirm=confirm, min_rps=args.min_rps)
    result["model"], result["mix_name"] = args.model, args.mix
    from loadtests.harness.report import machine, write_json

    result["machine"] = machine()
    write_json(result, args.out / "capacity.json")
    best = result["capacity_rps"]
    print(f"capacity for {args.model} / {args.mix} at p99 <= {slo.p99_s} s and error ratio <= {slo.max_error_ratio}: "
          + (f"none (fails down to {args.min_rps} req/s)" if best is None else f"{best:.3f} req/s")
          + (f"; {result['note']}" if result["note"] else ""))
    for c in result["confirmations"]:
        print(f"  at {c['fraction']:.0%} ({c['rate_rps']:.3f} req/s): p50 {c['p50_s']:.3f} s, p99 {c['p99_s']:.3f} s, "
              f"{c['verdict']}")
    print(f"report: {args.out / 'capacity.json'}")
    return capacity.exit_code(result)


def cmd_judge(args) -> int:
    from loadtests.harness.slo import describe, judge
    from loadtests.harness.workload import Slo

    report = json.loads(args.report.read_text())
    s = report["scenario"]["slo"]
    verdict = judge(report, _slo(Slo(s["p99_s"], s["max_error_ratio"], tuple(s["error_codes"])), args))
    print(describe(verdict))
    return verdict["exit_code"]


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        return {"run": cmd_run, "capacity": cmd_capacity, "judge": cmd_judge}[args.command](args)
    except KeyboardInterrupt:
        log("interrupted")
        return EXIT_ERROR
    except Exception as exc:  # noqa: BLE001 - any harness/setup failure is exit code 2
        log(f"harness error: {type(exc).__name__}: {exc}")
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
