"""Generation results as stored manifests, and generation ids.

A manifest (JSON) is written next to the artifacts after they are stored and before the client
hears of the result, so GetGeneration can return it again. Until the provenance record store
lands, the manifest is the record.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

from genmedia.errors import InvalidArgument, NotFound
from storage import ArtifactStore, manifest_key
from storage.keys import check_tenant

MANIFEST_VERSION = 3  # 2: safety verdicts (prompt, per image); blocked images have no key. 3: kind, videos, audios


def new_generation_id() -> str:
    """A UUIDv7 (RFC 9562): time-ordered, and its timestamp locates the manifest by date."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | (rand >> 68 & 0xFFF) << 64 | 0b10 << 62 | rand & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))


def generation_time(generation_id: str) -> datetime:
    """The creation time embedded in a UUIDv7. Raises InvalidArgument for anything else."""
    try:
        parsed = uuid.UUID(generation_id)
    except (ValueError, AttributeError, TypeError):
        raise InvalidArgument("generation_id", "must be a UUID as returned by GenerateImage") from None
    if parsed.version != 7 or str(parsed) != generation_id:
        raise InvalidArgument("generation_id", "must be a UUID as returned by GenerateImage")
    try:
        return datetime.fromtimestamp((parsed.int >> 80) / 1000, tz=timezone.utc)
    except (ValueError, OverflowError, OSError):  # a timestamp past the year 9999: never one of ours
        raise InvalidArgument("generation_id", "must be a UUID as returned by GenerateImage") from None


@dataclass(frozen=True)
class ImageRecord:
    index: int
    key: str            # "" when safety blocked the image (nothing stored)
    uri: str
    width: int
    height: int
    sha256: str
    content_type: str
    safety: dict | None = None  # safety.Verdict.to_dict()

    @property
    def stored(self) -> bool:
        return bool(self.key)


@dataclass(frozen=True)
class VideoRecord:
    index: int
    key: str
    uri: str
    width: int
    height: int
    num_frames: int
    fps: int
    sha256: str
    content_type: str
    temporal_consistency: float
    c2pa_embedded: bool
    safety: dict | None = None  # the strictest sampled frame's verdict


@dataclass(frozen=True)
class AudioRecord:
    index: int
    key: str
    uri: str
    duration_s: float
    sample_rate: int
    channels: int
    sha256: str
    content_type: str
    c2pa_embedded: bool


@dataclass(frozen=True)
class GenerationRecord:
    generation_id: str
    tenant: str
    model: str
    model_version: str
    seed: int
    width: int
    height: int
    steps: int
    guidance_scale: float
    scheduler: str
    created_at: str  # RFC 3339 UTC
    images: tuple[ImageRecord, ...]
    timings: dict[str, float] = field(default_factory=dict)
    prompt_safety: dict | None = None  # safety.Verdict.to_dict()
    version: int = MANIFEST_VERSION
    kind: str = "image"  # image | video | audio
    videos: tuple[VideoRecord, ...] = ()
    audios: tuple[AudioRecord, ...] = ()
    # Effective parameters of the kind: video num_frames, fps; audio duration_s, top_k, top_p, temperature.
    media_params: dict = field(default_factory=dict)

    def to_json(self) -> bytes:
        return json.dumps(dataclasses.asdict(self), sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> "GenerationRecord":
        raw = json.loads(data)
        raw["images"] = tuple(ImageRecord(**i) for i in raw["images"])
        raw["videos"] = tuple(VideoRecord(**v) for v in raw.get("videos", ()))
        raw["audios"] = tuple(AudioRecord(**a) for a in raw.get("audios", ()))
        return cls(**raw)


def save_manifest(store: ArtifactStore, record: GenerationRecord) -> None:
    key = manifest_key(record.tenant, record.generation_id, generation_time(record.generation_id))
    store.put(key, record.to_json(), content_type="application/json", metadata={"generation-id": record.generation_id})


def load_manifest(store: ArtifactStore, tenant: str, generation_id: str) -> GenerationRecord:
    """Raises InvalidArgument for a malformed id and NotFound when the tenant has no such generation."""
    key = manifest_key(tenant, generation_id, generation_time(generation_id))
    try:
        return GenerationRecord.from_json(store.get(key))
    except NotFound:
        raise NotFound(f"generation {generation_id} not found") from None


def idempotency_object_key(tenant: str, idempotency_key: str) -> str:
    """Where the generation id of an idempotency key is kept (the key itself is hashed)."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()
    return f"{check_tenant(tenant)}/idempotency/{digest}.json"
