"""Audio (MusicGen) request parameters: the raw fields from the edge, validated against a model.

Every rule a client can break lives here, and every violation is an InvalidArgument that names
the field and the allowed range. Sampling follows MusicGen's (audiocraft's) defaults: top-k 250,
no top-p, temperature 1, classifier-free guidance 3.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass

from engines.registry import AudioModelInfo
from genmedia.errors import InvalidArgument

MIN_DURATION_S, MAX_DURATION_S = 1.0, 30.0
MIN_GUIDANCE, MAX_GUIDANCE = 0.0, 10.0
MAX_TOP_K = 10_000  # above any codebook size; 0 turns top-k off
MAX_TEMPERATURE = 5.0
# Below this, logits / temperature overflow float32 to inf and sampling fails (1e-45 did); 0.01
# already samples the top token almost always.
MIN_TEMPERATURE = 0.01
MAX_SEED = 2**63 - 1
# A cheap bound before tokenisation; the model keeps at most info.max_prompt_tokens T5 tokens.
MAX_PROMPT_CHARS = 2000

DEFAULT_TOP_K = 250
DEFAULT_TOP_P = 0.0  # 0: off
DEFAULT_TEMPERATURE = 1.0


@dataclass(frozen=True)
class RawAudioFields:
    """Fields as the client sent them; None (or 0 for the duration) means unset."""

    prompt: str
    model: str = ""
    duration_s: float = 0.0
    guidance_scale: float | None = None
    top_k: int | None = None  # 0 is meaningful (off), so unset is None
    top_p: float | None = None
    temperature: float | None = None
    seed: int | None = None


@dataclass(frozen=True)
class AudioParams:
    """Validated parameters with every default applied. What MusicEngine.generate runs."""

    model: str
    prompt: str
    duration_s: float
    guidance_scale: float  # <= 1: no classifier-free guidance (one pass per token instead of two)
    top_k: int  # 0: off
    top_p: float  # 0: off
    temperature: float
    seed: int


def _finite_in(field: str, value: float, low: float, high: float, *, low_open: bool = False) -> float:
    value = float(value)
    ok = math.isfinite(value) and (low < value if low_open else low <= value) and value <= high
    if not ok:
        bracket = "(" if low_open else "["
        raise InvalidArgument(field, f"is {value}; must be in {bracket}{low:g}, {high:g}]")
    return value


def _check_prompt(text: str) -> str:
    if not text.strip():
        raise InvalidArgument("prompt", "must not be empty")
    if len(text) > MAX_PROMPT_CHARS:
        raise InvalidArgument("prompt", f"is {len(text)} characters; at most {MAX_PROMPT_CHARS} are accepted")
    if any(ord(c) < 32 and c not in "\t\n\r" for c in text):
        raise InvalidArgument("prompt", "must not contain control characters")
    return text


def resolve_audio_params(raw: RawAudioFields, info: AudioModelInfo, seed_if_unset: int | None = None) -> AudioParams:
    """Validates `raw` for model `info` and applies defaults.

    `seed_if_unset` is the seed used when the client sent none (the ingress draws it, so it can
    report it); None draws one here. Returns AudioParams. Raises InvalidArgument naming the
    first bad field.
    """
    prompt = _check_prompt(raw.prompt)

    max_duration = min(MAX_DURATION_S, info.max_duration_s)
    duration = raw.duration_s or info.default_duration_s
    duration = _finite_in("duration_s", duration, MIN_DURATION_S, max_duration)

    guidance = info.default_guidance if raw.guidance_scale is None else raw.guidance_scale
    guidance = _finite_in("guidance_scale", guidance, MIN_GUIDANCE, MAX_GUIDANCE)

    top_k = DEFAULT_TOP_K if raw.top_k is None else raw.top_k
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 0 <= top_k <= MAX_TOP_K:
        raise InvalidArgument("top_k", f"is {top_k}; must be an integer in 0..{MAX_TOP_K} (0: off)")

    top_p = _finite_in("top_p", DEFAULT_TOP_P if raw.top_p is None else raw.top_p, 0.0, 1.0)
    temperature = DEFAULT_TEMPERATURE if raw.temperature is None else raw.temperature
    temperature = _finite_in("temperature", temperature, MIN_TEMPERATURE, MAX_TEMPERATURE)

    if raw.seed is not None:
        seed = raw.seed
    else:
        seed = secrets.randbits(63) if seed_if_unset is None else seed_if_unset
    if not 0 <= seed <= MAX_SEED:
        raise InvalidArgument("seed", f"is {seed}; must be in 0..{MAX_SEED}")

    return AudioParams(
        model=info.name,
        prompt=prompt,
        duration_s=duration,
        guidance_scale=guidance,
        top_k=top_k,
        top_p=top_p,
        temperature=temperature,
        seed=seed,
    )
