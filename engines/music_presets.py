"""Built-in MusicGen presets: transformers MusicGen models built from configs with random weights.

A preset folder is what a downloaded facebook/musicgen-* snapshot holds: the model saved with
``save_pretrained`` (config.json with ``model_type: musicgen``, generation_config.json, weights)
and a ``MusicgenProcessor`` (the T5 tokenizer files and the EnCodec feature extractor's
preprocessor_config.json). So ``MusicgenForConditionalGeneration.from_pretrained`` and
``AutoTokenizer.from_pretrained`` load presets and real checkpoints the same way.

Caching, locking and the completion marker are ``engines.presets``' (``ensure_preset`` and
``build_preset`` accept these names); this module says what a MusicGen preset is and writes its
files.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tokenizers
import torch
import transformers
from transformers import (
    EncodecFeatureExtractor,
    GenerationConfig,
    MusicgenConfig,
    MusicgenForConditionalGeneration,
    MusicgenProcessor,
)

from transformers.models.encodec.modeling_encodec import EncodecEuclideanCodebook

from engines import music_preset_configs as configs
from engines import preset_tokenizers

MUSIC_BUILDER_VERSION = 1
"""Bump when the build code changes what it writes (configs are fingerprinted by value)."""


@dataclass(frozen=True)
class MusicPresetSpec:
    """One built-in MusicGen preset: what it is, its defaults, and its configs."""

    name: str  # e.g. "tiny-musicgen"
    description: str
    default_duration_s: float
    default_guidance: float
    config: Mapping[str, Mapping[str, Any]] = field(hash=False, repr=False)  # text_encoder, audio_encoder, decoder
    generation: Mapping[str, Any] = field(hash=False, repr=False)  # generation_config.json
    tokenizer: str = "in-memory-t5"  # the presets' T5 tokenizer (engines.preset_tokenizers)


MUSIC_PRESETS: dict[str, MusicPresetSpec] = {
    spec.name: spec
    for spec in (
        MusicPresetSpec(
            "tiny-musicgen",
            "Tiny MusicGen (T5 + EnCodec, 32 kHz, 50 Hz x 4 codebooks); 1 s of audio in well under a second on CPU.",
            default_duration_s=1.0,
            default_guidance=3.0,
            config=configs.TINY_MUSICGEN,
            generation=configs.TINY_MUSICGEN_GENERATION,
        ),
        MusicPresetSpec(
            "musicgen-small-arch",
            "Full facebook/musicgen-small architecture (300M decoder, t5-base, EnCodec 32 kHz), random weights.",
            default_duration_s=10.0,
            default_guidance=3.0,
            config=configs.MUSICGEN_SMALL_ARCH,
            generation=configs.MUSICGEN_GENERATION,
        ),
        MusicPresetSpec(
            "musicgen-medium-arch",
            "Full facebook/musicgen-medium architecture (1.5B decoder, t5-base, EnCodec 32 kHz), random weights.",
            default_duration_s=10.0,
            default_guidance=3.0,
            config=configs.MUSICGEN_MEDIUM_ARCH,
            generation=configs.MUSICGEN_GENERATION,
        ),
    )
}


def is_music_preset(name: str) -> bool:
    return name in MUSIC_PRESETS


def get_music_preset(name: str) -> MusicPresetSpec:
    """The spec of MusicGen preset `name`. Raises KeyError naming the known ones."""
    try:
        return MUSIC_PRESETS[name]
    except KeyError:
        raise KeyError(f"unknown music preset {name!r}; known: {', '.join(MUSIC_PRESETS)}") from None


def music_preset_fingerprint(name: str) -> str:
    """Stable hex digest of everything that determines the files ``save_music_preset`` writes:
    the spec, the T5 vocabulary, ``MUSIC_BUILDER_VERSION`` and the library versions.
    Raises KeyError for an unknown preset."""
    spec = get_music_preset(name)
    payload = {
        "spec": {
            "name": spec.name,
            "defaults": [spec.default_duration_s, spec.default_guidance],
            "config": {k: dict(v) for k, v in spec.config.items()},
            "generation": dict(spec.generation),
            "tokenizer": spec.tokenizer,
        },
        "tokenizer": [preset_tokenizers.t5_vocab(), preset_tokenizers.T5_MAX_LENGTH],
        "builder_version": MUSIC_BUILDER_VERSION,
        "versions": {
            "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__,
            "torch": torch.__version__,
        },
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _seed_cpu(seed: int, name: str) -> None:
    # Only the CPU generator, as engines.presets does: the caller's CUDA generators stay untouched.
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    torch.random.default_generator.manual_seed(int.from_bytes(digest[:8], "little") & (2**63 - 1))


def _randomise_codebooks(model: MusicgenForConditionalGeneration) -> None:
    # EnCodec's init leaves every codebook vector at zero (real ones come from the checkpoint), so
    # every token would decode to the same audio and the seed would not show in the samples.
    with torch.no_grad():
        for module in model.audio_encoder.modules():
            if isinstance(module, EncodecEuclideanCodebook):
                module.embed.normal_()
                module.embed_avg.copy_(module.embed)
                module.cluster_size.fill_(1.0)


def assemble_musicgen(
    name: str,
    *,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
) -> tuple[MusicgenForConditionalGeneration, MusicgenProcessor]:
    """Instantiate MusicGen preset `name` in memory, weights drawn from `seed`.

    Returns (model in eval mode, processor). `device` is ``"cpu"`` or ``"meta"`` (architecture
    without memory). Leaves the caller's global torch RNG state as it was. Raises KeyError for an
    unknown preset, ValueError for another device or a tokenizer the text encoder cannot embed.
    """
    spec = get_music_preset(name)
    device = torch.device(device)
    if device.type not in ("cpu", "meta"):
        raise ValueError(f"device must be 'cpu' or 'meta', got {str(device)!r}")
    config = MusicgenConfig(**json.loads(json.dumps(spec.config)))  # a private deep copy
    with torch.random.fork_rng(devices=[]):
        _seed_cpu(seed, name)
        with device:
            model = MusicgenForConditionalGeneration(config)
        _randomise_codebooks(model)
    if dtype != torch.float32:
        model = model.to(dtype)
    model.generation_config = GenerationConfig(**dict(spec.generation))
    tokenizer = preset_tokenizers.build_t5_tokenizer()
    if len(tokenizer) > config.text_encoder.vocab_size:
        vocab = config.text_encoder.vocab_size
        raise ValueError(f"tokenizer emits {len(tokenizer)} ids but the text encoder has vocab_size {vocab}")
    audio = config.audio_encoder
    features = EncodecFeatureExtractor(
        feature_size=audio.audio_channels, sampling_rate=audio.sampling_rate, padding_side="left"
    )
    return model.eval(), MusicgenProcessor(feature_extractor=features, tokenizer=tokenizer)


def save_music_preset(name: str, dest: Path, *, seed: int = 0, dtype: torch.dtype = torch.float32) -> Path:
    """Build MusicGen preset `name` and write its files into the existing folder `dest`.

    Writes no completion marker: ``engines.presets.build_preset`` calls this into a temporary
    folder, adds the marker and renames it into place. Raises KeyError for an unknown preset.
    """
    model, processor = assemble_musicgen(name, seed=seed, dtype=dtype)
    model.save_pretrained(dest)
    processor.save_pretrained(dest)
    return Path(dest)
