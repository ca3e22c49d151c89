"""The split path (text stage -> denoiser -> decoder) equals the monolithic diffusers pipeline.

Bit-identical at batch 1 for every family and every scheduler it supports; within one 8-bit
level when requests are batched together (step-level batching, batched encode and decode).
"""

from __future__ import annotations

import numpy as np
import pytest

from engines.decoding import DecodeRequest, VaeDecoderEngine
from engines.denoising import DenoiseEngine
from engines.families import TRAITS
from engines.loading import DECODE_PARTS, DENOISE_PARTS, TEXT_PARTS, load_parts, model_info
from engines.params import RawImageFields, resolve_image_params
from engines.reference import run_pipeline
from engines.schedulers import SchedulerName
from engines.text_encoding import EncodeRequest, TextEncoderEngine
from tests.unit.conftest import TINY, tiny_spec

ALL_PARTS = TEXT_PARTS | DENOISE_PARTS | DECODE_PARTS


class Split:
    """The three stage engines of one model, in one process."""

    def __init__(self, name, cache):
        spec = tiny_spec(name)
        text_parts = load_parts(spec, cache, TEXT_PARTS)
        self.info = model_info(spec, text_parts)
        self.text = TextEncoderEngine(text_parts)
        self.denoise = DenoiseEngine(load_parts(spec, cache, DENOISE_PARTS))
        self.decode = VaeDecoderEngine(load_parts(spec, cache, DECODE_PARTS))
        self.full = load_parts(spec, cache, ALL_PARTS)

    def params(self, **fields):
        fields.setdefault("prompt", "a lighthouse at dusk")
        return resolve_image_params(RawImageFields(model=self.info.name, **fields), self.info, seed_if_unset=0)

    def run(self, params):
        [emb] = self.text.encode([EncodeRequest(params.model, params.prompt, params.negative_prompt,
                                                params.guidance_scale)])
        latents = self.denoise.run(params, emb)
        [images] = self.decode.decode([DecodeRequest(latents, params.height, params.width)])
        return images


@pytest.fixture(scope="module", params=TINY)
def split(request, model_cache):
    return Split(request.param, model_cache)


def _schedulers(split):
    return sorted(TRAITS[split.info.family].schedulers | {SchedulerName.DEFAULT}, key=lambda s: s.value)


def test_bit_identical_for_every_scheduler(split):
    for scheduler in _schedulers(split):
        params = split.params(scheduler=scheduler, steps=4, seed=1234,
                              negative_prompt="" if split.info.family.value == "flux" else "blurry")
        expected = run_pipeline(split.full, params)
        got = split.run(params)
        assert got.shape == expected.shape == (1, params.height, params.width, 3)
        assert np.array_equal(got, expected), f"{split.info.name}/{scheduler.value} differs from the pipeline"


def test_bit_identical_with_several_images_and_no_guidance(split):
    params = split.params(num_images=2, steps=3, seed=7, guidance_scale=1.0)
    assert np.array_equal(split.run(params), run_pipeline(split.full, params))


def test_batched_within_one_level(split):
    """Three requests with different seeds and prompts denoised in one step-level batch."""
    all_params = [split.params(prompt=p, steps=4, seed=s) for p, s in
                  [("a red fox", 1), ("a blue whale", 2), ("a green frog", 3)]]
    expected = [run_pipeline(split.full, p) for p in all_params]
    embs = split.text.encode([EncodeRequest(p.model, p.prompt, p.negative_prompt, p.guidance_scale)
                              for p in all_params])
    jobs = [split.denoise.start(p, e) for p, e in zip(all_params, embs)]
    while not all(j.done for j in jobs):
        split.denoise.step(jobs)
    decoded = split.decode.decode([DecodeRequest(j.latents, p.height, p.width) for j, p in zip(jobs, all_params)])
    for got, want in zip(decoded, expected):
        diff = np.abs(got.astype(int) - want.astype(int)).max()
        assert diff <= 1, f"batched output differs by {diff} levels"
