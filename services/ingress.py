"""The gRPC ingress: GenerationService, SafetyService, ProvenanceService and grpc.health.v1.Health, behind Ray
Serve's gRPC proxy (which routes every method of every registered service to this deployment).

Each RPC validates at the edge, runs the stages through DeploymentHandles and maps every error
once (services/grpc_status.py): no exception reaches Ray Serve, so no traceback reaches a client.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from typing import AsyncIterator

import grpc
from grpc_health.v1 import health_pb2
from ray import serve

from engines.audio_params import resolve_audio_params
from engines.params import MAX_SEED, RawImageFields, resolve_image_params
from engines.registry import ModelInfo
from engines.step_batching import StepEvent
from engines.video_params import resolve_video_params
from genmedia.errors import InvalidArgument, NotFound, ResourceExhausted, Unauthenticated, Unavailable
from genmedia.grpc_servicers import MalformedRequest
from provenance.audio_watermark import MIN_DURATION_S as AUDIO_MARK_MIN_S
from genmedia.v1 import generation_pb2 as pb
from genmedia.v1 import provenance_pb2 as ppb
from genmedia.v1 import safety_pb2 as spb
from services import convert
from services.admission import Admission, Admitted
from services.config import AppConfig
from services.deadlines import deadline_from
from services.grpc_status import set_status
from services.idempotency import IdempotencyGuard
from services.stage_retry import retried
from services.image_generation import (
    Decoded, Done, ImageGeneration, ImageJob, PromptChecked, PromptEncoded, Queued, Stored,
)
from services.media_generation import AudioJob, MediaGeneration, Phase, VideoJob
from services.metered_store import MeteredStore
from services.metrics import Metrics, RpcCall
from services.records import generation_time, load_manifest, new_generation_id
from storage import open_store

logger = logging.getLogger("genmedia.ingress")

SERVICE_NAMES = ("", "genmedia.v1.GenerationService", "genmedia.v1.SafetyService",
                 "genmedia.v1.ProvenanceService")
# A request that arrives during start-up waits this long for warm-up before UNAVAILABLE.
READY_WAIT_S = 30.0


_PHASES = {"decoding": pb.GenerationEvent.Phase.NAME_DECODING,
           "safety_check": pb.GenerationEvent.Phase.NAME_SAFETY_CHECK,
           "sealing": pb.GenerationEvent.Phase.NAME_SEALING, "storing": pb.GenerationEvent.Phase.NAME_STORING}


@serve.deployment(name="Ingress")
class Ingress:
    def __init__(self, config: AppConfig, safety, text_encoder, denoiser, vae_decoder, provenance,
                 video_generator=None, audio_generator=None):
        self.config = config
        self.tenant = config.ingress.tenant  # the warm-up's tenant
        self.metrics = Metrics()
        self.admission = Admission(config.ingress, self.metrics, serve.get_replica_context().app_name or "genmedia")
        self.store = MeteredStore(open_store(config.storage), config.storage.backend, self.metrics)
        self.safety = safety
        self.provenance = provenance
        self.generation = ImageGeneration(safety, text_encoder, denoiser, vae_decoder, provenance, self.store,
                                          config.ingress.encode_threads, self.metrics,
                                          {m.name: m.slo_class.value for m in config.models})
        self.media = MediaGeneration(safety, text_encoder, video_generator, audio_generator, provenance,
                                     self.store, self.generation.io_executor, self.metrics)
        self.video_generator = video_generator
        self.audio_generator = audio_generator
        self.text_encoder = text_encoder
        self.idempotency = IdempotencyGuard(self.store)
        self._infos: dict[str, ModelInfo] = {}
        self._video_infos: dict = {}
        self._audio_infos: dict = {}
        self._model_classes = {m.name: m.slo_class.value for m in config.all_models}
        self._ready = asyncio.Event()
        self._in_flight = 0
        self._generations = 0  # admitted generation calls, for max_generations_in_flight
        self._startup = asyncio.get_running_loop().create_task(self._start())

    # --- readiness ------------------------------------------------------------------------
    async def _start(self) -> None:
        """Learns the models from the text stage, then warms every stage once per model."""
        while True:
            try:
                self._infos = await self.text_encoder.model_infos.remote()
                if self.video_generator is not None:
                    self._video_infos = await self.video_generator.model_infos.remote()
                if self.audio_generator is not None:
                    self._audio_infos = await self.audio_generator.model_infos.remote()
                if self.config.ingress.warmup:
                    for info in self._infos.values():
                        params = resolve_image_params(RawImageFields(prompt="warm-up", model=info.name),
                                                      info, seed_if_unset=0)
                        params = dataclasses.replace(params, steps=min(params.steps, 2))
                        job = ImageJob(new_generation_id(), self.tenant, params, info.version,
                                       convert.image_format(pb.ImageRequest()), False, False)
                        async for _ in self.generation.run(job, 0, store=False):
                            pass
                self._ready.set()
                logger.info("ingress ready: models %s", sorted(self._infos))
                return
            except Exception:
                logger.exception("warm-up failed; retrying in 2 s")
                await asyncio.sleep(2)

    async def _model_info(self, name: str, kind: str = "image"):
        """The ModelInfo (image), VideoModelInfo or AudioModelInfo of `name` (empty: the kind's
        default). INVALID_ARGUMENT naming `model` when this server has no such model of the kind."""
        if not self._ready.is_set():
            try:
                await asyncio.wait_for(asyncio.shield(self._ready.wait()), timeout=READY_WAIT_S)
            except asyncio.TimeoutError:
                raise Unavailable("the models are still loading; retry shortly") from None
        infos, default = {"image": (self._infos, self.config.default_model),
                          "video": (self._video_infos, self.config.default_video_model),
                          "audio": (self._audio_infos, self.config.default_audio_model)}[kind]
        info = infos.get(name or default or "")
        if info is None:
            known = ", ".join(sorted(infos)) or "none"
            raise InvalidArgument("model", f"unknown {kind} model {name!r:.80}; this server's {kind} models: {known}")
        return info

    # --- grpc.health.v1.Health -------------------------------------------------------------
    async def Check(self, request: health_pb2.HealthCheckRequest, grpc_context=None) -> health_pb2.HealthCheckResponse:
        call = self.metrics.rpc("Check")
        try:
            return self._health(request, grpc_context, call)
        finally:
            call.finish()

    def _health(self, request: health_pb2.HealthCheckRequest, grpc_context, call: RpcCall
                ) -> health_pb2.HealthCheckResponse:
        if isinstance(request, MalformedRequest):
            self._fail(call, grpc_context, _malformed(request))
            return health_pb2.HealthCheckResponse()
        if request.service not in SERVICE_NAMES:
            grpc_context.set_code(grpc.StatusCode.NOT_FOUND)
            grpc_context.set_details(f"unknown service {request.service!r:.80}")
            call.code = grpc.StatusCode.NOT_FOUND.name
            return health_pb2.HealthCheckResponse()
        status = health_pb2.HealthCheckResponse.SERVING if self._ready.is_set() else \
            health_pb2.HealthCheckResponse.NOT_SERVING
        return health_pb2.HealthCheckResponse(status=status)

    async def Watch(self, request: health_pb2.HealthCheckRequest, grpc_context=None) -> AsyncIterator:
        """Sends the current status, then SERVING once ready (the status never goes back)."""
        call = self.metrics.rpc("Watch")
        try:
            response = self._health(request, grpc_context, call)
            yield response
            if response.status == health_pb2.HealthCheckResponse.NOT_SERVING:
                await self._ready.wait()
                yield health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)
        except (asyncio.CancelledError, GeneratorExit):
            call.code = grpc.StatusCode.CANCELLED.name
            raise
        finally:
            call.finish()

    # --- genmedia.v1.GenerationService -------------------------------------------------------
    async def GenerateImage(self, request: pb.ImageRequest, grpc_context=None) -> pb.GenerationResult:
        return await self._unary("GenerateImage", "image", request, grpc_context)

    async def StreamImage(self, request: pb.ImageRequest, grpc_context=None) -> AsyncIterator[pb.GenerationEvent]:
        async for message in self._stream("StreamImage", "image", request, grpc_context):
            yield message

    async def GenerateVideo(self, request: pb.VideoRequest, grpc_context=None) -> pb.GenerationResult:
        return await self._unary("GenerateVideo", "video", request, grpc_context)

    async def StreamVideo(self, request: pb.VideoRequest, grpc_context=None) -> AsyncIterator[pb.GenerationEvent]:
        async for message in self._stream("StreamVideo", "video", request, grpc_context):
            yield message

    async def GenerateAudio(self, request: pb.AudioRequest, grpc_context=None) -> pb.GenerationResult:
        return await self._unary("GenerateAudio", "audio", request, grpc_context)

    async def StreamAudio(self, request: pb.AudioRequest, grpc_context=None) -> AsyncIterator[pb.GenerationEvent]:
        async for message in self._stream("StreamAudio", "audio", request, grpc_context):
            yield message

    async def _unary(self, method: str, kind: str, request, grpc_context) -> pb.GenerationResult:
        call = self.metrics.rpc(method)
        admitted = None
        try:
            admitted = await self._admit(grpc_context, generation=True)
            result = None
            async for event in self._generate(admitted.caller.tenant, kind, request, stream_steps=False,
                                              deadline=_deadline(grpc_context)):
                if isinstance(event, pb.GenerationResult):  # read to the end: the claim must close
                    result = event
            if result is None:
                raise RuntimeError("generation ended without a result")
            return result
        except BaseException as exc:  # noqa: BLE001 - every error is mapped, CancelledError included
            self._fail(call, grpc_context, exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return pb.GenerationResult()
        finally:
            await self._release(admitted)
            call.finish()

    async def _stream(self, method: str, kind: str, request, grpc_context) -> AsyncIterator[pb.GenerationEvent]:
        generation_id = ""
        call = self.metrics.rpc(method)
        admitted = None
        try:
            admitted = await self._admit(grpc_context, generation=True)
            async for event in self._generate(admitted.caller.tenant, kind, request,
                                              deadline=_deadline(grpc_context)):
                if isinstance(event, str):
                    generation_id = event
                    continue
                yield self._event_message(generation_id, event)
        except BaseException as exc:  # noqa: BLE001
            code, message = self._fail(call, grpc_context, exc)
            if isinstance(exc, (asyncio.CancelledError, GeneratorExit)):
                raise
            yield pb.GenerationEvent(
                generation_id=generation_id,
                error=pb.GenerationEvent.Error(code=code.value[0], message=message),
            )
        finally:
            await self._release(admitted)
            call.finish()

    async def GetGeneration(self, request: pb.GetGenerationRequest, grpc_context=None) -> pb.GenerationResult:
        call = self.metrics.rpc("GetGeneration")
        try:
            tenant = (await self._admit(grpc_context, generation=False)).caller.tenant
            _check_parsed(request)
            loop = asyncio.get_running_loop()
            record = await loop.run_in_executor(None, load_manifest, self.store, tenant, request.generation_id)
            urls = await loop.run_in_executor(None, self.generation.presigned_urls, record)
            return convert.result_to_proto(record, urls=urls)
        except Exception as exc:  # noqa: BLE001
            self._fail(call, grpc_context, exc)
            return pb.GenerationResult()
        finally:
            call.finish()

    # --- genmedia.v1.SafetyService ------------------------------------------------------------
    async def ClassifyPrompt(self, request: spb.ClassifyPromptRequest, grpc_context=None) -> spb.SafetyVerdict:
        call = self.metrics.rpc("ClassifyPrompt")
        try:
            tenant = (await self._admit(grpc_context, generation=False)).caller.tenant
            _check_parsed(request)
            if not request.prompt.strip():
                raise InvalidArgument("prompt", "required: a non-empty prompt")
            verdict = await retried("safety_prompt", lambda: self.safety.check_prompt.remote(tenant, request.prompt),
                                    self.metrics)
            return convert.verdict_to_proto(verdict)
        except Exception as exc:  # noqa: BLE001
            self._fail(call, grpc_context, exc)
            return spb.SafetyVerdict()
        finally:
            call.finish()

    async def ClassifyImage(self, request: spb.ClassifyImageRequest, grpc_context=None) -> spb.SafetyVerdict:
        call = self.metrics.rpc("ClassifyImage")
        try:
            tenant = (await self._admit(grpc_context, generation=False)).caller.tenant
            _check_parsed(request)
            verdict = await retried("safety_image", lambda: self.safety.classify_image_bytes.remote(
                tenant, request.image), self.metrics)
            return convert.verdict_to_proto(verdict)
        except Exception as exc:  # noqa: BLE001
            self._fail(call, grpc_context, exc)
            return spb.SafetyVerdict()
        finally:
            call.finish()

    # --- genmedia.v1.ProvenanceService --------------------------------------------------------
    async def Verify(self, request: ppb.VerifyRequest, grpc_context=None) -> ppb.VerifyResult:
        call = self.metrics.rpc("Verify")
        try:
            tenant = (await self._admit(grpc_context, generation=False)).caller.tenant
            _check_parsed(request)
            source = request.WhichOneof("source")
            if source is None:
                raise InvalidArgument("source", "set exactly one of data (image bytes) and uri")
            if source == "uri":
                loop = asyncio.get_running_loop()
                data = await loop.run_in_executor(None, self._tenant_artifact, tenant, request.uri)
            else:
                data = request.data
            report = await retried("verify", lambda: self.provenance.verify.remote(data), self.metrics)
            return convert.verify_to_proto(report, tenant)
        except Exception as exc:  # noqa: BLE001
            self._fail(call, grpc_context, exc)
            return ppb.VerifyResult()
        finally:
            call.finish()

    async def GetRecord(self, request: ppb.GetRecordRequest, grpc_context=None) -> ppb.ProvenanceRecord:
        call = self.metrics.rpc("GetRecord")
        try:
            tenant = (await self._admit(grpc_context, generation=False)).caller.tenant
            _check_parsed(request)
            generation_time(request.generation_id)  # INVALID_ARGUMENT for anything but our UUIDs
            record = await retried("get_record", lambda: self.provenance.get_record.remote(request.generation_id),
                                   self.metrics)
            return convert.provenance_record_to_proto(record, tenant)
        except Exception as exc:  # noqa: BLE001
            self._fail(call, grpc_context, exc)
            return ppb.ProvenanceRecord()
        finally:
            call.finish()

    async def _admit(self, grpc_context, generation: bool) -> Admitted:
        """Authenticates the call and takes its quota (services/admission.py); counts refusals."""
        metadata = grpc_context.invocation_metadata() if grpc_context is not None else ()
        try:
            caller = self.admission.authenticate(metadata)
        except Unauthenticated:
            self.metrics.admission_rejections.inc(tags={"reason": "unauthenticated", "tenant": ""})
            raise
        try:
            limit = self.config.ingress.max_generations_in_flight
            if generation and limit and self._generations >= limit:
                raise ResourceExhausted(f"the service is at capacity ({limit} generations in flight on this "
                                        "replica); retry after a short delay",
                                        self.config.ingress.overload_retry_after_s, "capacity")
            admitted = await self.admission.take(caller, generation)
        except ResourceExhausted as over:
            self.metrics.admission_rejections.inc(tags={"reason": over.reason, "tenant": caller.tenant})
            raise
        if generation:
            self._generations += 1
            admitted.generation = True
        return admitted

    async def _release(self, admitted: Admitted | None) -> None:
        if admitted is None:
            return
        if admitted.generation:
            admitted.generation = False
            self._generations -= 1
        await asyncio.shield(self.admission.release(admitted))

    @staticmethod
    def _fail(call: RpcCall, grpc_context, exc: BaseException) -> tuple[grpc.StatusCode, str]:
        """Maps `exc` onto the call's status (services/grpc_status.py) and its metrics."""
        code, message = set_status(grpc_context, exc)
        call.code = code.name
        return code, message

    def _tenant_artifact(self, tenant: str, uri: str) -> bytes:
        """The bytes of one of the caller's artifacts. INVALID_ARGUMENT for a URI not of this store;
        NOT_FOUND for a missing artifact or another tenant's."""
        key = self.store.key_for_uri(uri)
        if not key.startswith(f"{tenant}/"):
            raise NotFound(f"uri: no artifact {uri!r:.200} for this tenant")
        return self.store.get(key)

    # --- the shared path -------------------------------------------------------------------
    async def _job(self, tenant: str, kind: str, request, stream_steps: bool, deadline: float | None):
        """Validates a request into its job and the runner that executes it. Raises InvalidArgument."""
        _check_parsed(request)
        seed = random.SystemRandom().randint(0, MAX_SEED)
        if kind == "image":
            raw = convert.raw_fields(request)
            fmt = convert.image_format(request)
            info = await self._model_info(raw.model)
            params = resolve_image_params(raw, info, seed_if_unset=seed)
            job = ImageJob(new_generation_id(), tenant, params, info.version, fmt, request.return_bytes,
                           request.preview, stream_steps, deadline=deadline)
            return job, self.generation.run
        if kind == "video":
            raw = convert.raw_video_fields(request)
            info = await self._model_info(raw.model, "video")
            params = resolve_video_params(raw, info, seed_if_unset=seed)
            job = VideoJob(new_generation_id(), tenant, params, info.model.version, request.return_bytes,
                           self._model_classes[params.model], deadline=deadline)
            return job, self.media.run_video
        raw = convert.raw_audio_fields(request)
        fmt = convert.audio_format(request)
        info = await self._model_info(raw.model, "audio")
        if not raw.duration_s:  # unset: the model's default, but never shorter than a watermarkable clip
            raw = dataclasses.replace(raw, duration_s=max(info.default_duration_s, AUDIO_MARK_MIN_S))
        params = resolve_audio_params(raw, info, seed_if_unset=seed)
        if params.duration_s < AUDIO_MARK_MIN_S:  # every clip is watermarked: fail before generating
            raise InvalidArgument("duration_s", f"is {params.duration_s:g} s; the audio watermark needs clips of "
                                                f"at least {AUDIO_MARK_MIN_S:g} s")
        job = AudioJob(new_generation_id(), tenant, params, fmt, info.version, request.return_bytes,
                       self._model_classes[params.model], deadline=deadline)
        return job, self.media.run_audio

    async def _generate(self, tenant: str, kind: str, request, stream_steps: bool = True,
                        deadline: float | None = None) -> AsyncIterator:
        """Yields the generation id (str), internal events, and finally a GenerationResult."""
        _check_parsed(request)
        key = convert.idempotency_key(request)
        job, run = await self._job(tenant, kind, request, stream_steps, deadline)
        result: pb.GenerationResult | None = None
        async with self.idempotency.claim(tenant, key) as claim:
            if claim.existing_id is not None:
                record = await asyncio.get_running_loop().run_in_executor(
                    None, load_manifest, self.store, tenant, claim.existing_id)
                yield record.generation_id
                result = self._result(record, {})
            else:
                yield job.generation_id
                position = self._in_flight
                self._in_flight += 1
                self.metrics.pending_generations.set(self._in_flight)
                try:
                    async for event in run(job, position):
                        if isinstance(event, Done):
                            claim.record(job.generation_id)
                            result = self._result(event.record, event.data)
                        else:
                            yield event
                finally:
                    self._in_flight -= 1
                    self.metrics.pending_generations.set(self._in_flight)
        # The idempotency pointer is written (the claim released) before the client hears of it.
        yield result

    def _result(self, record, data: dict[int, bytes]) -> pb.GenerationResult:
        return convert.result_to_proto(record, urls=self.generation.presigned_urls(record), data=data)

    def _event_message(self, generation_id: str, event) -> pb.GenerationEvent:
        E = pb.GenerationEvent
        if isinstance(event, Queued):
            return E(generation_id=generation_id, queued=E.Queued(position=event.position))
        if isinstance(event, PromptChecked):
            return E(generation_id=generation_id,
                     prompt_checked=E.PromptChecked(verdict=convert.verdict_to_proto(event.verdict)))
        if isinstance(event, PromptEncoded):
            return E(generation_id=generation_id, prompt_encoded=E.PromptEncoded(cache_hit=event.cache_hit))
        if isinstance(event, StepEvent):
            return E(generation_id=generation_id,
                     step=E.Step(step=event.step, total=event.total, preview_png=event.preview_png))
        if isinstance(event, Decoded):
            return E(generation_id=generation_id, decoded=E.Decoded())
        if isinstance(event, Phase):
            return E(generation_id=generation_id, phase=E.Phase(name=_PHASES[event.name]))
        if isinstance(event, Stored):
            return E(generation_id=generation_id, stored=E.Stored(uris=list(event.uris)))
        if isinstance(event, pb.GenerationResult):
            return E(generation_id=generation_id, done=event)
        raise TypeError(f"unexpected event {event!r}")


def _malformed(request: MalformedRequest) -> InvalidArgument:
    return InvalidArgument("request", f"the bytes are not a valid request message of {request.method}: {request.error}")


def _deadline(grpc_context) -> float | None:
    return deadline_from(grpc_context.invocation_metadata()) if grpc_context is not None else None


def _check_parsed(request) -> None:
    """INVALID_ARGUMENT naming `request` when the message did not parse (genmedia/grpc_servicers.py)."""
    if isinstance(request, MalformedRequest):
        raise _malformed(request)
