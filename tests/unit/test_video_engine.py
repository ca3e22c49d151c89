"""The video engine on the tiny video presets: loading, the loop against diffusers, cancellation,
determinism, and parameter validation. Runs in seconds: 4 frames of 64 px, 2 steps."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import DiffusionPipeline, UNetMotionModel

from engines import presets
from engines.denoising import DenoiseEngine
from engines.families import TRAITS, Family, is_video_family
from engines.loading import DENOISE_PARTS, TEXT_PARTS, VIDEO_PARTS, load_parts, thread_limit
from engines.params import RawImageFields, resolve_image_params
from engines.registry import ModelInfo, ModelSpec
from engines.schedulers import SchedulerName, make_scheduler
from engines.text_encoding import EncodeRequest, TextEncoderEngine
from engines.video_generation import VideoEngine, video_model_info
from engines.video_params import RawVideoFields, VideoModelInfo, resolve_video_params
from genmedia.errors import Cancelled, InvalidArgument

VIDEO_PRESETS = ["tiny-t2v", "tiny-animatediff"]
FAMILY = {"tiny-t2v": Family.TEXT_TO_VIDEO, "tiny-animatediff": Family.ANIMATEDIFF}


class Loaded:
    """One tiny video model loaded as the services load it: text stage and video stage apart."""

    def __init__(self, name: str, cache: Path):
        # One intra-op thread: these models are overhead-bound, and CI cores are shared.
        self.spec = ModelSpec(name=name, source=f"preset:{name}", torch_threads=1)
        self.text = TextEncoderEngine(load_parts(self.spec, cache, TEXT_PARTS))
        self.parts = load_parts(self.spec, cache, VIDEO_PARTS)
        self.engine = VideoEngine(self.parts)
        self.info = video_model_info(self.spec, self.parts)

    def params(self, **fields):
        raw = RawVideoFields(**{"prompt": "a cat riding a horse", "num_frames": 4, "steps": 2, **fields})
        return resolve_video_params(raw, self.info, seed_if_unset=7)

    def embed(self, params):
        request = EncodeRequest(params.model, params.prompt, params.negative_prompt, params.guidance_scale)
        return self.text.encode([request])[0]

    def generate(self, params, **callbacks):
        return self.engine.generate(params, self.embed(params), **callbacks)


@pytest.fixture(scope="module", params=VIDEO_PRESETS)
def model(request, model_cache: Path) -> Loaded:
    return Loaded(request.param, model_cache)


def test_preset_is_saved_in_diffusers_layout_and_loads_back(model: Loaded) -> None:
    name = model.spec.name
    assert presets.is_complete(model.parts.path, presets.preset_fingerprint(name))
    index = json.loads((model.parts.path / "model_index.json").read_text())
    assert index["_class_name"] == presets.PRESETS[name].pipeline_class == TRAITS[FAMILY[name]].pipeline_class
    pipe = DiffusionPipeline.from_pretrained(model.parts.path)
    assert type(pipe).__name__ == index["_class_name"]
    if name == "tiny-animatediff":  # the layout real checkpoints ship, fused at load
        assert index["unet"] == ["diffusers", "UNet2DConditionModel"]
        assert index["motion_adapter"] == ["diffusers", "MotionAdapter"]
        assert isinstance(pipe.unet, UNetMotionModel)
    assert model.parts.family is FAMILY[name] and is_video_family(model.parts.family)


def test_model_info_defaults_and_frame_limit(model: Loaded) -> None:
    info = model.info
    assert (info.model.default_width, info.model.default_height) == (64, 64)
    assert (info.default_num_frames, info.default_fps) == (8, 8)
    assert info.max_num_frames == (32 if model.spec.name == "tiny-animatediff" else 64)


def test_generate_shapes_progress_and_determinism(model: Loaded) -> None:
    steps: list[tuple[int, int]] = []
    params = model.params(width=72, height=64, num_frames=3, seed=3)
    first = model.generate(params, on_step=lambda i, n: steps.append((i, n)))
    assert first.shape == (3, 64, 72, 3) and first.dtype == np.uint8
    assert steps == [(1, 2), (2, 2)]
    assert first.std() > 1  # random weights still give structured, not constant, frames
    assert np.array_equal(first, model.generate(params))
    assert not np.array_equal(first, model.generate(replace(params, seed=4)))


def test_matches_the_diffusers_pipeline(model: Loaded) -> None:
    """The golden check: same seed -> the frames diffusers' own pipeline gives. Text-to-video
    samples ancestrally, which also checks that the per-request generator feeds the scheduler's
    noise in the pipeline's frames-as-images layout; AnimateDiff runs its saved DDIM."""
    scheduler = SchedulerName.EULER_ANCESTRAL if model.spec.name == "tiny-t2v" else SchedulerName.DEFAULT
    params = model.params(negative_prompt="blurry", guidance_scale=6.0, seed=11, scheduler=scheduler)
    ours = model.generate(params)

    pipe = DiffusionPipeline.from_pretrained(model.parts.path)
    pipe.set_progress_bar_config(disable=True)
    pipe.scheduler = make_scheduler(scheduler, pipe.scheduler)
    with thread_limit(1):
        video = pipe(
            prompt=params.prompt,
            negative_prompt=params.negative_prompt,
            num_frames=params.num_frames,
            height=params.height,
            width=params.width,
            num_inference_steps=params.steps,
            guidance_scale=params.guidance_scale,
            generator=torch.Generator().manual_seed(params.seed),
            output_type="np",
        ).frames
    reference = (np.asarray(video)[0] * 255).round().astype(np.uint8)
    assert reference.shape == ours.shape
    assert np.abs(reference.astype(int) - ours.astype(int)).max() <= 1


def test_should_stop_cancels_at_the_next_step(model: Loaded) -> None:
    steps: list[int] = []
    with pytest.raises(Cancelled):
        model.generate(model.params(steps=3), on_step=lambda i, n: steps.append(i), should_stop=lambda: len(steps) >= 1)
    assert steps == [1]
    with pytest.raises(Cancelled):
        model.generate(model.params(), on_step=lambda i, n: steps.append(i), should_stop=lambda: True)
    assert steps == [1]  # stopped before the first step


def test_image_stages_refuse_video_models(model: Loaded, model_cache: Path) -> None:
    with pytest.raises(ValueError, match="video"):
        DenoiseEngine(load_parts(model.spec, model_cache, DENOISE_PARTS))
    with pytest.raises(InvalidArgument) as err:
        resolve_image_params(RawImageFields(prompt="a cat"), model.info.model, seed_if_unset=0)
    assert err.value.field == "model"


def test_video_engine_refuses_animatediff_without_motion_adapter(model_cache: Path) -> None:
    spec = ModelSpec(name="tiny-animatediff", source="preset:tiny-animatediff", torch_threads=1)
    with pytest.raises(ValueError, match="motion_adapter"):
        VideoEngine(load_parts(spec, model_cache, VIDEO_PARTS - {"motion_adapter"}))


# --- parameters (no model needed) --------------------------------------------------------------

T2V_INFO = VideoModelInfo(
    model=ModelInfo("v", Family.TEXT_TO_VIDEO, "x", 256, 256, 25, 9.0, SchedulerName.DDIM, 77),
    default_num_frames=16, default_fps=8, max_num_frames=64,
)
ANIMATEDIFF_INFO = VideoModelInfo(
    model=replace(T2V_INFO.model, name="a", family=Family.ANIMATEDIFF),
    default_num_frames=16, default_fps=8, max_num_frames=32,
)


def test_defaults_come_from_the_model() -> None:
    params = resolve_video_params(RawVideoFields(prompt="a cat"), T2V_INFO, seed_if_unset=5)
    assert (params.width, params.height, params.num_frames, params.fps, params.steps) == (256, 256, 16, 8, 25)
    assert (params.guidance_scale, params.seed, params.container.value, params.negative_prompt) == (9.0, 5, "mp4", None)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"prompt": " "}, "prompt"),
        ({"negative_prompt": "a\x00b"}, "negative_prompt"),
        ({"width": 100}, "width"),
        ({"width": 1032}, "width"),
        ({"height": 56}, "height"),
        ({"num_frames": 65}, "num_frames"),
        ({"fps": 61}, "fps"),
        ({"steps": 151}, "steps"),
        ({"guidance_scale": 30.5}, "guidance_scale"),
        ({"guidance_scale": float("nan")}, "guidance_scale"),
        ({"scheduler": SchedulerName.FLOW_MATCH_EULER}, "scheduler"),
        ({"seed": -1}, "seed"),
        ({"container": "avi"}, "container"),
    ],
)
def test_invalid_fields_are_named(fields: dict, field: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        resolve_video_params(RawVideoFields(**{"prompt": "a cat", **fields}), T2V_INFO, seed_if_unset=0)
    assert err.value.field == field


def test_animatediff_frame_limit_is_its_motion_module_length() -> None:
    ok = resolve_video_params(RawVideoFields(prompt="a cat", num_frames=32), ANIMATEDIFF_INFO, seed_if_unset=0)
    assert ok.num_frames == 32
    with pytest.raises(InvalidArgument, match="1..32") as err:
        resolve_video_params(RawVideoFields(prompt="a cat", num_frames=33), ANIMATEDIFF_INFO, seed_if_unset=0)
    assert err.value.field == "num_frames"


def test_video_params_refuse_image_models() -> None:
    info = replace(T2V_INFO, model=replace(T2V_INFO.model, family=Family.SD))
    with pytest.raises(InvalidArgument) as err:
        resolve_video_params(RawVideoFields(prompt="a cat"), info, seed_if_unset=0)
    assert err.value.field == "model"


@pytest.mark.parametrize("name", ["modelscope-t2v-arch", "animatediff-sd15-arch"])
def test_arch_presets_assemble_on_meta(name: str) -> None:
    """Full-size video architectures: shapes only (never built in CI)."""
    pipe = presets.assemble_pipeline(name, device="meta")
    spec = presets.PRESETS[name]
    assert pipe.vae_scale_factor * pipe.unet.config.sample_size == spec.default_height
    if name == "animatediff-sd15-arch":
        # The SD 1.5 parts are exactly sd15-arch's; v1-5-2 motion modules cover 32 frames.
        assert pipe.motion_adapter.config.motion_max_seq_length == 32
        assert sum(p.numel() for p in pipe.unet.parameters()) == 859_520_964
