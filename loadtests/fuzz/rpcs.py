"""The RPCs under fuzz, and what the oracle allows for each.

Every RPC may answer OK, INVALID_ARGUMENT, RESOURCE_EXHAUSTED (overload), DEADLINE_EXCEEDED (the
fuzzer's own deadline) or CANCELLED; some also NOT_FOUND or PERMISSION_DENIED (see `Rpc.extra`).
UNAVAILABLE is tolerated but counted apart (it must be explained). INTERNAL, UNKNOWN and anything
else are violations. INVALID_ARGUMENT details must start with "<field>: " where <field> is a field
of the request message (or one of `Rpc.extra_fields`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2

from genmedia.v1 import generation_pb2 as pb
from genmedia.v1 import provenance_pb2 as ppb
from genmedia.v1 import safety_pb2 as spb

C = grpc.StatusCode
BASE_ALLOWED = frozenset({C.OK, C.INVALID_ARGUMENT, C.RESOURCE_EXHAUSTED, C.DEADLINE_EXCEEDED, C.CANCELLED})
TOLERATED = frozenset({C.UNAVAILABLE})


@dataclass(frozen=True)
class Rpc:
    name: str
    path: str
    request: type[Message]
    response: type[Message]
    stream: bool = False
    extra: frozenset = frozenset()
    extra_fields: tuple[str, ...] = ()
    fields: frozenset = field(default=frozenset(), init=False)

    def __post_init__(self):
        # "request": the whole message did not parse (genmedia/grpc_servicers.py answers INVALID_ARGUMENT).
        names = {f.name for f in self.request.DESCRIPTOR.fields} | set(self.extra_fields) | {"request"}
        names |= {o.name for o in self.request.DESCRIPTOR.oneofs}
        object.__setattr__(self, "fields", frozenset(names))

    @property
    def allowed(self) -> frozenset:
        return BASE_ALLOWED | self.extra


_GEN = "/genmedia.v1.GenerationService/"
_GEN_CODES = frozenset({C.PERMISSION_DENIED})
RPCS: dict[str, Rpc] = {r.name: r for r in [
    Rpc("GenerateImage", _GEN + "GenerateImage", pb.ImageRequest, pb.GenerationResult, extra=_GEN_CODES),
    Rpc("StreamImage", _GEN + "StreamImage", pb.ImageRequest, pb.GenerationEvent, True, _GEN_CODES),
    Rpc("GenerateVideo", _GEN + "GenerateVideo", pb.VideoRequest, pb.GenerationResult, extra=_GEN_CODES),
    Rpc("StreamVideo", _GEN + "StreamVideo", pb.VideoRequest, pb.GenerationEvent, True, _GEN_CODES),
    Rpc("GenerateAudio", _GEN + "GenerateAudio", pb.AudioRequest, pb.GenerationResult, extra=_GEN_CODES),
    Rpc("StreamAudio", _GEN + "StreamAudio", pb.AudioRequest, pb.GenerationEvent, True, _GEN_CODES),
    Rpc("GetGeneration", _GEN + "GetGeneration", pb.GetGenerationRequest, pb.GenerationResult,
        extra=frozenset({C.NOT_FOUND})),
    Rpc("ClassifyPrompt", "/genmedia.v1.SafetyService/ClassifyPrompt", spb.ClassifyPromptRequest, spb.SafetyVerdict),
    Rpc("ClassifyImage", "/genmedia.v1.SafetyService/ClassifyImage", spb.ClassifyImageRequest, spb.SafetyVerdict),
    Rpc("Verify", "/genmedia.v1.ProvenanceService/Verify", ppb.VerifyRequest, ppb.VerifyResult,
        extra=frozenset({C.NOT_FOUND})),
    Rpc("GetRecord", "/genmedia.v1.ProvenanceService/GetRecord", ppb.GetRecordRequest, ppb.ProvenanceRecord,
        extra=frozenset({C.NOT_FOUND})),
    Rpc("Check", "/grpc.health.v1.Health/Check", health_pb2.HealthCheckRequest, health_pb2.HealthCheckResponse,
        extra=frozenset({C.NOT_FOUND})),
]}
