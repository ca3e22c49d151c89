"""genmedia's Prometheus metrics: every name, label and bucket, defined once.

Deployments record through Ray Serve's metrics API (`ray.serve.metrics`), which Ray exports on
each node's metrics port (`MetricsExportPort`; 8080 on KubeRay pods) next to Ray Serve's own
`ray_serve_*` metrics. Ray prefixes every application metric with ``ray_``, so the series
`genmedia_stage_duration_seconds` defined here is queried as
``ray_genmedia_stage_duration_seconds_bucket{deployment=..., stage=...}``; Ray adds the labels
``application``, ``deployment`` and ``replica`` itself. The SLO rules, the alerts and the
Grafana dashboards in ``deploy/helm/genmedia/files/`` query these names.

Queue depth and ongoing requests per deployment are Ray Serve's own:
``ray_serve_deployment_queued_queries``, ``ray_serve_replica_processing_queries`` and
``ray_serve_num_ongoing_requests_at_replicas``; replica restarts are
``ray_serve_deployment_replica_starts_total``.

Metric objects are made lazily, inside the replica that records them (a Ray metric made in the
driver that only builds the app would be an orphan).
"""

from __future__ import annotations

import functools
import time
from contextlib import contextmanager
from typing import Iterator

from ray.serve.metrics import Counter, Gauge, Histogram

# Seconds: 1 ms (a tiny model's step, a prompt-cache hit) to 10 min (a long video), roughly
# 1-2.5-5 per decade so histogram_quantile interpolates within a factor of 2.5. Every latency SLO
# threshold in the rules (files/rules/genmedia-slo.rules.yaml) is one of these boundaries.
LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                     15.0, 30.0, 60.0, 120.0, 300.0, 600.0)
# Items in one batched call (prompts, images, latents).
BATCH_BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)

# Stages of the image path, as the `stage` label of genmedia_stage_duration_seconds.
STAGES = ("safety_prompt", "text_encode", "denoise", "denoise_step", "decode", "safety_image", "seal",
          "storage_put", "record_commit", "video_generate", "audio_generate")

RPC_NAME = "genmedia_grpc_requests_total"
RPC_DESCRIPTION = "gRPC calls handled, by method and final status code."
ADMISSION_REJECTIONS = "genmedia_admission_rejections_total"
ADMISSION_REJECTIONS_DESCRIPTION = (
    "Calls turned away before any work, by reason (unauthenticated, rate, concurrency, capacity) and tenant ('' when "
    "refused before authentication: unauthenticated, or at the gRPC proxy's capacity bound).")


class Metrics:
    """The metrics one replica records. Create one per replica; unused metrics are never exported."""

    @functools.cached_property
    def rpc_requests(self) -> Counter:
        return Counter(RPC_NAME, description=RPC_DESCRIPTION, tag_keys=("method", "code"))

    @functools.cached_property
    def rpc_duration(self) -> Histogram:
        return Histogram("genmedia_grpc_request_duration_seconds",
                         description="gRPC call time at the ingress, from receipt to the last message, by method.",
                         boundaries=list(LATENCY_BUCKETS_S), tag_keys=("method",))

    @functools.cached_property
    def generation_duration(self) -> Histogram:
        return Histogram("genmedia_generation_duration_seconds",
                         description="Successful generations, admission to stored and recorded, by kind "
                                     "(image, video, audio), model and the model's SLO class.",
                         boundaries=list(LATENCY_BUCKETS_S), tag_keys=("kind", "model", "model_class"))

    @functools.cached_property
    def stage_duration(self) -> Histogram:
        return Histogram("genmedia_stage_duration_seconds",
                         description="Time in one stage, recorded by the deployment doing the work; "
                                     "denoise_step is one batched forward, denoise one request's whole loop.",
                         boundaries=list(LATENCY_BUCKETS_S), tag_keys=("stage", "model"))

    @functools.cached_property
    def batch_size(self) -> Histogram:
        return Histogram("genmedia_batch_size", description="Items in one batched call, by stage.",
                         boundaries=list(BATCH_BUCKETS), tag_keys=("stage",))

    @functools.cached_property
    def prompt_cache(self) -> Counter:
        return Counter("genmedia_prompt_cache_lookups_total",
                       description="Prompt-embedding cache lookups by model and result (hit, miss).",
                       tag_keys=("model", "result"))

    @functools.cached_property
    def safety_verdicts(self) -> Counter:
        return Counter("genmedia_safety_verdicts_total",
                       description="Safety verdicts by kind (prompt, image), category and action; "
                                   "category 'none' counts verdicts with no category over its thresholds.",
                       tag_keys=("kind", "category", "action"))

    @functools.cached_property
    def safety_unavailable(self) -> Counter:
        return Counter("genmedia_safety_classifier_failures_total",
                       description="Checks that failed closed because a classifier could not run, by kind.",
                       tag_keys=("kind",))

    @functools.cached_property
    def seals(self) -> Counter:
        return Counter("genmedia_provenance_seals_total",
                       description="Images sealed (watermark, fingerprint, C2PA), by outcome (ok, failed).",
                       tag_keys=("outcome",))

    @functools.cached_property
    def storage_errors(self) -> Counter:
        return Counter("genmedia_storage_errors_total",
                       description="Artifact store calls that failed server-side, by backend, operation and "
                                   "kind (unavailable: down or throttling; other: unexpected). A missing key or "
                                   "a bad one is the caller's answer, not a store error, and is not counted.",
                       tag_keys=("backend", "operation", "kind"))

    @functools.cached_property
    def stage_retries(self) -> Counter:
        return Counter("genmedia_stage_retries_total",
                       description="Stage calls made again because the replica serving them died mid-call, by "
                                   "stage (each is a pure function of its request; see services/stage_retry.py).",
                       tag_keys=("stage",))

    @functools.cached_property
    def images_produced(self) -> Counter:
        return Counter("genmedia_images_produced_total",
                       description="Images released to clients (stored and recorded), by model.",
                       tag_keys=("model",))

    @functools.cached_property
    def video_seconds_produced(self) -> Counter:
        return Counter("genmedia_video_seconds_produced_total",
                       description="Seconds of video released to clients (stored and recorded), by model.",
                       tag_keys=("model",))

    @functools.cached_property
    def audio_seconds_produced(self) -> Counter:
        return Counter("genmedia_audio_seconds_produced_total",
                       description="Seconds of audio released to clients (stored and recorded), by model.",
                       tag_keys=("model",))

    @functools.cached_property
    def admission_rejections(self) -> Counter:
        return Counter(ADMISSION_REJECTIONS, description=ADMISSION_REJECTIONS_DESCRIPTION,
                       tag_keys=("reason", "tenant"))

    @functools.cached_property
    def quota_ledger_failures(self) -> Counter:
        return Counter("genmedia_quota_ledger_failures_total",
                       description="Calls admitted without a quota check because the QuotaLedger actor could "
                                   "not be reached (quotas fail open; authentication never does).")

    @functools.cached_property
    def pending_generations(self) -> Gauge:
        return Gauge("genmedia_generations_in_flight",
                     description="Generations admitted by this ingress replica and not yet finished.")

    @functools.cached_property
    def denoiser_waiting(self) -> Gauge:
        return Gauge("genmedia_denoiser_waiting_requests",
                     description="Requests queued in this denoiser replica for a slot in the step batch.")

    def rpc(self, method: str) -> "RpcCall":
        """Starts timing one gRPC call; `RpcCall.finish` records it."""
        return RpcCall(self, method)

    @contextmanager
    def stage(self, stage: str, model: str = "") -> Iterator[None]:
        """Records the time of the enclosed block as `stage` (also when it raises)."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.stage_duration.observe(time.perf_counter() - start, tags={"stage": stage, "model": model})


class RpcCall:
    """One gRPC call at the ingress: set `code` (a grpc.StatusCode name) before `finish`."""

    def __init__(self, metrics: Metrics, method: str):
        self._metrics = metrics
        self.method = method
        self.code = "OK"
        self._start = time.perf_counter()

    def finish(self) -> None:
        self._metrics.rpc_requests.inc(tags={"method": self.method, "code": self.code})
        self._metrics.rpc_duration.observe(time.perf_counter() - self._start, tags={"method": self.method})
