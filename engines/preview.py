"""Small, cheap previews of latents for progress events (not a decode: a rough colour map)."""

from __future__ import annotations

import io

import torch
from diffusers.pipelines.flux.pipeline_flux import FluxPipeline
from PIL import Image

from engines.families import Family

MAX_PREVIEW_SIDE = 64


def latent_preview_png(latents: torch.Tensor, family: Family, height: int, width: int, vae_scale: int) -> bytes:
    """PNG of the first image's latents: three channels min-max scaled to RGB, at most 64 px."""
    z = latents[:1].detach().float().cpu()
    if family is Family.FLUX:
        z = FluxPipeline._unpack_latents(z, height, width, vae_scale)
    rgb = z[0, :3]
    lo, hi = rgb.amin(dim=(1, 2), keepdim=True), rgb.amax(dim=(1, 2), keepdim=True)
    rgb = ((rgb - lo) / (hi - lo).clamp_min(1e-6) * 255).round().byte().permute(1, 2, 0).numpy()
    image = Image.fromarray(rgb, mode="RGB")
    scale = MAX_PREVIEW_SIDE / max(image.size)
    if scale < 1:
        image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
