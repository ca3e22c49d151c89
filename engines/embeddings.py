"""Prompt embeddings: what the text stage hands to the denoiser."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch

from engines.families import TRAITS, Family


@dataclass
class PromptEmbeddings:
    """Embeddings of one prompt (batch 1, before repetition per image), on the CPU.

    Which fields are set depends on the family: SD sets prompt/negative; SDXL and SD3 add the
    pooled pair; Flux sets prompt, pooled and text_ids and never a negative branch.
    """

    prompt: torch.Tensor
    negative: torch.Tensor | None = None
    pooled: torch.Tensor | None = None
    negative_pooled: torch.Tensor | None = None
    text_ids: torch.Tensor | None = None
    cache_hit: bool = field(default=False, compare=False)


def uses_cfg(family: Family, guidance_scale: float, denoiser_config: dict) -> bool:
    """Whether the pipeline runs classifier-free guidance (a negative branch), as diffusers decides."""
    if family is Family.FLUX:
        return False  # guidance-distilled: guidance_scale feeds an embedding instead
    if family in (Family.SD, Family.SDXL) and denoiser_config.get("time_cond_proj_dim") is not None:
        return False  # LCM-distilled UNets embed guidance instead
    return guidance_scale > 1.0


def read_denoiser_config(path: Path, family: Family) -> dict:
    """The UNet's or transformer's config.json of a diffusers folder."""
    return json.loads((path / TRAITS[family].denoiser_attr / "config.json").read_text())


def vae_scale_factor(path: Path) -> int:
    """2^(VAE levels - 1), as every pipeline computes it from the VAE config."""
    config = json.loads((path / "vae" / "config.json").read_text())
    return 2 ** (len(config["block_out_channels"]) - 1)
