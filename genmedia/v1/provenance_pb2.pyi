from genmedia.v1 import safety_pb2 as _safety_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Authenticity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AUTHENTICITY_UNSPECIFIED: _ClassVar[Authenticity]
    AUTHENTICITY_GENERATED_HERE: _ClassVar[Authenticity]
    AUTHENTICITY_LIKELY_GENERATED_HERE: _ClassVar[Authenticity]
    AUTHENTICITY_CLAIMED_ONLY: _ClassVar[Authenticity]
    AUTHENTICITY_NOT_FOUND: _ClassVar[Authenticity]
AUTHENTICITY_UNSPECIFIED: Authenticity
AUTHENTICITY_GENERATED_HERE: Authenticity
AUTHENTICITY_LIKELY_GENERATED_HERE: Authenticity
AUTHENTICITY_CLAIMED_ONLY: Authenticity
AUTHENTICITY_NOT_FOUND: Authenticity

class VerifyRequest(_message.Message):
    __slots__ = ("data", "uri")
    DATA_FIELD_NUMBER: _ClassVar[int]
    URI_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    uri: str
    def __init__(self, data: _Optional[bytes] = ..., uri: _Optional[str] = ...) -> None: ...

class GetRecordRequest(_message.Message):
    __slots__ = ("generation_id",)
    GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    generation_id: str
    def __init__(self, generation_id: _Optional[str] = ...) -> None: ...

class WatermarkResult(_message.Message):
    __slots__ = ("found", "payload", "confidence")
    FOUND_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    found: bool
    payload: bytes
    confidence: float
    def __init__(self, found: _Optional[bool] = ..., payload: _Optional[bytes] = ..., confidence: _Optional[float] = ...) -> None: ...

class C2paResult(_message.Message):
    __slots__ = ("present", "valid", "trusted", "errors", "digital_source_type", "generation_id")
    PRESENT_FIELD_NUMBER: _ClassVar[int]
    VALID_FIELD_NUMBER: _ClassVar[int]
    TRUSTED_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    DIGITAL_SOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    present: bool
    valid: bool
    trusted: bool
    errors: _containers.RepeatedScalarFieldContainer[str]
    digital_source_type: str
    generation_id: str
    def __init__(self, present: _Optional[bool] = ..., valid: _Optional[bool] = ..., trusted: _Optional[bool] = ..., errors: _Optional[_Iterable[str]] = ..., digital_source_type: _Optional[str] = ..., generation_id: _Optional[str] = ...) -> None: ...

class FingerprintMatch(_message.Message):
    __slots__ = ("generation_id", "index", "distance", "seconds", "bit_error_rate")
    GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    BIT_ERROR_RATE_FIELD_NUMBER: _ClassVar[int]
    generation_id: str
    index: int
    distance: int
    seconds: _containers.RepeatedScalarFieldContainer[int]
    bit_error_rate: float
    def __init__(self, generation_id: _Optional[str] = ..., index: _Optional[int] = ..., distance: _Optional[int] = ..., seconds: _Optional[_Iterable[int]] = ..., bit_error_rate: _Optional[float] = ...) -> None: ...

class ArtifactRecord(_message.Message):
    __slots__ = ("index", "uri", "sha256", "media_type", "width", "height", "safety")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    URI_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    SAFETY_FIELD_NUMBER: _ClassVar[int]
    index: int
    uri: str
    sha256: str
    media_type: str
    width: int
    height: int
    safety: _safety_pb2.SafetyVerdict
    def __init__(self, index: _Optional[int] = ..., uri: _Optional[str] = ..., sha256: _Optional[str] = ..., media_type: _Optional[str] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., safety: _Optional[_Union[_safety_pb2.SafetyVerdict, _Mapping]] = ...) -> None: ...

class ProvenanceRecord(_message.Message):
    __slots__ = ("generation_id", "created_at", "kind", "model", "model_version", "artifacts", "private_fields", "tenant", "user_id", "prompt_hmac", "prompt", "parameters_json")
    GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    ARTIFACTS_FIELD_NUMBER: _ClassVar[int]
    PRIVATE_FIELDS_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PROMPT_HMAC_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_JSON_FIELD_NUMBER: _ClassVar[int]
    generation_id: str
    created_at: str
    kind: str
    model: str
    model_version: str
    artifacts: _containers.RepeatedCompositeFieldContainer[ArtifactRecord]
    private_fields: bool
    tenant: str
    user_id: str
    prompt_hmac: str
    prompt: str
    parameters_json: str
    def __init__(self, generation_id: _Optional[str] = ..., created_at: _Optional[str] = ..., kind: _Optional[str] = ..., model: _Optional[str] = ..., model_version: _Optional[str] = ..., artifacts: _Optional[_Iterable[_Union[ArtifactRecord, _Mapping]]] = ..., private_fields: _Optional[bool] = ..., tenant: _Optional[str] = ..., user_id: _Optional[str] = ..., prompt_hmac: _Optional[str] = ..., prompt: _Optional[str] = ..., parameters_json: _Optional[str] = ...) -> None: ...

class VerifyResult(_message.Message):
    __slots__ = ("authenticity", "reasons", "watermark", "c2pa", "fingerprint_matches", "record", "media_kind")
    AUTHENTICITY_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    WATERMARK_FIELD_NUMBER: _ClassVar[int]
    C2PA_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_MATCHES_FIELD_NUMBER: _ClassVar[int]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    MEDIA_KIND_FIELD_NUMBER: _ClassVar[int]
    authenticity: Authenticity
    reasons: _containers.RepeatedScalarFieldContainer[str]
    watermark: WatermarkResult
    c2pa: C2paResult
    fingerprint_matches: _containers.RepeatedCompositeFieldContainer[FingerprintMatch]
    record: ProvenanceRecord
    media_kind: str
    def __init__(self, authenticity: _Optional[_Union[Authenticity, str]] = ..., reasons: _Optional[_Iterable[str]] = ..., watermark: _Optional[_Union[WatermarkResult, _Mapping]] = ..., c2pa: _Optional[_Union[C2paResult, _Mapping]] = ..., fingerprint_matches: _Optional[_Iterable[_Union[FingerprintMatch, _Mapping]]] = ..., record: _Optional[_Union[ProvenanceRecord, _Mapping]] = ..., media_kind: _Optional[str] = ...) -> None: ...
