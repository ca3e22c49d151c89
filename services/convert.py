"""The edge: protobuf messages <-> internal dataclasses. Nothing past here imports generated code."""

from __future__ import annotations

import json
import math

from engines.audio_files import AudioFormat
from engines.audio_params import RawAudioFields
from engines.image_files import ImageFormat
from engines.video_params import RawVideoFields
from engines.params import RawImageFields
from engines.schedulers import SchedulerName
from genmedia.errors import InvalidArgument
from genmedia.v1 import generation_pb2 as pb
from genmedia.v1 import provenance_pb2 as ppb
from genmedia.v1 import safety_pb2 as spb
from safety.categories import Action, Category
from safety.verdict import Verdict
from services.records import GenerationRecord

_SCHEDULERS = {
    pb.SCHEDULER_UNSPECIFIED: SchedulerName.DEFAULT,
    pb.SCHEDULER_DDIM: SchedulerName.DDIM,
    pb.SCHEDULER_DPMPP_2M: SchedulerName.DPMPP_2M,
    pb.SCHEDULER_DPMPP_2M_KARRAS: SchedulerName.DPMPP_2M_KARRAS,
    pb.SCHEDULER_EULER: SchedulerName.EULER,
    pb.SCHEDULER_EULER_ANCESTRAL: SchedulerName.EULER_ANCESTRAL,
    pb.SCHEDULER_LCM: SchedulerName.LCM,
    pb.SCHEDULER_FLOW_MATCH_EULER: SchedulerName.FLOW_MATCH_EULER,
}
_SCHEDULERS_BACK = {v: k for k, v in _SCHEDULERS.items()}
_FORMATS = {
    pb.IMAGE_FORMAT_UNSPECIFIED: ImageFormat.PNG,
    pb.IMAGE_FORMAT_PNG: ImageFormat.PNG,
    pb.IMAGE_FORMAT_JPEG: ImageFormat.JPEG,
    pb.IMAGE_FORMAT_WEBP: ImageFormat.WEBP,
}
_KINDS = {"image": pb.MEDIA_KIND_IMAGE, "video": pb.MEDIA_KIND_VIDEO, "audio": pb.MEDIA_KIND_AUDIO}
MAX_IDEMPOTENCY_KEY = 128
_CATEGORIES = {c: spb.SafetyCategory.Value(f"SAFETY_CATEGORY_{c.name}") for c in Category}
_ACTIONS = {a: spb.SafetyAction.Value(f"SAFETY_ACTION_{a.name}") for a in Action}


def raw_fields(request: pb.ImageRequest) -> RawImageFields:
    """Reads the request's fields; enum values unknown to this server are INVALID_ARGUMENT."""
    if request.scheduler not in _SCHEDULERS:
        raise InvalidArgument("scheduler", f"unknown value {request.scheduler}")
    guidance = request.guidance_scale if request.HasField("guidance_scale") else None
    if guidance is not None and not math.isfinite(guidance):
        raise InvalidArgument("guidance_scale", "must be a finite number in 0..30")
    return RawImageFields(
        prompt=request.prompt,
        negative_prompt=request.negative_prompt,
        model=request.model,
        width=request.width,
        height=request.height,
        steps=request.steps,
        guidance_scale=guidance,
        scheduler=_SCHEDULERS[request.scheduler],
        seed=request.seed if request.HasField("seed") else None,
        num_images=request.num_images,
    )


_CONTAINERS = {pb.VIDEO_CONTAINER_UNSPECIFIED: "mp4", pb.VIDEO_CONTAINER_MP4: "mp4", pb.VIDEO_CONTAINER_WEBM: "webm"}
_AUDIO_FORMATS = {
    pb.AUDIO_FORMAT_UNSPECIFIED: AudioFormat.WAV,
    pb.AUDIO_FORMAT_WAV: AudioFormat.WAV,
    pb.AUDIO_FORMAT_FLAC: AudioFormat.FLAC,
    pb.AUDIO_FORMAT_MP3: AudioFormat.MP3,
}


def _finite(request, field: str, allowed: str) -> float | None:
    if not request.HasField(field):
        return None
    value = getattr(request, field)
    if not math.isfinite(value):
        raise InvalidArgument(field, f"must be a finite number in {allowed}")
    return value


def raw_video_fields(request: pb.VideoRequest) -> RawVideoFields:
    """Reads a VideoRequest; enum values unknown to this server are INVALID_ARGUMENT."""
    if request.scheduler not in _SCHEDULERS:
        raise InvalidArgument("scheduler", f"unknown value {request.scheduler}")
    if request.container not in _CONTAINERS:
        raise InvalidArgument("container", f"unknown value {request.container}")
    return RawVideoFields(
        prompt=request.prompt, negative_prompt=request.negative_prompt, model=request.model,
        width=request.width, height=request.height, num_frames=request.num_frames, fps=request.fps,
        steps=request.steps, guidance_scale=_finite(request, "guidance_scale", "0..30"),
        scheduler=_SCHEDULERS[request.scheduler], seed=request.seed if request.HasField("seed") else None,
        container=_CONTAINERS[request.container],
    )


def raw_audio_fields(request: pb.AudioRequest) -> RawAudioFields:
    """Reads an AudioRequest (0 duration: the model's default)."""
    if not math.isfinite(request.duration_s):
        raise InvalidArgument("duration_s", "must be a finite number in 1..30")
    return RawAudioFields(
        prompt=request.prompt, model=request.model, duration_s=request.duration_s,
        guidance_scale=_finite(request, "guidance_scale", "0..10"),
        top_k=request.top_k if request.HasField("top_k") else None,
        top_p=_finite(request, "top_p", "0..1"), temperature=_finite(request, "temperature", "0.01..5"),
        seed=request.seed if request.HasField("seed") else None,
    )


def audio_format(request: pb.AudioRequest) -> AudioFormat:
    if request.format not in _AUDIO_FORMATS:
        raise InvalidArgument("format", f"unknown value {request.format}")
    return _AUDIO_FORMATS[request.format]


def image_format(request: pb.ImageRequest) -> ImageFormat:
    if request.format not in _FORMATS:
        raise InvalidArgument("format", f"unknown value {request.format}")
    return _FORMATS[request.format]


def idempotency_key(request: pb.ImageRequest | pb.VideoRequest | pb.AudioRequest) -> str | None:
    key = request.idempotency_key
    if not key:
        return None
    if len(key) > MAX_IDEMPOTENCY_KEY or not all(33 <= ord(c) <= 126 for c in key):
        raise InvalidArgument("idempotency_key", f"must be 1..{MAX_IDEMPOTENCY_KEY} printable ASCII characters")
    return key


def scheduler_to_proto(name: str) -> int:
    return _SCHEDULERS_BACK.get(SchedulerName(name), pb.SCHEDULER_UNSPECIFIED)


def verdict_to_proto(verdict: Verdict | dict | None) -> spb.SafetyVerdict | None:
    """A safety verdict (or its stored dict form) as the public message."""
    if verdict is None:
        return None
    if isinstance(verdict, dict):
        verdict = Verdict.from_dict(verdict)
    return spb.SafetyVerdict(
        action=_ACTIONS[verdict.action],
        categories=[
            spb.CategoryVerdict(
                category=_CATEGORIES[c.category], score=c.score, action=_ACTIONS[c.action], source=c.source,
                evidence=c.evidence, boxes=[spb.Box(x=b.x, y=b.y, width=b.w, height=b.h) for b in c.boxes],
            )
            for c in verdict.categories
        ],
        policy=verdict.policy, policy_version=verdict.policy_version, rules_version=verdict.rules_version,
        model_versions=verdict.model_versions, blurred=verdict.blurred,
    )


_AUTHENTICITY = {
    "generated_here": ppb.AUTHENTICITY_GENERATED_HERE,
    "likely_generated_here": ppb.AUTHENTICITY_LIKELY_GENERATED_HERE,
    "claimed_only": ppb.AUTHENTICITY_CLAIMED_ONLY,
    "not_found": ppb.AUTHENTICITY_NOT_FOUND,
}


def provenance_record_to_proto(record, tenant: str) -> ppb.ProvenanceRecord:
    """A provenance record; private fields (and artifact URIs) only for its own tenant."""
    own = record.tenant == tenant
    msg = ppb.ProvenanceRecord(
        generation_id=record.generation_id, created_at=record.created_at.isoformat(timespec="milliseconds"),
        kind=record.kind, model=record.model, model_version=record.model_version, private_fields=own,
        artifacts=[
            ppb.ArtifactRecord(index=a.index, uri=a.uri if own else "", sha256=a.sha256, media_type=a.media_type,
                               width=a.width or 0, height=a.height or 0, safety=verdict_to_proto(a.safety))
            for a in record.artifacts
        ],
    )
    if own:
        msg.tenant = record.tenant
        msg.user_id = record.user_id or ""
        msg.prompt_hmac = record.prompt_hmac
        msg.prompt = record.prompt or ""
        msg.parameters_json = json.dumps(record.parameters, sort_keys=True) if record.parameters is not None else ""
    return msg


def verify_to_proto(report, tenant: str) -> ppb.VerifyResult:
    msg = ppb.VerifyResult(
        authenticity=_AUTHENTICITY[report.authenticity.value], reasons=list(report.reasons),
        watermark=ppb.WatermarkResult(found=report.watermark_found, payload=report.payload or b"",
                                      confidence=report.watermark_confidence),
        fingerprint_matches=[ppb.FingerprintMatch(generation_id=m.generation_id, index=m.index, distance=m.distance,
                                                  seconds=list(m.seconds), bit_error_rate=m.ber or 0.0)
                             for m in report.matches],
        media_kind=report.media_kind,
    )
    c = report.c2pa
    if c is not None:
        msg.c2pa.CopyFrom(ppb.C2paResult(
            present=c.present, valid=c.valid, trusted=bool(c.trusted), errors=list(c.validation_errors),
            digital_source_type=c.digital_source_type or "", generation_id=c.generation_id or ""))
    if report.record is not None:
        msg.record.CopyFrom(provenance_record_to_proto(report.record, tenant))
    return msg


def result_to_proto(
    record: GenerationRecord, *, urls: dict[int, str] | None = None, data: dict[int, bytes] | None = None
) -> pb.GenerationResult:
    t = record.timings
    return pb.GenerationResult(
        generation_id=record.generation_id,
        images=[
            pb.Image(
                uri=i.uri, url=(urls or {}).get(i.index, ""), width=i.width, height=i.height, sha256=i.sha256,
                content_type=i.content_type, data=(data or {}).get(i.index, b""), index=i.index,
                safety=verdict_to_proto(i.safety),
            )
            for i in record.images
        ],
        seed=record.seed,
        model=record.model,
        model_version=record.model_version,
        timings=pb.StageTimings(
            queued_s=t.get("queued_s", 0.0), text_encode_s=t.get("text_encode_s", 0.0),
            denoise_s=t.get("denoise_s", 0.0), decode_s=t.get("decode_s", 0.0),
            store_s=t.get("store_s", 0.0), total_s=t.get("total_s", 0.0),
            safety_prompt_s=t.get("safety_prompt_s", 0.0), safety_image_s=t.get("safety_image_s", 0.0),
            generate_s=t.get("generate_s", 0.0), seal_s=t.get("seal_s", 0.0),
        ),
        width=record.width,
        height=record.height,
        steps=record.steps,
        guidance_scale=record.guidance_scale,
        scheduler=scheduler_to_proto(record.scheduler),
        created_at=record.created_at,
        prompt_safety=verdict_to_proto(record.prompt_safety),
        kind=_KINDS[record.kind],
        videos=[
            pb.Video(
                uri=v.uri, url=(urls or {}).get(v.index, ""), width=v.width, height=v.height, num_frames=v.num_frames,
                fps=v.fps, duration_s=v.num_frames / v.fps if v.fps else 0.0, sha256=v.sha256,
                content_type=v.content_type, data=(data or {}).get(v.index, b""), safety=verdict_to_proto(v.safety),
                temporal_consistency=v.temporal_consistency, c2pa_embedded=v.c2pa_embedded,
            )
            for v in record.videos
        ],
        audios=[
            pb.Audio(
                uri=a.uri, url=(urls or {}).get(a.index, ""), duration_s=a.duration_s, sample_rate=a.sample_rate,
                channels=a.channels, sha256=a.sha256, content_type=a.content_type,
                data=(data or {}).get(a.index, b""), c2pa_embedded=a.c2pa_embedded,
            )
            for a in record.audios
        ],
        num_frames=int(record.media_params.get("num_frames", 0)),
        fps=int(record.media_params.get("fps", 0)),
        duration_s=float(record.media_params.get("duration_s", 0.0)),
        top_k=int(record.media_params.get("top_k", 0)),
        top_p=float(record.media_params.get("top_p", 0.0)),
        temperature=float(record.media_params.get("temperature", 0.0)),
    )
