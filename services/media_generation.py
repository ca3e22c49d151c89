"""One video or music generation across the stage deployments, as a stream of internal events.

    video: Safety.check_prompt -> TextEncoder.encode -> VideoGenerator.generate (streamed steps)
           -> Safety.check_images on sampled frames -> Provenance.seal_video -> store -> commit -> manifest
    audio: Safety.check_prompt -> AudioGenerator.generate (streamed token progress)
           -> Provenance.seal_audio -> store -> commit -> manifest

Video frames are checked at least once per second, and the first and last frame, under the same
tenant policy as images: a blocked frame blocks the video (PERMISSION_DENIED, nothing stored); a
blurred one blurs every frame; a flagged one stores the video marked. Generated audio is not
classified itself: it carries its prompt's verdict. The same release guarantees as images hold:
the result is reported only after the file, its record and the manifest are durable, and a
failure part-way undoes what was written.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import AsyncIterator

import numpy as np

from engines.audio_files import AudioFormat
from engines.audio_params import AudioParams
from engines.step_batching import StepEvent
from engines.text_encoding import EncodeRequest
from engines.video_files import VideoFormat
from engines.video_params import VideoParams
from genmedia.errors import PermissionDenied, Unavailable
from safety.blur import blur
from safety.categories import Action
from safety.verdict import Verdict
from services.audio_generator import GeneratedAudio
from services.image_generation import Done, PromptChecked, PromptEncoded, Queued, Stored
from services.deadlines import StageClock, StepTimer
from services.stage_retry import retried, retried_stream
from services.metrics import Metrics
from services.provenance import ArtifactInfo, CommitRequest, SealAudioRequest, SealVideoRequest
from services.records import AudioRecord, GenerationRecord, VideoRecord, generation_time, save_manifest
from services.safety import ImageCheck
from services.video_generator import GeneratedVideo
from storage import ArtifactStore, artifact_key

logger = logging.getLogger("genmedia.ingress")


@dataclass(frozen=True)
class Phase:
    name: str  # decoding | safety_check | sealing | storing


@dataclass(frozen=True)
class VideoJob:
    generation_id: str
    tenant: str
    params: VideoParams
    model_version: str
    return_bytes: bool
    model_class: str
    admitted_at: float = field(default_factory=time.perf_counter)
    deadline: float | None = None  # the client's, absolute Unix seconds (services/deadlines.py)


@dataclass(frozen=True)
class AudioJob:
    generation_id: str
    tenant: str
    params: AudioParams
    fmt: AudioFormat
    model_version: str
    return_bytes: bool
    model_class: str
    admitted_at: float = field(default_factory=time.perf_counter)
    deadline: float | None = None  # the client's, absolute Unix seconds (services/deadlines.py)


def safety_sample(num_frames: int, fps: int) -> list[int]:
    """Frame indices the safety check sees: the first, one per second after it, and the last."""
    return sorted({0, num_frames - 1, *range(fps, num_frames, max(1, fps))})


class MediaGeneration:
    """Runs video and audio jobs through the stage handles and the artifact store."""

    def __init__(self, safety, text_encoder, video_generator, audio_generator, provenance, store: ArtifactStore,
                 io_executor, metrics: Metrics):
        self.safety = safety
        self.text_encoder = text_encoder
        self.video_generator = video_generator
        self.audio_generator = audio_generator
        self.provenance = provenance
        self.store = store
        self._io = io_executor
        self.metrics = metrics
        self.video_clock = StageClock("video generation")  # seconds per step, for the deadline check
        self.audio_clock = StageClock("music generation")  # seconds per second of audio

    async def _check_prompt(self, tenant: str, prompt: str, timings: dict) -> Verdict:
        t = time.perf_counter()
        verdict: Verdict = await retried("safety_prompt", lambda: self.safety.check_prompt.remote(tenant, prompt),
                                         self.metrics)
        timings["safety_prompt_s"] = time.perf_counter() - t
        if verdict.action is Action.BLOCK:
            raise PermissionDenied(f"prompt: blocked by the safety policy: {verdict.reason}",
                                   verdict.triggered[0].category.value)
        return verdict

    # --- video ------------------------------------------------------------------------------
    async def run_video(self, job: VideoJob, position: int) -> AsyncIterator:
        """Yields Queued, PromptChecked, PromptEncoded, StepEvent..., Phase..., Stored, Done.
        Raises GenMediaError (PermissionDenied when the policy blocks the prompt or a frame)."""
        p = job.params
        timings: dict[str, float] = {}
        yield Queued(position)
        timings["queued_s"] = time.perf_counter() - job.admitted_at
        prompt_verdict = await self._check_prompt(job.tenant, p.prompt, timings)
        yield PromptChecked(prompt_verdict)

        t = time.perf_counter()
        encode = EncodeRequest(p.model, p.prompt, p.negative_prompt, p.guidance_scale)
        embeddings = await retried("text_encode", lambda: self.text_encoder.encode.remote(encode), self.metrics)
        timings["text_encode_s"] = time.perf_counter() - t
        yield PromptEncoded(embeddings.cache_hit)

        shape = (p.width, p.height, p.num_frames)
        self.video_clock.check(job.deadline, p.model, shape, p.steps)  # drop what can no longer finish in time
        t = time.perf_counter()
        video: GeneratedVideo | None = None
        steps = StepTimer()
        stream = retried_stream("video_generate", lambda: self.video_generator.options(stream=True).generate.remote(
            p, embeddings), self.metrics)  # seeded: a run whose replica died is run again
        async for item in stream:
            if isinstance(item, StepEvent):
                steps.report(item.step)
                yield item
                if item.step == item.total:
                    yield Phase("decoding")
            elif isinstance(item, GeneratedVideo):
                video = item
        if video is None:
            raise Unavailable("the video generator ended without a result; retry")
        timings["generate_s"] = time.perf_counter() - t
        self.video_clock.observe(p.model, shape, steps.per_unit_s())

        yield Phase("safety_check")
        t = time.perf_counter()
        frames, verdict = await self._check_frames(job, video.frames, prompt_verdict)
        timings["safety_image_s"] = time.perf_counter() - t

        yield Phase("sealing")
        t = time.perf_counter()
        seal = SealVideoRequest(job.generation_id, p.model, job.model_version, p.container, frames, p.fps)
        sealed = await retried("seal", lambda: self.provenance.seal_video.remote(seal), self.metrics)
        timings["seal_s"] = time.perf_counter() - t

        yield Phase("storing")
        fmt: VideoFormat = p.container
        t = time.perf_counter()

        def describe(key: str, uri: str, sha256: str) -> VideoRecord:
            return VideoRecord(0, key, uri, sealed.width, sealed.height, len(frames), p.fps, sha256,
                               fmt.content_type, round(video.temporal_consistency, 6), sealed.c2pa_signed,
                               verdict.to_dict())

        record_item = await self._release(job.generation_id, job.tenant, p.model, job.model_version, p.prompt,
                                          "video", fmt.value, fmt.content_type, sealed, verdict.to_dict(),
                                          prompt_verdict, describe, _video_parameters(p))
        timings["store_s"] = time.perf_counter() - t
        timings["total_s"] = time.perf_counter() - job.admitted_at
        record = GenerationRecord(
            generation_id=job.generation_id, tenant=job.tenant, model=p.model, model_version=job.model_version,
            seed=p.seed, width=p.width, height=p.height, steps=p.steps, guidance_scale=p.guidance_scale,
            scheduler=p.scheduler.value, created_at=_now(), images=(), timings=timings,
            prompt_safety=prompt_verdict.to_dict(), kind="video", videos=(record_item,),
            media_params={"num_frames": len(frames), "fps": p.fps},
        )
        await self._save_manifest(record)
        self._observe(job, "video", timings["total_s"], len(frames) / p.fps)
        yield Stored((record_item.uri,))
        yield Done(record, {0: sealed.data} if job.return_bytes else {})

    async def _check_frames(self, job: VideoJob, frames: np.ndarray, prompt_verdict: Verdict
                            ) -> tuple[np.ndarray, Verdict]:
        """The frames to release (blurred if any sampled frame says so) and the strictest verdict."""
        floor = prompt_verdict.action if prompt_verdict.action in (Action.FLAG, Action.BLUR) else Action.ALLOW
        sample = [frames[i] for i in safety_sample(len(frames), job.params.fps)]
        check: ImageCheck = await retried(
            "safety_image", lambda: self.safety.check_images.remote(job.tenant, sample, floor), self.metrics)
        strictest = max(check.verdicts, key=lambda v: v.action.severity)
        if strictest.action is Action.BLOCK:
            raise PermissionDenied(f"the video was blocked by the safety policy: {strictest.reason}",
                                   strictest.triggered[0].category.value)
        if strictest.action is Action.BLUR:
            loop = asyncio.get_running_loop()
            frames = await loop.run_in_executor(self._io, lambda: np.stack([blur(f) for f in frames]))
        return frames, strictest

    # --- audio ------------------------------------------------------------------------------
    async def run_audio(self, job: AudioJob, position: int) -> AsyncIterator:
        """Yields Queued, PromptChecked, StepEvent..., Phase..., Stored, Done. Raises GenMediaError."""
        p = job.params
        timings: dict[str, float] = {}
        yield Queued(position)
        timings["queued_s"] = time.perf_counter() - job.admitted_at
        prompt_verdict = await self._check_prompt(job.tenant, p.prompt, timings)
        yield PromptChecked(prompt_verdict)

        self.audio_clock.check(job.deadline, p.model, (), p.duration_s)
        t = time.perf_counter()
        audio: GeneratedAudio | None = None
        tokens = StepTimer()  # progress in seconds of audio, timed between token reports
        stream = retried_stream("audio_generate", lambda: self.audio_generator.options(stream=True).generate.remote(p),
                                self.metrics)
        async for item in stream:
            if isinstance(item, StepEvent):
                tokens.report(item.step / max(item.total, 1) * p.duration_s)
                yield item
            elif isinstance(item, GeneratedAudio):
                audio = item
        if audio is None:
            raise Unavailable("the audio generator ended without a result; retry")
        timings["generate_s"] = time.perf_counter() - t
        self.audio_clock.observe(p.model, (), tokens.per_unit_s())

        yield Phase("sealing")
        t = time.perf_counter()
        seal = SealAudioRequest(job.generation_id, p.model, job.model_version, job.fmt, audio.samples,
                                audio.sample_rate)
        sealed = await retried("seal", lambda: self.provenance.seal_audio.remote(seal), self.metrics)
        timings["seal_s"] = time.perf_counter() - t

        yield Phase("storing")
        t = time.perf_counter()
        fmt = job.fmt

        def describe(key: str, uri: str, sha256: str) -> AudioRecord:
            return AudioRecord(0, key, uri, round(sealed.duration_s, 6), sealed.sample_rate, 1, sha256,
                               fmt.content_type, sealed.c2pa_signed)

        record_item = await self._release(job.generation_id, job.tenant, p.model, job.model_version, p.prompt,
                                          "audio", fmt.value, fmt.content_type, sealed, prompt_verdict.to_dict(),
                                          prompt_verdict, describe, _audio_parameters(p, fmt))
        timings["store_s"] = time.perf_counter() - t
        timings["total_s"] = time.perf_counter() - job.admitted_at
        record = GenerationRecord(
            generation_id=job.generation_id, tenant=job.tenant, model=p.model, model_version=job.model_version,
            seed=p.seed, width=0, height=0, steps=0, guidance_scale=p.guidance_scale, scheduler="default",
            created_at=_now(), images=(), timings=timings, prompt_safety=prompt_verdict.to_dict(), kind="audio",
            audios=(record_item,),
            media_params={"duration_s": p.duration_s, "top_k": p.top_k, "top_p": p.top_p,
                          "temperature": p.temperature},
        )
        await self._save_manifest(record)
        self._observe(job, "audio", timings["total_s"], sealed.duration_s)
        yield Stored((record_item.uri,))
        yield Done(record, {0: sealed.data} if job.return_bytes else {})

    # --- release ----------------------------------------------------------------------------
    async def _release(self, generation_id: str, tenant: str, model: str, model_version: str, prompt: str,
                       kind: str, ext: str, content_type: str, sealed, safety: dict | None, prompt_verdict: Verdict,
                       describe, parameters: dict):
        """Stores the sealed file and records it; deletes the file if recording fails. Returns
        describe(key, uri, sha256)."""
        loop = asyncio.get_running_loop()
        key = artifact_key(tenant, generation_id, 0, ext, generation_time(generation_id))
        action = (safety or {}).get("action", "allow")
        obj = await loop.run_in_executor(self._io, lambda: self.store.put(
            key, sealed.data, content_type=content_type,
            metadata={"generation-id": generation_id, "model": model, "safety-action": action}))
        commit = CommitRequest(
            generation_id=generation_id, tenant=tenant, model=model, model_version=model_version, prompt=prompt,
            prompt_safety=prompt_verdict.to_dict(), parameters=parameters,
            artifacts=(ArtifactInfo(0, obj.uri, sealed, content_type, safety),), kind=kind,
        )
        try:
            await self.provenance.commit.remote(commit)
        except BaseException:
            await loop.run_in_executor(self._io, self._delete_quietly, [key])
            raise
        return describe(key, obj.uri, obj.sha256)

    async def _save_manifest(self, record: GenerationRecord) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._io, save_manifest, self.store, record)
        except BaseException:
            try:
                await self.provenance.forget.remote(record.generation_id)
            except Exception:  # the original error is what the client must see
                logger.warning("could not remove the record of %s", record.generation_id, exc_info=True)
            keys = [a.key for a in (*record.videos, *record.audios) if a.key]
            await loop.run_in_executor(self._io, self._delete_quietly, keys)
            raise

    def _delete_quietly(self, keys: list[str]) -> None:
        for key in keys:
            try:
                self.store.delete(key)
            except Exception:  # the original error is what the client must see
                logger.warning("could not delete orphan artifact %s", key, exc_info=True)

    def _observe(self, job: VideoJob | AudioJob, kind: str, total_s: float, media_seconds: float) -> None:
        model = job.params.model
        self.metrics.generation_duration.observe(total_s, tags={"kind": kind, "model": model,
                                                                "model_class": job.model_class})
        if media_seconds > 0:
            counter = self.metrics.video_seconds_produced if kind == "video" else self.metrics.audio_seconds_produced
            counter.inc(media_seconds, tags={"model": model})


def _video_parameters(p: VideoParams) -> dict:
    return {"negative_prompt": p.negative_prompt, "seed": p.seed, "width": p.width, "height": p.height,
            "num_frames": p.num_frames, "fps": p.fps, "steps": p.steps, "guidance_scale": p.guidance_scale,
            "scheduler": p.scheduler.value, "format": p.container.value}


def _audio_parameters(p: AudioParams, fmt: AudioFormat) -> dict:
    return {"seed": p.seed, "duration_s": p.duration_s, "guidance_scale": p.guidance_scale, "top_k": p.top_k,
            "top_p": p.top_p, "temperature": p.temperature, "format": fmt.value}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")
