"""The video stage: temporal denoising loop and frame decoding, one request at a time.

`VideoEngine.generate` is the loop the diffusers video pipelines write (TextToVideoSDPipeline,
AnimateDiffPipeline), in one visible place: per-request generator and scheduler -> initial
latents (B, C, F, h, w) -> for each timestep: stop check, temporal UNet forward with
classifier-free guidance, scheduler step, progress report -> VAE decode frame by frame, in
chunks. Text encoding is not here: prompts arrive as the PromptEmbeddings that the text stage
(`engines.text_encoding.TextEncoderEngine`) computes for these folders like for SD 1.x.

At batch 1 each tensor op matches the family's pipeline, so the same seed gives the frames the
diffusers pipeline gives (checked by tests/unit/test_video_engine.py).

Load the parts with ``load_parts(spec, cache_dir, VIDEO_PARTS)``: AnimateDiff folders hold an SD
``UNet2DConditionModel`` and a ``MotionAdapter`` that the pipeline fuses into a
``UNetMotionModel`` on load, so the adapter must be loaded with the UNet.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

import numpy as np
import torch
from diffusers import UNet3DConditionModel, UNetMotionModel
from diffusers.utils.torch_utils import randn_tensor

from engines import presets
from engines.decoding import to_uint8
from engines.denoising import _extra_step_kwargs
from engines.embeddings import PromptEmbeddings, read_denoiser_config, uses_cfg, vae_scale_factor
from engines.families import Family, is_video_family
from engines.loading import LoadedParts, model_info, thread_limit
from engines.registry import ModelSpec
from engines.schedulers import make_scheduler
from engines.video_params import MAX_FRAMES, VideoModelInfo, VideoParams
from genmedia.errors import Cancelled

logger = logging.getLogger(__name__)

# The pipelines' defaults (num_frames=16; both projects publish their samples at 8 fps).
DEFAULT_NUM_FRAMES = 16
DEFAULT_FPS = 8

StepCallback = Callable[[int, int], None]
"""on_step(steps_done, total_steps), called after every denoising step."""

StopCheck = Callable[[], bool]
"""should_stop() -> True when the request was cancelled; checked before every step."""


def video_model_info(spec: ModelSpec, parts: LoadedParts) -> VideoModelInfo:
    """Defaults and limits of a loaded video model (any stage's parts of it will do).

    Frame defaults come from the preset, else the pipelines' (16 frames, 8 fps); the frame limit
    is MAX_FRAMES, or AnimateDiff's motion-module length (positional encodings for 32 frames in
    motion adapter v1-5-2). Raises ValueError when the model is not a video model.
    """
    if not is_video_family(parts.family):
        raise ValueError(f"model {spec.name!r} is a {parts.family.value} model, not a video model")
    preset = presets.PRESETS.get(spec.source.removeprefix("preset:")) if spec.source.startswith("preset:") else None
    frames, fps = DEFAULT_NUM_FRAMES, DEFAULT_FPS
    if preset is not None and preset.default_num_frames:
        frames, fps = preset.default_num_frames, preset.default_fps
    limit = MAX_FRAMES
    if parts.family is Family.ANIMATEDIFF:
        limit = min(limit, _motion_max_frames(parts))
    return VideoModelInfo(
        model=model_info(spec, parts),
        default_num_frames=min(frames, limit),
        default_fps=fps,
        max_num_frames=limit,
    )


def _saved_unet_class(parts: LoadedParts) -> str:
    return json.loads((parts.path / "model_index.json").read_text())["unet"][1]


def _motion_max_frames(parts: LoadedParts) -> int:
    # A folder saved after fusing has the motion settings in unet/config.json instead.
    adapter = parts.path / "motion_adapter" / "config.json"
    config = json.loads(adapter.read_text()) if adapter.is_file() else read_denoiser_config(parts.path, parts.family)
    return int(config.get("motion_max_seq_length") or 32)


class VideoEngine:
    """Generates videos with one model's temporal UNet, scheduler and VAE.

    Not thread-safe: one call at a time. Raises ValueError at construction when `parts` is not a
    video model or lacks a component (AnimateDiff without its motion adapter).
    """

    def __init__(self, parts: LoadedParts, decode_chunk_size: int = 16):
        if not is_video_family(parts.family):
            raise ValueError(f"{parts.path}: {parts.family.value} is not a video family")
        pipe = parts.pipeline
        for name in ("unet", "vae", "scheduler"):
            if getattr(pipe, name, None) is None:
                raise ValueError(f"{parts.path}: VideoEngine needs the {name!r} component loaded")
        expected = UNetMotionModel if parts.family is Family.ANIMATEDIFF else UNet3DConditionModel
        if parts.family is Family.ANIMATEDIFF and _saved_unet_class(parts) != "UNetMotionModel":
            # Without its adapter, AnimateDiffPipeline would fuse the SD UNet with *random* motion
            # modules: refuse rather than serve noise.
            if getattr(pipe, "motion_adapter", None) is None:
                raise ValueError(f"{parts.path}: load 'motion_adapter' with 'unet' for AnimateDiff")
        if not isinstance(pipe.unet, expected):
            raise ValueError(
                f"{parts.path}: the {parts.family.value} unet is a {type(pipe.unet).__name__}, not a "
                f"{expected.__name__} (load 'motion_adapter' with 'unet' for AnimateDiff)"
            )
        if decode_chunk_size < 1:
            raise ValueError(f"decode_chunk_size must be >= 1, got {decode_chunk_size}")
        self.parts = parts
        self.family = parts.family
        self.device, self.dtype = parts.device, parts.dtype
        self.unet, self.vae, self.base_scheduler = pipe.unet, pipe.vae, pipe.scheduler
        self.unet_config = dict(self.unet.config)
        self.vae_scale = vae_scale_factor(parts.path)
        self.decode_chunk_size = decode_chunk_size

    @torch.inference_mode()
    def generate(
        self,
        params: VideoParams,
        embeddings: PromptEmbeddings,
        on_step: StepCallback | None = None,
        should_stop: StopCheck | None = None,
    ) -> np.ndarray:
        """Denoises and decodes one video; returns uint8 RGB frames (num_frames, height, width, 3).

        `embeddings` are the text stage's for this prompt (a negative branch when guidance > 1).
        Raises Cancelled when `should_stop()` turns true (checked before every step and before
        decoding); exceptions from the callbacks propagate.
        """
        with thread_limit(self.parts.torch_threads):
            started = time.perf_counter()
            latents = self.denoise(params, embeddings, on_step, should_stop)
            _stop_if(should_stop, "before decoding")
            frames = self.decode(latents)
            logger.debug("video %dx%dx%d in %.2f s", params.num_frames, params.width, params.height,
                         time.perf_counter() - started)
            return frames

    # --- the loop -------------------------------------------------------------------------
    def denoise(
        self,
        params: VideoParams,
        emb: PromptEmbeddings,
        on_step: StepCallback | None = None,
        should_stop: StopCheck | None = None,
    ) -> torch.Tensor:
        """The denoising loop; returns the final latents (1, C, F, h, w). Call under inference_mode."""
        generator = torch.Generator(device="cpu").manual_seed(params.seed)
        scheduler = make_scheduler(params.scheduler, self.base_scheduler)
        cfg = uses_cfg(self.family, params.guidance_scale, self.unet_config)
        context = self._text_context(emb, cfg, params.num_frames)

        scheduler.set_timesteps(params.steps, device=self.device)
        timesteps = scheduler.timesteps
        shape = (
            1,
            self.unet_config["in_channels"],
            params.num_frames,
            params.height // self.vae_scale,
            params.width // self.vae_scale,
        )
        latents = randn_tensor(shape, generator=generator, device=self.device, dtype=self.dtype)
        latents = latents * scheduler.init_noise_sigma
        extra_step_kwargs = _extra_step_kwargs(scheduler, generator)

        for i, t in enumerate(timesteps):
            _stop_if(should_stop, f"at step {i}")
            model_input = torch.cat([latents] * 2) if cfg else latents
            model_input = scheduler.scale_model_input(model_input, t)
            noise_pred = self.unet(model_input, t, encoder_hidden_states=context, return_dict=False)[0]
            if cfg:
                uncond, text = noise_pred.chunk(2)
                noise_pred = uncond + params.guidance_scale * (text - uncond)
            latents = self._scheduler_step(scheduler, noise_pred, t, latents, extra_step_kwargs)
            if on_step is not None:
                on_step(i + 1, len(timesteps))
        return latents

    def _text_context(self, emb: PromptEmbeddings, cfg: bool, num_frames: int) -> torch.Tensor:
        """encoder_hidden_states as each pipeline builds it: (negative, prompt) rows when guided."""
        prompt = emb.prompt.to(self.device, self.dtype)
        if cfg:
            if emb.negative is None:
                raise ValueError("guidance > 1 needs negative embeddings (encode with the same guidance_scale)")
            prompt = torch.cat([emb.negative.to(self.device, self.dtype), prompt])
        if self.family is Family.ANIMATEDIFF:
            # UNetMotionModel folds frames into the batch: one context row per frame.
            prompt = prompt.repeat_interleave(repeats=num_frames, dim=0)
        return prompt

    def _scheduler_step(self, scheduler, noise_pred, t, latents, extra_step_kwargs) -> torch.Tensor:
        if self.family is Family.ANIMATEDIFF:
            return scheduler.step(noise_pred, t, latents, **extra_step_kwargs, return_dict=False)[0]
        # TextToVideoSDPipeline steps frames as a batch of images (the noise that stochastic
        # schedulers draw then has the image layout, so keep it for identical results).
        b, c, f, h, w = latents.shape
        flat = latents.permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w)
        noise_flat = noise_pred.permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w)
        flat = scheduler.step(noise_flat, t, flat, **extra_step_kwargs, return_dict=False)[0]
        return flat[None, :].reshape(b, f, c, h, w).permute(0, 2, 1, 3, 4)

    # --- decoding -------------------------------------------------------------------------
    def decode(self, latents: torch.Tensor) -> np.ndarray:
        """Latents (1, C, F, h, w) -> uint8 frames (F, H, W, 3), decoding `decode_chunk_size`
        frames per VAE forward. Call under inference_mode."""
        latents = 1 / self.vae.config.scaling_factor * latents.to(self.device, self.vae.dtype)
        b, c, f, h, w = latents.shape
        flat = latents.permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w)
        chunks = [
            self.vae.decode(flat[i : i + self.decode_chunk_size], return_dict=False)[0]
            for i in range(0, flat.shape[0], self.decode_chunk_size)
        ]
        images = torch.cat(chunks).float()
        # As VideoProcessor.postprocess_video(output_type="np"): [-1, 1] -> [0, 1], NCHW -> NHWC.
        images = (images / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()
        return to_uint8(images)


def _stop_if(should_stop: StopCheck | None, where: str) -> None:
    if should_stop is not None and should_stop():
        raise Cancelled(f"video generation cancelled {where}")
