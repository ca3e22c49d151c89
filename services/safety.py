"""Safety deployment: prompt and image classification under the tenant's policy, batched.

Prompts from concurrent requests are scored in one MiniLM forward; images from concurrent
requests in one NudeNet forward. Every verdict is counted in
`genmedia_safety_verdicts_total{kind, category, action}`, every check that failed closed in
`genmedia_safety_classifier_failures_total{kind}` (services/metrics.py). Classifiers load in the constructor:
a missing model file fails the replica (visible in `serve status`), and a classifier that fails
at run time raises ClassifierUnavailable (UNAVAILABLE); content is never released unchecked.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import numpy as np
from ray import serve

from engines.image_files import decode_image
from genmedia.errors import InvalidArgument
from safety.categories import Action
from safety.errors import ClassifierUnavailable
from safety.image_checker import ImageChecker
from safety.prompt_checker import PromptChecker
from safety.verdict import CategoryScore, Verdict
from services.config import AppConfig
from services.metrics import Metrics
from services.runtime import configure_replica

logger = logging.getLogger("genmedia.safety")

MAX_PROMPT_CHARS = 4000


@dataclass(frozen=True)
class ImageCheck:
    """The verdict per image and the images to release (None where blocked)."""

    verdicts: tuple[Verdict, ...]
    images: tuple[np.ndarray | None, ...]


@serve.deployment(name="Safety")
class Safety:
    def __init__(self, config: AppConfig):
        settings = config.safety
        configure_replica(settings)
        self._policies = settings.policies
        self._prompts = PromptChecker.load(settings.rules_path, settings.semantic_model_dir)
        self._images = ImageChecker.load(settings.nudity_model, settings.face_cascade, settings.onnx_threads)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="safety")
        for method in (self._prompt_batch, self._image_batch):
            method.set_max_batch_size(settings.batch.max_batch_size)
            method.set_batch_wait_timeout_s(settings.batch.batch_wait_timeout_s)
        self._metrics = Metrics()
        self._prompts.score(["warm-up"])  # first calls allocate; keep that out of a request
        self._images.score([np.zeros((64, 64, 3), dtype=np.uint8)])
        logger.info("safety ready: rules %s, models %s", self._prompts.rules.version,
                    {**self._prompts.model_versions, **self._images.model_versions})

    # --- prompts ------------------------------------------------------------------------------
    async def check_prompt(self, tenant: str, prompt: str) -> Verdict:
        """The tenant policy's verdict on a prompt. Raises ClassifierUnavailable."""
        if len(prompt) > MAX_PROMPT_CHARS:
            raise InvalidArgument("prompt", f"{len(prompt)} characters is over the {MAX_PROMPT_CHARS} limit")
        with self._metrics.stage("safety_prompt"), self._failures_counted("prompt"):
            scores = await self._prompt_batch(prompt)
        policy = self._policies.resolve(tenant)
        verdict = policy.decide(scores, rules_version=self._prompts.rules.version,
                                model_versions=self._prompts.model_versions)
        self._count("prompt", verdict)
        return verdict

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.002)
    async def _prompt_batch(self, prompts: list[str]) -> list[list[CategoryScore]]:
        self._metrics.batch_size.observe(len(prompts), tags={"stage": "safety_prompt"})
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._prompts.score, prompts)

    # --- images -------------------------------------------------------------------------------
    async def check_images(self, tenant: str, images: np.ndarray | list[np.ndarray],
                           floor: Action = Action.ALLOW) -> ImageCheck:
        """Verdicts for a generation's images and what to release. Raises ClassifierUnavailable."""
        images = list(images)
        with self._metrics.stage("safety_image"), self._failures_counted("image"):
            scores = await asyncio.gather(*(self._image_batch(img) for img in images))
        policy = self._policies.resolve(tenant)
        verdicts, released = [], []
        for image, s in zip(images, scores):
            verdict, out = self._images.apply(image, s, policy, floor)
            self._count("image", verdict)
            verdicts.append(verdict)
            released.append(out)
        return ImageCheck(tuple(verdicts), tuple(released))

    async def classify_image_bytes(self, tenant: str, data: bytes) -> Verdict:
        """SafetyService.ClassifyImage: decode, then check. Raises InvalidArgument for bad bytes."""
        loop = asyncio.get_running_loop()
        image = await loop.run_in_executor(None, decode_image, data, "image")
        return (await self.check_images(tenant, [image])).verdicts[0]

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.002)
    async def _image_batch(self, images: list[np.ndarray]) -> list[list[CategoryScore]]:
        self._metrics.batch_size.observe(len(images), tags={"stage": "safety_image"})
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._images.score, images)

    @contextmanager
    def _failures_counted(self, kind: str) -> Iterator[None]:
        try:
            yield
        except ClassifierUnavailable:
            self._metrics.safety_unavailable.inc(tags={"kind": kind})
            raise

    def _count(self, kind: str, verdict: Verdict) -> None:
        hits = verdict.triggered
        counter = self._metrics.safety_verdicts
        if not hits:
            counter.inc(tags={"kind": kind, "category": "none", "action": verdict.action.value})
        for d in hits:
            counter.inc(tags={"kind": kind, "category": d.category.value, "action": d.action.value})
