"""Model families and the facts about each that the stages and the validation need."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from engines.schedulers import SchedulerName


class Family(str, enum.Enum):
    SD = "sd"  # Stable Diffusion 1.x / 2.x: UNet, one CLIP text encoder
    SDXL = "sdxl"  # UNet with added text/time conditioning, two CLIP text encoders
    SD3 = "sd3"  # MMDiT, flow matching, CLIP-L + CLIP-G + T5
    FLUX = "flux"  # MMDiT, flow matching, packed 2x2 latents, guidance-distilled, CLIP + T5


UNET_SCHEDULERS = frozenset(
    {
        SchedulerName.DDIM,
        SchedulerName.DPMPP_2M,
        SchedulerName.DPMPP_2M_KARRAS,
        SchedulerName.EULER,
        SchedulerName.EULER_ANCESTRAL,
        SchedulerName.LCM,
    }
)
FLOW_SCHEDULERS = frozenset({SchedulerName.FLOW_MATCH_EULER})


@dataclass(frozen=True)
class FamilyTraits:
    pipeline_class: str  # the diffusers pipeline this family's folders load with
    denoiser_attr: str  # "unet" or "transformer"
    size_multiple: int  # width and height must be multiples of this
    schedulers: frozenset[SchedulerName]
    supports_negative_prompt: bool


TRAITS: dict[Family, FamilyTraits] = {
    Family.SD: FamilyTraits("StableDiffusionPipeline", "unet", 8, UNET_SCHEDULERS, True),
    Family.SDXL: FamilyTraits("StableDiffusionXLPipeline", "unet", 8, UNET_SCHEDULERS, True),
    Family.SD3: FamilyTraits("StableDiffusion3Pipeline", "transformer", 16, FLOW_SCHEDULERS, True),
    # Flux is guidance-distilled: guidance_scale feeds an embedding; there is no negative branch.
    Family.FLUX: FamilyTraits("FluxPipeline", "transformer", 16, FLOW_SCHEDULERS, False),
}

_BY_PIPELINE_CLASS = {traits.pipeline_class: family for family, traits in TRAITS.items()}


def family_of_pipeline_class(class_name: str) -> Family:
    """Maps a model_index.json `_class_name` to its family. Raises ValueError if unsupported."""
    try:
        return _BY_PIPELINE_CLASS[class_name]
    except KeyError:
        known = ", ".join(sorted(_BY_PIPELINE_CLASS))
        raise ValueError(f"unsupported pipeline class {class_name!r}; supported: {known}") from None
