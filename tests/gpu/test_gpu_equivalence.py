"""On a lent GPU: full-size architectures load and the split path matches the pipeline.

Skipped without CUDA (CI has none). Run: pytest tests/gpu -q
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


def test_sd15_arch_split_matches_pipeline(tmp_path):
    from engines.decoding import DecodeRequest, VaeDecoderEngine
    from engines.denoising import DenoiseEngine
    from engines.loading import DECODE_PARTS, DENOISE_PARTS, TEXT_PARTS, load_parts, model_info
    from engines.params import RawImageFields, resolve_image_params
    from engines.reference import run_pipeline
    from engines.registry import ModelSpec
    from engines.text_encoding import EncodeRequest, TextEncoderEngine

    spec = ModelSpec(name="sd15-arch", source="preset:sd15-arch", precision="fp16", device="cuda")
    text_parts = load_parts(spec, tmp_path, TEXT_PARTS)
    info = model_info(spec, text_parts)
    params = resolve_image_params(RawImageFields(prompt="a lighthouse", model="sd15-arch", seed=1, steps=4), info, 0)
    [emb] = TextEncoderEngine(text_parts).encode([EncodeRequest("sd15-arch", params.prompt, None, params.guidance_scale)])
    latents = DenoiseEngine(load_parts(spec, tmp_path, DENOISE_PARTS)).run(params, emb)
    [split] = VaeDecoderEngine(load_parts(spec, tmp_path, DECODE_PARTS)).decode(
        [DecodeRequest(latents, params.height, params.width)])
    full = run_pipeline(load_parts(spec, tmp_path, TEXT_PARTS | DENOISE_PARTS | DECODE_PARTS), params)
    assert np.abs(split.astype(int) - full.astype(int)).max() <= 1
