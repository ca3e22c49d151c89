"""Provenance deployment: seals images (watermark, fingerprint, C2PA), records them, verifies files.

Keeps an in-memory fingerprint index: loaded from the record store at start, added to on every
commit, and refreshed every `index_refresh_s` with what other replicas recorded (generation ids
are UUIDv7, so "since" is a key range; a small overlap covers ids minted concurrently). Runs
the retention purge every `purge_interval_s`. Secrets come from the environment
(provenance/keys.py); `dev_keys_dir` generates throwaway ones for the embedded default only.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np
from ray import serve

import genmedia
from engines.audio_files import AudioFormat, encode_audio
from engines.image_files import ImageFormat, encode_image
from engines.video_files import VideoFormat, encode_video
from genmedia.errors import InvalidArgument, NotFound, Unavailable
from provenance.audio_watermark import UnmarkableAudio
from provenance.c2pa import ManifestVerifier
from provenance.fingerprint import HammingIndex
from provenance.fingerprint.audio import AudioIndex, words_from_bytes
from provenance.fingerprint.video import MIN_QUALITY
from provenance.media_sealing import SealedAudio, SealedVideo
from provenance.media_verification import load_media_indexes, video_index_key
from provenance.keys import load_keys
from provenance.records import ArtifactRecord, GenerationRecord, RecordStore, prompt_hmac
from provenance.sealing import Sealer, SealedImage
from provenance.verification import Verifier, VerifyReport, index_key
from services.config import AppConfig
from services.metrics import Metrics
from services.runtime import configure_replica

logger = logging.getLogger("genmedia.provenance")

RECORDS_URL_ENV = "GENMEDIA_RECORDS_URL"
REFRESH_OVERLAP_S = 120.0


@dataclass(frozen=True)
class SealRequest:
    generation_id: str
    model: str
    model_version: str
    fmt: ImageFormat
    images: tuple[np.ndarray | None, ...]  # None where safety blocked the image


@dataclass(frozen=True)
class SealVideoRequest:
    generation_id: str
    model: str
    model_version: str
    fmt: VideoFormat
    frames: np.ndarray  # uint8 (F, H, W, 3), after the safety check (blurred where the policy says)
    fps: int


@dataclass(frozen=True)
class SealAudioRequest:
    generation_id: str
    model: str
    model_version: str
    fmt: AudioFormat
    samples: np.ndarray  # float32 mono in [-1, 1]
    sample_rate: int


@dataclass(frozen=True)
class ArtifactInfo:
    index: int
    uri: str
    sealed: SealedImage | SealedVideo | SealedAudio
    media_type: str
    safety: dict | None


@dataclass(frozen=True)
class CommitRequest:
    generation_id: str
    tenant: str
    model: str
    model_version: str
    prompt: str
    parameters: dict
    prompt_safety: dict | None
    artifacts: tuple[ArtifactInfo, ...]
    kind: str = "image"


def record_for_commit(request: CommitRequest, record_key: bytes, keep_prompt: bool) -> GenerationRecord:
    """The provenance record of a release: the prompt as a keyed HMAC (plain only if kept)."""
    return GenerationRecord(
        generation_id=request.generation_id, tenant=request.tenant, kind=request.kind, model=request.model,
        model_version=request.model_version, prompt_hmac=prompt_hmac(record_key, request.tenant, request.prompt),
        created_at=datetime.now(timezone.utc), prompt=request.prompt if keep_prompt else None,
        parameters=request.parameters, prompt_safety=request.prompt_safety,
        artifacts=tuple(_artifact_record(request.generation_id, request.kind, a) for a in request.artifacts),
    )


def _artifact_record(generation_id: str, kind: str, a: ArtifactInfo) -> ArtifactRecord:
    sealed = a.sealed
    if isinstance(sealed, SealedImage):
        return ArtifactRecord(generation_id, a.index, a.uri, sealed.sha256, a.media_type, sealed.payload,
                              sealed.fingerprint, a.safety, sealed.width, sealed.height)
    if isinstance(sealed, SealedVideo):
        return ArtifactRecord(generation_id, a.index, a.uri, sealed.sha256, a.media_type, sealed.payload,
                              sealed.fingerprint, a.safety, sealed.width, sealed.height, sealed.duration_s,
                              kind="video", media_fingerprints=sealed.media_fingerprints)
    return ArtifactRecord(generation_id, a.index, a.uri, sealed.sha256, a.media_type, sealed.payload, None,
                          a.safety, duration_s=sealed.duration_s, kind="audio",
                          media_fingerprints=sealed.media_fingerprints)


def uuid7_floor(when: datetime) -> str:
    """The smallest UUIDv7 minted at ``when`` (for key-range scans by time)."""
    ms = int(when.timestamp() * 1000)
    return str(uuid.UUID(int=(ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | 0b10 << 62))


@serve.deployment(name="Provenance")
class Provenance:
    def __init__(self, config: AppConfig):
        import os

        settings = config.provenance
        configure_replica(settings)
        self.settings = settings
        self._policies = config.safety.policies
        self.keys = load_keys(dev_dir=settings.dev_keys_dir)
        if self.keys.dev:
            logger.warning("provenance runs with DEVELOPMENT keys from %s: not for production", settings.dev_keys_dir)
        self.sealer = Sealer(self.keys, genmedia.__version__)
        url = os.environ.get(RECORDS_URL_ENV) or settings.records_url
        self.records = RecordStore.open(url, migrate=True)
        self.index = HammingIndex()
        self.video_index = HammingIndex()
        self.audio_index = AudioIndex()
        self.verifier = Verifier(self.sealer.watermarker, self.records, self.index,
                                 ManifestVerifier(self.keys.c2pa_trust_anchors), settings.fingerprint_radius,
                                 video_index=self.video_index, audio_index=self.audio_index,
                                 audio_watermarker=self.sealer.audio_watermarker)
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="provenance")
        self._seen_until: datetime | None = None
        self._refresh_sync(datetime.fromtimestamp(0, timezone.utc))
        self._metrics = Metrics()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._every(settings.index_refresh_s, self._refresh_recent)),
                       loop.create_task(self._every(settings.purge_interval_s, self._purge))]
        logger.info("provenance ready: %d fingerprints indexed, records at %s", len(self.index), self.records)

    # --- sealing and recording -----------------------------------------------------------------
    async def seal(self, request: SealRequest) -> tuple[SealedImage | None, ...]:
        """Watermark, fingerprint and C2PA-sign each released image (None stays None)."""
        loop = asyncio.get_running_loop()
        with self._metrics.stage("seal", request.model):
            return await loop.run_in_executor(self._executor, self._seal_sync, request)

    def _seal_sync(self, request: SealRequest) -> tuple[SealedImage | None, ...]:
        out = []
        for index, pixels in enumerate(request.images):
            if pixels is None:
                out.append(None)
                continue
            try:
                out.append(self.sealer.seal(pixels, request.fmt.content_type, lambda px: encode_image(px, request.fmt),
                                            generation_id=request.generation_id, index=index, model=request.model,
                                            model_version=request.model_version))
            except Exception:
                self._metrics.seals.inc(tags={"outcome": "failed"})
                raise
            self._metrics.seals.inc(tags={"outcome": "ok"})
        return tuple(out)

    async def seal_video(self, request: SealVideoRequest) -> SealedVideo:
        """Watermark every frame, fingerprint each second, encode, C2PA-sign (MP4)."""
        loop = asyncio.get_running_loop()
        with self._metrics.stage("seal", request.model):
            return await loop.run_in_executor(self._executor, self._sealed_counted, lambda: self.sealer.seal_video(
                request.frames, request.fps, request.fmt.content_type,
                lambda frames: encode_video(frames, request.fps, request.fmt),
                generation_id=request.generation_id, index=0, model=request.model,
                model_version=request.model_version))

    async def seal_audio(self, request: SealAudioRequest) -> SealedAudio:
        """Audio watermark, fingerprint, encode, C2PA-sign (WAV, FLAC, MP3). InvalidArgument on
        duration_s when the generated clip cannot carry the mark (deterministic for the request's
        prompt, seed and length: nothing is released, and the client can ask for a longer clip)."""
        loop = asyncio.get_running_loop()
        with self._metrics.stage("seal", request.model):
            try:
                return await loop.run_in_executor(self._executor, self._sealed_counted, lambda: self.sealer.seal_audio(
                    request.samples, request.sample_rate, request.fmt.content_type,
                    lambda samples: encode_audio(samples, request.sample_rate, request.fmt),
                    generation_id=request.generation_id, index=0, model=request.model,
                    model_version=request.model_version))
            except UnmarkableAudio:
                duration = len(request.samples) / request.sample_rate
                raise InvalidArgument("duration_s", f"the generated {duration:.1f} s clip could not carry the audio "
                                                    "watermark, so it was not released; ask for a longer clip "
                                                    "(2 s or more) or another seed") from None

    def _sealed_counted(self, seal):
        try:
            sealed = seal()
        except Exception:
            self._metrics.seals.inc(tags={"outcome": "failed"})
            raise
        self._metrics.seals.inc(tags={"outcome": "ok"})
        return sealed

    async def commit(self, request: CommitRequest) -> None:
        """Records a generation and indexes its fingerprints. Raises Unavailable (store down)."""
        loop = asyncio.get_running_loop()
        with self._metrics.stage("record_commit", request.model):
            await loop.run_in_executor(self._executor, self._commit_sync, request)

    def _commit_sync(self, request: CommitRequest) -> None:
        keep_prompt = self._policies.resolve(request.tenant).store_prompts
        record = record_for_commit(request, self.keys.record_key, keep_prompt)
        self.records.add(record)
        if request.kind == "image":
            for a in request.artifacts:
                key = index_key(request.generation_id, a.index)
                if key not in self.index:
                    self.index.add(key, a.sealed.fingerprint)
        else:  # findable here at once; other replicas index it at their next refresh
            for a in request.artifacts:
                self._index_media(request.generation_id, a.index, request.kind, a.sealed.media_fingerprints)

    def _index_media(self, generation_id: str, index: int, kind: str, per_second) -> None:
        if kind == "video":
            for fp in per_second:
                key = video_index_key(generation_id, index, fp.second)
                if (fp.quality or 0) >= MIN_QUALITY and key not in self.video_index:
                    self.video_index.add(key, fp.hash)
        else:
            key = index_key(generation_id, index)
            if key not in self.audio_index:
                self.audio_index.add(key, words_from_bytes(b"".join(fp.hash for fp in per_second)))

    async def forget(self, generation_id: str) -> None:
        """Removes a record (roll-back when the release failed after commit)."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._forget_sync, generation_id)

    def _forget_sync(self, generation_id: str) -> None:
        try:
            record = self.records.get(generation_id)
        except NotFound:  # never recorded: nothing to forget (a store that is down raises Unavailable)
            return
        self.records.delete(generation_id)
        for a in record.artifacts:
            keys = [index_key(generation_id, a.index)]
            keys += [video_index_key(generation_id, a.index, fp.second) for fp in a.media_fingerprints]
            for index in (self.index, self.video_index, self.audio_index):
                for key in keys:
                    if key in index:
                        index.remove(key)

    # --- verification -----------------------------------------------------------------------------
    async def verify(self, data: bytes) -> VerifyReport:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.verifier.verify, data)

    async def get_record(self, generation_id: str) -> GenerationRecord:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.records.get, generation_id)

    # --- background -------------------------------------------------------------------------------
    async def _every(self, interval_s: float, fn) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(interval_s)
            try:
                await loop.run_in_executor(self._executor, fn)
            except Unavailable as exc:
                logger.warning("provenance background task: %s", exc.message)
            except Exception:
                logger.exception("provenance background task failed")

    def _refresh_recent(self) -> None:
        since = (self._seen_until or datetime.now(timezone.utc)) - timedelta(seconds=REFRESH_OVERLAP_S)
        self._refresh_sync(since)

    def _refresh_sync(self, since: datetime) -> None:
        started = datetime.now(timezone.utc)
        t = time.perf_counter()
        added = 0
        for generation_id, index, fp in self.records.iter_fingerprints(after=(uuid7_floor(since), -1)):
            key = index_key(generation_id, index)
            if key not in self.index:
                self.index.add(key, fp)
                added += 1
        video, audio = load_media_indexes(self.records, self.video_index, self.audio_index,
                                          after_generation=uuid7_floor(since))
        self._seen_until = started
        if added or video or audio:
            logger.info("indexed %d image, %d video-second and %d audio fingerprints in %.2f s", added, video,
                        audio, time.perf_counter() - t)

    def _purge(self) -> None:
        purged = self.records.purge_parameters(retention=timedelta(days=self.settings.retention_days))
        if purged:
            logger.info("purged the parameters of %d generations older than %d days", purged,
                        self.settings.retention_days)
