"""Denoiser deployment: the UNet/DiT hot loop, with step-level batching across requests."""

from __future__ import annotations

from typing import AsyncIterator

from ray import serve

from engines.denoising import DenoiseEngine
from engines.embeddings import PromptEmbeddings
from engines.loading import DENOISE_PARTS, load_parts
from engines.params import ImageParams
from engines.registry import Runtime
from engines.step_batching import DenoiseResult, StepBatcher
from genmedia.errors import InvalidArgument
from services.config import AppConfig
from services.metrics import Metrics
from services.runtime import configure_replica


@serve.deployment(name="Denoiser")
class Denoiser:
    def __init__(self, config: AppConfig):
        configure_replica(config.denoiser)
        engines = {}
        for spec in config.models:
            parts = load_parts(spec, config.cache_dir, DENOISE_PARTS)
            engines[spec.name] = DenoiseEngine(parts, compile_model=spec.runtime is Runtime.COMPILE)
        self._metrics = Metrics()
        self._batcher = StepBatcher(engines, config.denoiser.max_batch_images, on_step=self._observe_step)

    async def denoise(
        self, params: ImageParams, embeddings: PromptEmbeddings, preview: bool = False
    ) -> AsyncIterator:
        """Streams StepEvent per step, then a DenoiseResult. Cancelling the call stops the job."""
        if params.model not in self._batcher.engines:
            raise InvalidArgument("model", f"unknown model {params.model!r}")
        async for event in self._batcher.submit(params, embeddings, preview):
            if isinstance(event, DenoiseResult):
                self._metrics.stage_duration.observe(event.seconds, tags={"stage": "denoise", "model": params.model})
            yield event

    def _observe_step(self, model: str, images: int, waiting: int, seconds: float) -> None:
        self._metrics.stage_duration.observe(seconds, tags={"stage": "denoise_step", "model": model})
        self._metrics.batch_size.observe(images, tags={"stage": "denoise_step"})
        self._metrics.denoiser_waiting.set(waiting)

    async def denoise_to_end(self, params: ImageParams, embeddings: PromptEmbeddings) -> DenoiseResult:
        """The final DenoiseResult only: unary requests skip one Ray message per step."""
        async for event in self.denoise(params, embeddings, False):
            if isinstance(event, DenoiseResult):
                return event
        raise RuntimeError("denoising ended without a result")

    def stats(self) -> dict:
        return {"steps_run": self._batcher.steps_run, "batch_sizes": list(self._batcher.batch_sizes)}
