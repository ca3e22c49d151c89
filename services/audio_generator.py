"""AudioGenerator deployment: MusicGen (transformers) for the audio models.

One clip at a time per replica, on a worker thread; `generate` streams a StepEvent every few
generated tokens (about 20 per clip) and ends with the samples. A caller that goes away stops
the work at the next token.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import AsyncIterator

import numpy as np
from ray import serve

from engines.audio_params import AudioParams
from engines.music_generation import MusicEngine, load_music_engine
from engines.registry import AudioModelInfo
from engines.step_batching import StepEvent
from genmedia.errors import InvalidArgument
from services.config import AppConfig
from services.metrics import Metrics
from services.runtime import configure_replica
from services.threaded_work import Finished, stream_progress

logger = logging.getLogger("genmedia.audio")

PROGRESS_EVENTS = 20  # per clip: a token-level stream would be thousands of messages


@dataclass(frozen=True)
class GeneratedAudio:
    samples: np.ndarray  # float32 mono in [-1, 1]
    sample_rate: int
    seconds: float


@serve.deployment(name="AudioGenerator")
class AudioGenerator:
    def __init__(self, config: AppConfig):
        configure_replica(config.audio_generator)
        self._engines: dict[str, MusicEngine] = {
            spec.name: load_music_engine(spec, config.cache_dir) for spec in config.audio_models
        }
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="audio")
        self._metrics = Metrics()
        logger.info("audio generator ready: %s", sorted(self._engines))

    def model_infos(self) -> dict[str, AudioModelInfo]:
        return {name: engine.info for name, engine in self._engines.items()}

    async def generate(self, params: AudioParams) -> AsyncIterator:
        """Streams StepEvent (tokens done of total, thinned), then one GeneratedAudio. Raises
        InvalidArgument for an unknown model, Cancelled when the caller went away."""
        engine = self._engines.get(params.model)
        if engine is None:
            raise InvalidArgument("model", f"unknown audio model {params.model!r}")
        total = engine.tokens_for(params.duration_s)
        every = max(1, total // PROGRESS_EVENTS)

        def work(on_token, should_stop):
            def thinned(done: int, of: int) -> None:
                if done % every == 0 or done == of:
                    on_token(done, of)
            return engine.generate(params, on_token=thinned, should_stop=should_stop)

        async for item in stream_progress(self._executor, work, lambda done, of: StepEvent(done, of)):
            if isinstance(item, Finished):
                samples, rate = item.value
                self._metrics.stage_duration.observe(item.seconds, tags={"stage": "audio_generate",
                                                                         "model": params.model})
                yield GeneratedAudio(samples, rate, item.seconds)
            else:
                yield item
