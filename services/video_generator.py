"""VideoGenerator deployment: text-to-video denoising and frame decoding for the video models.

Prompt embeddings come from the TextEncoder deployment (video models use SD's CLIP encoder).
One video at a time per replica, on a worker thread; `generate` streams a StepEvent per
denoising step and ends with the frames. A caller that goes away stops the work at the next step.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import AsyncIterator

import numpy as np
from ray import serve

from engines.embeddings import PromptEmbeddings
from engines.loading import VIDEO_PARTS, load_parts, thread_limit
from engines.step_batching import StepEvent
from engines.temporal import temporal_consistency
from engines.video_generation import VideoEngine, video_model_info
from engines.video_params import VideoModelInfo, VideoParams
from genmedia.errors import InvalidArgument
from services.config import AppConfig
from services.metrics import Metrics
from services.runtime import configure_replica
from services.threaded_work import Finished, stream_progress

logger = logging.getLogger("genmedia.video")


@dataclass(frozen=True)
class GeneratedVideo:
    frames: np.ndarray  # uint8 (F, H, W, 3)
    temporal_consistency: float
    seconds: float


@serve.deployment(name="VideoGenerator")
class VideoGenerator:
    def __init__(self, config: AppConfig):
        configure_replica(config.video_generator)
        self._engines: dict[str, VideoEngine] = {}
        self._infos: dict[str, VideoModelInfo] = {}
        self._threads = {spec.name: spec.torch_threads for spec in config.video_models}
        for spec in config.video_models:
            parts = load_parts(spec, config.cache_dir, VIDEO_PARTS)
            self._engines[spec.name] = VideoEngine(parts)
            self._infos[spec.name] = video_model_info(spec, parts)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="video")
        self._metrics = Metrics()
        logger.info("video generator ready: %s", sorted(self._engines))

    def model_infos(self) -> dict[str, VideoModelInfo]:
        return self._infos

    async def generate(self, params: VideoParams, embeddings: PromptEmbeddings) -> AsyncIterator:
        """Streams StepEvent per denoising step, then one GeneratedVideo. Raises InvalidArgument
        for an unknown model, Cancelled when the caller went away."""
        engine = self._engines.get(params.model)
        if engine is None:
            raise InvalidArgument("model", f"unknown video model {params.model!r}")

        def work(on_step, should_stop):
            with thread_limit(self._threads.get(params.model)):
                frames = engine.generate(params, embeddings, on_step=on_step, should_stop=should_stop)
                return frames, temporal_consistency(frames)

        async for item in stream_progress(self._executor, work, lambda done, total: StepEvent(done, total)):
            if isinstance(item, Finished):
                frames, consistency = item.value
                self._metrics.stage_duration.observe(item.seconds, tags={"stage": "video_generate",
                                                                         "model": params.model})
                yield GeneratedVideo(frames, consistency, item.seconds)
            else:
                yield item
