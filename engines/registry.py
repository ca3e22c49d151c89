"""Model specifications (what the Serve config says) and model info (what loading found)."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator

from engines.families import Family
from engines.schedulers import SchedulerName

MODEL_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


class Precision(str, enum.Enum):
    FP32 = "fp32"
    FP16 = "fp16"
    BF16 = "bf16"


class Runtime(str, enum.Enum):
    EAGER = "eager"  # plain PyTorch
    COMPILE = "compile"  # torch.compile of the denoiser (first calls per shape are slow)


class LatencyClass(str, enum.Enum):
    """A model's latency SLO class: the `model_class` label of genmedia_generation_duration_seconds.
    The SLO rules (deploy/helm/genmedia/files/rules/) give each class its threshold."""

    TINY = "tiny"  # test presets: 1 s
    CPU = "cpu"  # cpu-small and other CPU serving: 10 s
    STANDARD = "standard"  # SD 1.x/2.x class on a GPU, 512 px: 5 s
    LARGE = "large"  # SDXL, SD3, Flux class on a GPU, 1024 px: 15 s


class ModelSpec(BaseModel):
    """One servable model, as written in the Serve config's application args."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Name clients put in ImageRequest.model; lowercase, [a-z0-9._-], up to 64.")
    source: str = Field(
        description=(
            "Where the diffusers-format folder comes from: 'preset:<name>' (built in, random weights), "
            "a local path, 's3://bucket/prefix' (synced to the local cache), or 'hub:<org>/<repo>' "
            "(Hugging Face Hub, where the network allows)."
        )
    )
    slo_class: LatencyClass = Field(
        default=LatencyClass.STANDARD,
        description="Latency SLO class (tiny, cpu, standard, large): which latency threshold the SLO rules hold "
                    "this model's image generations to; the model_class label of the latency histogram.",
    )
    precision: Precision = Field(default=Precision.FP32, description="Weights and activations dtype.")
    device: str = Field(default="auto", description="'auto' (cuda if available, else cpu), 'cpu', or 'cuda[:N]'.")
    runtime: Runtime = Field(default=Runtime.EAGER, description="How the denoiser runs.")
    torch_threads: int | None = Field(
        default=None, ge=1, le=256,
        description=(
            "torch intra-op threads for this model's stage calls; None keeps the deployment's. Small models "
            "are overhead-bound: 1 thread avoids oversubscribing the cores other stages need."
        ),
    )
    default_width: int | None = Field(default=None, ge=64, le=2048, description="Overrides the model's default width.")
    default_height: int | None = Field(default=None, ge=64, le=2048, description="Overrides the default height.")
    default_steps: int | None = Field(default=None, ge=1, le=150, description="Overrides the default step count.")
    default_guidance: float | None = Field(default=None, ge=0, le=30, description="Overrides the default guidance.")

    @field_validator("name")
    @classmethod
    def _name_pattern(cls, value: str) -> str:
        if not MODEL_NAME_PATTERN.match(value):
            raise ValueError(f"model name {value!r} must match {MODEL_NAME_PATTERN.pattern}")
        return value

    @field_validator("source")
    @classmethod
    def _source_form(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("source must not be empty")
        return value


@dataclass(frozen=True)
class ModelInfo:
    """What the stages and the ingress know of a loaded model."""

    name: str
    family: Family
    version: str  # content hash of the model folder's configs and weights
    default_width: int
    default_height: int
    default_steps: int
    default_guidance: float
    default_scheduler: SchedulerName  # the saved scheduler, reported when the request leaves it unset
    max_prompt_tokens: int  # CLIP limit, including start and end tokens


@dataclass(frozen=True)
class AudioModelInfo:
    """What the AudioGenerator and the ingress know of a loaded MusicGen model."""

    name: str
    family: Family
    version: str  # content hash of the model folder's configs and weights
    sample_rate: int  # Hz of the generated audio (32000 for the MusicGen checkpoints)
    frame_rate: int  # codec frames (decoder tokens per codebook) per second of audio
    max_duration_s: float  # the 30 s API limit, or less where the decoder's positions end first
    default_duration_s: float
    default_guidance: float
    max_prompt_tokens: int  # T5 tokens kept; longer prompts are truncated
