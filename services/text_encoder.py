"""TextEncoder deployment: prompt token checks and embeddings, batched, with an LRU cache."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

from ray import serve

from engines.embeddings import PromptEmbeddings
from engines.loading import TEXT_PARTS, load_parts, model_info
from engines.registry import ModelInfo
from engines.text_encoding import EncodeRequest, TextEncoderEngine
from genmedia.errors import InvalidArgument
from services.config import AppConfig
from services.metrics import Metrics
from services.runtime import configure_replica

logger = logging.getLogger("genmedia.text_encoder")


class EmbeddingCache:
    """A bounded LRU of prompt embeddings (they are deterministic for a model and prompt)."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self._items: OrderedDict[tuple, PromptEmbeddings] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple) -> PromptEmbeddings | None:
        item = self._items.get(key)
        if item is None:
            self.misses += 1
            return None
        self._items.move_to_end(key)
        self.hits += 1
        return item

    def put(self, key: tuple, value: PromptEmbeddings) -> None:
        if self.capacity <= 0:
            return
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)


@serve.deployment(name="TextEncoder")
class TextEncoder:
    def __init__(self, config: AppConfig):
        configure_replica(config.text_encoder)
        self._engines: dict[str, TextEncoderEngine] = {}
        self._infos: dict[str, ModelInfo] = {}
        # Image models, and video models (their CLIP encoder is SD's; the VideoGenerator takes the embeddings).
        for spec in [*config.models, *config.video_models]:
            parts = load_parts(spec, config.cache_dir, TEXT_PARTS)
            self._engines[spec.name] = TextEncoderEngine(parts)
            if spec in config.models:
                self._infos[spec.name] = model_info(spec, parts)
        self._cache = EmbeddingCache(config.text_encoder.cache_entries)
        self._metrics = Metrics()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="text-encode")
        batch = config.text_encoder.batch
        self._encode_batch.set_max_batch_size(batch.max_batch_size)
        self._encode_batch.set_batch_wait_timeout_s(batch.batch_wait_timeout_s)
        for name, engine in self._engines.items():  # warm-up: first calls allocate and tune kernels
            engine.encode([EncodeRequest(name, "warm-up", None, 7.5)])

    def model_infos(self) -> dict[str, ModelInfo]:
        """The image models (video models' infos come from the VideoGenerator)."""
        return self._infos

    async def encode(self, request: EncodeRequest) -> PromptEmbeddings:
        """Embeddings for one prompt. Raises InvalidArgument for an unknown model or a too-long prompt."""
        engine = self._engines.get(request.model)
        if engine is None:
            raise InvalidArgument("model", f"unknown model {request.model!r}")
        key = request.cache_key(engine.cfg(request.guidance_scale))
        with self._metrics.stage("text_encode", request.model):
            cached = self._cache.get(key)
            self._metrics.prompt_cache.inc(tags={"model": request.model, "result": "miss" if cached is None else "hit"})
            if cached is not None:
                return PromptEmbeddings(**{**cached.__dict__, "cache_hit": True})
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._executor, self._check_tokens, engine, request)
            result = await self._encode_batch(request)
            self._cache.put(key, result)
            return result

    @staticmethod
    def _check_tokens(engine: TextEncoderEngine, request: EncodeRequest) -> None:
        engine.check_tokens(request.prompt, "prompt")
        if request.negative_prompt:
            engine.check_tokens(request.negative_prompt, "negative_prompt")

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.002)
    async def _encode_batch(self, requests: list[EncodeRequest]) -> list[PromptEmbeddings]:
        self._metrics.batch_size.observe(len(requests), tags={"stage": "text_encode"})
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._encode_sync, requests)

    def _encode_sync(self, requests: list[EncodeRequest]) -> list[PromptEmbeddings]:
        results: list[PromptEmbeddings | None] = [None] * len(requests)
        by_model: dict[str, list[int]] = {}
        for i, r in enumerate(requests):
            by_model.setdefault(r.model, []).append(i)
        for model, indices in by_model.items():
            encoded = self._engines[model].encode([requests[i] for i in indices])
            for i, emb in zip(indices, encoded):
                results[i] = emb
        return results  # type: ignore[return-value]
