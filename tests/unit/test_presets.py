"""Built-in presets: build, save in diffusers format, load back through the real loaders, run."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import diffusers
import numpy as np
import pytest
import torch
from diffusers import DiffusionPipeline

from engines import presets
from engines.presets import PRESETS, build_preset, ensure_preset, preset_fingerprint

TINY = ["tiny-sd", "tiny-sdxl", "tiny-sd3", "tiny-flux"]


@pytest.fixture(scope="module")
def cache_dir(model_cache: Path) -> Path:
    # The layout engines.sources uses, so other tests reuse these builds.
    return model_cache / "presets"


def _safetensors(folder: Path) -> dict[str, bytes]:
    return {str(f.relative_to(folder)): f.read_bytes() for f in sorted(folder.rglob("*.safetensors"))}


def _encode(pipe, family: str, prompt: str):
    """Calls encode_prompt with each family's own signature; returns (embeds, pooled or None)."""
    if family == "sd":
        embeds, _ = pipe.encode_prompt(prompt, "cpu", 1, True)
        return embeds, None
    if family == "sdxl":
        embeds, _, pooled, _ = pipe.encode_prompt(prompt, device="cpu")
        return embeds, pooled
    if family == "sd3":
        embeds, _, pooled, _ = pipe.encode_prompt(prompt, None, None, device="cpu")
        return embeds, pooled
    embeds, pooled, _ = pipe.encode_prompt(prompt, None, device="cpu")
    return embeds, pooled


def _expected_embed_shapes(pipe, family: str) -> tuple[tuple[int, ...], tuple[int, ...] | None]:
    if family == "sd":
        return (1, 77, pipe.unet.config.cross_attention_dim), None
    if family == "sdxl":
        pooled = pipe.text_encoder_2.config.projection_dim
        return (1, 77, pipe.unet.config.cross_attention_dim), (1, pooled)
    cfg = pipe.transformer.config
    if family == "sd3":  # CLIP tokens then T5 tokens (default max_sequence_length 256)
        return (1, 77 + 256, cfg.joint_attention_dim), (1, cfg.pooled_projection_dim)
    return (1, 512, cfg.joint_attention_dim), (1, cfg.pooled_projection_dim)


@pytest.mark.parametrize("name", TINY)
def test_tiny_preset_loads_and_generates(name: str, cache_dir: Path) -> None:
    spec = PRESETS[name]
    path = ensure_preset(name, cache_dir)
    assert path == cache_dir / f"{name}-{preset_fingerprint(name)[:12]}"

    pipe = DiffusionPipeline.from_pretrained(path)
    assert type(pipe).__name__ == spec.pipeline_class
    pipe.set_progress_bar_config(disable=True)
    images = pipe(
        prompt="a photo of a cat",
        num_inference_steps=2,
        height=spec.default_height,
        width=spec.default_width,
        guidance_scale=spec.default_guidance,
        generator=torch.Generator().manual_seed(0),
        output_type="np",
    ).images
    assert images.shape == (1, spec.default_height, spec.default_width, 3)
    assert np.isfinite(images).all()


@pytest.mark.parametrize("name", TINY)
def test_tiny_preset_encodes_with_its_own_class(name: str, cache_dir: Path) -> None:
    spec = PRESETS[name]
    pipe = getattr(diffusers, spec.pipeline_class).from_pretrained(ensure_preset(name, cache_dir))
    assert pipe.tokenizer.model_max_length == 77
    embeds, pooled = _encode(pipe, spec.family, "an astronaut riding a horse, highly detailed 😀")
    want_embeds, want_pooled = _expected_embed_shapes(pipe, spec.family)
    assert tuple(embeds.shape) == want_embeds
    assert torch.isfinite(embeds).all()
    assert (pooled is None) == (want_pooled is None)
    if pooled is not None:
        assert tuple(pooled.shape) == want_pooled


def test_ensure_preset_twice_returns_same_path_without_rebuilding(cache_dir: Path, monkeypatch) -> None:
    first = ensure_preset("tiny-sd", cache_dir)
    marker_mtime = (first / presets.MARKER_FILE).stat().st_mtime_ns

    def must_not_build(*args, **kwargs):
        raise AssertionError("ensure_preset rebuilt a complete preset")

    monkeypatch.setattr(presets, "build_preset", must_not_build)
    assert ensure_preset("tiny-sd", cache_dir) == first
    assert (first / presets.MARKER_FILE).stat().st_mtime_ns == marker_mtime


def test_concurrent_ensure_preset_builds_once(tmp_path: Path, monkeypatch) -> None:
    builds = []
    real_build = presets.build_preset

    def slow_counting_build(*args, **kwargs):
        builds.append(args)
        time.sleep(0.3)  # keep the lock held while the other callers arrive
        return real_build(*args, **kwargs)

    monkeypatch.setattr(presets, "build_preset", slow_counting_build)
    results: list[Path] = []
    # flock locks are per open file description, so threads contend exactly like processes.
    def ensure() -> None:
        results.append(ensure_preset("tiny-flux", tmp_path))

    threads = [threading.Thread(target=ensure) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(builds) == 1
    assert len(results) == 4 and len(set(results)) == 1
    assert presets.is_complete(results[0], preset_fingerprint("tiny-flux"))


def test_ensure_preset_rebuilds_a_build_with_another_seed(tmp_path: Path) -> None:
    dest = tmp_path / f"tiny-sd-{preset_fingerprint('tiny-sd')[:12]}"
    build_preset("tiny-sd", dest, seed=7)
    assert ensure_preset("tiny-sd", tmp_path) == dest
    assert json.loads((dest / presets.MARKER_FILE).read_text())["seed"] == 0


def test_ensure_preset_rebuilds_a_folder_without_marker(tmp_path: Path) -> None:
    dest = tmp_path / f"tiny-sd-{preset_fingerprint('tiny-sd')[:12]}"
    dest.mkdir()
    (dest / "half-written.bin").write_bytes(b"x")
    leftover = tmp_path / f".{dest.name}.building-crashed"
    leftover.mkdir()

    assert ensure_preset("tiny-sd", tmp_path) == dest
    assert (dest / presets.MARKER_FILE).exists()
    assert not (dest / "half-written.bin").exists()
    assert not leftover.exists()


@pytest.mark.parametrize("name", TINY)
def test_build_is_deterministic_per_seed(name: str, tmp_path: Path) -> None:
    a = _safetensors(build_preset(name, tmp_path / "a", seed=0))
    b = _safetensors(build_preset(name, tmp_path / "b", seed=0))
    c = _safetensors(build_preset(name, tmp_path / "c", seed=1))
    assert a and a == b
    assert a.keys() == c.keys() and all(a[k] != c[k] for k in a)


def test_build_preset_replaces_existing_dest_and_leaves_no_temporaries(tmp_path: Path) -> None:
    dest = tmp_path / "model"
    build_preset("tiny-sd", dest, seed=1)
    build_preset("tiny-sd", dest, seed=0)
    marker = json.loads((dest / presets.MARKER_FILE).read_text())
    assert marker["seed"] == 0 and marker["preset"] == "tiny-sd"
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_build_preset_leaves_global_rng_untouched(tmp_path: Path) -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    build_preset("tiny-flux", tmp_path / "m")
    assert torch.equal(torch.rand(3), expected)


def test_fingerprint_is_stable_and_distinct() -> None:
    prints = {name: preset_fingerprint(name) for name in PRESETS}
    assert prints == {name: preset_fingerprint(name) for name in PRESETS}
    assert len(set(prints.values())) == len(PRESETS)
    assert all(len(p) == 64 and int(p, 16) >= 0 for p in prints.values())


def test_fingerprint_follows_component_configs(monkeypatch) -> None:
    before = preset_fingerprint("tiny-sd")
    spec = PRESETS["tiny-sd"]
    cls, cfg = spec.components["unet"]
    changed = {**spec.components, "unet": (cls, {**cfg, "layers_per_block": 2})}
    monkeypatch.setitem(PRESETS, "tiny-sd", presets.PresetSpec(**{**spec.__dict__, "components": changed}))
    assert preset_fingerprint("tiny-sd") != before


@pytest.mark.parametrize("call", [preset_fingerprint, lambda n: ensure_preset(n, Path("/nonexistent"))])
def test_unknown_preset_raises_key_error_listing_known(call) -> None:
    with pytest.raises(KeyError, match="tiny-sd"):
        call("no-such-preset")


# The real checkpoints' parameter counts (runwayml/stable-diffusion-v1-5,
# stabilityai/stable-diffusion-xl-base-1.0): the *-arch configs must reproduce them exactly.
REAL_PARAMETER_COUNTS = {
    "sd15-arch": {"vae": 83_653_863, "text_encoder": 123_060_480, "unet": 859_520_964},
    "sdxl-arch": {
        "vae": 83_653_863,
        "text_encoder": 123_060_480,
        "text_encoder_2": 694_659_840,
        "unet": 2_567_463_684,
    },
}


@pytest.mark.parametrize("name", sorted(REAL_PARAMETER_COUNTS))
def test_arch_presets_match_the_real_architectures(name: str) -> None:
    pipe = presets.assemble_pipeline(name, device="meta")  # shapes only, no memory
    counts = {
        key: sum(p.numel() for p in module.parameters())
        for key, module in pipe.components.items()
        if isinstance(module, torch.nn.Module)
    }
    assert counts == REAL_PARAMETER_COUNTS[name]
    assert pipe.vae_scale_factor * pipe.unet.config.sample_size == PRESETS[name].default_height


def test_cpu_small_builds_and_loads(cache_dir: Path) -> None:
    spec = PRESETS["cpu-small"]
    pipe = DiffusionPipeline.from_pretrained(ensure_preset("cpu-small", cache_dir))
    pipe.set_progress_bar_config(disable=True)
    images = pipe(
        prompt="a photo of a cat",
        num_inference_steps=2,
        height=spec.default_height,
        width=spec.default_width,
        output_type="np",
    ).images
    assert images.shape == (1, 256, 256, 3)
    assert np.isfinite(images).all()
