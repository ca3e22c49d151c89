"""Judges one outcome: the status must be allowed for the RPC, INVALID_ARGUMENT must name a field
of the request, no details may carry a traceback, and a stream's `error` event must agree with the
status the stream ends with."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from genmedia.v1 import generation_pb2 as pb
from loadtests.fuzz.rpcs import RPCS, TOLERATED

C = grpc.StatusCode


@dataclass
class Outcome:
    code: grpc.StatusCode
    details: str
    responses: list[bytes]  # raw response messages (one for unary)
    seconds: float


def judge(rpc_name: str, outcome: Outcome) -> list[str]:
    """The problems with `outcome` (empty: fine). UNAVAILABLE is not a problem here (counted apart)."""
    rpc = RPCS[rpc_name]
    problems = []
    code, details = outcome.code, outcome.details or ""
    if code not in rpc.allowed and code not in TOLERATED:
        problems.append(f"status {code.name} is not allowed for {rpc_name}")
    if "metadata size exceeds" in details or len(details.encode()) > 4096:
        problems.append(f"status details too large for the client ({len(details.encode())} B seen): the server put "
                        "unbounded input into the status message, and the client got a transport error instead")
    if "Traceback" in details or 'File "' in details:
        problems.append("details carry a traceback")
    if code == C.INVALID_ARGUMENT:
        head = details.split(":", 1)[0] if ": " in details else ""
        name = head.split(".", 1)[0].split("[", 1)[0].strip()
        if name not in rpc.fields:
            problems.append(f"INVALID_ARGUMENT details do not start with a field of {rpc.request.__name__}: "
                            f"{details[:120]!r}")
    for raw in outcome.responses:
        try:
            rpc.response.FromString(raw)
        except Exception as exc:  # noqa: BLE001
            problems.append(f"response does not parse as {rpc.response.__name__}: {exc}")
            break
    if rpc.stream and outcome.responses:
        try:
            last = pb.GenerationEvent.FromString(outcome.responses[-1])
        except Exception:  # noqa: BLE001 - reported above
            return problems
        if last.HasField("error"):
            if last.error.code != code.value[0]:
                problems.append(f"stream error event code {last.error.code} != status {code.name}")
            if code == C.INVALID_ARGUMENT and last.error.message.split(":", 1)[0] not in rpc.fields:
                problems.append(f"stream error event message does not name a field: {last.error.message[:120]!r}")
        elif code == C.OK and not last.HasField("done"):
            problems.append("stream ended OK without a `done` event")
        elif code not in (C.OK, C.DEADLINE_EXCEEDED, C.CANCELLED, C.RESOURCE_EXHAUSTED, C.UNAVAILABLE):
            problems.append(f"stream ended with {code.name} but its last event is not `error`")
    return problems


def parse_failure(rpc_name: str, data: bytes) -> str | None:
    """Why protobuf cannot parse `data` as the RPC's request, or None when it can."""
    try:
        RPCS[rpc_name].request.FromString(data)
    except Exception as exc:  # noqa: BLE001
        return f"{type(exc).__name__}: {exc}"
    return None


def describe(rpc_name: str, data: bytes, limit: int = 600) -> str:
    """The request as protobuf text (long strings shortened), or why it does not parse."""
    from google.protobuf import text_format

    try:
        msg = RPCS[rpc_name].request.FromString(data)
    except Exception as exc:  # noqa: BLE001
        return f"(unparseable: {type(exc).__name__}: {exc})"
    out = text_format.MessageToString(msg, as_one_line=True, as_utf8=True)
    return out if len(out) <= limit else out[:limit] + f"... ({len(out)} chars)"
