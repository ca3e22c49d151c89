"""Replays one request (as the fuzzer reports it: the RPC and the raw bytes as hex) and prints the
status, the details and what the oracle says.

    python -m loadtests.fuzz.replay --address 127.0.0.1:9000 Verify 0a43...
"""

from __future__ import annotations

import argparse
import sys

import grpc

from loadtests.fuzz.oracle import describe, judge
from loadtests.fuzz.runner import CHANNEL_OPTIONS, send_sync
from loadtests.fuzz.strategies import Case


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m loadtests.fuzz.replay")
    p.add_argument("--address", default="127.0.0.1:9000")
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("rpc")
    p.add_argument("hex", help="the request bytes as hex ('-': read them from stdin)")
    args = p.parse_args(argv)
    data = bytes.fromhex((sys.stdin.read() if args.hex == "-" else args.hex).strip())
    with grpc.insecure_channel(args.address, options=CHANNEL_OPTIONS) as channel:
        outcome = send_sync(channel, Case(args.rpc, data, "replay", args.timeout))
    problems = judge(args.rpc, outcome)
    print(f"request: {describe(args.rpc, data)}")
    print(f"status: {outcome.code.name}\ndetails: {outcome.details[:500]!r}\nproblems: {problems or 'none'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
