"""Property-based fuzzing of every RPC against the real service (loadtests/fuzz).

1. A bounded fuzz run (3,000 requests, at most 60 s, 16 in flight) through the same generator and
   oracle as `python -m loadtests.fuzz`: typed boundary values, hostile Unicode, raw wire bytes
   (truncated, invalid UTF-8, wrong wire types, out-of-range varints, NaN payloads, deep groups).
   Zero violations: no INTERNAL or UNKNOWN, only the statuses each RPC may answer, every
   INVALID_ARGUMENT naming a field of the request, no oversized or traceback-carrying details.
   Zero replica restarts (the Serve replica actors before and after, read through Ray).
2. Hypothesis-driven (@given) per RPC, one request at a time; with GENMEDIA_FUZZ_SHRINK=1 a
   failure is shrunk to a minimal reproducer (off by default: shrinking through the live service
   can take minutes).
"""

from __future__ import annotations

import asyncio
import os

import grpc
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from loadtests.fuzz import strategies as S
from loadtests.fuzz.generator import CaseGenerator
from loadtests.fuzz.oracle import describe, judge
from loadtests.fuzz.rpcs import RPCS
from loadtests.fuzz.runner import CHANNEL_OPTIONS, run, send_sync, table
from loadtests.fuzz.service import replica_snapshot, restarts_between

pytestmark = [pytest.mark.integration,
              # huge generated strings make hypothesis warn about the size of its example repr
              pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")]

BOUNDED_COUNT = 3000
BOUNDED_SECONDS = 60
EXAMPLES_PER_RPC = 20
# Shrinking a failure through the live service can take minutes per RPC: only when asked for.
PHASES = tuple(Phase) if os.environ.get("GENMEDIA_FUZZ_SHRINK") else (Phase.explicit, Phase.generate)


@pytest.fixture(scope="module")
def channel(service):
    from genmedia.client import MetadataInterceptor, auth_metadata

    with grpc.insecure_channel(service.address, options=CHANNEL_OPTIONS) as ch:
        yield grpc.intercept_channel(ch, MetadataInterceptor(auth_metadata()))


def test_bounded_fuzz_run_has_no_violations_and_no_restarts(service):
    before = replica_snapshot(service)
    assert before, "could not read the service's Serve replicas"
    generator = CaseGenerator(seed=20261122, large=False)
    tally = asyncio.run(run(service.address, generator.next, BOUNDED_COUNT, concurrency=16,
                            max_seconds=BOUNDED_SECONDS, log=lambda m: None))
    after = replica_snapshot(service)
    restarts = restarts_between(before, after or [])
    assert tally.total >= 500, f"only {tally.total} requests in {BOUNDED_SECONDS} s"
    summary = "\n".join([table(tally)] + [f"{n} x {key}" for key, n in tally.violation_keys.most_common()]
                        + [v.report() for v in tally.violations[:12]])
    failures = []
    if after is None:
        failures.append("could not read the service's Serve replicas after the run")
    failures += [f"replica restart: {line}" for line in restarts]
    if tally.violation_count:
        failures.append(f"{tally.violation_count} violations:\n{summary}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("rpc", sorted(RPCS))
def test_every_rpc_property(channel, rpc):
    @settings(max_examples=EXAMPLES_PER_RPC, deadline=None, database=None, phases=PHASES,
              suppress_health_check=list(HealthCheck))
    @given(case=st.one_of(S.case(rpc), S.valid_case(rpc)))
    def prop(case):
        outcome = send_sync(channel, case)
        problems = judge(rpc, outcome)
        assert not problems, (f"{rpc} -> {outcome.code.name}: {outcome.details[:300]!r}: {problems}\n"
                              f"request hex: {case.data[:400].hex()}\ndecoded: {describe(rpc, case.data)}")

    prop()
