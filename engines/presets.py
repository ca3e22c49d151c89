"""Built-in model presets: every family built from configs with random weights.

A preset is saved in diffusers format (``pipeline.save_pretrained``), so serving loads it through
``DiffusionPipeline.from_pretrained`` exactly as it loads real weights. ``tiny-*`` presets are
for tests, ``cpu-small`` gives realistic CPU timings, and ``*-arch`` presets reproduce the full
architectures for GPU benchmarks. Component configs live in ``engines.preset_configs``; the
in-memory tokenizers in ``engines.preset_tokenizers``.

Caching: ``ensure_preset`` keys the folder by ``preset_fingerprint`` (spec, configs, tokenizer
vocabularies, builder version and library versions), writes it atomically and serialises
builders across processes with an ``flock``, so replicas starting together build once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import diffusers
import tokenizers
import torch
import transformers
from diffusers import DiffusionPipeline

from engines import music_presets
from engines import preset_configs as configs
from engines import preset_tokenizers

logger = logging.getLogger(__name__)

BUILDER_VERSION = 1
"""Bump when the build code changes what it writes (configs are fingerprinted by value)."""

MARKER_FILE = "genmedia_preset.json"
"""Written last into a finished build; a folder without it is not a preset."""


@dataclass(frozen=True)
class PresetSpec:
    """One built-in preset: what it is, what it defaults to, and its component configs."""

    name: str  # e.g. "tiny-sd"
    family: str  # an engines.families.Family value: "sd", "sdxl", "sd3", "flux", "t2v", ...
    pipeline_class: str  # diffusers pipeline class name, e.g. "StableDiffusionPipeline"
    description: str
    default_width: int
    default_height: int
    default_steps: int
    default_guidance: float
    # component name -> (class name, config), in model_index.json order; see preset_configs.
    components: Mapping[str, tuple[str, Mapping[str, Any]]] = field(hash=False, repr=False)
    # Extra pipeline constructor arguments (optional components, registered config flags).
    pipeline_kwargs: Mapping[str, Any] = field(default_factory=dict, hash=False, repr=False)
    # Video families only (0 for image presets): default frame count and frame rate.
    default_num_frames: int = 0
    default_fps: int = 0


# family -> (pipeline class, extra constructor arguments). Safety and watermarking are stages of
# their own in genmedia, so the pipelines' built-in ones are off.
_PIPELINES: dict[str, tuple[str, dict[str, Any]]] = {
    "sd": (
        "StableDiffusionPipeline",
        {"safety_checker": None, "feature_extractor": None, "requires_safety_checker": False},
    ),
    "sdxl": ("StableDiffusionXLPipeline", {"force_zeros_for_empty_prompt": True, "add_watermarker": False}),
    "sd3": ("StableDiffusion3Pipeline", {}),
    "flux": ("FluxPipeline", {}),
    "t2v": ("TextToVideoSDPipeline", {}),
    "animatediff": ("AnimateDiffPipeline", {}),
}


def _spec(
    name: str,
    family: str,
    description: str,
    *,
    size: int,
    steps: int,
    guidance: float,
    components: configs.ComponentConfigs,
    frames: int = 0,
    fps: int = 0,
) -> PresetSpec:
    pipeline_class, extras = _PIPELINES[family]
    return PresetSpec(
        name=name,
        family=family,
        pipeline_class=pipeline_class,
        description=description,
        default_width=size,
        default_height=size,
        default_steps=steps,
        default_guidance=guidance,
        components=components,
        pipeline_kwargs=extras,
        default_num_frames=frames,
        default_fps=fps,
    )


PRESETS: dict[str, PresetSpec] = {
    spec.name: spec
    for spec in (
        _spec("tiny-sd", "sd", "Tiny SD 1.x (UNet, one CLIP encoder); tests.",
              size=64, steps=4, guidance=7.5, components=configs.TINY_SD),
        _spec("tiny-sdxl", "sdxl", "Tiny SDXL (text_time UNet, two CLIP encoders); tests.",
              size=64, steps=4, guidance=5.0, components=configs.TINY_SDXL),
        _spec("tiny-sd3", "sd3", "Tiny SD3 (MMDiT, CLIP x2 + T5, flow matching); tests.",
              size=64, steps=4, guidance=7.0, components=configs.TINY_SD3),
        _spec("tiny-flux", "flux", "Tiny Flux (MMDiT, guidance-distilled, CLIP + T5, packed latents); tests.",
              size=64, steps=4, guidance=3.5, components=configs.TINY_FLUX),
        _spec("cpu-small", "sd", "Small SD 1.x: one 256x256 image at 20 steps in about 2 s on 2 CPU cores.",
              size=256, steps=20, guidance=7.5, components=configs.CPU_SMALL),
        _spec("sd15-arch", "sd", "Full Stable Diffusion 1.5 architecture, random weights; GPU benchmarks.",
              size=512, steps=30, guidance=7.5, components=configs.SD15_ARCH),
        _spec("sdxl-arch", "sdxl", "Full SDXL base 1.0 architecture, random weights; GPU benchmarks.",
              size=1024, steps=30, guidance=5.0, components=configs.SDXL_ARCH),
        _spec("tiny-t2v", "t2v", "Tiny ModelScope-style text-to-video (UNet3D, one CLIP encoder); tests.",
              size=64, steps=4, guidance=9.0, frames=8, fps=8, components=configs.TINY_T2V),
        _spec("tiny-animatediff", "animatediff", "Tiny AnimateDiff (SD UNet + MotionAdapter); tests.",
              size=64, steps=4, guidance=7.5, frames=8, fps=8, components=configs.TINY_ANIMATEDIFF),
        _spec("modelscope-t2v-arch", "t2v",
              "Full damo-vilab text-to-video-ms-1.7b architecture, random weights; GPU benchmarks.",
              size=256, steps=25, guidance=9.0, frames=16, fps=8, components=configs.MODELSCOPE_T2V_ARCH),
        _spec("animatediff-sd15-arch", "animatediff",
              "Full SD 1.5 + animatediff-motion-adapter-v1-5-2 architecture, random weights; GPU benchmarks.",
              size=512, steps=25, guidance=7.5, frames=16, fps=8, components=configs.ANIMATEDIFF_SD15_ARCH),
    )
}


def get_preset(name: str) -> PresetSpec:
    """The spec of diffusers preset `name` (MusicGen presets: ``music_presets.get_music_preset``).
    Raises KeyError naming the known presets."""
    try:
        return PRESETS[name]
    except KeyError:
        known = ", ".join([*PRESETS, *music_presets.MUSIC_PRESETS])
        raise KeyError(f"unknown preset {name!r}; known presets: {known}") from None


@cache
def _tokenizer_vocab_digest() -> str:
    vocab, merges = preset_tokenizers.clip_vocab_and_merges()
    data = [
        vocab,
        merges,
        preset_tokenizers.t5_vocab(),
        preset_tokenizers.CLIP_MAX_LENGTH,
        preset_tokenizers.T5_MAX_LENGTH,
    ]
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def preset_fingerprint(name: str) -> str:
    """Stable hex digest of everything that determines the files ``build_preset`` writes.

    Covers the spec (defaults, component classes and configs, pipeline arguments), the
    tokenizer vocabularies, ``BUILDER_VERSION`` and the diffusers, transformers, tokenizers
    and torch versions. MusicGen presets (``engines.music_presets``) have their own payload.
    Raises KeyError for an unknown preset.
    """
    if music_presets.is_music_preset(name):
        return music_presets.music_preset_fingerprint(name)
    spec = get_preset(name)
    payload = {
        "spec": {
            "name": spec.name,
            "family": spec.family,
            "pipeline_class": spec.pipeline_class,
            "defaults": [spec.default_width, spec.default_height, spec.default_steps, spec.default_guidance],
            "components": {k: [cls, dict(cfg)] for k, (cls, cfg) in spec.components.items()},
            "pipeline_kwargs": dict(spec.pipeline_kwargs),
            # Only video presets carry these, so image presets keep their fingerprints.
            **({"video_defaults": [spec.default_num_frames, spec.default_fps]} if spec.default_num_frames else {}),
        },
        "tokenizers": _tokenizer_vocab_digest(),
        "builder_version": BUILDER_VERSION,
        "versions": {
            "diffusers": diffusers.__version__,
            "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__,
            "torch": torch.__version__,
        },
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


# --- building ------------------------------------------------------------------------------

_TEXT_ENCODERS = {
    "CLIPTextModel": (transformers.CLIPTextModel, transformers.CLIPTextConfig),
    "CLIPTextModelWithProjection": (transformers.CLIPTextModelWithProjection, transformers.CLIPTextConfig),
    "T5EncoderModel": (transformers.T5EncoderModel, transformers.T5Config),
}
_TOKENIZERS = {
    "CLIPTokenizer": preset_tokenizers.build_clip_tokenizer,
    "T5Tokenizer": preset_tokenizers.build_t5_tokenizer,
}


def _seed_cpu(seed: int, component: str) -> None:
    # Each component gets its own stream, so editing one config leaves the others' weights alone.
    # Only the CPU generator: torch.manual_seed would also reseed the caller's CUDA generators.
    digest = hashlib.sha256(f"{seed}:{component}".encode()).digest()
    torch.random.default_generator.manual_seed(int.from_bytes(digest[:8], "little") & (2**63 - 1))


def _build_component(
    component: str,
    class_name: str,
    config: Mapping[str, Any],
    *,
    seed: int,
    dtype: torch.dtype,
    device: torch.device,
) -> Any:
    config = json.loads(json.dumps(config))  # a private deep copy; lists stay lists
    if class_name in _TOKENIZERS:
        return _TOKENIZERS[class_name](**config)
    if class_name in _TEXT_ENCODERS:
        model_cls, config_cls = _TEXT_ENCODERS[class_name]
        _seed_cpu(seed, component)
        with device:
            return _cast(model_cls(config_cls(**config)), dtype).eval()
    cls = getattr(diffusers, class_name, None)
    if cls is None or not hasattr(cls, "from_config"):
        raise ValueError(f"component {component!r}: unknown class {class_name!r}")
    if not issubclass(cls, torch.nn.Module):  # a scheduler: its tables always live on the CPU
        with torch.device("cpu"):
            return cls.from_config(config)
    _seed_cpu(seed, component)
    with device:
        return _cast(cls.from_config(config), dtype).eval()


def _cast(module: torch.nn.Module, dtype: torch.dtype) -> torch.nn.Module:
    # Models are created in float32; casting only when asked avoids diffusers' cast warning.
    return module if dtype == torch.float32 else module.to(dtype)


def _check_vocab_coverage(components: Mapping[str, Any]) -> None:
    # text_encoder pairs with tokenizer, text_encoder_2 with tokenizer_2, ...
    for name, obj in components.items():
        if not name.startswith("tokenizer"):
            continue
        encoder = components.get(name.replace("tokenizer", "text_encoder"))
        if encoder is not None and len(obj) > encoder.config.vocab_size:
            raise ValueError(
                f"{name} emits {len(obj)} ids but {encoder.__class__.__name__} has vocab_size "
                f"{encoder.config.vocab_size}"
            )


def assemble_pipeline(
    name: str,
    *,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
) -> DiffusionPipeline:
    """Instantiate preset `name` in memory, weights drawn from `seed`; returns the pipeline.

    `device` is ``"cpu"`` (what ``build_preset`` uses) or ``"meta"``, which gives the
    architecture without allocating memory (parameter counts, memory estimates); weights are
    drawn on the CPU so they do not depend on the machine. Leaves the caller's global torch RNG
    state as it was. Raises KeyError for an unknown preset, ValueError for another device.
    """
    spec = get_preset(name)
    device = torch.device(device)
    if device.type not in ("cpu", "meta"):
        raise ValueError(f"device must be 'cpu' or 'meta', got {str(device)!r}")
    with torch.random.fork_rng(devices=[]):
        components = {
            key: _build_component(key, cls, cfg, seed=seed, dtype=dtype, device=device)
            for key, (cls, cfg) in spec.components.items()
        }
    _check_vocab_coverage(components)
    pipeline_cls = getattr(diffusers, spec.pipeline_class)
    if "motion_adapter" not in components:
        return pipeline_cls(**components, **spec.pipeline_kwargs)
    # AnimateDiffPipeline fuses unet + adapter into a UNetMotionModel when constructed (a full copy,
    # allocated even for "meta"). Keep the layout real checkpoints ship instead, an SD
    # UNet2DConditionModel beside the MotionAdapter, which from_pretrained fuses on load; this
    # pipeline object is then for saving and counting, not for running.
    pipeline = pipeline_cls(**{**components, "unet": None}, **spec.pipeline_kwargs)
    pipeline.register_modules(unet=components["unet"])
    return pipeline


def build_preset(name: str, dest: Path, *, seed: int = 0, dtype: torch.dtype = torch.float32) -> Path:
    """Build preset `name` and save it in diffusers format at `dest`; returns `dest`.

    Weights are a pure function of (`name`, `seed`, `dtype`, library versions). The folder is
    written to a temporary sibling and renamed into place, so `dest` is either absent, the
    previous content, or complete (with ``MARKER_FILE``); an existing `dest` is replaced.
    Not safe against another process building the same `dest` at once: use ``ensure_preset``.
    MusicGen presets are saved in transformers format instead (``engines.music_presets``).
    Raises KeyError for an unknown preset.
    """
    is_music = music_presets.is_music_preset(name)
    if not is_music:
        get_preset(name)  # KeyError before anything is written
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.building-", dir=dest.parent))
    try:
        if is_music:
            music_presets.save_music_preset(name, tmp, seed=seed, dtype=dtype)
        else:
            pipeline = assemble_pipeline(name, seed=seed, dtype=dtype)
            pipeline.save_pretrained(tmp)
            del pipeline
        marker = {
            "preset": name,
            "fingerprint": preset_fingerprint(name),
            "seed": seed,
            "dtype": _dtype_name(dtype),
        }
        _write_synced(tmp / MARKER_FILE, json.dumps(marker, indent=2, sort_keys=True) + "\n")
        tmp.chmod(0o755)  # mkdtemp makes it owner-only; a cache is read by other users too
        _replace_dir(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("built preset %s at %s in %.1f s", name, dest, time.perf_counter() - started)
    return dest


def _write_synced(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _replace_dir(src: Path, dest: Path) -> None:
    """Move directory `src` to `dest`, replacing `dest` if it exists."""
    if dest.exists():
        # os.replace cannot overwrite a non-empty directory: move the old one aside first.
        old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
        os.replace(dest, old / "content")
        os.replace(src, dest)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(src, dest)
    dir_fd = os.open(dest.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


# --- cache ---------------------------------------------------------------------------------


def is_complete(path: Path, fingerprint: str, *, seed: int = 0, dtype: torch.dtype = torch.float32) -> bool:
    """True if `path` holds a finished build with this `fingerprint`, `seed` and `dtype`."""
    try:
        marker = json.loads((Path(path) / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (marker.get("fingerprint"), marker.get("seed"), marker.get("dtype")) == (
        fingerprint,
        seed,
        _dtype_name(dtype),
    )


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


@contextlib.contextmanager
def _exclusive_lock(lock_path: Path) -> Iterator[None]:
    # The lock file is never deleted: unlinking it would let two processes lock different inodes.
    with open(lock_path, "a+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def ensure_preset(name: str, cache_dir: Path) -> Path:
    """Path of a finished build of preset `name` under `cache_dir`, building it if needed.

    The folder is ``cache_dir/<name>-<fingerprint[:12]>`` (seed 0, float32). Safe to call from
    several processes at once: one builds under an exclusive ``flock`` while the others wait,
    then find the completion marker and return. Leftovers of builders that crashed are
    removed. Raises KeyError for an unknown preset.
    """
    fingerprint = preset_fingerprint(name)
    cache_dir = Path(cache_dir)
    dest = cache_dir / f"{name}-{fingerprint[:12]}"
    if is_complete(dest, fingerprint):
        return dest
    cache_dir.mkdir(parents=True, exist_ok=True)
    with _exclusive_lock(cache_dir / f".{dest.name}.lock"):
        if is_complete(dest, fingerprint):  # another process built it while we waited
            return dest
        for pattern in (f".{dest.name}.building-*", f".{dest.name}.old-*"):
            for leftover in cache_dir.glob(pattern):
                shutil.rmtree(leftover, ignore_errors=True)
        build_preset(name, dest)
    return dest
