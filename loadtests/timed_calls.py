"""One timed call of each side of the comparison, with its per-stage times.

- `load_bare(spec, cache_dir)` -> (parts, info): every part of a model, loaded in this process.
- `bare_call(parts, info, prompt, seed, case)` -> (wall seconds, stages): one in-process
  `engines.reference.run_pipeline` call, its stages marked by `BareTimer`.
- `e2e_call(client, model, prompt, seed, case)` -> (wall seconds, stages): one gRPC
  `GenerateImage`; stages are the server's `timings` plus `client_overhead_s` (wall - total_s).
A case is {"width", "height", "steps", "guidance"}; without one, e2e_call uses the model's defaults.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from engines.loading import DECODE_PARTS, DENOISE_PARTS, TEXT_PARTS, load_parts, model_info
from engines.params import RawImageFields, resolve_image_params
from engines.reference import run_pipeline
from engines.registry import ModelSpec
from genmedia.client import GenmediaClient
from genmedia.v1 import generation_pb2 as pb
from loadtests.common import RPC_TIMEOUT_S, STAGES

ALL_PARTS = TEXT_PARTS | DENOISE_PARTS | DECODE_PARTS


class BareTimer:
    """Times the stages of one in-process pipeline call by wrapping its encode_prompt and vae.decode."""

    def __init__(self, pipe):
        self.pipe = pipe
        self.marks: dict[str, float] = {}

    def __enter__(self) -> "BareTimer":
        pipe, marks = self.pipe, self.marks
        encode, decode = pipe.encode_prompt, pipe.vae.decode

        def timed_encode(*a, **k):
            marks["text_start"] = time.perf_counter()
            try:
                return encode(*a, **k)
            finally:
                marks["text_end"] = time.perf_counter()

        def timed_decode(*a, **k):
            marks["decode_start"] = time.perf_counter()
            try:
                return decode(*a, **k)
            finally:
                marks["decode_end"] = time.perf_counter()

        pipe.encode_prompt = timed_encode
        pipe.vae.decode = timed_decode
        return self

    def __exit__(self, *exc) -> None:
        del self.pipe.encode_prompt
        del self.pipe.vae.decode

    def stages(self, start: float, end: float) -> dict[str, float]:
        """Stage seconds of the call that ran from `start` to `end` ({} if a mark is missing)."""
        m = self.marks
        if not {"text_start", "text_end", "decode_start", "decode_end"} <= m.keys():
            return {}
        return {
            "text_encode_s": m["text_end"] - m["text_start"],
            "denoise_s": m["decode_start"] - m["text_end"],  # latents prep + the step loop
            "decode_s": m["decode_end"] - m["decode_start"],
            "other_s": (m["text_start"] - start) + (end - m["decode_end"]),  # checks, postprocess
            "total_s": end - start,
        }


def load_bare(spec: ModelSpec, cache_dir: Path):
    """(parts, model info) of `spec` with all its parts, for the bare pipeline."""
    parts = load_parts(spec, cache_dir, ALL_PARTS)
    return parts, model_info(spec, parts)


def bare_call(parts, info, prompt: str, seed: int, case: dict[str, Any]) -> tuple[float, dict[str, float]]:
    """One in-process pipeline call: (wall seconds, stage seconds)."""
    raw = RawImageFields(prompt=prompt, model=info.name, width=case["width"], height=case["height"],
                         steps=case["steps"], guidance_scale=case["guidance"], seed=seed)
    params = resolve_image_params(raw, info, seed_if_unset=seed)
    with BareTimer(parts.pipeline) as timer:
        start = time.perf_counter()
        images = run_pipeline(parts, params)
        if parts.device.type == "cuda":
            torch.cuda.synchronize()
        end = time.perf_counter()
    if images.shape[1:3] != (case["height"], case["width"]):
        raise RuntimeError(f"bare pipeline returned {images.shape}")
    return end - start, timer.stages(start, end)


def e2e_call(client: GenmediaClient, model: str, prompt: str, seed: int,
             case: dict[str, Any] | None = None) -> tuple[float, dict[str, float]]:
    """One GenerateImage through the service: (client wall seconds, server stage seconds + overhead)."""
    fields: dict[str, Any] = dict(prompt=prompt, model=model, seed=seed, return_bytes=False,
                                  format=pb.IMAGE_FORMAT_PNG)
    if case:
        fields.update(width=case["width"], height=case["height"], steps=case["steps"],
                      guidance_scale=case["guidance"])
    start = time.perf_counter()
    result = client.generate_image(timeout=RPC_TIMEOUT_S, **fields)
    wall = time.perf_counter() - start
    if len(result.images) != 1 or (case and (result.width, result.steps) != (case["width"], case["steps"])):
        raise RuntimeError(f"unexpected result: {len(result.images)} images, {result.width}px, {result.steps} steps")
    stages = {name: getattr(result.timings, name) for name in STAGES}
    stages["client_overhead_s"] = wall - result.timings.total_s  # gRPC, proxy, routing, manifest, reply
    return wall, stages
