"""Text-to-music with transformers' MusicGen: prompt -> T5 -> codebook tokens -> EnCodec -> samples.

The token loop is transformers' own ``MusicgenForConditionalGeneration.generate`` (delay pattern,
KV cache, classifier-free guidance batch); this module hooks into it at two points, each called
once per decoder step on the thread that runs ``generate``:

* ``_SeededSampler`` (a LogitsProcessor) draws every token from a per-request
  ``torch.Generator``: guidance, temperature, top-k and top-p, then a multinomial draw. It hands
  ``generate`` a one-hot score row that greedy decoding (``do_sample=False``) picks, so the
  process-wide RNG is never read and the same seed gives the same audio whatever else runs.
* ``_StepHook`` (a StoppingCriteria) reports progress and raises ``Cancelled`` as soon as
  ``should_stop()`` is true, which unwinds ``generate`` after the current token.

Threading: ``MusicEngine.generate`` blocks; run it on one worker thread (the deployment's
``asyncio.to_thread``). Calls on one engine are serialised by a lock. ``on_token`` and
``should_stop`` run on that worker thread: hand progress to an event loop with
``loop.call_soon_threadsafe`` and signal cancellation through a ``threading.Event``.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from transformers import (
    AutoTokenizer,
    GenerationConfig,
    LogitsProcessor,
    LogitsProcessorList,
    MusicgenForConditionalGeneration,
    StoppingCriteria,
    StoppingCriteriaList,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from engines.audio_params import MAX_DURATION_S, MAX_GUIDANCE, AudioParams
from engines.families import Family, family_of_folder
from engines.loading import DTYPES, model_version, pick_device, thread_limit
from engines.music_presets import MUSIC_PRESETS
from engines.registry import AudioModelInfo, ModelSpec
from engines.sources import resolve_source
from genmedia.errors import Cancelled

logger = logging.getLogger(__name__)

TokenCallback = Callable[[int, int], None]  # (tokens done, tokens in total)
StopCheck = Callable[[], bool]

DEFAULT_DURATION_S = 10.0  # real checkpoints; presets carry their own
DEFAULT_GUIDANCE = 3.0  # MusicGen's (audiocraft's cfg_coef)
MAX_PROMPT_TOKENS = 512  # t5-base's context


class _SeededSampler(LogitsProcessor):
    """Samples one token per row from `generator`; returns scores whose argmax is that token.

    With guidance on, MusicGen scores come as [conditional; unconditional] halves and
    ``generate`` appends its own guidance processor after the caller's. This sampler applies the
    guidance itself and returns the same one-hot rows in both halves, which that processor then
    maps to themselves (u + s * (c - u) with c == u). Run after it, the sampler sees single rows.
    """

    def __init__(self, generator: torch.Generator, params: AudioParams):
        self.generator = generator
        self.guidance_scale = params.guidance_scale
        self.warpers = LogitsProcessorList()
        if params.temperature != 1.0:
            self.warpers.append(TemperatureLogitsWarper(params.temperature))
        if params.top_k > 0:
            self.warpers.append(TopKLogitsWarper(params.top_k))
        if 0.0 < params.top_p < 1.0:
            self.warpers.append(TopPLogitsWarper(params.top_p))

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        rows = input_ids.shape[0]
        doubled = scores.shape[0] == 2 * rows
        if doubled:
            cond, uncond = scores.split(rows, dim=0)
            scores = uncond + (cond - uncond) * self.guidance_scale
        scores = self.warpers(input_ids, scores.float())
        probs = torch.softmax(scores, dim=-1)
        tokens = torch.multinomial(probs, num_samples=1, generator=self.generator)
        chosen = torch.full_like(scores, torch.finfo(scores.dtype).min)
        chosen.scatter_(1, tokens, 0.0)
        return torch.cat([chosen, chosen]) if doubled else chosen


class _StepHook(StoppingCriteria):
    """Called by ``generate`` after every token: checks for cancellation, reports progress."""

    def __init__(self, total: int, on_token: TokenCallback | None, should_stop: StopCheck | None):
        self.total = total
        self.done = 0
        self.on_token = on_token
        self.should_stop = should_stop

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs) -> torch.BoolTensor:
        self.done += 1
        if self.should_stop is not None and self.should_stop():
            raise Cancelled(f"audio generation cancelled after {self.done} of {self.total} tokens")
        if self.on_token is not None:
            self.on_token(self.done, self.total)
        return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)


class MusicEngine:
    """One loaded MusicGen model: prompt and settings in, mono float32 samples out."""

    def __init__(
        self,
        model: MusicgenForConditionalGeneration,
        tokenizer,
        info: AudioModelInfo,
        *,
        device: torch.device,
        torch_threads: int | None = None,
    ):
        self.model = model
        self.tokenizer = tokenizer
        self.info = info
        self.device = device
        self.torch_threads = torch_threads
        self.num_codebooks = int(model.decoder.config.num_codebooks)
        self._lock = threading.Lock()

    @property
    def sample_rate(self) -> int:
        return self.info.sample_rate

    def tokens_for(self, duration_s: float) -> int:
        """Decoder steps for `duration_s` of audio: one per codec frame, plus the delay pattern's
        num_codebooks - 1 (codebook k starts k steps late, so the last frame completes then)."""
        return math.ceil(duration_s * self.info.frame_rate) + self.num_codebooks - 1

    def generate(
        self,
        params: AudioParams,
        on_token: TokenCallback | None = None,
        should_stop: StopCheck | None = None,
    ) -> tuple[np.ndarray, int]:
        """Generates `params.duration_s` of audio for `params.prompt`.

        Returns (samples, sample_rate): float32 mono samples in [-1, 1], exactly
        round(duration_s * sample_rate) of them. Same params (seed included) on the same device
        give the same samples. ``on_token(done, total)`` is called after each decoder token
        (``total = tokens_for(duration_s)``); ``should_stop()`` before text encoding and after
        each token. Raises Cancelled when ``should_stop()`` is true (the model is free again on
        return); exceptions from ``on_token`` propagate and end the generation.
        """
        total = self.tokens_for(params.duration_s)
        hook = _StepHook(total, on_token, should_stop)
        with self._lock, thread_limit(self.torch_threads), torch.inference_mode():
            if should_stop is not None and should_stop():
                raise Cancelled("audio generation cancelled before it started")
            inputs = self.tokenizer(
                [params.prompt],
                return_tensors="pt",
                truncation=True,
                max_length=self.info.max_prompt_tokens,
            ).to(self.device)
            generator = torch.Generator(device=self.device).manual_seed(params.seed)
            audio = self.model.generate(
                input_ids=inputs["input_ids"],
                attention_mask=inputs["attention_mask"],
                generation_config=self._generation_config(params, total),
                logits_processor=LogitsProcessorList([_SeededSampler(generator, params)]),
                stopping_criteria=StoppingCriteriaList([hook]),
            )
        samples = audio[0].float().mean(dim=0)  # (channels, n) -> mono
        samples = samples[: round(params.duration_s * self.sample_rate)].clamp(-1.0, 1.0)
        return samples.cpu().numpy().astype(np.float32, copy=False), self.sample_rate

    def _generation_config(self, params: AudioParams, total: int) -> GenerationConfig:
        # generate() fills every field left None from the model's saved generation_config, so the
        # sampling fields are set to their neutral values: _SeededSampler does the sampling.
        saved = self.model.generation_config
        return GenerationConfig(
            decoder_start_token_id=saved.decoder_start_token_id,
            pad_token_id=saved.pad_token_id,
            bos_token_id=saved.bos_token_id,
            do_sample=False,  # the token is drawn by _SeededSampler; greedy picks it
            temperature=1.0,
            top_k=50,  # transformers' default, which greedy decoding ignores without a warning
            top_p=1.0,
            # transformers' MusicGen runs the unconditional pass only for a scale above 1.
            guidance_scale=max(params.guidance_scale, 1.0),
            max_new_tokens=total,
            min_new_tokens=0,
            use_cache=True,
        )


def load_music_engine(spec: ModelSpec, cache_dir: Path) -> MusicEngine:
    """Resolves `spec.source` (``preset:tiny-musicgen``, a local MusicGen folder such as a
    facebook/musicgen-small snapshot, ``s3://``, ``hub:``) and loads it on the spec's device and
    precision. Raises ValueError if the folder is not a MusicGen model or the spec's defaults do
    not suit audio; Unavailable if a remote source cannot be reached."""
    path = resolve_source(spec.source, cache_dir)
    preset = MUSIC_PRESETS.get(spec.source.removeprefix("preset:")) if spec.source.startswith("preset:") else None
    guidance = spec.default_guidance
    if guidance is None and preset is not None:
        guidance = preset.default_guidance
    return load_music_folder(
        path,
        name=spec.name,
        device=pick_device(spec),
        dtype=DTYPES[spec.precision],
        torch_threads=spec.torch_threads,
        default_duration_s=preset.default_duration_s if preset is not None else DEFAULT_DURATION_S,
        default_guidance=guidance,
    )


def load_music_folder(
    path: Path,
    *,
    name: str,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    torch_threads: int | None = None,
    default_duration_s: float = DEFAULT_DURATION_S,
    default_guidance: float | None = None,
) -> MusicEngine:
    """Loads a MusicGen folder (``save_pretrained`` model + tokenizer files) with
    ``from_pretrained``. `default_guidance` None takes the folder's generation_config, else 3.
    Raises ValueError if the folder is not a MusicGen model or a default is out of range."""
    path = Path(path)
    if family_of_folder(path) is not Family.MUSICGEN:
        raise ValueError(f"{path} is not a MusicGen model folder")
    device = torch.device(device)
    model = MusicgenForConditionalGeneration.from_pretrained(path, dtype=dtype).to(device).eval()
    model.requires_grad_(False)
    tokenizer = AutoTokenizer.from_pretrained(path)
    info = _model_info(model, tokenizer, path, name, default_duration_s, default_guidance)
    logger.info("loaded MusicGen %s from %s on %s (%s Hz)", name, path, device, info.sample_rate)
    return MusicEngine(model, tokenizer, info, device=device, torch_threads=torch_threads)


def _model_info(model, tokenizer, path: Path, name: str, duration: float, guidance: float | None) -> AudioModelInfo:
    codec = model.config.audio_encoder
    decoder = model.decoder.config
    if guidance is None:
        guidance = model.generation_config.guidance_scale or DEFAULT_GUIDANCE
    if not 0.0 <= guidance <= MAX_GUIDANCE:
        raise ValueError(f"model {name}: default_guidance {guidance} is outside 0..{MAX_GUIDANCE:g} for audio")
    # Positions: the start token, one per step, and the delay pattern's tail.
    max_duration = min(MAX_DURATION_S, (decoder.max_position_embeddings - decoder.num_codebooks) / codec.frame_rate)
    if not 1.0 <= duration <= max_duration:
        raise ValueError(f"model {name}: default duration {duration} s is outside 1..{max_duration:g} s")
    return AudioModelInfo(
        name=name,
        family=Family.MUSICGEN,
        version=model_version(path),
        sample_rate=int(codec.sampling_rate),
        frame_rate=int(codec.frame_rate),
        max_duration_s=max_duration,
        default_duration_s=duration,
        default_guidance=float(guidance),
        max_prompt_tokens=min(int(tokenizer.model_max_length), MAX_PROMPT_TOKENS),
    )
