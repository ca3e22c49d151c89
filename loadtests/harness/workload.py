"""Request kinds, workload mixes and scenario files.

A *kind* is one RPC with its parameters:

| kind           | RPC                                   | default parameters                          |
| -------------- | ------------------------------------- | ------------------------------------------- |
| image          | GenerationService.GenerateImage       | model tiny-sd, steps 2                      |
| stream_image   | GenerationService.StreamImage (drain) | model tiny-sd, steps 2                      |
| classify       | SafetyService.ClassifyPrompt          | -                                           |
| verify         | ProvenanceService.Verify(uri)         | the URI of an image generated in this run   |
| get_generation | GenerationService.GetGeneration       | the id of a generation made in this run     |
| audio          | GenerationService.GenerateAudio       | model tiny-musicgen, duration_s 2           |
| video          | GenerationService.GenerateVideo       | model tiny-t2v, steps 2                     |

A *mix* is a list of `{kind, weight, deadline_s, params}`; each arrival draws its kind from the
weights with the scenario's seeded RNG (so the sequence of kinds is repeatable). Prompts are
`prompt` with the request number appended (unique: no embedding-cache hits) unless
`unique_prompts: false`.

A *scenario* (YAML or JSON, loadtests/scenarios/) holds `name`, `schedule`, `limits`, `mix`,
`slo`, `client` and `warmup`; `load_scenario(path)` validates it (ValueError naming the field).
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from genmedia.v1 import generation_pb2 as pb
from genmedia.v1 import provenance_pb2 as ppb
from genmedia.v1 import safety_pb2 as spb
from loadtests.harness.client_scheduling import POLICIES as SCHEDULING_POLICIES
from loadtests.harness.schedule import Schedule, schedule_from_dict

DEFAULT_PROMPT = "a lighthouse on a cliff at dusk, oil painting"

DEFAULTS: dict[str, dict[str, Any]] = {
    "image": {"model": "tiny-sd", "steps": 2},
    "stream_image": {"model": "tiny-sd", "steps": 2},
    "classify": {},
    "verify": {},
    "get_generation": {},
    "audio": {"model": "tiny-musicgen", "duration_s": 2.0},
    "video": {"model": "tiny-t2v", "steps": 2},
}
KINDS = tuple(DEFAULTS)
# Kinds that need an artifact made earlier in the run (the warm-up makes one first).
NEEDS_ARTIFACT = {"verify", "get_generation"}
MAKES_ARTIFACT = {"image", "stream_image"}


@dataclass
class Artifacts:
    """Image URIs and generation ids made during the run (for verify and get_generation)."""

    uris: list[str] = field(default_factory=list)
    generation_ids: list[str] = field(default_factory=list)
    keep: int = 64

    def add(self, result: pb.GenerationResult) -> None:
        if result.generation_id:
            self.generation_ids = (self.generation_ids + [result.generation_id])[-self.keep:]
        uris = [image.uri for image in result.images if image.uri]
        if uris:
            self.uris = (self.uris + uris)[-self.keep:]


@dataclass(frozen=True)
class KindSpec:
    kind: str
    weight: float
    deadline_s: float
    params: dict[str, Any]
    prompt: str = DEFAULT_PROMPT
    unique_prompts: bool = True

    def prompt_for(self, n: int) -> str:
        return f"{self.prompt}, study {n}" if self.unique_prompts else self.prompt


class Stubs:
    """The async stubs of one grpc.aio channel."""

    def __init__(self, channel) -> None:
        from genmedia.v1 import generation_pb2_grpc, provenance_pb2_grpc, safety_pb2_grpc

        self.generation = generation_pb2_grpc.GenerationServiceStub(channel)
        self.safety = safety_pb2_grpc.SafetyServiceStub(channel)
        self.provenance = provenance_pb2_grpc.ProvenanceServiceStub(channel)


class NoArtifact(Exception):
    """verify/get_generation before any artifact exists (the request is not sent)."""


async def call(spec: KindSpec, stubs: Stubs, n: int, timeout: float, artifacts: Artifacts,
               metadata: tuple = ()) -> float | None:
    """Sends request number `n` of kind `spec` and waits for its end (raises grpc.aio.AioRpcError
    on a non-OK status). Returns, for streaming kinds, the monotonic time of the first event."""
    p = {**DEFAULTS[spec.kind], **spec.params}
    kw = {"timeout": timeout, "metadata": metadata}
    if spec.kind == "image":
        request = pb.ImageRequest(prompt=spec.prompt_for(n), seed=n, **p)
        artifacts.add(await stubs.generation.GenerateImage(request, **kw))
    elif spec.kind == "stream_image":
        first = None
        async for event in stubs.generation.StreamImage(pb.ImageRequest(prompt=spec.prompt_for(n), seed=n, **p), **kw):
            first = first or time.monotonic()
            if event.HasField("done"):
                artifacts.add(event.done)
        return first
    elif spec.kind == "classify":
        await stubs.safety.ClassifyPrompt(spb.ClassifyPromptRequest(prompt=spec.prompt_for(n)), **kw)
    elif spec.kind == "verify":
        if not artifacts.uris:
            raise NoArtifact("no image generated yet to verify")
        await stubs.provenance.Verify(ppb.VerifyRequest(uri=artifacts.uris[n % len(artifacts.uris)]), **kw)
    elif spec.kind == "get_generation":
        if not artifacts.generation_ids:
            raise NoArtifact("no generation made yet to look up")
        ids = artifacts.generation_ids
        await stubs.generation.GetGeneration(pb.GetGenerationRequest(generation_id=ids[n % len(ids)]), **kw)
    elif spec.kind == "audio":
        await stubs.generation.GenerateAudio(pb.AudioRequest(prompt=spec.prompt_for(n), seed=n, **p), **kw)
    elif spec.kind == "video":
        await stubs.generation.GenerateVideo(pb.VideoRequest(prompt=spec.prompt_for(n), seed=n, **p), **kw)
    else:  # validated at load time
        raise ValueError(spec.kind)
    return None


@dataclass(frozen=True)
class Mix:
    kinds: tuple[KindSpec, ...]

    def draw(self, count: int, seed: int) -> list[KindSpec]:
        """The kinds of `count` arrivals, drawn from the weights with a seeded RNG (repeatable)."""
        rng = random.Random(seed ^ 0x5EED)
        weights = [k.weight for k in self.kinds]
        return rng.choices(self.kinds, weights=weights, k=count)

    def describe(self) -> list[dict[str, Any]]:
        total = sum(k.weight for k in self.kinds)
        return [{"kind": k.kind, "weight": k.weight, "share": k.weight / total, "deadline_s": k.deadline_s,
                 "params": {**DEFAULTS[k.kind], **k.params}} for k in self.kinds]


def mix_from_list(items: list[dict[str, Any]], default_deadline_s: float = 30.0) -> Mix:
    if not items:
        raise ValueError("mix: at least one kind is needed")
    kinds = []
    for i, item in enumerate(items):
        item = dict(item)
        kind = item.pop("kind", None)
        if kind not in KINDS:
            raise ValueError(f"mix[{i}].kind must be one of {list(KINDS)}, got {kind!r}")
        weight = float(item.pop("weight", 1.0))
        deadline = float(item.pop("deadline_s", default_deadline_s))
        if weight <= 0 or deadline <= 0:
            raise ValueError(f"mix[{i}]: weight and deadline_s must be positive")
        params = dict(item.pop("params", {}) or {})
        prompt = str(item.pop("prompt", DEFAULT_PROMPT))
        unique = bool(item.pop("unique_prompts", True))
        if item:
            raise ValueError(f"mix[{i}]: unknown fields {sorted(item)}")
        kinds.append(KindSpec(kind, weight, deadline, params, prompt, unique))
    return Mix(tuple(kinds))


BUILTIN_MIXES = {
    # for `capacity --mix NAME`: one kind each, or a small blend
    "image": [{"kind": "image"}],
    "stream_image": [{"kind": "stream_image"}],
    "classify": [{"kind": "classify"}],
    "verify": [{"kind": "verify"}],
    "audio": [{"kind": "audio"}],
    "video": [{"kind": "video"}],
    "image+classify": [{"kind": "image", "weight": 1}, {"kind": "classify", "weight": 1}],
}


@dataclass(frozen=True)
class Slo:
    p99_s: float = 2.0
    max_error_ratio: float = 0.01
    # Server-side failure codes counted as errors; client-caused codes (INVALID_ARGUMENT,
    # PERMISSION_DENIED from a safety block, NOT_FOUND, ...) are reported but not counted.
    error_codes: tuple[str, ...] = ("UNKNOWN", "INTERNAL", "UNAVAILABLE", "RESOURCE_EXHAUSTED", "DEADLINE_EXCEEDED",
                                    "DATA_LOSS", "ABORTED", "UNIMPLEMENTED", "CANCELLED")


@dataclass(frozen=True)
class Fault:
    """A fault injected during the run (chaos scenarios), at `at_s` from the first intended send:

    - `kill_replica`: kill one live replica of `deployment` (Serve must replace it); needs the Ray
      driver the replica series uses (--start-service, or --ray-address).
    - `exec`: run `command` (an argv list, no shell; `${VAR}` taken from the harness's environment),
      then `undo` after `undo_after_s`: e.g. stop the S3 server for 10 s, restart the database,
      `kubectl delete pod ...`.
    """
    at_s: float
    action: str
    deployment: str = ""
    command: tuple[str, ...] = ()
    undo: tuple[str, ...] = ()
    undo_after_s: float = 0.0
    name: str = ""

    def describe(self) -> dict[str, Any]:
        if self.action == "kill_replica":
            return {"at_s": self.at_s, "action": self.action, "deployment": self.deployment}
        return {"at_s": self.at_s, "action": self.action, "name": self.name, "command": list(self.command),
                "undo": list(self.undo), "undo_after_s": self.undo_after_s}

    @property
    def target(self) -> str:
        return self.deployment or self.name


FAULT_ACTIONS = ("kill_replica", "exec")


def _argv(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(a, (str, int)) for a in value):
        raise ValueError(f"{where}: an argv list of strings, e.g. [kill, -STOP, '${{S3_PID}}']")
    return tuple(str(a) for a in value)


def faults_from_list(items: list[dict[str, Any]]) -> tuple[Fault, ...]:
    faults = []
    for i, item in enumerate(items):
        where = f"faults[{i}]"
        if not isinstance(item, dict) or "at_s" not in item:
            raise ValueError(f"{where}: expected {{at_s: S, kill_replica: Deployment}} or {{at_s: S, exec: [...]}}")
        at_s = float(item["at_s"])
        if not 0 <= at_s < 86400:
            raise ValueError(f"{where}.at_s: must be in [0, 86400) seconds")
        if "kill_replica" in item:
            if set(item) - {"at_s", "kill_replica"}:
                raise ValueError(f"{where}: kill_replica takes only at_s, got {sorted(item)}")
            if not isinstance(item["kill_replica"], str) or not item["kill_replica"]:
                raise ValueError(f"{where}.kill_replica: a deployment name (Denoiser, TextEncoder, ...)")
            faults.append(Fault(at_s, "kill_replica", deployment=item["kill_replica"]))
        elif "exec" in item:
            if set(item) - {"at_s", "exec", "undo", "undo_after_s", "name"}:
                raise ValueError(f"{where}: exec takes at_s, name, exec, undo, undo_after_s; got {sorted(item)}")
            command = _argv(item["exec"], f"{where}.exec")
            undo = _argv(item["undo"], f"{where}.undo") if "undo" in item else ()
            undo_after_s = float(item.get("undo_after_s", 0.0))
            if not 0 <= undo_after_s <= 3600:
                raise ValueError(f"{where}.undo_after_s: must be in [0, 3600] seconds")
            faults.append(Fault(at_s, "exec", command=command, undo=undo, undo_after_s=undo_after_s,
                                name=str(item.get("name") or command[0])))
        else:
            raise ValueError(f"{where}: give kill_replica or exec")
    return tuple(sorted(faults, key=lambda f: f.at_s))


MAX_RETRY_REFUSED = 20


@dataclass(frozen=True)
class Scenario:
    name: str
    schedule: Schedule
    mix: Mix
    slo: Slo
    max_in_flight: int = 256        # safety valve only; hitting it makes the run invalid
    max_send_lag_s: float = 0.25    # send lag p99 above this (a starved client) makes the run invalid
    warmup_requests: int = 1        # per kind, sequential, before the clock; not counted
    replica_poll_s: float = 1.0
    application: str | None = None  # the `application` metadata, when several Serve apps share the proxy
    client_scheduling: str = "normal"  # normal | fifo: see loadtests/harness/client_scheduling.py
    retry_refused: int = 0          # RESOURCE_EXHAUSTED retried this many times after its retry-after-ms
    source: str = ""
    faults: tuple[Fault, ...] = ()

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "schedule": self.schedule.describe(),
                "mix": self.mix.describe(), "slo": {"p99_s": self.slo.p99_s,
                                                    "max_error_ratio": self.slo.max_error_ratio,
                                                    "error_codes": list(self.slo.error_codes)},
                "client": {"max_in_flight": self.max_in_flight, "max_send_lag_s": self.max_send_lag_s,
                           "warmup_requests": self.warmup_requests,
                           "replica_poll_s": self.replica_poll_s, "application": self.application,
                           "scheduling": self.client_scheduling, "retry_refused": self.retry_refused},
                "faults": [f.describe() for f in self.faults]}


def scenario_from_dict(doc: dict[str, Any], source: str = "") -> Scenario:
    known = {"name", "description", "schedule", "limits", "mix", "slo", "client", "warmup", "faults"}
    unknown = set(doc) - known
    if unknown:
        raise ValueError(f"scenario: unknown sections {sorted(unknown)} (known: {sorted(known)})")
    client = dict(doc.get("client") or {})
    slo_doc = dict(doc.get("slo") or {})
    slo = Slo(p99_s=float(slo_doc.pop("p99_s", Slo.p99_s)),
              max_error_ratio=float(slo_doc.pop("max_error_ratio", Slo.max_error_ratio)),
              error_codes=tuple(slo_doc.pop("error_codes", Slo.error_codes)))
    if slo_doc:
        raise ValueError(f"slo: unknown fields {sorted(slo_doc)}")
    return Scenario(
        name=str(doc.get("name") or Path(source).stem or "scenario"),
        schedule=schedule_from_dict(doc.get("schedule") or {}, doc.get("limits")),
        mix=mix_from_list(doc.get("mix") or [], float(client.get("deadline_s", 30.0))),
        slo=slo,
        max_in_flight=int(client.get("max_in_flight", 256)),
        max_send_lag_s=float(client.get("max_send_lag_s", 0.25)),
        warmup_requests=int((doc.get("warmup") or {}).get("requests_per_kind", 1)),
        replica_poll_s=float(client.get("replica_poll_s", 1.0)),
        application=client.get("application"),
        client_scheduling=_client_scheduling(client.get("scheduling", "normal")),
        retry_refused=_retry_refused(client.get("retry_refused", 0)),
        source=source,
        faults=faults_from_list(doc.get("faults") or []),
    )


def _client_scheduling(value: Any) -> str:
    if value not in SCHEDULING_POLICIES:
        raise ValueError(f"client.scheduling: {value!r} is not one of {list(SCHEDULING_POLICIES)}")
    return str(value)


def _retry_refused(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_RETRY_REFUSED:
        raise ValueError(f"client.retry_refused: {value!r} is not a whole number from 0 to {MAX_RETRY_REFUSED}")
    return value


def load_scenario(path: str | Path) -> Scenario:
    """A scenario file (.yaml/.yml/.json) -> Scenario; ValueError when it is not valid."""
    path = Path(path)
    text = path.read_text()
    doc = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: a scenario is a mapping")
    return scenario_from_dict(doc, source=str(path))
