"""MusicGen: the tiny preset builds, loads back with from_pretrained, and generates audio of the
asked length, reproducibly by seed, with progress per token and prompt cancellation."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer, MusicgenForConditionalGeneration, MusicgenProcessor

from engines.audio_params import AudioParams, RawAudioFields, resolve_audio_params
from engines.families import Family, family_of_folder, is_audio_family
from engines.music_generation import MusicEngine, load_music_engine
from engines.music_presets import MUSIC_PRESETS, assemble_musicgen
from engines.presets import MARKER_FILE, ensure_preset, preset_fingerprint
from engines.registry import ModelSpec
from genmedia.errors import Cancelled, InvalidArgument

PRESET = "tiny-musicgen"


@pytest.fixture(scope="module")
def engine(model_cache: Path) -> MusicEngine:
    # One thread: the tiny decoder is overhead-bound, and a second thread only adds contention.
    spec = ModelSpec(name=PRESET, source=f"preset:{PRESET}", torch_threads=1)
    return load_music_engine(spec, model_cache)


def _params(engine: MusicEngine, **fields) -> AudioParams:
    return resolve_audio_params(RawAudioFields(prompt="calm piano with soft drums", **fields), engine.info, 0)


def test_preset_is_a_transformers_musicgen_folder(engine: MusicEngine, model_cache: Path) -> None:
    cache = model_cache / "presets"
    path = ensure_preset(PRESET, cache)  # already built by the engine fixture: found, not rebuilt
    assert path == cache / f"{PRESET}-{preset_fingerprint(PRESET)[:12]}"
    marker = json.loads((path / MARKER_FILE).read_text())
    assert marker["preset"] == PRESET and marker["fingerprint"] == preset_fingerprint(PRESET)
    assert json.loads((path / "config.json").read_text())["model_type"] == "musicgen"
    assert family_of_folder(path) is Family.MUSICGEN and is_audio_family(Family.MUSICGEN)
    assert not is_audio_family(Family.SD)

    model = MusicgenForConditionalGeneration.from_pretrained(path)
    assert model.config.audio_encoder.sampling_rate == 32000 and model.config.audio_encoder.frame_rate == 50
    assert model.generation_config.decoder_start_token_id == model.decoder.config.vocab_size
    assert len(AutoTokenizer.from_pretrained(path)) <= model.config.text_encoder.vocab_size
    assert isinstance(MusicgenProcessor.from_pretrained(path), MusicgenProcessor)
    # The saved weights are the in-memory build's (same seed), codebooks included.
    built, _ = assemble_musicgen(PRESET)
    for (name, saved), (_, fresh) in zip(model.state_dict().items(), built.state_dict().items(), strict=True):
        assert torch.equal(saved, fresh), name
    assert model.audio_encoder.quantizer.layers[0].codebook.embed.abs().sum() > 0


def test_local_folder_loads_like_a_downloaded_checkpoint(engine: MusicEngine, model_cache: Path) -> None:
    path = ensure_preset(PRESET, model_cache / "presets")
    local = load_music_engine(ModelSpec(name="local-musicgen", source=str(path), torch_threads=1), model_cache)
    assert local.info.version == engine.info.version
    assert local.info.default_duration_s == 10.0  # a real checkpoint's default; presets set their own
    params = _params(engine, duration_s=1.0, seed=3)
    np.testing.assert_array_equal(local.generate(params)[0], engine.generate(params)[0])


def test_info(engine: MusicEngine) -> None:
    info = engine.info
    assert (info.family, info.sample_rate, info.frame_rate) == (Family.MUSICGEN, 32000, 50)
    assert info.max_duration_s == 30.0 and info.default_duration_s == 1.0 and info.default_guidance == 3.0
    assert engine.tokens_for(1.0) == 50 + 3  # one per frame, plus the 4-codebook delay pattern


@pytest.mark.parametrize("seconds", [1.0, 1.5])
def test_generates_the_asked_duration(engine: MusicEngine, seconds: float) -> None:
    samples, rate = engine.generate(_params(engine, duration_s=seconds, seed=1))
    assert rate == 32000
    assert samples.dtype == np.float32 and samples.shape == (round(seconds * rate),)
    assert np.isfinite(samples).all() and np.abs(samples).max() <= 1.0
    assert samples.std() > 0


def test_same_seed_same_audio_other_seed_other_audio(engine: MusicEngine) -> None:
    params = _params(engine, seed=7)
    first, _ = engine.generate(params)
    torch.manual_seed(12345)  # the global RNG plays no part
    again, _ = engine.generate(params)
    other, _ = engine.generate(dataclasses.replace(params, seed=8))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_prompt_and_guidance_change_the_audio(engine: MusicEngine) -> None:
    params = _params(engine, seed=9)
    base, _ = engine.generate(params)
    assert not np.array_equal(base, engine.generate(dataclasses.replace(params, prompt="loud metal guitar"))[0])
    assert not np.array_equal(base, engine.generate(dataclasses.replace(params, guidance_scale=1.0))[0])


def test_sampling_settings_and_no_guidance_run(engine: MusicEngine) -> None:
    plain = _params(engine, seed=5, guidance_scale=1.0, top_k=0, top_p=0.9, temperature=0.7)
    samples, _ = engine.generate(plain)
    assert samples.shape == (32000,)
    greedyish = _params(engine, seed=5, top_k=1)  # top-k 1 is greedy: the seed no longer matters
    np.testing.assert_array_equal(
        engine.generate(greedyish)[0], engine.generate(dataclasses.replace(greedyish, seed=6))[0]
    )


def test_progress_is_reported_per_token(engine: MusicEngine) -> None:
    calls: list[tuple[int, int]] = []
    engine.generate(_params(engine, seed=2), on_token=lambda done, total: calls.append((done, total)))
    total = engine.tokens_for(1.0)
    assert calls == [(i, total) for i in range(1, total + 1)]


def test_cancellation_stops_at_the_next_token_and_frees_the_engine(engine: MusicEngine) -> None:
    seen: list[int] = []

    def stop_after_five() -> bool:
        return len(seen) >= 5

    with pytest.raises(Cancelled):
        engine.generate(_params(engine, duration_s=30.0, seed=4), on_token=lambda d, t: seen.append(d),
                        should_stop=stop_after_five)
    assert seen == [1, 2, 3, 4, 5]  # 1503 tokens asked; stopped at the first check after the 5th

    with pytest.raises(Cancelled):
        engine.generate(_params(engine, seed=4), should_stop=lambda: True)
    assert engine.generate(_params(engine, seed=4))[0].shape == (32000,)  # the lock was released


def test_arch_presets_are_the_real_architectures() -> None:
    small, _ = assemble_musicgen("musicgen-small-arch", device="meta")
    medium, _ = assemble_musicgen("musicgen-medium-arch", device="meta")
    for model in (small, medium):
        assert model.config.text_encoder.d_model == 768  # t5-base
        assert model.config.audio_encoder.frame_rate == 50 and model.decoder.config.num_codebooks == 4
    assert (small.decoder.config.hidden_size, small.decoder.config.num_hidden_layers) == (1024, 24)
    assert (medium.decoder.config.hidden_size, medium.decoder.config.num_hidden_layers) == (1536, 48)
    assert sum(p.numel() for p in small.decoder.parameters()) == pytest.approx(420e6, rel=0.01)
    assert set(MUSIC_PRESETS) == {"tiny-musicgen", "musicgen-small-arch", "musicgen-medium-arch"}


# --- parameters ---------------------------------------------------------------------------------


def test_defaults(engine: MusicEngine) -> None:
    params = resolve_audio_params(RawAudioFields(prompt="jazz"), engine.info, seed_if_unset=99)
    assert params == AudioParams(
        model=PRESET, prompt="jazz", duration_s=1.0, guidance_scale=3.0, top_k=250, top_p=0.0,
        temperature=1.0, seed=99,
    )


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"prompt": "  "}, "prompt"),
        ({"prompt": "x" * 2001}, "prompt"),
        ({"prompt": "a\x00b"}, "prompt"),
        ({"duration_s": 0.5}, "duration_s"),
        ({"duration_s": 30.5}, "duration_s"),
        ({"duration_s": math.nan}, "duration_s"),
        ({"guidance_scale": -0.1}, "guidance_scale"),
        ({"guidance_scale": 10.5}, "guidance_scale"),
        ({"top_k": -1}, "top_k"),
        ({"top_p": 1.1}, "top_p"),
        ({"top_p": -0.1}, "top_p"),
        ({"temperature": 0.0}, "temperature"),
        ({"temperature": 1e-45}, "temperature"),  # passed (0, 5] and overflowed sampling to inf (fuzzer)
        ({"temperature": 5.5}, "temperature"),
        ({"seed": -1}, "seed"),
        ({"seed": 2**63}, "seed"),
    ],
)
def test_invalid_fields_are_named(engine: MusicEngine, fields: dict, field: str) -> None:
    raw = RawAudioFields(**{"prompt": "ambient synth pads", **fields})
    with pytest.raises(InvalidArgument) as info:
        resolve_audio_params(raw, engine.info, 0)
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")
