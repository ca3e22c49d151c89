"""The denoising loop, written once, with a step that batches requests of compatible shape.

`DenoiseEngine.run` is the loop as the diffusers pipelines write it:
prepare latents and timesteps -> for each timestep: model forward (with classifier-free
guidance) -> scheduler.step. The Denoiser deployment drives the same `start`/`step` pieces for
several requests at once (step-level batching): one model forward serves every request in a
group, and each request keeps its own scheduler instance and random generator.

At batch 1 every tensor op matches the family's diffusers pipeline, so the split path is
bit-identical to the monolithic one. Batched, kernels see a larger batch and results may differ
in the last float bits (within one 8-bit level after decoding).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch
from diffusers.pipelines.flux.pipeline_flux import FluxPipeline, calculate_shift, retrieve_timesteps
from diffusers.utils.torch_utils import randn_tensor

from engines.embeddings import PromptEmbeddings, read_denoiser_config, uses_cfg, vae_scale_factor
from engines.families import TRAITS, Family, is_video_family
from engines.loading import LoadedParts, thread_limit
from engines.params import ImageParams
from engines.schedulers import make_scheduler


@dataclass(eq=False)
class DenoiseJob:
    """One request in flight: its latents, its own scheduler and generator, its conditioning."""

    params: ImageParams
    cfg: bool
    scheduler: Any
    timesteps: torch.Tensor
    latents: torch.Tensor
    generator: torch.Generator
    cond: dict[str, torch.Tensor]  # model inputs batched along dim 0 (already CFG-doubled)
    shared: dict[str, torch.Tensor]  # model inputs shared by a batch (Flux position ids)
    extra_step_kwargs: dict[str, Any]
    index: int = 0
    group_key: tuple = field(default=())

    @property
    def done(self) -> bool:
        return self.index >= len(self.timesteps)

    @property
    def total(self) -> int:
        return len(self.timesteps)


def _repeat_3d(t: torch.Tensor, n: int) -> torch.Tensor:
    # As the pipelines' encode_prompt duplicates embeddings per image (mps-friendly repeat+view).
    b, seq, _ = t.shape
    return t.repeat(1, n, 1).view(b * n, seq, -1)


def _repeat_2d(t: torch.Tensor, n: int) -> torch.Tensor:
    b = t.shape[0]
    return t.repeat(1, n).view(b * n, -1)


class DenoiseEngine:
    """Runs the denoiser (UNet or DiT) of one model."""

    def __init__(self, parts: LoadedParts, compile_model: bool = False):
        if is_video_family(parts.family):
            raise ValueError(f"{parts.path}: {parts.family.value} is a video family; serve it with the VideoGenerator")
        self.parts = parts
        self.family = parts.family
        self.device, self.dtype = parts.device, parts.dtype
        self.model = getattr(parts.pipeline, TRAITS[parts.family].denoiser_attr)
        self.forward_fn: Callable[..., Any] = torch.compile(self.model) if compile_model else self.model
        self.base_scheduler = parts.pipeline.scheduler
        self.config = read_denoiser_config(parts.path, parts.family)
        self.vae_scale = vae_scale_factor(parts.path)

    # --- the loop -------------------------------------------------------------------------
    @torch.inference_mode()
    def run(self, params: ImageParams, embeddings: PromptEmbeddings) -> torch.Tensor:
        """Denoises one request alone and returns its final latents (packed for Flux)."""
        job = self.start(params, embeddings)
        while not job.done:
            self.step([job])
        return job.latents

    # --- preparation ----------------------------------------------------------------------
    @torch.inference_mode()
    def start(self, params: ImageParams, emb: PromptEmbeddings) -> DenoiseJob:
        """Prepares latents, timesteps and conditioning for one request (pipeline order kept)."""
        generator = torch.Generator(device="cpu").manual_seed(params.seed)
        scheduler = make_scheduler(params.scheduler, self.base_scheduler)
        cfg = uses_cfg(self.family, params.guidance_scale, self.config)
        n = params.num_images
        prepare = {
            Family.SD: self._start_unet,
            Family.SDXL: self._start_unet,
            Family.SD3: self._start_sd3,
            Family.FLUX: self._start_flux,
        }[self.family]
        job = prepare(params, emb, cfg, n, scheduler, generator)
        job.group_key = (
            params.model,
            cfg,
            tuple(job.latents.shape[1:]),
            tuple(job.cond["encoder_hidden_states"].shape[1:]),
        )
        return job

    def _initial_noise(self, params: ImageParams, n: int, generator: torch.Generator) -> torch.Tensor:
        """Gaussian latents for n images (SD, SDXL, SD3 layout), drawn as the pipelines draw them."""
        shape = (n, self.config["in_channels"], params.height // self.vae_scale, params.width // self.vae_scale)
        return randn_tensor(shape, generator=generator, device=self.device, dtype=self.dtype)

    def _emb(self, t: torch.Tensor | None) -> torch.Tensor | None:
        return None if t is None else t.to(self.device, self.dtype)

    def _start_unet(self, params, emb, cfg, n, scheduler, generator) -> DenoiseJob:
        timesteps, _ = retrieve_timesteps(scheduler, params.steps, self.device)
        if self.family is Family.SDXL and hasattr(scheduler, "set_begin_index"):
            scheduler.set_begin_index(0)
        latents = self._initial_noise(params, n, generator) * scheduler.init_noise_sigma
        pe = _repeat_3d(self._emb(emb.prompt), n)
        cond = {"encoder_hidden_states": torch.cat([_repeat_3d(self._emb(emb.negative), n), pe]) if cfg else pe}
        if self.family is Family.SDXL:
            pooled = _repeat_2d(self._emb(emb.pooled), n)
            size = (params.height, params.width)
            time_ids = torch.tensor([list(size + (0, 0) + size)], dtype=self.dtype)
            if cfg:
                pooled = torch.cat([_repeat_2d(self._emb(emb.negative_pooled), n), pooled], dim=0)
                time_ids = torch.cat([time_ids, time_ids], dim=0)
            cond["text_embeds"] = pooled
            cond["time_ids"] = time_ids.to(self.device).repeat(n, 1)
        return DenoiseJob(
            params=params, cfg=cfg, scheduler=scheduler, timesteps=timesteps, latents=latents,
            generator=generator, cond=cond, shared={},
            extra_step_kwargs=_extra_step_kwargs(scheduler, generator),
        )

    def _start_sd3(self, params, emb, cfg, n, scheduler, generator) -> DenoiseJob:
        pe, pooled = _repeat_3d(self._emb(emb.prompt), n), _repeat_2d(self._emb(emb.pooled), n)
        if cfg:
            pe = torch.cat([_repeat_3d(self._emb(emb.negative), n), pe], dim=0)
            pooled = torch.cat([_repeat_2d(self._emb(emb.negative_pooled), n), pooled], dim=0)
        latents = self._initial_noise(params, n, generator)
        kwargs = {}
        if scheduler.config.get("use_dynamic_shifting", None):
            patch = self.config["patch_size"]
            seq_len = (latents.shape[2] // patch) * (latents.shape[3] // patch)
            kwargs["mu"] = calculate_shift(
                seq_len,
                scheduler.config.get("base_image_seq_len", 256),
                scheduler.config.get("max_image_seq_len", 4096),
                scheduler.config.get("base_shift", 0.5),
                scheduler.config.get("max_shift", 1.16),
            )
        timesteps, _ = retrieve_timesteps(scheduler, params.steps, self.device, sigmas=None, **kwargs)
        return DenoiseJob(
            params=params, cfg=cfg, scheduler=scheduler, timesteps=timesteps, latents=latents,
            generator=generator, cond={"encoder_hidden_states": pe, "pooled_projections": pooled},
            shared={}, extra_step_kwargs={},
        )

    def _start_flux(self, params, emb, cfg, n, scheduler, generator) -> DenoiseJob:
        channels = self.config["in_channels"] // 4
        h = 2 * (params.height // (self.vae_scale * 2))
        w = 2 * (params.width // (self.vae_scale * 2))
        noise = randn_tensor((n, channels, h, w), generator=generator, device=self.device, dtype=self.dtype)
        latents = FluxPipeline._pack_latents(noise, n, channels, h, w)
        image_ids = FluxPipeline._prepare_latent_image_ids(n, h // 2, w // 2, self.device, self.dtype)
        steps = params.steps
        sigmas = np.linspace(1.0, 1 / steps, steps)
        if getattr(scheduler.config, "use_flow_sigmas", False):
            sigmas = None
        mu = calculate_shift(
            latents.shape[1],
            scheduler.config.get("base_image_seq_len", 256),
            scheduler.config.get("max_image_seq_len", 4096),
            scheduler.config.get("base_shift", 0.5),
            scheduler.config.get("max_shift", 1.15),
        )
        timesteps, _ = retrieve_timesteps(scheduler, steps, self.device, sigmas=sigmas, mu=mu)
        cond = {
            "encoder_hidden_states": _repeat_3d(self._emb(emb.prompt), n),
            "pooled_projections": _repeat_2d(self._emb(emb.pooled), n),
        }
        if self.config.get("guidance_embeds"):
            guidance = torch.full([1], params.guidance_scale, device=self.device, dtype=torch.float32)
            cond["guidance"] = guidance.expand(latents.shape[0])
        scheduler.set_begin_index(0)
        return DenoiseJob(
            params=params, cfg=False, scheduler=scheduler, timesteps=timesteps, latents=latents,
            generator=generator, cond=cond,
            shared={"txt_ids": emb.text_ids.to(self.device, self.dtype), "img_ids": image_ids},
            extra_step_kwargs={},
        )

    # --- one step for many ----------------------------------------------------------------
    @torch.inference_mode()
    def step(self, jobs: list[DenoiseJob]) -> None:
        """Advances every job by one timestep with one model forward.

        All jobs must share a `group_key`. Each job's own scheduler then steps its latents.
        """
        if len({job.group_key for job in jobs}) != 1:
            raise ValueError("jobs in one step must share a group_key")
        with thread_limit(self.parts.torch_threads):
            self._step(jobs)

    def _step(self, jobs: list[DenoiseJob]) -> None:
        inputs = [self._model_input(job) for job in jobs]
        sizes = [x.shape[0] for x, _ in inputs]
        if len(jobs) == 1:
            hidden, timestep = inputs[0]
            cond = jobs[0].cond
        else:
            hidden = torch.cat([x for x, _ in inputs])
            timestep = torch.cat([_as_vector(t, size) for (_, t), size in zip(inputs, sizes)])
            cond = {key: torch.cat([job.cond[key] for job in jobs]) for key in jobs[0].cond}
        noise = self._forward(hidden, timestep, cond, jobs[0].shared)
        for job, noise_pred in zip(jobs, noise.split(sizes)):
            self._scheduler_step(job, noise_pred)

    def _model_input(self, job: DenoiseJob) -> tuple[torch.Tensor, torch.Tensor]:
        t = job.timesteps[job.index]
        if self.family is Family.FLUX:
            return job.latents, t.expand(job.latents.shape[0]).to(job.latents.dtype) / 1000
        x = torch.cat([job.latents] * 2) if job.cfg else job.latents
        if self.family is Family.SD3:
            return x, t.expand(x.shape[0])
        return job.scheduler.scale_model_input(x, t), t

    def _forward(self, hidden, timestep, cond, shared) -> torch.Tensor:
        if self.family in (Family.SD, Family.SDXL):
            added = None
            if self.family is Family.SDXL:
                added = {"text_embeds": cond["text_embeds"], "time_ids": cond["time_ids"]}
            return self.forward_fn(
                hidden, timestep, encoder_hidden_states=cond["encoder_hidden_states"],
                timestep_cond=None, cross_attention_kwargs=None, added_cond_kwargs=added, return_dict=False,
            )[0]
        if self.family is Family.SD3:
            return self.forward_fn(
                hidden_states=hidden, timestep=timestep, encoder_hidden_states=cond["encoder_hidden_states"],
                pooled_projections=cond["pooled_projections"], joint_attention_kwargs=None, return_dict=False,
            )[0]
        return self.forward_fn(
            hidden_states=hidden, timestep=timestep, guidance=cond.get("guidance"),
            pooled_projections=cond["pooled_projections"], encoder_hidden_states=cond["encoder_hidden_states"],
            txt_ids=shared["txt_ids"], img_ids=shared["img_ids"], joint_attention_kwargs={}, return_dict=False,
        )[0]

    def _scheduler_step(self, job: DenoiseJob, noise_pred: torch.Tensor) -> None:
        if job.cfg:
            uncond, text = noise_pred.chunk(2)
            noise_pred = uncond + job.params.guidance_scale * (text - uncond)
        t = job.timesteps[job.index]
        job.latents = job.scheduler.step(noise_pred, t, job.latents, **job.extra_step_kwargs, return_dict=False)[0]
        job.index += 1


def _as_vector(t: torch.Tensor, size: int) -> torch.Tensor:
    # Batched forwards take one timestep per sample; float32 so int (DDIM) and float (Euler)
    # schedules concatenate. The models cast timesteps to float before embedding them anyway.
    return t.reshape(-1).expand(size).to(torch.float32) if t.dim() == 0 else t.to(torch.float32)


def _extra_step_kwargs(scheduler, generator: torch.Generator) -> dict[str, Any]:
    """eta and generator for schedulers whose step takes them (as pipelines' prepare_extra_step_kwargs)."""
    accepted = set(inspect.signature(scheduler.step).parameters)
    kwargs: dict[str, Any] = {}
    if "eta" in accepted:
        kwargs["eta"] = 0.0
    if "generator" in accepted:
        kwargs["generator"] = generator
    return kwargs
