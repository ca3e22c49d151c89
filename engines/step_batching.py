"""Step-level (continuous) batching of denoising jobs.

Requests join and leave between steps: each iteration picks the group of the oldest waiting
job (same model, latent shape, text length, guidance on/off), runs one batched step for up to
`max_batch_images` images of it, and reports progress to each job. A cancelled job is dropped
before the next step, freeing its slot at once. All model work runs on one worker thread so
the event loop stays free for new requests, health checks and cancellations.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import AsyncIterator, Callable

import torch

from engines.denoising import DenoiseEngine, DenoiseJob
from engines.embeddings import PromptEmbeddings
from engines.params import ImageParams
from engines.preview import latent_preview_png

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StepEvent:
    step: int  # 1-based
    total: int
    preview_png: bytes = b""


@dataclass(frozen=True)
class DenoiseResult:
    latents: torch.Tensor  # on the CPU
    seconds: float
    max_batch: int  # the largest number of jobs this one shared a step with
    step_s: float = 0.0  # seconds per step from its first step to its last (no wait, no setup)


@dataclass(eq=False)
class _Entry:
    engine: DenoiseEngine
    job: DenoiseJob
    preview: bool
    events: asyncio.Queue
    started: float = field(default_factory=time.perf_counter)
    cancelled: bool = False
    max_batch: int = 1
    first_step_at: float | None = None


# Called after each batched step: (model, images in the step, jobs left waiting, seconds).
StepObserver = Callable[[str, int, int, float], None]


class StepBatcher:
    def __init__(self, engines: dict[str, DenoiseEngine], max_batch_images: int,
                 on_step: StepObserver | None = None):
        self.engines = engines
        self.max_batch_images = max_batch_images
        self._on_step = on_step
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="denoise")
        self._entries: list[_Entry] = []
        self._wakeup = asyncio.Event()
        self._loop_task: asyncio.Task | None = None
        self.steps_run = 0
        self.batch_sizes: list[int] = []  # recent batch sizes, for tests and metrics

    @property
    def active(self) -> int:
        return len(self._entries)

    async def submit(self, params: ImageParams, embeddings: PromptEmbeddings, preview: bool = False) -> AsyncIterator:
        """Yields StepEvent per step, then one DenoiseResult. Closing the iterator cancels the job."""
        engine = self.engines[params.model]
        loop = asyncio.get_running_loop()
        job = await loop.run_in_executor(self._executor, engine.start, params, embeddings)
        entry = _Entry(engine=engine, job=job, preview=preview, events=asyncio.Queue())
        self._entries.append(entry)
        self._ensure_loop()
        self._wakeup.set()
        try:
            while True:
                item = await entry.events.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
                if isinstance(item, DenoiseResult):
                    return
        finally:
            entry.cancelled = True  # a no-op when finished; otherwise the loop drops it

    def _ensure_loop(self) -> None:
        if self._loop_task is None or self._loop_task.done():
            self._loop_task = asyncio.get_running_loop().create_task(self._run())

    def _next_group(self) -> list[_Entry]:
        self._entries = [e for e in self._entries if not e.cancelled]
        if not self._entries:
            return []
        key = self._entries[0].job.group_key
        group, images = [], 0
        for entry in self._entries:
            if entry.job.group_key != key:
                continue
            n = entry.job.params.num_images
            if group and images + n > self.max_batch_images:
                break
            group.append(entry)
            images += n
        return group

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            group = self._next_group()
            if not group:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            # Round-robin between groups: move this group behind the others for the next pick.
            for entry in group:
                self._entries.remove(entry)
                self._entries.append(entry)
            started = time.perf_counter()
            for entry in group:
                if entry.first_step_at is None:
                    entry.first_step_at = started
            try:
                await loop.run_in_executor(self._executor, self._step, group)
            except Exception as exc:  # a model failure fails the jobs that were in that forward
                logger.exception("denoising step failed for %d job(s)", len(group))
                for entry in group:
                    entry.cancelled = True
                    entry.events.put_nowait(exc)
                continue
            self.steps_run += 1
            self.batch_sizes = (self.batch_sizes + [len(group)])[-256:]
            if self._on_step is not None:
                images = sum(e.job.params.num_images for e in group)
                waiting = sum(1 for e in self._entries if not e.cancelled) - len(group)
                self._on_step(group[0].job.params.model, images, waiting, time.perf_counter() - started)
            for entry in group:
                entry.max_batch = max(entry.max_batch, len(group))
                job = entry.job
                preview = self._preview(entry) if entry.preview else b""
                entry.events.put_nowait(StepEvent(step=job.index, total=job.total, preview_png=preview))
                if job.done:
                    entry.cancelled = True  # leaves the batch
                    latents = job.latents.detach().to("cpu")
                    now = time.perf_counter()
                    step_s = (now - (entry.first_step_at or entry.started)) / max(job.total, 1)
                    entry.events.put_nowait(DenoiseResult(latents, now - entry.started, entry.max_batch, step_s))

    @staticmethod
    def _step(group: list[_Entry]) -> None:
        group[0].engine.step([e.job for e in group])

    @staticmethod
    def _preview(entry: _Entry) -> bytes:
        p = entry.job.params
        return latent_preview_png(entry.job.latents, entry.engine.family, p.height, p.width, entry.engine.vae_scale)
