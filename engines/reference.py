"""The monolithic diffusers pipeline, run the way the split path must reproduce.

Used by the equivalence tests and as the "bare pipeline" side of the benchmark.
"""

from __future__ import annotations

import numpy as np
import torch

from engines.decoding import to_uint8
from engines.families import Family
from engines.loading import LoadedParts
from engines.params import ImageParams
from engines.schedulers import make_scheduler


def run_pipeline(parts: LoadedParts, params: ImageParams) -> np.ndarray:
    """One diffusers pipeline call for `params`; returns uint8 NHWC images.

    `parts` must hold every component. The pipeline's scheduler is replaced by a fresh one of
    the requested kind, and the generator is seeded per call, as the split path does.
    """
    pipe = parts.pipeline
    saved = pipe.scheduler
    pipe.scheduler = make_scheduler(params.scheduler, saved)
    kwargs = dict(
        prompt=params.prompt,
        height=params.height,
        width=params.width,
        num_inference_steps=params.steps,
        guidance_scale=params.guidance_scale,
        num_images_per_prompt=params.num_images,
        generator=torch.Generator(device="cpu").manual_seed(params.seed),
        output_type="np",
    )
    if parts.family is not Family.FLUX:
        kwargs["negative_prompt"] = params.negative_prompt
    try:
        with torch.inference_mode():
            images = pipe(**kwargs).images
    finally:
        pipe.scheduler = saved
    return to_uint8(np.asarray(images))
