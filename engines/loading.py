"""Loads the parts of a diffusers pipeline that one stage needs.

Each stage holds a pipeline object with only its own components loaded (the rest are None), so
it can call the pipeline's own encode/prepare helpers: that keeps the split path numerically
identical to the monolithic pipeline.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import diffusers
import torch

from engines import presets
from engines.embeddings import read_denoiser_config, vae_scale_factor
from engines.families import TRAITS, Family, family_of_pipeline_class
from engines.registry import ModelInfo, ModelSpec, Precision
from engines.schedulers import scheduler_name_of
from engines.sources import resolve_source

logger = logging.getLogger(__name__)

DTYPES = {Precision.FP32: torch.float32, Precision.FP16: torch.float16, Precision.BF16: torch.bfloat16}

# Components each stage loads, by family. Everything else is passed as None.
TEXT_PARTS = {"tokenizer", "tokenizer_2", "tokenizer_3", "text_encoder", "text_encoder_2", "text_encoder_3"}
DENOISE_PARTS = {"unet", "transformer", "scheduler"}
DECODE_PARTS = {"vae"}
# The VideoGenerator denoises and decodes in one stage; AnimateDiff also needs its motion adapter.
VIDEO_PARTS = {"unet", "motion_adapter", "scheduler", "vae"}

# Defaults used when neither the config nor a preset says otherwise (the families' reference values).
_FAMILY_DEFAULTS = {
    Family.SD: (50, 7.5),
    Family.SDXL: (50, 5.0),
    Family.SD3: (28, 7.0),
    Family.FLUX: (28, 3.5),
    Family.TEXT_TO_VIDEO: (50, 9.0),
    Family.ANIMATEDIFF: (50, 7.5),
}


@dataclass
class LoadedParts:
    """A pipeline object holding one stage's components, and what was learnt while loading."""

    pipeline: diffusers.DiffusionPipeline
    family: Family
    path: Path
    device: torch.device
    dtype: torch.dtype
    torch_threads: int | None = None  # per-model override of the process's thread count


@contextmanager
def thread_limit(threads: int | None) -> Iterator[None]:
    """Runs a block with `threads` torch intra-op threads (process-wide; stages call from one thread)."""
    previous = torch.get_num_threads()
    if threads is None or threads == previous:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def pick_device(spec: ModelSpec) -> torch.device:
    if spec.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(spec.device)


def load_parts(spec: ModelSpec, cache_dir: Path, parts: set[str]) -> LoadedParts:
    """Resolves `spec.source` and loads only the named components onto the model's device."""
    path = resolve_source(spec.source, cache_dir)
    index = json.loads((path / "model_index.json").read_text())
    family = family_of_pipeline_class(index["_class_name"])
    components = {k for k, v in index.items() if not k.startswith("_") and isinstance(v, list)}
    skipped = {name: None for name in components - parts}
    dtype = DTYPES[spec.precision]
    device = pick_device(spec)
    pipeline_cls = getattr(diffusers, TRAITS[family].pipeline_class)
    extra = {"add_watermarker": False} if family is Family.SDXL else {}
    pipeline = pipeline_cls.from_pretrained(path, dtype=dtype, **skipped, **extra)
    pipeline.to(device)
    pipeline.set_progress_bar_config(disable=True)
    for module in pipeline.components.values():
        if isinstance(module, torch.nn.Module):
            module.eval().requires_grad_(False)
    logger.info("loaded %s parts %s of %s (%s) on %s", spec.name, sorted(parts & components), path, family.value, device)
    return LoadedParts(pipeline=pipeline, family=family, path=path, device=device, dtype=dtype,
                       torch_threads=spec.torch_threads)


def model_version(path: Path) -> str:
    """A content hash of a model folder: every config in full, every weight file by size and header.

    Safetensors headers list each tensor's name, dtype, shape and byte range, and the first MiB
    of data pins the values; hashing whole multi-GB files at every start would cost seconds.
    """
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file() and not p.name.endswith(".s3sync")):
        rel = file.relative_to(path).as_posix()
        digest.update(rel.encode() + b"\0")
        with file.open("rb") as fh:
            if file.suffix in (".safetensors", ".bin", ".pt", ".onnx"):
                digest.update(str(file.stat().st_size).encode())
                digest.update(fh.read(1 << 20))
            else:
                digest.update(fh.read())
    return digest.hexdigest()[:16]


def model_info(spec: ModelSpec, parts: LoadedParts) -> ModelInfo:
    """Defaults and limits of a loaded model. Precedence: the config, then the preset, then the model."""
    pipe, family = parts.pipeline, parts.family
    preset = presets.PRESETS.get(spec.source.removeprefix("preset:")) if spec.source.startswith("preset:") else None
    steps, guidance = _FAMILY_DEFAULTS[family]
    size = _native_size(parts)
    if preset is not None:
        steps, guidance = preset.default_steps, preset.default_guidance
        size = (preset.default_width, preset.default_height)
    scheduler_config = json.loads((parts.path / "scheduler" / "scheduler_config.json").read_text())
    scheduler = getattr(diffusers, scheduler_config["_class_name"]).from_config(scheduler_config)
    tokenizer = getattr(pipe, "tokenizer", None)
    return ModelInfo(
        name=spec.name,
        family=family,
        version=model_version(parts.path),
        default_width=spec.default_width or size[0],
        default_height=spec.default_height or size[1],
        default_steps=spec.default_steps or steps,
        default_guidance=spec.default_guidance if spec.default_guidance is not None else guidance,
        default_scheduler=scheduler_name_of(scheduler),
        max_prompt_tokens=tokenizer.model_max_length if tokenizer is not None else 77,
    )


def _native_size(parts: LoadedParts) -> tuple[int, int]:
    """The size the model was trained at: sample_size x VAE scale, as the pipelines default to."""
    sample = read_denoiser_config(parts.path, parts.family).get("sample_size") or 64
    if parts.family is Family.FLUX:
        sample = 128  # FluxPipeline.default_sample_size
    side = int(sample) * vae_scale_factor(parts.path)
    return side, side
