"""Video request parameters: the raw fields from the edge, validated against a video model.

As ``engines.params`` for images: every rule a client can break lives here, and every violation
is an InvalidArgument naming the field and the allowed range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from engines.families import TRAITS, is_video_family
from engines.params import MAX_GUIDANCE, MAX_SEED, MAX_STEPS, MIN_GUIDANCE, MIN_STEPS, _check_prompt
from engines.registry import ModelInfo
from engines.schedulers import SchedulerName
from engines.video_files import VideoFormat
from genmedia.errors import InvalidArgument

MIN_SIZE, MAX_SIZE = 64, 1024
MIN_FRAMES, MAX_FRAMES = 1, 64
MIN_FPS, MAX_FPS = 1, 60


@dataclass(frozen=True)
class VideoModelInfo:
    """What validation knows of a loaded video model: the common ModelInfo plus frame limits."""

    model: ModelInfo
    default_num_frames: int
    default_fps: int
    max_num_frames: int  # MAX_FRAMES, or less where the model cannot attend further (AnimateDiff)

    @property
    def name(self) -> str:
        return self.model.name


@dataclass(frozen=True)
class RawVideoFields:
    """Fields as the client sent them; None (or 0 for sizes/counts, "" for strings) means unset."""

    prompt: str
    negative_prompt: str = ""
    model: str = ""
    width: int = 0
    height: int = 0
    num_frames: int = 0
    fps: int = 0
    steps: int = 0
    guidance_scale: float | None = None
    scheduler: SchedulerName = SchedulerName.DEFAULT
    seed: int | None = None
    container: str = ""  # "mp4" (default) or "webm"


@dataclass(frozen=True)
class VideoParams:
    """Validated parameters with every default applied. What the VideoEngine runs."""

    model: str
    prompt: str
    negative_prompt: str | None  # None: none given
    width: int
    height: int
    num_frames: int
    fps: int
    steps: int
    guidance_scale: float
    scheduler: SchedulerName
    seed: int
    container: VideoFormat


def _check_size(field: str, value: int, default: int, multiple: int) -> int:
    size = value or default
    if not MIN_SIZE <= size <= MAX_SIZE or size % multiple:
        raise InvalidArgument(field, f"is {size}; must be a multiple of {multiple} in {MIN_SIZE}..{MAX_SIZE}")
    return size


def _in_range(field: str, value: int, low: int, high: int) -> int:
    if not low <= value <= high:
        raise InvalidArgument(field, f"is {value}; must be in {low}..{high}")
    return value


def resolve_video_params(raw: RawVideoFields, info: VideoModelInfo, seed_if_unset: int) -> VideoParams:
    """Validates `raw` for video model `info` and applies defaults; `seed_if_unset` is used when
    the client gave no seed. Raises InvalidArgument naming the first bad field (``model`` when
    `info` is not a video model)."""
    family = info.model.family
    if not is_video_family(family):
        raise InvalidArgument("model", f"{info.name} is not a video model")
    traits = TRAITS[family]
    prompt = _check_prompt("prompt", raw.prompt, required=True)
    negative = _check_prompt("negative_prompt", raw.negative_prompt, required=False)

    width = _check_size("width", raw.width, info.model.default_width, traits.size_multiple)
    height = _check_size("height", raw.height, info.model.default_height, traits.size_multiple)
    num_frames = _in_range("num_frames", raw.num_frames or info.default_num_frames, MIN_FRAMES, info.max_num_frames)
    fps = _in_range("fps", raw.fps or info.default_fps, MIN_FPS, MAX_FPS)
    steps = _in_range("steps", raw.steps or info.model.default_steps, MIN_STEPS, MAX_STEPS)

    guidance = info.model.default_guidance if raw.guidance_scale is None else float(raw.guidance_scale)
    if not math.isfinite(guidance) or not MIN_GUIDANCE <= guidance <= MAX_GUIDANCE:
        raise InvalidArgument("guidance_scale", f"is {guidance}; must be in {MIN_GUIDANCE:g}..{MAX_GUIDANCE:g}")

    scheduler = raw.scheduler
    if scheduler is not SchedulerName.DEFAULT and scheduler not in traits.schedulers:
        allowed = ", ".join(sorted(s.value for s in traits.schedulers))
        raise InvalidArgument(
            "scheduler", f"{scheduler.value} is not supported by the {family.value} family; use one of {allowed}"
        )

    seed = seed_if_unset if raw.seed is None else raw.seed
    if not 0 <= seed <= MAX_SEED:
        raise InvalidArgument("seed", f"is {seed}; must be in 0..{MAX_SEED}")

    try:
        container = VideoFormat(raw.container.strip().lower() or VideoFormat.MP4.value)
    except ValueError:
        allowed = ", ".join(f.value for f in VideoFormat)
        raise InvalidArgument("container", f"is {raw.container!r}; use one of {allowed}") from None

    return VideoParams(
        model=info.name,
        prompt=prompt,
        negative_prompt=negative or None,
        width=width,
        height=height,
        num_frames=num_frames,
        fps=fps,
        steps=steps,
        guidance_scale=guidance,
        scheduler=scheduler,
        seed=seed,
        container=container,
    )
