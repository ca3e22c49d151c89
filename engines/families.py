"""Model families and the facts about each that the stages and the validation need."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from pathlib import Path

from engines.schedulers import SchedulerName


class Family(str, enum.Enum):
    SD = "sd"  # Stable Diffusion 1.x / 2.x: UNet, one CLIP text encoder
    SDXL = "sdxl"  # UNet with added text/time conditioning, two CLIP text encoders
    SD3 = "sd3"  # MMDiT, flow matching, CLIP-L + CLIP-G + T5
    FLUX = "flux"  # MMDiT, flow matching, packed 2x2 latents, guidance-distilled, CLIP + T5
    TEXT_TO_VIDEO = "t2v"  # ModelScope-style temporal UNet (UNet3DConditionModel), one CLIP encoder
    ANIMATEDIFF = "animatediff"  # SD 1.x UNet + MotionAdapter (UNetMotionModel at run time), one CLIP
    # transformers MusicGen: T5 text encoder, codebook-token decoder, EnCodec codec. Not a diffusers
    # pipeline, so it has no TRAITS entry; family_of_model_type maps its config.json to it.
    MUSICGEN = "musicgen"


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
    is_video: bool = False  # served by the VideoGenerator, never by the image stages


TRAITS: dict[Family, FamilyTraits] = {
    Family.SD: FamilyTraits("StableDiffusionPipeline", "unet", 8, UNET_SCHEDULERS, True),
    Family.SDXL: FamilyTraits("StableDiffusionXLPipeline", "unet", 8, UNET_SCHEDULERS, True),
    Family.SD3: FamilyTraits("StableDiffusion3Pipeline", "transformer", 16, FLOW_SCHEDULERS, True),
    # Flux is guidance-distilled: guidance_scale feeds an embedding; there is no negative branch.
    Family.FLUX: FamilyTraits("FluxPipeline", "transformer", 16, FLOW_SCHEDULERS, False),
    Family.TEXT_TO_VIDEO: FamilyTraits("TextToVideoSDPipeline", "unet", 8, UNET_SCHEDULERS, True, is_video=True),
    # The folder holds an SD UNet2DConditionModel and a MotionAdapter; the pipeline fuses them.
    Family.ANIMATEDIFF: FamilyTraits("AnimateDiffPipeline", "unet", 8, UNET_SCHEDULERS, True, is_video=True),
}

_BY_PIPELINE_CLASS = {traits.pipeline_class: family for family, traits in TRAITS.items()}


def family_of_pipeline_class(class_name: str) -> Family:
    """Maps a model_index.json `_class_name` to its family. Raises ValueError if unsupported."""
    try:
        return _BY_PIPELINE_CLASS[class_name]
    except KeyError:
        known = ", ".join(sorted(_BY_PIPELINE_CLASS))
        raise ValueError(f"unsupported pipeline class {class_name!r}; supported: {known}") from None


def is_video_family(family: Family) -> bool:
    """True for families the VideoGenerator serves (text-to-video, AnimateDiff); the image stages
    (Denoiser, VAEDecoder) must not load them."""
    traits = TRAITS.get(family)
    return traits is not None and traits.is_video


# transformers config.json `model_type` -> family, for the families saved as transformers models.
_BY_MODEL_TYPE = {"musicgen": Family.MUSICGEN}
AUDIO_FAMILIES = frozenset({Family.MUSICGEN})


def is_audio_family(family: Family) -> bool:
    """True for families the AudioGenerator serves (MusicGen); the image and video stages must not load them."""
    return family in AUDIO_FAMILIES


def family_of_model_type(model_type: str) -> Family:
    """Maps a transformers config.json `model_type` to its family. Raises ValueError if unsupported."""
    try:
        return _BY_MODEL_TYPE[model_type]
    except KeyError:
        known = ", ".join(sorted(_BY_MODEL_TYPE))
        raise ValueError(f"unsupported model_type {model_type!r}; supported: {known}") from None


def family_of_folder(path: Path) -> Family:
    """The family of a model folder: a diffusers folder by its model_index.json `_class_name`, a
    transformers folder (MusicGen) by its config.json `model_type`. Raises ValueError if the
    folder is neither or its family is unsupported."""
    path = Path(path)
    if (path / "model_index.json").is_file():
        return family_of_pipeline_class(json.loads((path / "model_index.json").read_text())["_class_name"])
    if (path / "config.json").is_file():
        return family_of_model_type(json.loads((path / "config.json").read_text()).get("model_type", ""))
    raise ValueError(f"{path} has neither model_index.json (diffusers) nor config.json (transformers)")
