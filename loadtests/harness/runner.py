"""The open-loop runner: every request goes out at its scheduled time, whatever the responses do.

An asyncio loop sleeps until each arrival's intended time and starts the call as a task on one
grpc.aio channel; it never waits for earlier responses. Latency = completion - *intended* send
time, so a late send (client lag, or the safety valve) is charged to the request rather than
hidden (no coordinated omission). Each request's gRPC deadline is its kind's `deadline_s`, also
counted from the intended time.

Retries (`client.retry_refused`, off by default): a call refused with RESOURCE_EXHAUSTED is sent
again after the `retry-after-ms` the service sent (what a well-behaved client does; the refusal
was never admitted, so this is safe for every kind), while its deadline allows, at most that many
times. The record keeps the first attempt's code and the number of attempts; the latency still
runs from the first intended send.

The safety valve: at most `max_in_flight` calls at once. If an arrival finds the valve shut it
waits for a slot (its latency still counts from its intended time) and the run is marked invalid:
the client, not the service, shaped the load. The send lag (actual - intended send time) is
recorded too; a p99 lag above the scenario's `max_send_lag_s` also marks the run invalid (an
overloaded client machine).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import grpc

from genmedia.client import MAX_MESSAGE_BYTES, aio_metadata_interceptors, auth_metadata
from genmedia.proxy_admission import RETRY_AFTER_KEY
from loadtests.common import log
from loadtests.harness import client_scheduling
from loadtests.harness.workload import MAKES_ARTIFACT, NEEDS_ARTIFACT, Artifacts, KindSpec, NoArtifact, Scenario, \
    Stubs, call

START_LEAD_S = 0.5          # the first arrival's time is this far after the scheduler starts


class SetupError(RuntimeError):
    """The run could not start (no connection, warm-up failed everywhere): exit code 2."""


@dataclass
class Record:
    n: int
    kind: str
    intended: float            # s from t0
    sent: float | None         # s from t0; None when not sent (expired in the valve, no artifact)
    done: float                # s from t0
    code: str                  # grpc.StatusCode name, or CLIENT_* for client-side failures
    first_event: float | None = None  # s from t0, streaming kinds
    valve_wait: bool = False
    attempts: int = 1
    first_code: str | None = None      # the first attempt's code, when it was retried

    @property
    def latency(self) -> float:
        return self.done - self.intended


@dataclass
class RunResult:
    scenario: Scenario
    address: str
    t0_unix: float
    planned: int
    records: list[Record] = field(default_factory=list)
    warmup: list[dict[str, Any]] = field(default_factory=list)
    valve_hits: int = 0
    max_in_flight_seen: int = 0
    issue_seconds: float = 0.0     # from t0 to the last send
    wall_seconds: float = 0.0      # from t0 to the last completion
    faults: list[dict[str, Any]] = field(default_factory=list)  # as injected: at_s (from t0) and the outcome


async def _warm_up(scenario: Scenario, stubs: Stubs, artifacts: Artifacts, metadata: tuple) -> list[dict[str, Any]]:
    """`warmup_requests` sequential calls of each kind (artifact makers first), not counted; makes
    sure verify/get_generation have an artifact. Raises SetupError if the service never answers."""
    out = []
    kinds = sorted({k.kind: k for k in scenario.mix.kinds}.values(), key=lambda k: k.kind not in MAKES_ARTIFACT)
    if any(k.kind in NEEDS_ARTIFACT for k in kinds) and not any(k.kind in MAKES_ARTIFACT for k in kinds):
        kinds.insert(0, KindSpec("image", 1.0, 60.0, {}))
    needs_artifact = any(k.kind in NEEDS_ARTIFACT for k in kinds)
    for spec in kinds:
        for i in range(max(scenario.warmup_requests, int(needs_artifact and spec.kind in MAKES_ARTIFACT))):
            started = time.monotonic()
            try:
                await call(spec, stubs, 1_000_000_000 + i, max(spec.deadline_s, 60.0), artifacts, metadata)
                code = "OK"
            except grpc.aio.AioRpcError as exc:
                code = exc.code().name
                log(f"warm-up {spec.kind}: {code} {exc.details()[:200]}")
            except NoArtifact as exc:
                code = "CLIENT_NO_ARTIFACT"
                log(f"warm-up {spec.kind}: {exc}")
            out.append({"kind": spec.kind, "code": code, "seconds": time.monotonic() - started})
    if out and all(w["code"] == "UNAVAILABLE" for w in out):
        raise SetupError("every warm-up request failed with UNAVAILABLE: is the service up?")
    return out


def _retry_wait_s(exc: grpc.aio.AioRpcError) -> float | None:
    """Seconds to wait before sending a refused call again (its retry-after-ms, 1 s if absent);
    None when the error is not a refusal."""
    if exc.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
        return None
    for key, value in exc.trailing_metadata() or ():
        if key == RETRY_AFTER_KEY:
            try:
                return max(0.0, float(value) / 1000.0)
            except ValueError:
                break
    return 1.0


# Carries out one scenario fault (blocking; run in a thread) and returns its record.
Injector = Callable[[Any], dict[str, Any]]


async def run_async(address: str, scenario: Scenario, progress_every_s: float = 5.0,
                    inject: Injector | None = None) -> RunResult:
    metadata = (("application", scenario.application),) if scenario.application else ()
    options = [("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)]
    interceptors = aio_metadata_interceptors(auth_metadata())  # the API key in $GENMEDIA_API_KEY, if any
    async with grpc.aio.insecure_channel(address, options=options, interceptors=interceptors) as channel:
        try:
            await asyncio.wait_for(channel.channel_ready(), timeout=30)
        except asyncio.TimeoutError:
            raise SetupError(f"could not connect to {address} within 30 s") from None
        stubs = Stubs(channel)
        artifacts = Artifacts()
        warmup = await _warm_up(scenario, stubs, artifacts, metadata)
        if scenario.client_scheduling != "normal":
            try:
                changed = client_scheduling.apply(scenario.client_scheduling)
            except client_scheduling.SchedulingError as exc:
                raise SetupError(str(exc)) from None
            log(f"client scheduling {scenario.client_scheduling}: {changed} threads")
        try:
            return await _schedule(address, scenario, stubs, artifacts, metadata, warmup, inject, progress_every_s)
        finally:
            if scenario.client_scheduling != "normal":
                client_scheduling.apply("normal")


async def _schedule(address: str, scenario: Scenario, stubs: Stubs, artifacts: Artifacts, metadata: tuple,
                    warmup: list[dict[str, Any]], inject: Injector | None, progress_every_s: float) -> RunResult:
    """Issues every arrival at its intended time and waits for all of them (and the faults)."""
    times = scenario.schedule.times()
    kinds = scenario.mix.draw(len(times), scenario.schedule.seed)
    loop = asyncio.get_running_loop()
    t0 = loop.time() + START_LEAD_S
    result = RunResult(scenario, address, time.time() + (t0 - loop.time()), len(times), warmup=warmup)
    valve = asyncio.Semaphore(scenario.max_in_flight)
    in_flight = 0

    async def issue(n: int, spec: KindSpec, intended: float) -> None:
        nonlocal in_flight
        waited = valve.locked()
        if waited:
            result.valve_hits += 1
        async with valve:
            in_flight += 1
            result.max_in_flight_seen = max(result.max_in_flight_seen, in_flight)
            sent = loop.time() - t0
            remaining = spec.deadline_s - (sent - intended)
            first = None
            attempts, first_code = 0, None
            try:
                if remaining <= 0:
                    code, sent = "DEADLINE_EXCEEDED", None  # expired while waiting at the valve
                while remaining > 0:
                    attempts += 1
                    try:
                        first = await call(spec, stubs, n, remaining, artifacts, metadata)
                        code = "OK"
                        break
                    except grpc.aio.AioRpcError as exc:
                        code = exc.code().name
                        wait_s = _retry_wait_s(exc) if attempts <= scenario.retry_refused else None
                        remaining = spec.deadline_s - (loop.time() - t0 - intended) - (wait_s or 0.0)
                        if wait_s is None or remaining <= 0:
                            break
                        first_code = first_code or code
                        await asyncio.sleep(wait_s)
                        remaining = spec.deadline_s - (loop.time() - t0 - intended)
            except NoArtifact:
                code, sent = "CLIENT_NO_ARTIFACT", None
            except Exception as exc:  # noqa: BLE001 - a harness bug must not stop the schedule
                code = "CLIENT_ERROR"
                log(f"request {n} ({spec.kind}): {type(exc).__name__}: {exc}")
            finally:
                in_flight -= 1
            done = loop.time() - t0
            result.records.append(Record(n, spec.kind, intended, sent, done, code,
                                         None if first is None else first - t0, waited, max(1, attempts),
                                         first_code))

    async def fault(spec) -> None:
        await asyncio.sleep(max(0.0, t0 + spec.at_s - loop.time()))
        at_s = loop.time() - t0
        if inject is None:
            record = {"ok": False, "error": "no Ray driver attached: faults need --start-service or --ray-address"}
        else:
            record = await loop.run_in_executor(None, inject, spec)
        record = {**spec.describe(), **record, "at_s": at_s}
        log(f"fault at {record['at_s']:.1f} s: {spec.action} {spec.target}: "
            f"{record.get('replica', '')} {'ok' if record.get('ok') else record.get('error')}")
        result.faults.append(record)

    fault_tasks = [asyncio.create_task(fault(spec)) for spec in scenario.faults]
    tasks = []
    next_progress = progress_every_s
    for n, (intended, spec) in enumerate(zip(times, kinds)):
        delay = t0 + intended - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(issue(n, spec, intended)))
        if intended >= next_progress:
            log(f"t={intended:6.1f} s  sent {n + 1}/{len(times)}  done {len(result.records)}  "
                f"in flight {in_flight}")
            next_progress += progress_every_s
    result.issue_seconds = loop.time() - t0
    if tasks:
        await asyncio.gather(*tasks)
    if fault_tasks:
        await asyncio.gather(*fault_tasks)
    result.wall_seconds = loop.time() - t0
    result.records.sort(key=lambda r: r.n)
    return result


def run(address: str, scenario: Scenario, inject: Injector | None = None) -> RunResult:
    """Runs `scenario` against `address` (blocking) and returns every request's record; `inject`
    carries out the scenario's faults."""
    return asyncio.run(run_async(address, scenario, inject=inject))
