"""Sends cases to the service concurrently (grpc.aio, raw bytes: no serializer on either side) and
tallies the outcomes per RPC x status and per case kind; keeps reproducers of every violation."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

import grpc

from genmedia.client import aio_metadata_interceptors, auth_metadata
from genmedia.v1 import generation_pb2 as pb
from loadtests.fuzz.oracle import Outcome, describe, judge, parse_failure
from loadtests.fuzz.rpcs import RPCS
from loadtests.fuzz.strategies import KNOWN, Case

C = grpc.StatusCode
CHANNEL_OPTIONS = [("grpc.max_receive_message_length", 256 * 1024 * 1024),
                   ("grpc.max_send_message_length", 256 * 1024 * 1024)]
SAMPLES_PER_KEY = 2  # details kept per RPC x status; reproducers kept per unparseable-request violation
INTERNAL_SAMPLES = 8  # reproducers kept per violation of genmedia code


@dataclass
class Violation:
    case: Case
    outcome: Outcome
    problems: list[str]

    def report(self) -> str:
        data = self.case.data
        hexed = data.hex() if len(data) <= 512 else data[:512].hex() + f"... ({len(data)} bytes)"
        unparseable = parse_failure(self.case.rpc, data)
        origin = ("the request does not parse as protobuf: it is rejected by grpcio's deserializer in Ray "
                  "Serve's gRPC proxy, before any genmedia code runs" if unparseable else "genmedia code")
        return (f"{self.case.rpc} [{self.case.kind}] -> {self.outcome.code.name}: {self.outcome.details[:300]!r}\n"
                f"    problems: {'; '.join(self.problems)}\n    where: {origin}\n"
                f"    request ({len(data)} bytes) hex: {hexed}\n    decoded: {describe(self.case.rpc, data)}")


@dataclass
class Tally:
    by_rpc: Counter = field(default_factory=Counter)  # (rpc, code name) -> n
    by_kind: Counter = field(default_factory=Counter)  # (kind, code name) -> n
    samples: dict = field(default_factory=dict)  # violation key -> its smallest Violations
    violation_keys: Counter = field(default_factory=Counter)
    tolerated: list[Violation] = field(default_factory=list)  # UNAVAILABLE answers (a few)
    _rng: random.Random = field(default_factory=lambda: random.Random(0), repr=False)
    details: dict = field(default_factory=dict)  # (rpc, code name) -> a few distinct details
    sent: int = 0
    bytes_sent: int = 0
    started: float = field(default_factory=time.monotonic)
    finished: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.by_rpc.values())

    def record(self, case: Case, outcome: Outcome, problems: list[str]) -> None:
        key = (case.rpc, outcome.code.name)
        self.by_rpc[key] += 1
        self.by_kind[(case.kind.split(":")[0] if case.kind.startswith("mut") else case.kind, outcome.code.name)] += 1
        seen = self.details.setdefault(key, [])
        short = outcome.details[:160]
        if len(seen) < SAMPLES_PER_KEY and short not in seen:
            seen.append(short)
        if problems:
            # Every distinct kind of violation, with its smallest few requests as reproducers.
            # Unparseable requests are grouped apart: grpcio rejects them before genmedia code runs.
            origin = "proxy-parse" if parse_failure(case.rpc, case.data) else "genmedia"
            too_large = problems[0].startswith("status details too large")
            vkey = (origin, case.rpc, outcome.code.name, problems[0][:24] if too_large else problems[0][:60],
                    "(input echoed in details)" if too_large else outcome.details[:60])
            self.violation_keys[vkey] += 1
            keep = SAMPLES_PER_KEY if origin == "proxy-parse" else INTERNAL_SAMPLES
            samples = self.samples.setdefault(vkey, [])
            violation = Violation(case, outcome, problems)
            # Half the slots: the smallest requests; the other half: a uniform sample (reservoir), so
            # that one status hiding several causes (INTERNAL) shows more than its smallest kind.
            n = self.violation_keys[vkey]
            if len(samples) < keep:
                samples.append(violation)
            elif len(case.data) < max(len(v.case.data) for v in samples[: keep // 2]):
                largest = max(range(keep // 2), key=lambda i: len(samples[i].case.data))
                samples[largest] = violation
            elif self._rng.random() < (keep - keep // 2) / n:
                samples[keep // 2 + self._rng.randrange(keep - keep // 2)] = violation
        elif outcome.code == C.UNAVAILABLE and len(self.tolerated) < 20:
            self.tolerated.append(Violation(case, outcome, ["UNAVAILABLE (tolerated: must be explained)"]))

    @property
    def violations(self) -> list[Violation]:
        return [v for key in sorted(self.samples) for v in sorted(self.samples[key], key=lambda v: len(v.case.data))]

    @property
    def violation_count(self) -> int:
        return sum(self.violation_keys.values())


def _learn(rpc: str, raw: bytes) -> None:
    """Remembers generation ids and URIs of OK generation results for later cases."""
    try:
        if RPCS[rpc].stream:
            event = pb.GenerationEvent.FromString(raw)
            if not event.HasField("done"):
                return
            result = event.done
        elif RPCS[rpc].response is pb.GenerationResult:
            result = pb.GenerationResult.FromString(raw)
        else:
            return
    except Exception:  # noqa: BLE001 - the oracle reports it
        return
    uris = [i.uri for i in result.images] + [v.uri for v in result.videos] + [a.uri for a in result.audios]
    KNOWN.add(result.generation_id, uris)


async def send(channel: grpc.aio.Channel, case: Case) -> Outcome:
    rpc = RPCS[case.rpc]
    started = time.monotonic()
    responses: list[bytes] = []
    try:
        if rpc.stream:
            call = channel.unary_stream(rpc.path)(case.data, timeout=case.timeout_s)
            async for raw in call:
                responses.append(raw)
            code, details = await call.code(), await call.details()
        else:
            call = channel.unary_unary(rpc.path)(case.data, timeout=case.timeout_s)
            responses.append(await call)
            code, details = await call.code(), await call.details()
    except grpc.aio.AioRpcError as err:
        code, details = err.code(), err.details() or ""
    return Outcome(code, details or "", responses, time.monotonic() - started)


def send_sync(channel: grpc.Channel, case: Case) -> Outcome:
    """`send` on a blocking channel (for hypothesis-driven tests, one request at a time)."""
    rpc = RPCS[case.rpc]
    started = time.monotonic()
    responses: list[bytes] = []
    try:
        if rpc.stream:
            call = channel.unary_stream(rpc.path)(case.data, timeout=case.timeout_s)
            for raw in call:
                responses.append(raw)
            code, details = call.code(), call.details()
        else:
            raw, call = channel.unary_unary(rpc.path).with_call(case.data, timeout=case.timeout_s)
            responses.append(raw)
            code, details = call.code(), call.details()
    except grpc.RpcError as err:
        code, details = err.code(), err.details() or ""
    return Outcome(code, details or "", responses, time.monotonic() - started)


async def run(address: str, next_case: Callable[[], Case], count: int, concurrency: int = 32,
              progress_every: float = 30.0, log: Callable[[str], None] = print, max_seconds: float | None = None
              ) -> Tally:
    """Sends `count` cases (or as many as fit in `max_seconds`) with `concurrency` in flight."""
    tally = Tally()
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    interceptors = aio_metadata_interceptors(auth_metadata())  # the API key in $GENMEDIA_API_KEY, if any
    async with grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS, interceptors=interceptors) as channel:
        await channel.channel_ready()
        issued = 0
        last_log = time.monotonic()

        async def worker() -> None:
            nonlocal issued, last_log
            while issued < count and (deadline is None or time.monotonic() < deadline):
                issued += 1
                case = next_case()
                tally.sent += 1
                tally.bytes_sent += len(case.data)
                outcome = await send(channel, case)
                if outcome.code == C.OK:
                    for raw in outcome.responses[-1:]:
                        _learn(case.rpc, raw)
                tally.record(case, outcome, judge(case.rpc, outcome))
                now = time.monotonic()
                if now - last_log > progress_every:
                    last_log = now
                    rate = tally.total / max(1e-9, now - tally.started)
                    log(f"{tally.total} done, {rate:.0f}/s, violations {tally.violation_count}")

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    tally.finished = time.monotonic()
    return tally


def table(tally: Tally) -> str:
    """Counts per RPC x status, then per case kind x status."""
    codes = sorted({c for _, c in tally.by_rpc} | {c for _, c in tally.by_kind})
    lines = []
    for title, counter in (("rpc", tally.by_rpc), ("kind", tally.by_kind)):
        rows = sorted({r for r, _ in counter})
        width = max([len(title)] + [len(r) for r in rows])
        lines.append(f"{title:<{width}} " + " ".join(f"{c[:11]:>11}" for c in codes) + f" {'total':>8}")
        for r in rows:
            lines.append(f"{r:<{width}} " + " ".join(f"{counter.get((r, c), 0):>11}" for c in codes)
                         + f" {sum(counter.get((r, c), 0) for c in codes):>8}")
        lines.append(f"{'total':<{width}} " + " ".join(
            f"{sum(n for (_, cc), n in counter.items() if cc == c):>11}" for c in codes) + f" {sum(counter.values()):>8}")
        lines.append("")
    return "\n".join(lines)
