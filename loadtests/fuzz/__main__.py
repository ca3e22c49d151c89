"""python -m loadtests.fuzz: a property-based fuzz run against a genmedia service on loopback.

    python -m loadtests.fuzz --address 127.0.0.1:9000 --count 100000 [--concurrency 32] [--seed N]
    python -m loadtests.fuzz --start-service [--port P] --count 100000 [--max-minutes 20]

Prints the counts per RPC x status and per case kind x status, every violation (INTERNAL, UNKNOWN,
any status not allowed for the RPC, INVALID_ARGUMENT not naming a field, a traceback in details, a
stream whose error event disagrees with its status) with the request as hex and decoded, the
UNAVAILABLE answers apart, and the replica restarts (read from the service's Ray instance: with
--start-service, or --gcs-address plus RAY_AUTH_TOKEN for a service started elsewhere). Exit 1 on
any violation or restart, 2 when the restart check could not run and --require-restart-check.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import signal
import sys
import tempfile
import time
from pathlib import Path


def log(message: str) -> None:
    print(f"[fuzz {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m loadtests.fuzz", description=__doc__.split("\n\n")[0])
    p.add_argument("--address", default=None, help="host:port of the gRPC proxy (loopback only)")
    p.add_argument("--start-service", action="store_true", help="start a private service (tiny models, local "
                                                                "storage) for the run, and stop it after")
    p.add_argument("--port", type=int, default=None, help="gRPC port for --start-service (default: a free one)")
    p.add_argument("--count", type=int, default=100_000)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-minutes", type=float, default=None, help="stop sending after this long")
    p.add_argument("--rpcs", default=None, help="comma-separated subset of RPCs")
    p.add_argument("--no-large", action="store_true", help="no 20 MB / 49 MP payloads")
    p.add_argument("--gcs-address", default=None, help="Ray GCS of a service started elsewhere (restart check)")
    p.add_argument("--require-restart-check", action="store_true")
    p.add_argument("--json", type=Path, default=None, help="also write the tallies and violations here")
    args = p.parse_args(argv)
    if not args.start_service and not args.address:
        p.error("give --address or --start-service")
    if args.address:
        host = args.address.rsplit(":", 1)[0].strip("[]")
        if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
            p.error("--address must be a loopback address")
    return args


class _External:
    """Enough of loadtests.service_runner.Service for the replica driver, for a service started elsewhere."""

    def __init__(self, gcs: str):
        self._gcs = gcs

    def gcs_address(self) -> str:
        return self._gcs

    def env(self) -> dict:
        import os
        return dict(os.environ)


def main(argv=None) -> int:
    args = parse_args(argv)
    from loadtests.fuzz.generator import CaseGenerator
    from loadtests.fuzz.runner import run, table
    from loadtests.fuzz.service import replica_snapshot, restarts_between, start_fuzz_service

    def on_sigterm(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    service = None
    ray_target = _External(args.gcs_address) if args.gcs_address else None
    status = 0
    try:
        if args.start_service:
            workdir = Path(tempfile.mkdtemp(prefix="genmedia-fuzz-"))
            log(f"starting the service (work dir {workdir})")
            service = start_fuzz_service(workdir, args.port)
            ray_target = service
            args.address = service.address
            log(f"SERVING on {service.address}")
        before = replica_snapshot(ray_target) if ray_target is not None else None
        log(f"replicas before: {len(before) if before is not None else 'unknown'}")
        rpcs = args.rpcs.split(",") if args.rpcs else None
        generator = CaseGenerator(seed=args.seed, rpcs=rpcs, large=not args.no_large)
        log(f"sending {args.count} cases, {args.concurrency} at a time, seed {args.seed}")
        tally = asyncio.run(run(args.address, generator.next, args.count, args.concurrency, log=log,
                                max_seconds=args.max_minutes * 60 if args.max_minutes else None))
        time.sleep(2)
        after = replica_snapshot(ray_target) if ray_target is not None else None
        restarts = restarts_between(before, after) if before is not None and after is not None else None

        elapsed = tally.finished - tally.started
        print(table(tally))
        print(f"requests: {tally.total} in {elapsed:.0f} s ({tally.total / max(elapsed, 1e-9):.1f}/s), "
              f"{tally.bytes_sent / 1e6:.1f} MB sent, seed {args.seed}")
        if tally.tolerated:
            print(f"\nUNAVAILABLE (tolerated, must be explained): {sum(n for (r, c), n in tally.by_rpc.items() if c == 'UNAVAILABLE')}")
            for v in tally.tolerated[:5]:
                print("  " + v.report().replace("\n", "\n  "))
        print(f"\nviolations: {tally.violation_count} ({len(tally.violation_keys)} distinct)")
        for (origin, rpc, code, problem, details), n in tally.violation_keys.most_common():
            print(f"  {n:>7} x [{origin}] {rpc} {code}: {problem} | {details!r}")
        if tally.violations:
            print("\nreproducers (the smallest requests of each distinct violation):")
            for v in tally.violations:
                print("  " + v.report().replace("\n", "\n  "))
        if restarts is None:
            print("\nreplica restarts: NOT CHECKED (no access to the service's Ray instance)")
            if args.require_restart_check:
                status = max(status, 2)
        else:
            print(f"\nreplica restarts: {len(restarts)} ({len(after)} replica actors after, {len(before)} before)")
            for line in restarts:
                print("  " + line)
        if tally.violation_count or restarts:
            status = 1
        if args.json:
            args.json.write_text(json.dumps({
                "count": tally.total, "seconds": elapsed, "seed": args.seed,
                "by_rpc": {f"{r} {c}": n for (r, c), n in sorted(tally.by_rpc.items())},
                "by_kind": {f"{k} {c}": n for (k, c), n in sorted(tally.by_kind.items())},
                "details": {f"{r} {c}": d for (r, c), d in sorted(tally.details.items())},
                "violations": [v.report() for v in tally.violations],
                "unavailable": [v.report() for v in tally.tolerated],
                "violation_counts": {" | ".join(k): n for k, n in tally.violation_keys.items()},
                "restarts": restarts}, indent=1))
    except KeyboardInterrupt:
        status = 130
    finally:
        if service is not None:
            if status not in (0, 1):
                log("service log tail:\n" + service.log_tail())
            service.stop()
    return status


if __name__ == "__main__":
    sys.exit(main())
