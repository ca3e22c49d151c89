"""Image request parameters: the raw fields from the edge, validated against a model.

Every rule a client can break lives here, and every violation is an InvalidArgument that names
the field and the allowed range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from engines.families import TRAITS, is_video_family
from engines.registry import ModelInfo
from engines.schedulers import SchedulerName
from genmedia.errors import InvalidArgument

MIN_SIZE, MAX_SIZE = 64, 2048
MIN_STEPS, MAX_STEPS = 1, 150
MIN_GUIDANCE, MAX_GUIDANCE = 0.0, 30.0
MAX_IMAGES = 4
MAX_SEED = 2**63 - 1
# A cheap bound before tokenisation; the real limit is the text encoder's token count.
MAX_PROMPT_CHARS = 4000


@dataclass(frozen=True)
class RawImageFields:
    """Fields as the client sent them; None (or 0 for sizes/counts) means unset."""

    prompt: str
    negative_prompt: str = ""
    model: str = ""
    width: int = 0
    height: int = 0
    steps: int = 0
    guidance_scale: float | None = None
    scheduler: SchedulerName = SchedulerName.DEFAULT
    seed: int | None = None
    num_images: int = 0


@dataclass(frozen=True)
class ImageParams:
    """Validated parameters with every default applied. What the stages run."""

    model: str
    prompt: str
    negative_prompt: str | None  # None: none given (some families treat "" and None differently)
    width: int
    height: int
    steps: int
    guidance_scale: float
    scheduler: SchedulerName
    seed: int
    num_images: int


def _check_prompt(field: str, text: str, *, required: bool) -> str:
    if required and not text.strip():
        raise InvalidArgument(field, "must not be empty")
    if len(text) > MAX_PROMPT_CHARS:
        raise InvalidArgument(field, f"is {len(text)} characters; at most {MAX_PROMPT_CHARS} are accepted")
    if any(ord(c) < 32 and c not in "\t\n\r" for c in text):
        raise InvalidArgument(field, "must not contain control characters")
    return text


def _check_size(field: str, value: int, default: int, multiple: int) -> int:
    size = value or default
    if not MIN_SIZE <= size <= MAX_SIZE or size % multiple:
        raise InvalidArgument(field, f"is {size}; must be a multiple of {multiple} in {MIN_SIZE}..{MAX_SIZE}")
    return size


def resolve_image_params(raw: RawImageFields, info: ModelInfo, seed_if_unset: int) -> ImageParams:
    """Validates `raw` for model `info` and applies defaults.

    Raises InvalidArgument naming the first bad field.
    """
    if is_video_family(info.family):
        raise InvalidArgument("model", f"{info.name} is a video model; request it with a video generation")
    traits = TRAITS[info.family]
    prompt = _check_prompt("prompt", raw.prompt, required=True)
    negative = _check_prompt("negative_prompt", raw.negative_prompt, required=False)
    if negative and not traits.supports_negative_prompt:
        raise InvalidArgument("negative_prompt", f"is not supported by the {info.family.value} family (model {info.name})")

    width = _check_size("width", raw.width, info.default_width, traits.size_multiple)
    height = _check_size("height", raw.height, info.default_height, traits.size_multiple)

    steps = raw.steps or info.default_steps
    if not MIN_STEPS <= steps <= MAX_STEPS:
        raise InvalidArgument("steps", f"is {steps}; must be in {MIN_STEPS}..{MAX_STEPS}")

    guidance = info.default_guidance if raw.guidance_scale is None else float(raw.guidance_scale)
    if not math.isfinite(guidance) or not MIN_GUIDANCE <= guidance <= MAX_GUIDANCE:
        raise InvalidArgument("guidance_scale", f"is {guidance}; must be in {MIN_GUIDANCE:g}..{MAX_GUIDANCE:g}")

    scheduler = raw.scheduler
    if scheduler is not SchedulerName.DEFAULT and scheduler not in traits.schedulers:
        allowed = ", ".join(sorted(s.value for s in traits.schedulers))
        raise InvalidArgument(
            "scheduler", f"{scheduler.value} is not supported by the {info.family.value} family; use one of {allowed}"
        )

    num_images = raw.num_images or 1
    if not 1 <= num_images <= MAX_IMAGES:
        raise InvalidArgument("num_images", f"is {num_images}; must be in 1..{MAX_IMAGES}")

    seed = seed_if_unset if raw.seed is None else raw.seed
    if not 0 <= seed <= MAX_SEED:
        raise InvalidArgument("seed", f"is {seed}; must be in 0..{MAX_SEED}")

    return ImageParams(
        model=info.name,
        prompt=prompt,
        negative_prompt=negative or None,
        width=width,
        height=height,
        steps=steps,
        guidance_scale=guidance,
        scheduler=scheduler,
        seed=seed,
        num_images=num_images,
    )
