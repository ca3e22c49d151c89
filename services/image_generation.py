"""One image generation across the stage deployments, as a stream of internal events.

    validate -> Safety.check_prompt -> TextEncoder.encode -> Denoiser.denoise (streamed steps)
             -> VAEDecoder.decode -> Safety.check_images -> Provenance.seal (watermark, fingerprint,
             C2PA) -> ArtifactStore.put each -> Provenance.commit (the record) -> manifest -> done

A blocked prompt ends the generation with PERMISSION_DENIED before any model runs. Blocked
images are never stored; blurred ones are stored blurred; flagged ones are stored with a
`safety-action: flag` mark. If every image is blocked the generation fails with
PERMISSION_DENIED. The result is reported only after every released image and the manifest
are durably stored and recorded. Nothing is released without its record and no record stays
without its artifacts: if storing fails part-way the images already written are deleted; if
recording fails they are deleted too; if the manifest fails the record is removed and the images
deleted. (A crash between the put and the commit can leave an unreleased object without a
record; its key was never given to anyone.)
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import AsyncIterator


from engines.decoding import DecodeRequest
from engines.image_files import ImageFormat
from engines.params import ImageParams
from engines.step_batching import DenoiseResult, StepEvent
from engines.text_encoding import EncodeRequest
from genmedia.errors import PermissionDenied, Unavailable
from safety.categories import Action
from safety.verdict import Verdict
from provenance.sealing import SealedImage
from services.deadlines import StageClock
from services.metrics import Metrics
from services.provenance import ArtifactInfo, CommitRequest, SealRequest
from services.records import GenerationRecord, ImageRecord, generation_time, save_manifest
from services.safety import ImageCheck
from services.stage_retry import retried, retried_stream
from storage import ArtifactStore, artifact_key

logger = logging.getLogger("genmedia.ingress")


@dataclass(frozen=True)
class ImageJob:
    generation_id: str
    tenant: str
    params: ImageParams
    model_version: str
    fmt: ImageFormat
    return_bytes: bool
    preview: bool
    stream_steps: bool = True  # False for unary calls: no per-step messages between deployments
    admitted_at: float = field(default_factory=time.perf_counter)
    deadline: float | None = None  # the client's, absolute Unix seconds (services/deadlines.py)


# Internal events; the servicer turns them into GenerationEvent messages.
@dataclass(frozen=True)
class Queued:
    position: int


@dataclass(frozen=True)
class PromptChecked:
    verdict: Verdict


@dataclass(frozen=True)
class PromptEncoded:
    cache_hit: bool


@dataclass(frozen=True)
class Decoded:
    pass


@dataclass(frozen=True)
class Stored:
    uris: tuple[str, ...]


@dataclass(frozen=True)
class Done:
    record: GenerationRecord
    data: dict[int, bytes]


class ImageGeneration:
    """Runs image jobs through the stage handles and the artifact store."""

    def __init__(self, safety, text_encoder, denoiser, vae_decoder, provenance, store: ArtifactStore,
                 io_threads: int, metrics: Metrics, model_classes: dict[str, str]):
        self.safety = safety
        self.provenance = provenance
        self.text_encoder = text_encoder
        self.denoiser = denoiser
        self.vae_decoder = vae_decoder
        self.store = store
        self.metrics = metrics
        self.model_classes = model_classes  # model name -> latency SLO class
        self._io = ThreadPoolExecutor(max_workers=io_threads, thread_name_prefix="store")
        self.denoise_clock = StageClock("denoising")  # seconds per step, for the deadline check

    @property
    def io_executor(self) -> ThreadPoolExecutor:
        """The threads that encode and store files (shared with the video and audio paths)."""
        return self._io

    async def run(self, job: ImageJob, position: int, *, store: bool = True) -> AsyncIterator:
        """Yields Queued, PromptChecked, PromptEncoded, StepEvent..., Decoded, Stored, Done.
        Raises GenMediaError (PermissionDenied when the safety policy blocks the prompt)."""
        p = job.params
        timings: dict[str, float] = {}
        yield Queued(position)
        t = time.perf_counter()
        timings["queued_s"] = t - job.admitted_at
        prompt_verdict: Verdict = await retried(
            "safety_prompt", lambda: self.safety.check_prompt.remote(job.tenant, p.prompt), self.metrics)
        timings["safety_prompt_s"] = time.perf_counter() - t
        if prompt_verdict.action is Action.BLOCK:
            raise PermissionDenied(f"prompt: blocked by the safety policy: {prompt_verdict.reason}",
                                   prompt_verdict.triggered[0].category.value)
        yield PromptChecked(prompt_verdict)

        t = time.perf_counter()
        encode = EncodeRequest(p.model, p.prompt, p.negative_prompt, p.guidance_scale)
        embeddings = await retried("text_encode", lambda: self.text_encoder.encode.remote(encode), self.metrics)
        timings["text_encode_s"] = time.perf_counter() - t
        yield PromptEncoded(embeddings.cache_hit)

        shape = (p.width, p.height, p.num_images)
        self.denoise_clock.check(job.deadline, p.model, shape, p.steps)  # drop what can no longer finish in time
        t = time.perf_counter()
        result: DenoiseResult | None = None
        if job.stream_steps:
            # Seeded denoising is repeatable: a stream whose replica died is run again, and the
            # steps already reported are not repeated. Leaving early cancels it (frees the slot).
            stream = retried_stream("denoise", lambda: self.denoiser.options(stream=True).denoise.remote(
                p, embeddings, job.preview), self.metrics)
            async for event in stream:
                if isinstance(event, StepEvent):
                    yield event
                elif isinstance(event, DenoiseResult):
                    result = event
        else:
            result = await retried("denoise", lambda: self.denoiser.denoise_to_end.remote(p, embeddings),
                                   self.metrics)
        if result is None:
            raise Unavailable("the denoiser ended without a result; retry")
        latents = result.latents
        timings["denoise_s"] = time.perf_counter() - t
        self.denoise_clock.observe(p.model, shape, result.step_s)

        t = time.perf_counter()
        decode = DecodeRequest(latents, p.height, p.width)
        pixels = await retried("decode", lambda: self.vae_decoder.decode.remote(p.model, decode), self.metrics)
        timings["decode_s"] = time.perf_counter() - t
        yield Decoded()

        t = time.perf_counter()
        floor = prompt_verdict.action if prompt_verdict.action in (Action.FLAG, Action.BLUR) else Action.ALLOW
        check: ImageCheck = await retried(
            "safety_image", lambda: self.safety.check_images.remote(job.tenant, pixels, floor), self.metrics)
        timings["safety_image_s"] = time.perf_counter() - t
        if all(img is None for img in check.images):
            reason = check.verdicts[0].reason
            raise PermissionDenied(f"every image was blocked by the safety policy: {reason}",
                                   check.verdicts[0].triggered[0].category.value)
        t = time.perf_counter()
        seal = SealRequest(job.generation_id, p.model, job.model_version, job.fmt, tuple(check.images))
        sealed = await retried("seal", lambda: self.provenance.seal.remote(seal), self.metrics)
        timings["seal_s"] = time.perf_counter() - t
        if not store:
            return

        t = time.perf_counter()
        record, data = await self.release(job, check, sealed, prompt_verdict, timings)
        self.metrics.generation_duration.observe(timings["total_s"], tags={
            "kind": "image", "model": p.model, "model_class": self.model_classes.get(p.model, "standard")})
        released = sum(1 for i in record.images if i.stored)
        if released:  # a Ray counter takes only positive increments
            self.metrics.images_produced.inc(released, tags={"model": p.model})
        yield Stored(tuple(i.uri for i in record.images if i.stored))
        yield Done(record, data if job.return_bytes else {})

    async def release(self, job: ImageJob, check: ImageCheck, sealed: tuple[SealedImage | None, ...],
                      prompt_verdict: Verdict, timings: dict[str, float]) -> tuple[GenerationRecord, dict[int, bytes]]:
        """Stores the sealed images, records them, writes the manifest; undoes each on failure."""
        p = job.params
        t = time.perf_counter()
        loop = asyncio.get_running_loop()
        images, data = await loop.run_in_executor(self._io, self._store_images, job, check, sealed)
        stored_keys = [i.key for i in images if i.stored]
        commit = CommitRequest(
            generation_id=job.generation_id, tenant=job.tenant, model=p.model, model_version=job.model_version,
            prompt=p.prompt, prompt_safety=prompt_verdict.to_dict(),
            parameters={"negative_prompt": p.negative_prompt, "seed": p.seed, "width": p.width, "height": p.height,
                        "steps": p.steps, "guidance_scale": p.guidance_scale, "scheduler": p.scheduler.value,
                        "num_images": len(images), "format": job.fmt.extension},
            artifacts=tuple(ArtifactInfo(i.index, i.uri, sealed[i.index], i.content_type, i.safety)
                            for i in images if i.stored),
        )
        try:
            await self.provenance.commit.remote(commit)
        except BaseException:
            await loop.run_in_executor(self._io, self._delete_quietly, stored_keys)
            raise
        timings["store_s"] = time.perf_counter() - t
        timings["total_s"] = time.perf_counter() - job.admitted_at
        record = GenerationRecord(
            generation_id=job.generation_id, tenant=job.tenant, model=p.model, model_version=job.model_version,
            seed=p.seed, width=p.width, height=p.height, steps=p.steps, guidance_scale=p.guidance_scale,
            scheduler=p.scheduler.value, created_at=datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            images=tuple(images), timings=timings, prompt_safety=prompt_verdict.to_dict(),
        )
        try:
            await loop.run_in_executor(self._io, save_manifest, self.store, record)
        except BaseException:
            try:
                await self.provenance.forget.remote(job.generation_id)
            except Exception:  # the original error is what the client must see
                logger.warning("could not remove the record of %s", job.generation_id, exc_info=True)
            await loop.run_in_executor(self._io, self._delete_quietly, stored_keys)
            raise
        return record, data

    def _store_images(self, job: ImageJob, check: ImageCheck, sealed: tuple[SealedImage | None, ...]
                      ) -> tuple[list[ImageRecord], dict[int, bytes]]:
        """Stores every released (sealed) image; blocked ones are skipped, never written."""
        created = generation_time(job.generation_id)
        records: list[ImageRecord] = []
        data: dict[int, bytes] = {}
        try:
            for index, (image, verdict) in enumerate(zip(sealed, check.verdicts)):
                if image is None:
                    records.append(ImageRecord(index, "", "", 0, 0, "", "", verdict.to_dict()))
                    continue
                key = artifact_key(job.tenant, job.generation_id, index, job.fmt.extension, created)
                obj = self.store.put(
                    key, image.data, content_type=job.fmt.content_type,
                    metadata={"generation-id": job.generation_id, "model": job.params.model,
                              "safety-action": verdict.action.value},
                )
                records.append(ImageRecord(index, key, obj.uri, image.width, image.height, obj.sha256,
                                           obj.content_type, verdict.to_dict()))
                data[index] = image.data
        except BaseException:
            self._delete_quietly([r.key for r in records if r.stored])
            raise
        return records, data

    def _delete_quietly(self, keys: list[str]) -> None:
        for key in keys:
            try:
                self.store.delete(key)
            except Exception:  # the original error is what the client must see
                logger.warning("could not delete orphan artifact %s", key, exc_info=True)

    def presigned_urls(self, record: GenerationRecord) -> dict[int, str]:
        """Download URLs of a generation's stored artifacts (images, video or audio) by index."""
        urls = {}
        for artifact in (*record.images, *record.videos, *record.audios):
            if not artifact.key:
                continue
            url = self.store.presigned_url(artifact.key)
            if url:
                urls[artifact.index] = url
        return urls
