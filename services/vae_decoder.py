"""VAEDecoder deployment: latents to uint8 images, batched across requests."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from ray import serve

from engines.decoding import DecodeRequest, VaeDecoderEngine
from engines.loading import DECODE_PARTS, load_parts
from genmedia.errors import InvalidArgument
from services.config import AppConfig
from services.metrics import Metrics
from services.runtime import configure_replica


@serve.deployment(name="VAEDecoder")
class VAEDecoder:
    def __init__(self, config: AppConfig):
        configure_replica(config.vae_decoder)
        self._engines = {
            spec.name: VaeDecoderEngine(load_parts(spec, config.cache_dir, DECODE_PARTS)) for spec in config.models
        }
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vae-decode")
        batch = config.vae_decoder.batch
        self._decode_batch.set_max_batch_size(batch.max_batch_size)
        self._decode_batch.set_batch_wait_timeout_s(batch.batch_wait_timeout_s)
        self.batch_sizes: list[int] = []
        self._metrics = Metrics()

    async def decode(self, model: str, request: DecodeRequest) -> np.ndarray:
        """uint8 NHWC images for one request's latents."""
        if model not in self._engines:
            raise InvalidArgument("model", f"unknown model {model!r}")
        with self._metrics.stage("decode", model):
            return await self._decode_batch((model, request))

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.002)
    async def _decode_batch(self, items: list[tuple[str, DecodeRequest]]) -> list[np.ndarray]:
        self.batch_sizes = (self.batch_sizes + [len(items)])[-256:]
        self._metrics.batch_size.observe(len(items), tags={"stage": "decode"})
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._decode_sync, items)

    def _decode_sync(self, items: list[tuple[str, DecodeRequest]]) -> list[np.ndarray]:
        results: list[np.ndarray | None] = [None] * len(items)
        by_model: dict[str, list[int]] = {}
        for i, (model, _) in enumerate(items):
            by_model.setdefault(model, []).append(i)
        for model, indices in by_model.items():
            for i, images in zip(indices, self._engines[model].decode([items[i][1] for i in indices])):
                results[i] = images
        return results  # type: ignore[return-value]

    def stats(self) -> dict:
        return {"batch_sizes": list(self.batch_sizes)}
