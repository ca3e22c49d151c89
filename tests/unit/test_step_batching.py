"""Step-level batching: concurrent jobs share forwards, finish correctly, and cancel cleanly."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from engines.denoising import DenoiseEngine
from engines.loading import DENOISE_PARTS, TEXT_PARTS, load_parts, model_info
from engines.params import RawImageFields, resolve_image_params
from engines.step_batching import DenoiseResult, StepBatcher, StepEvent
from engines.text_encoding import EncodeRequest, TextEncoderEngine
from tests.unit.conftest import tiny_spec


@pytest.fixture(scope="module")
def tiny_sd(model_cache):
    spec = tiny_spec("tiny-sd")
    text_parts = load_parts(spec, model_cache, TEXT_PARTS)
    return model_info(spec, text_parts), TextEncoderEngine(text_parts), DenoiseEngine(
        load_parts(spec, model_cache, DENOISE_PARTS))


def _inputs(tiny_sd, seed, steps=6, **fields):
    info, text, _ = tiny_sd
    params = resolve_image_params(RawImageFields(prompt=f"prompt {seed}", model="tiny-sd", seed=seed, steps=steps,
                                                 **fields), info, seed_if_unset=0)
    [emb] = text.encode([EncodeRequest("tiny-sd", params.prompt, None, params.guidance_scale)])
    return params, emb


async def _collect(batcher, params, emb, preview=False):
    events = []
    async for event in batcher.submit(params, emb, preview):
        events.append(event)
    return events


def test_concurrent_jobs_share_steps_and_match_alone(tiny_sd):
    _, _, engine = tiny_sd
    inputs = [_inputs(tiny_sd, seed) for seed in range(4)]

    async def main():
        batcher = StepBatcher({"tiny-sd": engine}, max_batch_images=8)
        results = await asyncio.gather(*(_collect(batcher, p, e) for p, e in inputs))
        return batcher, results

    batcher, results = asyncio.run(main())
    assert max(batcher.batch_sizes) == 4  # all four jobs stepped together
    for (params, emb), events in zip(inputs, results):
        assert [e.step for e in events if isinstance(e, StepEvent)] == list(range(1, 7))
        final = events[-1]
        assert isinstance(final, DenoiseResult) and final.max_batch == 4
        assert 0 < final.step_s * 6 <= final.seconds  # per step, timed from its first step (no setup)
        alone = engine.run(params, emb)
        assert np.allclose(final.latents.numpy(), alone.numpy(), atol=1e-4)


def test_incompatible_jobs_are_batched_separately(tiny_sd):
    _, _, engine = tiny_sd
    a = _inputs(tiny_sd, 1, width=64, height=64)
    b = _inputs(tiny_sd, 2, width=128, height=64)

    async def main():
        batcher = StepBatcher({"tiny-sd": engine}, max_batch_images=8)
        await asyncio.gather(_collect(batcher, *a), _collect(batcher, *b))
        return batcher

    assert max(asyncio.run(main()).batch_sizes) == 1


def test_max_batch_images_is_respected(tiny_sd):
    _, _, engine = tiny_sd
    inputs = [_inputs(tiny_sd, seed, num_images=2) for seed in range(3)]

    async def main():
        batcher = StepBatcher({"tiny-sd": engine}, max_batch_images=4)
        await asyncio.gather(*(_collect(batcher, p, e) for p, e in inputs))
        return batcher

    assert max(asyncio.run(main()).batch_sizes) == 2


def test_cancelled_job_leaves_and_frees_the_loop(tiny_sd):
    _, _, engine = tiny_sd
    long_params, long_emb = _inputs(tiny_sd, 1, steps=150)
    short = _inputs(tiny_sd, 2, steps=3)

    async def main():
        batcher = StepBatcher({"tiny-sd": engine}, max_batch_images=8)
        stream = batcher.submit(long_params, long_emb)
        async for event in stream:
            if event.step == 2:
                break
        await stream.aclose()
        steps_at_cancel = batcher.steps_run
        events = await asyncio.wait_for(_collect(batcher, *short), timeout=30)
        return batcher, steps_at_cancel, events

    batcher, steps_at_cancel, events = asyncio.run(main())
    assert isinstance(events[-1], DenoiseResult)
    assert batcher.steps_run - steps_at_cancel <= 3 + 1  # the long job ran at most one more step
    assert batcher.active == 0


def test_previews_are_small_pngs(tiny_sd):
    _, _, engine = tiny_sd
    params, emb = _inputs(tiny_sd, 3, steps=2)

    async def main():
        return await _collect(StepBatcher({"tiny-sd": engine}, 8), params, emb, preview=True)

    steps = [e for e in asyncio.run(main()) if isinstance(e, StepEvent)]
    assert all(e.preview_png.startswith(b"\x89PNG") for e in steps)
