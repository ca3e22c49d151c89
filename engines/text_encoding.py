"""The text stage: token-limit checks and prompt encoding, batched across requests.

Encoding goes through the diffusers pipeline's own `encode_prompt`, so the embeddings are the
ones the monolithic pipeline would compute.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from engines.embeddings import PromptEmbeddings, read_denoiser_config, uses_cfg
from engines.families import Family
from engines.loading import LoadedParts, thread_limit
from genmedia.errors import InvalidArgument

# T5 sequence lengths the pipelines use by default.
T5_MAX_TOKENS = {Family.SD3: 256, Family.FLUX: 512}


@dataclass(frozen=True)
class EncodeRequest:
    model: str
    prompt: str
    negative_prompt: str | None
    guidance_scale: float

    def cache_key(self, cfg: bool) -> tuple:
        # Guidance only matters through whether a negative branch is encoded.
        return (self.model, self.prompt, self.negative_prompt if cfg else None, cfg)


class TextEncoderEngine:
    """Encodes prompts for one model. Not thread-safe: one call at a time."""

    def __init__(self, parts: LoadedParts):
        self.parts = parts
        self.family = parts.family
        self._denoiser_config = read_denoiser_config(parts.path, parts.family)

    def cfg(self, guidance_scale: float) -> bool:
        return uses_cfg(self.family, guidance_scale, self._denoiser_config)

    def check_tokens(self, text: str, field: str) -> None:
        """Raises InvalidArgument when `text` does not fit a text encoder (never truncate silently)."""
        pipe = self.parts.pipeline
        for attr in ("tokenizer", "tokenizer_2", "tokenizer_3"):
            tokenizer = getattr(pipe, attr, None)
            if tokenizer is None:
                continue
            is_t5 = "T5" in type(tokenizer).__name__
            limit = T5_MAX_TOKENS.get(self.family, tokenizer.model_max_length) if is_t5 else tokenizer.model_max_length
            count = len(tokenizer(text, truncation=False).input_ids)
            if count > limit:
                kind = "T5" if is_t5 else "CLIP"
                raise InvalidArgument(field, f"is {count} {kind} tokens; this model accepts at most {limit}")

    @torch.inference_mode()
    def encode(self, requests: list[EncodeRequest]) -> list[PromptEmbeddings]:
        """Encodes a batch of prompts of this model; one forward per text encoder and branch.

        Requests are grouped by (guidance on, negative given) because the pipelines treat those
        differently (SDXL zeroes a missing negative prompt); order of the result follows `requests`.
        """
        with thread_limit(self.parts.torch_threads):
            return self._encode(requests)

    def _encode(self, requests: list[EncodeRequest]) -> list[PromptEmbeddings]:
        results: list[PromptEmbeddings | None] = [None] * len(requests)
        groups: dict[tuple[bool, bool], list[int]] = {}
        for i, req in enumerate(requests):
            cfg = self.cfg(req.guidance_scale)
            groups.setdefault((cfg, cfg and req.negative_prompt is not None), []).append(i)
        for (cfg, has_negative), indices in groups.items():
            prompts = [requests[i].prompt for i in indices]
            negatives = [requests[i].negative_prompt for i in indices] if has_negative else None
            batch = self._encode_group(prompts, negatives, cfg)
            for row, i in enumerate(indices):
                results[i] = _row(batch, row)
        return results  # type: ignore[return-value]

    def _encode_group(self, prompts: list[str], negatives: list[str] | None, cfg: bool) -> PromptEmbeddings:
        pipe, device = self.parts.pipeline, self.parts.device
        # A single prompt is passed as a string, exactly as a monolithic call with one prompt does.
        prompt = prompts[0] if len(prompts) == 1 else prompts
        negative = negatives[0] if negatives is not None and len(negatives) == 1 else negatives
        if self.family in (Family.SD, Family.TEXT_TO_VIDEO, Family.ANIMATEDIFF):
            # The video pipelines copy SD's encode_prompt: one CLIP encoder, no pooled output.
            pe, npe = pipe.encode_prompt(prompt, device, 1, cfg, negative)
            return PromptEmbeddings(prompt=pe, negative=npe)
        if self.family is Family.SDXL:
            pe, npe, pooled, npooled = pipe.encode_prompt(
                prompt=prompt, device=device, num_images_per_prompt=1,
                do_classifier_free_guidance=cfg, negative_prompt=negative,
            )
            return PromptEmbeddings(prompt=pe, negative=npe, pooled=pooled, negative_pooled=npooled)
        if self.family is Family.SD3:
            pe, npe, pooled, npooled = pipe.encode_prompt(
                prompt=prompt, prompt_2=None, prompt_3=None, negative_prompt=negative,
                do_classifier_free_guidance=cfg, device=device, num_images_per_prompt=1,
                max_sequence_length=T5_MAX_TOKENS[Family.SD3],
            )
            return PromptEmbeddings(prompt=pe, negative=npe, pooled=pooled, negative_pooled=npooled)
        pe, pooled, text_ids = pipe.encode_prompt(
            prompt=prompt, prompt_2=None, device=device, num_images_per_prompt=1,
            max_sequence_length=T5_MAX_TOKENS[Family.FLUX],
        )
        return PromptEmbeddings(prompt=pe, pooled=pooled, text_ids=text_ids)


def _row(batch: PromptEmbeddings, row: int) -> PromptEmbeddings:
    def pick(t: torch.Tensor | None) -> torch.Tensor | None:
        return None if t is None else t[row : row + 1].detach().to("cpu").clone()

    text_ids = None if batch.text_ids is None else batch.text_ids.detach().to("cpu").clone()
    return PromptEmbeddings(
        prompt=pick(batch.prompt),
        negative=pick(batch.negative),
        pooled=pick(batch.pooled),
        negative_pooled=pick(batch.negative_pooled),
        text_ids=text_ids,
    )
