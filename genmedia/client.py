"""A small Python client for genmedia's gRPC API.

    from genmedia.client import GenmediaClient
    with GenmediaClient("127.0.0.1:9000") as client:
        result = client.generate_image(prompt="a lighthouse at dusk", seed=1)
        print(result.images[0].uri)
"""

from __future__ import annotations

import os
from typing import Iterator

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from genmedia.v1 import generation_pb2 as pb
from genmedia.v1 import generation_pb2_grpc as pb_grpc
from genmedia.v1 import safety_pb2 as spb
from genmedia.v1 import safety_pb2_grpc as spb_grpc

DEFAULT_ADDRESS = "127.0.0.1:9000"
API_KEY_ENV = "GENMEDIA_API_KEY"
MAX_MESSAGE_BYTES = 256 * 1024 * 1024


def auth_metadata(api_key: str | None = None) -> tuple[tuple[str, str], ...]:
    """The `authorization` metadata for `api_key` (default: $GENMEDIA_API_KEY); empty without one."""
    api_key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
    return (("authorization", f"Bearer {api_key}"),) if api_key else ()


def _with(details, metadata: tuple):
    return details._replace(metadata=tuple(details.metadata or ()) + metadata)


class MetadataInterceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """Adds fixed metadata (the API key) to every call on a channel, stubs made from it included."""

    def __init__(self, metadata: tuple):
        self.metadata = metadata

    def intercept_unary_unary(self, continuation, client_call_details, request):
        return continuation(_with(client_call_details, self.metadata), request)

    def intercept_unary_stream(self, continuation, client_call_details, request):
        return continuation(_with(client_call_details, self.metadata), request)


class _AioUnaryMetadata(grpc.aio.UnaryUnaryClientInterceptor):
    def __init__(self, metadata: tuple):
        self.metadata = metadata

    async def intercept_unary_unary(self, continuation, client_call_details, request):
        return await continuation(_with(client_call_details, self.metadata), request)


class _AioStreamMetadata(grpc.aio.UnaryStreamClientInterceptor):
    def __init__(self, metadata: tuple):
        self.metadata = metadata

    async def intercept_unary_stream(self, continuation, client_call_details, request):
        return await continuation(_with(client_call_details, self.metadata), request)


def aio_metadata_interceptors(metadata: tuple) -> list:
    """Interceptors adding `metadata` to every unary and server-streaming call of a grpc.aio
    channel (grpc.aio files an interceptor under one kind only, hence two)."""
    return [_AioUnaryMetadata(metadata), _AioStreamMetadata(metadata)]


class GenmediaClient:
    def __init__(self, address: str = DEFAULT_ADDRESS, *, application: str | None = None,
                 api_key: str | None = None):
        """`api_key`: sent as `authorization: Bearer <key>` (default: $GENMEDIA_API_KEY; a server
        without a key file ignores it)."""
        self._raw_channel = grpc.insecure_channel(
            address,
            options=[("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)],
        )
        # The key rides on the channel, so stubs built on `client.channel` carry it too.
        self.channel = grpc.intercept_channel(self._raw_channel, MetadataInterceptor(auth_metadata(api_key)))
        self.generation = pb_grpc.GenerationServiceStub(self.channel)
        self.health = health_pb2_grpc.HealthStub(self.channel)
        self.safety = spb_grpc.SafetyServiceStub(self.channel)
        # Ray Serve routes by the `application` metadata when several apps share the proxy.
        self.metadata = (("application", application),) if application else ()

    def __enter__(self) -> "GenmediaClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._raw_channel.close()

    def generate_image(self, timeout: float | None = None, **fields) -> pb.GenerationResult:
        return self.generation.GenerateImage(pb.ImageRequest(**fields), timeout=timeout, metadata=self.metadata)

    def stream_image(self, timeout: float | None = None, **fields) -> Iterator[pb.GenerationEvent]:
        return self.generation.StreamImage(pb.ImageRequest(**fields), timeout=timeout, metadata=self.metadata)

    def generate_video(self, timeout: float | None = None, **fields) -> pb.GenerationResult:
        return self.generation.GenerateVideo(pb.VideoRequest(**fields), timeout=timeout, metadata=self.metadata)

    def stream_video(self, timeout: float | None = None, **fields) -> Iterator[pb.GenerationEvent]:
        return self.generation.StreamVideo(pb.VideoRequest(**fields), timeout=timeout, metadata=self.metadata)

    def generate_audio(self, timeout: float | None = None, **fields) -> pb.GenerationResult:
        return self.generation.GenerateAudio(pb.AudioRequest(**fields), timeout=timeout, metadata=self.metadata)

    def stream_audio(self, timeout: float | None = None, **fields) -> Iterator[pb.GenerationEvent]:
        return self.generation.StreamAudio(pb.AudioRequest(**fields), timeout=timeout, metadata=self.metadata)

    def get_generation(self, generation_id: str, timeout: float | None = None) -> pb.GenerationResult:
        return self.generation.GetGeneration(
            pb.GetGenerationRequest(generation_id=generation_id), timeout=timeout, metadata=self.metadata
        )

    def classify_prompt(self, prompt: str, timeout: float | None = None) -> spb.SafetyVerdict:
        return self.safety.ClassifyPrompt(spb.ClassifyPromptRequest(prompt=prompt), timeout=timeout,
                                          metadata=self.metadata)

    def classify_image(self, image: bytes, timeout: float | None = None) -> spb.SafetyVerdict:
        return self.safety.ClassifyImage(spb.ClassifyImageRequest(image=image), timeout=timeout,
                                         metadata=self.metadata)

    def is_serving(self, timeout: float = 5.0) -> bool:
        try:
            response = self.health.Check(health_pb2.HealthCheckRequest(), timeout=timeout, metadata=self.metadata)
        except grpc.RpcError:
            return False
        return response.status == health_pb2.HealthCheckResponse.SERVING
