"""The records kept for every released artifact: `GenerationRecord` with its `ArtifactRecord` s.

Both are frozen dataclasses, checked on construction: a bad field raises
`genmedia.errors.InvalidArgument` naming it (``record.artifacts[1].sha256``), so nothing
malformed reaches the database. Times are tz-aware UTC (aware inputs are converted; naive ones
are refused, since their zone is a guess). JSON fields (``parameters``, the safety verdicts) must
be JSON-serialisable; they come back from the store as plain JSON (tuples become lists).
"""

from __future__ import annotations

import json
import math
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from genmedia.errors import InvalidArgument
from storage.keys import check_tenant

KINDS = ("image", "video", "audio")
PAYLOAD_BYTES = 8
FINGERPRINT_BYTES = 32
MAX_MEDIA_HASH_BYTES = 1024      # one second of a media fingerprint (PDQ: 32; audio: 4 a frame)
MAX_MEDIA_SECONDS = 24 * 3600
DEFAULT_KEY_ID = "default"

MAX_NAME = 255          # model, model_version, user_id, media_type
MAX_URI = 2048
MAX_KEY_ID = 64

_HEX64 = re.compile(r"[0-9a-f]{64}")
_KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def canonical_generation_id(value: str | uuid.UUID, field_name: str = "generation_id") -> str:
    """``value`` as a canonical lowercase UUID string; `InvalidArgument` if it is not a UUID."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, str):
        try:
            parsed = uuid.UUID(value)
        except ValueError:
            parsed = None
        if parsed is not None and str(parsed) == value.lower():
            return str(parsed)
    raise InvalidArgument(field_name, f"must be a UUID, got {value!r:.80}")


def utc(value: datetime, field_name: str) -> datetime:
    """A tz-aware datetime converted to UTC; `InvalidArgument` for anything else."""
    if not isinstance(value, datetime):
        raise InvalidArgument(field_name, f"must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidArgument(field_name, "must be timezone-aware (UTC)")
    return value.astimezone(UTC)


def _text(value: object, field_name: str, max_len: int, *, empty_ok: bool = False) -> str:
    if not isinstance(value, str) or (not value and not empty_ok) or len(value) > max_len:
        raise InvalidArgument(field_name, f"must be a string of 1 to {max_len} characters, "
                                          f"got {value!r:.80}")
    if "\x00" in value:
        raise InvalidArgument(field_name, "must not contain NUL characters")
    return value


def _hex64(value: object, field_name: str) -> str:
    if not isinstance(value, str) or _HEX64.fullmatch(value) is None:
        raise InvalidArgument(field_name, f"must be 64 lowercase hex digits, got {value!r:.80}")
    return value


def _blob(value: object, field_name: str, size: int) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)) or len(bytes(value)) != size:
        raise InvalidArgument(field_name, f"must be exactly {size} bytes")
    return bytes(value)


def _json(value: Any, field_name: str) -> Any:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidArgument(field_name, f"must be a JSON object (dict) or None, got "
                                          f"{type(value).__name__}")
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(field_name, f"must be JSON-serialisable: {exc}") from None
    return value


def _optional_int(value: object, field_name: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise InvalidArgument(field_name, f"must be a positive int or None, got {value!r:.40}")
    return value


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)  # frozen dataclasses normalise fields this way


@dataclass(frozen=True)
class MediaFingerprint:
    """One second of a video's or audio clip's fingerprint.

    Video: ``hash`` is the 32-byte PDQ hash of the frame nearest ``second`` (shown at
    ``offset_s``), ``quality`` its PDQ quality. Audio: ``hash`` is that second's 32-bit
    sub-fingerprints (big-endian, 4 bytes each), ``quality`` None."""

    second: int
    offset_s: float
    hash: bytes
    quality: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.second, int) or isinstance(self.second, bool) or not (
                0 <= self.second <= MAX_MEDIA_SECONDS):
            raise InvalidArgument("second", f"must be an int from 0 to {MAX_MEDIA_SECONDS}, "
                                            f"got {self.second!r:.40}")
        if (not isinstance(self.offset_s, (int, float)) or isinstance(self.offset_s, bool)
                or not math.isfinite(self.offset_s) or self.offset_s < 0):
            raise InvalidArgument("offset_s", "must be a finite number >= 0")
        _set(self, "offset_s", float(self.offset_s))
        if not isinstance(self.hash, (bytes, bytearray, memoryview)) or not (
                1 <= len(bytes(self.hash)) <= MAX_MEDIA_HASH_BYTES):
            raise InvalidArgument("hash", f"must be 1 to {MAX_MEDIA_HASH_BYTES} bytes")
        _set(self, "hash", bytes(self.hash))
        if self.quality is not None and (not isinstance(self.quality, int) or isinstance(
                self.quality, bool) or not 0 <= self.quality <= 100):
            raise InvalidArgument("quality", "must be an int from 0 to 100 or None")


@dataclass(frozen=True)
class ArtifactRecord:
    """One released artifact (an image, a video, an audio clip) of a generation."""

    generation_id: str
    index: int
    uri: str
    sha256: str                      # hex of the stored bytes
    media_type: str                  # "image/png", "video/mp4", ...
    watermark_payload: bytes         # PAYLOAD_BYTES, see provenance.records.hmac
    fingerprint: bytes | None        # FINGERPRINT_BYTES PDQ hash (video: of its first frame);
                                     # None for audio
    safety: dict | None = None       # safety.Verdict.to_dict() for this artifact
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None
    watermark_key_id: str = DEFAULT_KEY_ID  # which watermark key the payload was embedded with
    kind: str = "image"              # one of KINDS
    media_fingerprints: tuple[MediaFingerprint, ...] = ()   # video and audio: one per second

    def __post_init__(self) -> None:
        _set(self, "generation_id", canonical_generation_id(self.generation_id, "generation_id"))
        if not isinstance(self.index, int) or isinstance(self.index, bool) or not (
                0 <= self.index < 2**31):
            raise InvalidArgument("index", f"must be a non-negative int, got {self.index!r:.40}")
        _text(self.uri, "uri", MAX_URI)
        _hex64(self.sha256, "sha256")
        _text(self.media_type, "media_type", MAX_NAME)
        _set(self, "watermark_payload",
             _blob(self.watermark_payload, "watermark_payload", PAYLOAD_BYTES))
        if self.kind not in KINDS:
            raise InvalidArgument("kind", f"must be one of {', '.join(KINDS)}, got {self.kind!r:.40}")
        if self.fingerprint is not None or self.kind != "audio":
            _set(self, "fingerprint", _blob(self.fingerprint, "fingerprint", FINGERPRINT_BYTES))
        if not isinstance(self.media_fingerprints, (tuple, list)):
            raise InvalidArgument("media_fingerprints", "must be a tuple of MediaFingerprint")
        _set(self, "media_fingerprints", tuple(self.media_fingerprints))
        if self.media_fingerprints and self.kind == "image":
            raise InvalidArgument("media_fingerprints", "images have none (video and audio only)")
        seconds: set[int] = set()
        for i, media in enumerate(self.media_fingerprints):
            if not isinstance(media, MediaFingerprint):
                raise InvalidArgument(f"media_fingerprints[{i}]", "must be a MediaFingerprint")
            if media.second in seconds:
                raise InvalidArgument(f"media_fingerprints[{i}].second",
                                      f"duplicate second {media.second}")
            seconds.add(media.second)
        _json(self.safety, "safety")
        _optional_int(self.width, "width")
        _optional_int(self.height, "height")
        if self.duration_s is not None:
            if (not isinstance(self.duration_s, (int, float)) or isinstance(self.duration_s, bool)
                    or not math.isfinite(self.duration_s) or self.duration_s < 0):
                raise InvalidArgument("duration_s", "must be a finite number >= 0 or None")
            _set(self, "duration_s", float(self.duration_s))
        if not isinstance(self.watermark_key_id, str) or _KEY_ID.fullmatch(
                self.watermark_key_id) is None:
            raise InvalidArgument("watermark_key_id", "must be 1-64 characters of "
                                  f"[A-Za-z0-9._-], got {self.watermark_key_id!r:.80}")


@dataclass(frozen=True)
class GenerationRecord:
    """What was made, when, with which model, for whom; ``artifacts`` are the released outputs.

    ``prompt_hmac`` is `provenance.records.hmac.prompt_hmac` of the prompt; ``prompt`` (the
    plain text) is set only when the tenant's policy allows keeping it. ``parameters`` (seed,
    steps, sizes, ...) are purged after the retention period; ``parameters_purged_at`` is set by
    the store then and is None on new records.
    """

    generation_id: str
    tenant: str
    kind: str                        # one of KINDS
    model: str
    model_version: str
    prompt_hmac: str
    created_at: datetime
    artifacts: tuple[ArtifactRecord, ...] = ()
    user_id: str | None = None
    prompt: str | None = None
    parameters: dict | None = None
    prompt_safety: dict | None = None
    parameters_purged_at: datetime | None = field(default=None)

    def __post_init__(self) -> None:
        try:
            self._check()
        except InvalidArgument as exc:
            raise InvalidArgument(f"record.{exc.field}", exc.reason) from None

    def _check(self) -> None:
        _set(self, "generation_id", canonical_generation_id(self.generation_id))
        check_tenant(self.tenant)
        if self.kind not in KINDS:
            raise InvalidArgument("kind", f"must be one of {', '.join(KINDS)}, got {self.kind!r:.40}")
        _text(self.model, "model", MAX_NAME)
        _text(self.model_version, "model_version", MAX_NAME, empty_ok=True)
        _hex64(self.prompt_hmac, "prompt_hmac")
        _set(self, "created_at", utc(self.created_at, "created_at"))
        if self.user_id is not None:
            _text(self.user_id, "user_id", MAX_NAME)
        if self.prompt is not None and (not isinstance(self.prompt, str) or "\x00" in self.prompt):
            raise InvalidArgument("prompt", "must be a string without NUL characters, or None")
        _json(self.parameters, "parameters")
        _json(self.prompt_safety, "prompt_safety")
        if self.parameters_purged_at is not None:
            _set(self, "parameters_purged_at",
                 utc(self.parameters_purged_at, "parameters_purged_at"))
        if not isinstance(self.artifacts, (tuple, list)):
            raise InvalidArgument("artifacts", "must be a tuple of ArtifactRecord")
        _set(self, "artifacts", tuple(self.artifacts))
        seen: set[int] = set()
        for i, artifact in enumerate(self.artifacts):
            where = f"artifacts[{i}]"
            if not isinstance(artifact, ArtifactRecord):
                raise InvalidArgument(where, f"must be an ArtifactRecord, got "
                                             f"{type(artifact).__name__}")
            if artifact.generation_id != self.generation_id:
                raise InvalidArgument(f"{where}.generation_id", "must equal the generation's id")
            if artifact.index in seen:
                raise InvalidArgument(f"{where}.index", f"duplicate index {artifact.index}")
            seen.add(artifact.index)
