from genmedia.v1 import safety_pb2 as _safety_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MediaKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MEDIA_KIND_UNSPECIFIED: _ClassVar[MediaKind]
    MEDIA_KIND_IMAGE: _ClassVar[MediaKind]
    MEDIA_KIND_VIDEO: _ClassVar[MediaKind]
    MEDIA_KIND_AUDIO: _ClassVar[MediaKind]

class VideoContainer(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VIDEO_CONTAINER_UNSPECIFIED: _ClassVar[VideoContainer]
    VIDEO_CONTAINER_MP4: _ClassVar[VideoContainer]
    VIDEO_CONTAINER_WEBM: _ClassVar[VideoContainer]

class AudioFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AUDIO_FORMAT_UNSPECIFIED: _ClassVar[AudioFormat]
    AUDIO_FORMAT_WAV: _ClassVar[AudioFormat]
    AUDIO_FORMAT_FLAC: _ClassVar[AudioFormat]
    AUDIO_FORMAT_MP3: _ClassVar[AudioFormat]

class Scheduler(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SCHEDULER_UNSPECIFIED: _ClassVar[Scheduler]
    SCHEDULER_DDIM: _ClassVar[Scheduler]
    SCHEDULER_DPMPP_2M: _ClassVar[Scheduler]
    SCHEDULER_DPMPP_2M_KARRAS: _ClassVar[Scheduler]
    SCHEDULER_EULER: _ClassVar[Scheduler]
    SCHEDULER_EULER_ANCESTRAL: _ClassVar[Scheduler]
    SCHEDULER_LCM: _ClassVar[Scheduler]
    SCHEDULER_FLOW_MATCH_EULER: _ClassVar[Scheduler]

class ImageFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IMAGE_FORMAT_UNSPECIFIED: _ClassVar[ImageFormat]
    IMAGE_FORMAT_PNG: _ClassVar[ImageFormat]
    IMAGE_FORMAT_JPEG: _ClassVar[ImageFormat]
    IMAGE_FORMAT_WEBP: _ClassVar[ImageFormat]
MEDIA_KIND_UNSPECIFIED: MediaKind
MEDIA_KIND_IMAGE: MediaKind
MEDIA_KIND_VIDEO: MediaKind
MEDIA_KIND_AUDIO: MediaKind
VIDEO_CONTAINER_UNSPECIFIED: VideoContainer
VIDEO_CONTAINER_MP4: VideoContainer
VIDEO_CONTAINER_WEBM: VideoContainer
AUDIO_FORMAT_UNSPECIFIED: AudioFormat
AUDIO_FORMAT_WAV: AudioFormat
AUDIO_FORMAT_FLAC: AudioFormat
AUDIO_FORMAT_MP3: AudioFormat
SCHEDULER_UNSPECIFIED: Scheduler
SCHEDULER_DDIM: Scheduler
SCHEDULER_DPMPP_2M: Scheduler
SCHEDULER_DPMPP_2M_KARRAS: Scheduler
SCHEDULER_EULER: Scheduler
SCHEDULER_EULER_ANCESTRAL: Scheduler
SCHEDULER_LCM: Scheduler
SCHEDULER_FLOW_MATCH_EULER: Scheduler
IMAGE_FORMAT_UNSPECIFIED: ImageFormat
IMAGE_FORMAT_PNG: ImageFormat
IMAGE_FORMAT_JPEG: ImageFormat
IMAGE_FORMAT_WEBP: ImageFormat

class ImageRequest(_message.Message):
    __slots__ = ("prompt", "negative_prompt", "model", "width", "height", "steps", "guidance_scale", "scheduler", "seed", "num_images", "format", "return_bytes", "idempotency_key", "preview")
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    NEGATIVE_PROMPT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    GUIDANCE_SCALE_FIELD_NUMBER: _ClassVar[int]
    SCHEDULER_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    NUM_IMAGES_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    RETURN_BYTES_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    PREVIEW_FIELD_NUMBER: _ClassVar[int]
    prompt: str
    negative_prompt: str
    model: str
    width: int
    height: int
    steps: int
    guidance_scale: float
    scheduler: Scheduler
    seed: int
    num_images: int
    format: ImageFormat
    return_bytes: bool
    idempotency_key: str
    preview: bool
    def __init__(self, prompt: _Optional[str] = ..., negative_prompt: _Optional[str] = ..., model: _Optional[str] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., steps: _Optional[int] = ..., guidance_scale: _Optional[float] = ..., scheduler: _Optional[_Union[Scheduler, str]] = ..., seed: _Optional[int] = ..., num_images: _Optional[int] = ..., format: _Optional[_Union[ImageFormat, str]] = ..., return_bytes: _Optional[bool] = ..., idempotency_key: _Optional[str] = ..., preview: _Optional[bool] = ...) -> None: ...

class VideoRequest(_message.Message):
    __slots__ = ("prompt", "negative_prompt", "model", "width", "height", "num_frames", "fps", "steps", "guidance_scale", "scheduler", "seed", "container", "return_bytes", "idempotency_key")
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    NEGATIVE_PROMPT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    NUM_FRAMES_FIELD_NUMBER: _ClassVar[int]
    FPS_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    GUIDANCE_SCALE_FIELD_NUMBER: _ClassVar[int]
    SCHEDULER_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_FIELD_NUMBER: _ClassVar[int]
    RETURN_BYTES_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    prompt: str
    negative_prompt: str
    model: str
    width: int
    height: int
    num_frames: int
    fps: int
    steps: int
    guidance_scale: float
    scheduler: Scheduler
    seed: int
    container: VideoContainer
    return_bytes: bool
    idempotency_key: str
    def __init__(self, prompt: _Optional[str] = ..., negative_prompt: _Optional[str] = ..., model: _Optional[str] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., num_frames: _Optional[int] = ..., fps: _Optional[int] = ..., steps: _Optional[int] = ..., guidance_scale: _Optional[float] = ..., scheduler: _Optional[_Union[Scheduler, str]] = ..., seed: _Optional[int] = ..., container: _Optional[_Union[VideoContainer, str]] = ..., return_bytes: _Optional[bool] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class AudioRequest(_message.Message):
    __slots__ = ("prompt", "model", "duration_s", "guidance_scale", "top_k", "top_p", "temperature", "seed", "format", "return_bytes", "idempotency_key")
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    GUIDANCE_SCALE_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    TOP_P_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    RETURN_BYTES_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    prompt: str
    model: str
    duration_s: float
    guidance_scale: float
    top_k: int
    top_p: float
    temperature: float
    seed: int
    format: AudioFormat
    return_bytes: bool
    idempotency_key: str
    def __init__(self, prompt: _Optional[str] = ..., model: _Optional[str] = ..., duration_s: _Optional[float] = ..., guidance_scale: _Optional[float] = ..., top_k: _Optional[int] = ..., top_p: _Optional[float] = ..., temperature: _Optional[float] = ..., seed: _Optional[int] = ..., format: _Optional[_Union[AudioFormat, str]] = ..., return_bytes: _Optional[bool] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class GetGenerationRequest(_message.Message):
    __slots__ = ("generation_id",)
    GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    generation_id: str
    def __init__(self, generation_id: _Optional[str] = ...) -> None: ...

class Image(_message.Message):
    __slots__ = ("uri", "url", "width", "height", "sha256", "content_type", "data", "index", "safety")
    URI_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    SAFETY_FIELD_NUMBER: _ClassVar[int]
    uri: str
    url: str
    width: int
    height: int
    sha256: str
    content_type: str
    data: bytes
    index: int
    safety: _safety_pb2.SafetyVerdict
    def __init__(self, uri: _Optional[str] = ..., url: _Optional[str] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., sha256: _Optional[str] = ..., content_type: _Optional[str] = ..., data: _Optional[bytes] = ..., index: _Optional[int] = ..., safety: _Optional[_Union[_safety_pb2.SafetyVerdict, _Mapping]] = ...) -> None: ...

class Video(_message.Message):
    __slots__ = ("uri", "url", "width", "height", "num_frames", "fps", "duration_s", "sha256", "content_type", "data", "safety", "temporal_consistency", "c2pa_embedded")
    URI_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    NUM_FRAMES_FIELD_NUMBER: _ClassVar[int]
    FPS_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    SAFETY_FIELD_NUMBER: _ClassVar[int]
    TEMPORAL_CONSISTENCY_FIELD_NUMBER: _ClassVar[int]
    C2PA_EMBEDDED_FIELD_NUMBER: _ClassVar[int]
    uri: str
    url: str
    width: int
    height: int
    num_frames: int
    fps: int
    duration_s: float
    sha256: str
    content_type: str
    data: bytes
    safety: _safety_pb2.SafetyVerdict
    temporal_consistency: float
    c2pa_embedded: bool
    def __init__(self, uri: _Optional[str] = ..., url: _Optional[str] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., num_frames: _Optional[int] = ..., fps: _Optional[int] = ..., duration_s: _Optional[float] = ..., sha256: _Optional[str] = ..., content_type: _Optional[str] = ..., data: _Optional[bytes] = ..., safety: _Optional[_Union[_safety_pb2.SafetyVerdict, _Mapping]] = ..., temporal_consistency: _Optional[float] = ..., c2pa_embedded: _Optional[bool] = ...) -> None: ...

class Audio(_message.Message):
    __slots__ = ("uri", "url", "duration_s", "sample_rate", "channels", "sha256", "content_type", "data", "c2pa_embedded")
    URI_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    C2PA_EMBEDDED_FIELD_NUMBER: _ClassVar[int]
    uri: str
    url: str
    duration_s: float
    sample_rate: int
    channels: int
    sha256: str
    content_type: str
    data: bytes
    c2pa_embedded: bool
    def __init__(self, uri: _Optional[str] = ..., url: _Optional[str] = ..., duration_s: _Optional[float] = ..., sample_rate: _Optional[int] = ..., channels: _Optional[int] = ..., sha256: _Optional[str] = ..., content_type: _Optional[str] = ..., data: _Optional[bytes] = ..., c2pa_embedded: _Optional[bool] = ...) -> None: ...

class StageTimings(_message.Message):
    __slots__ = ("queued_s", "text_encode_s", "denoise_s", "decode_s", "store_s", "total_s", "safety_prompt_s", "safety_image_s", "generate_s", "seal_s")
    QUEUED_S_FIELD_NUMBER: _ClassVar[int]
    TEXT_ENCODE_S_FIELD_NUMBER: _ClassVar[int]
    DENOISE_S_FIELD_NUMBER: _ClassVar[int]
    DECODE_S_FIELD_NUMBER: _ClassVar[int]
    STORE_S_FIELD_NUMBER: _ClassVar[int]
    TOTAL_S_FIELD_NUMBER: _ClassVar[int]
    SAFETY_PROMPT_S_FIELD_NUMBER: _ClassVar[int]
    SAFETY_IMAGE_S_FIELD_NUMBER: _ClassVar[int]
    GENERATE_S_FIELD_NUMBER: _ClassVar[int]
    SEAL_S_FIELD_NUMBER: _ClassVar[int]
    queued_s: float
    text_encode_s: float
    denoise_s: float
    decode_s: float
    store_s: float
    total_s: float
    safety_prompt_s: float
    safety_image_s: float
    generate_s: float
    seal_s: float
    def __init__(self, queued_s: _Optional[float] = ..., text_encode_s: _Optional[float] = ..., denoise_s: _Optional[float] = ..., decode_s: _Optional[float] = ..., store_s: _Optional[float] = ..., total_s: _Optional[float] = ..., safety_prompt_s: _Optional[float] = ..., safety_image_s: _Optional[float] = ..., generate_s: _Optional[float] = ..., seal_s: _Optional[float] = ...) -> None: ...

class GenerationResult(_message.Message):
    __slots__ = ("generation_id", "images", "seed", "model", "model_version", "timings", "width", "height", "steps", "guidance_scale", "scheduler", "created_at", "prompt_safety", "kind", "videos", "audios", "num_frames", "fps", "duration_s", "top_k", "top_p", "temperature")
    GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    GUIDANCE_SCALE_FIELD_NUMBER: _ClassVar[int]
    SCHEDULER_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    PROMPT_SAFETY_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    VIDEOS_FIELD_NUMBER: _ClassVar[int]
    AUDIOS_FIELD_NUMBER: _ClassVar[int]
    NUM_FRAMES_FIELD_NUMBER: _ClassVar[int]
    FPS_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    TOP_P_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    generation_id: str
    images: _containers.RepeatedCompositeFieldContainer[Image]
    seed: int
    model: str
    model_version: str
    timings: StageTimings
    width: int
    height: int
    steps: int
    guidance_scale: float
    scheduler: Scheduler
    created_at: str
    prompt_safety: _safety_pb2.SafetyVerdict
    kind: MediaKind
    videos: _containers.RepeatedCompositeFieldContainer[Video]
    audios: _containers.RepeatedCompositeFieldContainer[Audio]
    num_frames: int
    fps: int
    duration_s: float
    top_k: int
    top_p: float
    temperature: float
    def __init__(self, generation_id: _Optional[str] = ..., images: _Optional[_Iterable[_Union[Image, _Mapping]]] = ..., seed: _Optional[int] = ..., model: _Optional[str] = ..., model_version: _Optional[str] = ..., timings: _Optional[_Union[StageTimings, _Mapping]] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., steps: _Optional[int] = ..., guidance_scale: _Optional[float] = ..., scheduler: _Optional[_Union[Scheduler, str]] = ..., created_at: _Optional[str] = ..., prompt_safety: _Optional[_Union[_safety_pb2.SafetyVerdict, _Mapping]] = ..., kind: _Optional[_Union[MediaKind, str]] = ..., videos: _Optional[_Iterable[_Union[Video, _Mapping]]] = ..., audios: _Optional[_Iterable[_Union[Audio, _Mapping]]] = ..., num_frames: _Optional[int] = ..., fps: _Optional[int] = ..., duration_s: _Optional[float] = ..., top_k: _Optional[int] = ..., top_p: _Optional[float] = ..., temperature: _Optional[float] = ...) -> None: ...

class GenerationEvent(_message.Message):
    __slots__ = ("generation_id", "queued", "prompt_encoded", "step", "decoded", "stored", "done", "error", "prompt_checked", "phase")
    class Queued(_message.Message):
        __slots__ = ("position",)
        POSITION_FIELD_NUMBER: _ClassVar[int]
        position: int
        def __init__(self, position: _Optional[int] = ...) -> None: ...
    class PromptChecked(_message.Message):
        __slots__ = ("verdict",)
        VERDICT_FIELD_NUMBER: _ClassVar[int]
        verdict: _safety_pb2.SafetyVerdict
        def __init__(self, verdict: _Optional[_Union[_safety_pb2.SafetyVerdict, _Mapping]] = ...) -> None: ...
    class PromptEncoded(_message.Message):
        __slots__ = ("cache_hit",)
        CACHE_HIT_FIELD_NUMBER: _ClassVar[int]
        cache_hit: bool
        def __init__(self, cache_hit: _Optional[bool] = ...) -> None: ...
    class Step(_message.Message):
        __slots__ = ("step", "total", "preview_png")
        STEP_FIELD_NUMBER: _ClassVar[int]
        TOTAL_FIELD_NUMBER: _ClassVar[int]
        PREVIEW_PNG_FIELD_NUMBER: _ClassVar[int]
        step: int
        total: int
        preview_png: bytes
        def __init__(self, step: _Optional[int] = ..., total: _Optional[int] = ..., preview_png: _Optional[bytes] = ...) -> None: ...
    class Decoded(_message.Message):
        __slots__ = ()
        def __init__(self) -> None: ...
    class Phase(_message.Message):
        __slots__ = ("name",)
        class Name(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
            __slots__ = ()
            NAME_UNSPECIFIED: _ClassVar[GenerationEvent.Phase.Name]
            NAME_DECODING: _ClassVar[GenerationEvent.Phase.Name]
            NAME_SAFETY_CHECK: _ClassVar[GenerationEvent.Phase.Name]
            NAME_SEALING: _ClassVar[GenerationEvent.Phase.Name]
            NAME_STORING: _ClassVar[GenerationEvent.Phase.Name]
        NAME_UNSPECIFIED: GenerationEvent.Phase.Name
        NAME_DECODING: GenerationEvent.Phase.Name
        NAME_SAFETY_CHECK: GenerationEvent.Phase.Name
        NAME_SEALING: GenerationEvent.Phase.Name
        NAME_STORING: GenerationEvent.Phase.Name
        NAME_FIELD_NUMBER: _ClassVar[int]
        name: GenerationEvent.Phase.Name
        def __init__(self, name: _Optional[_Union[GenerationEvent.Phase.Name, str]] = ...) -> None: ...
    class Stored(_message.Message):
        __slots__ = ("uris",)
        URIS_FIELD_NUMBER: _ClassVar[int]
        uris: _containers.RepeatedScalarFieldContainer[str]
        def __init__(self, uris: _Optional[_Iterable[str]] = ...) -> None: ...
    class Error(_message.Message):
        __slots__ = ("code", "message")
        CODE_FIELD_NUMBER: _ClassVar[int]
        MESSAGE_FIELD_NUMBER: _ClassVar[int]
        code: int
        message: str
        def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...
    GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    PROMPT_ENCODED_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    DECODED_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    PROMPT_CHECKED_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    generation_id: str
    queued: GenerationEvent.Queued
    prompt_encoded: GenerationEvent.PromptEncoded
    step: GenerationEvent.Step
    decoded: GenerationEvent.Decoded
    stored: GenerationEvent.Stored
    done: GenerationResult
    error: GenerationEvent.Error
    prompt_checked: GenerationEvent.PromptChecked
    phase: GenerationEvent.Phase
    def __init__(self, generation_id: _Optional[str] = ..., queued: _Optional[_Union[GenerationEvent.Queued, _Mapping]] = ..., prompt_encoded: _Optional[_Union[GenerationEvent.PromptEncoded, _Mapping]] = ..., step: _Optional[_Union[GenerationEvent.Step, _Mapping]] = ..., decoded: _Optional[_Union[GenerationEvent.Decoded, _Mapping]] = ..., stored: _Optional[_Union[GenerationEvent.Stored, _Mapping]] = ..., done: _Optional[_Union[GenerationResult, _Mapping]] = ..., error: _Optional[_Union[GenerationEvent.Error, _Mapping]] = ..., prompt_checked: _Optional[_Union[GenerationEvent.PromptChecked, _Mapping]] = ..., phase: _Optional[_Union[GenerationEvent.Phase, _Mapping]] = ...) -> None: ...
