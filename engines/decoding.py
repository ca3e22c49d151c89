"""The decode stage: latents -> RGB images (uint8), batched across requests of equal shape."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from diffusers.pipelines.flux.pipeline_flux import FluxPipeline

from engines.embeddings import vae_scale_factor
from engines.families import Family, is_video_family
from engines.loading import LoadedParts, thread_limit


@dataclass(frozen=True)
class DecodeRequest:
    latents: torch.Tensor  # the denoiser's output (packed for Flux), any device
    height: int
    width: int


def to_uint8(images: np.ndarray) -> np.ndarray:
    """[0, 1] float NHWC -> uint8, rounding as diffusers' numpy_to_pil does."""
    return (images * 255).round().astype("uint8")


class VaeDecoderEngine:
    """Decodes latents of one model with its VAE. Not thread-safe: one call at a time."""

    def __init__(self, parts: LoadedParts):
        if is_video_family(parts.family):
            raise ValueError(f"{parts.path}: {parts.family.value} is a video family; serve it with the VideoGenerator")
        self.parts = parts
        self.family = parts.family
        self.vae = parts.pipeline.vae
        self.vae_scale = vae_scale_factor(parts.path)
        if self.vae.dtype == torch.float16 and getattr(self.vae.config, "force_upcast", False):
            self.vae.to(torch.float32)  # the SDXL VAE overflows in fp16; its pipeline upcasts too

    def _unscale(self, latents: torch.Tensor, height: int, width: int) -> torch.Tensor:
        cfg = self.vae.config
        latents = latents.to(self.parts.device, self.vae.dtype)
        if self.family is Family.FLUX:
            latents = FluxPipeline._unpack_latents(latents, height, width, self.vae_scale)
            return latents / cfg.scaling_factor + cfg.shift_factor
        if self.family is Family.SD3:
            return latents / cfg.scaling_factor + cfg.shift_factor
        mean, std = getattr(cfg, "latents_mean", None), getattr(cfg, "latents_std", None)
        if self.family is Family.SDXL and mean is not None and std is not None:
            mean_t = torch.tensor(mean).view(1, 4, 1, 1).to(latents.device, latents.dtype)
            std_t = torch.tensor(std).view(1, 4, 1, 1).to(latents.device, latents.dtype)
            return latents * std_t / cfg.scaling_factor + mean_t
        return latents / cfg.scaling_factor

    @torch.inference_mode()
    def decode(self, requests: list[DecodeRequest]) -> list[np.ndarray]:
        """Returns one uint8 NHWC array per request. Equal-shaped requests share one VAE forward."""
        with thread_limit(self.parts.torch_threads):
            return self._decode(requests)

    def _decode(self, requests: list[DecodeRequest]) -> list[np.ndarray]:
        scaled = [self._unscale(r.latents, r.height, r.width) for r in requests]
        results: list[np.ndarray | None] = [None] * len(requests)
        groups: dict[tuple, list[int]] = {}
        for i, z in enumerate(scaled):
            groups.setdefault(tuple(z.shape[1:]), []).append(i)
        processor = self.parts.pipeline.image_processor
        for indices in groups.values():
            batch = scaled[indices[0]] if len(indices) == 1 else torch.cat([scaled[i] for i in indices])
            images = self.vae.decode(batch, return_dict=False)[0]
            arrays = to_uint8(processor.postprocess(images, output_type="np"))
            sizes = [scaled[i].shape[0] for i in indices]
            offsets = np.cumsum([0] + sizes)
            for k, i in enumerate(indices):
                results[i] = arrays[offsets[k] : offsets[k + 1]]
        return results  # type: ignore[return-value]
