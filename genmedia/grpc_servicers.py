"""The `grpc_servicer_functions` of the Serve config: the generated registration functions, with
request parsing that never fails inside gRPC.

Ray Serve's gRPC proxy keeps each method's request deserializer, and grpcio turns an exception in
a deserializer into UNKNOWN with the exception's type in the details. Here a message that does
not parse (truncated bytes, wrong wire types, invalid UTF-8 in a string field) becomes a
`MalformedRequest`, which travels to the Ingress like a request; the Ingress answers it with
INVALID_ARGUMENT naming `request`. (Found by the fuzzer, loadtests/fuzz.)

Server-streaming methods are also re-registered so that a client that cancels always cancels the
request on the replica. Ray's proxy hands grpcio an async generator, and cancels the replica's
request only when the cancellation lands while it awaits the replica's next message; a client
that leaves while grpcio is writing a message to it leaves that generator parked at a `yield`,
and the replica goes on to the end (a cancelled video held its generator for all its remaining
steps; ray-project/ray#42665 describes the same gap). `_pumped` runs the proxy's generator in a
task of its own that only ever waits on the replica, and writes from the handler; whatever the
handler is doing when the client leaves, the task is cancelled where the proxy expects it.

Every method also sees the client's deadline: Ray's proxy does not pass `grpc-timeout` on to the
replica, so the handlers here add it to the call's metadata as `genmedia-deadline` (absolute Unix
seconds; one a client sends itself is dropped). services/deadlines.py uses it. And a call whose
Ingress replica died under it, which Ray's proxy reports as INTERNAL with Ray's exception text,
is answered UNAVAILABLE instead (the chaos scenarios kill replicas; loadtests/README.md).

Generation calls also pass the proxy's capacity bound (genmedia/proxy_admission.py): over the
application's `ingress.proxy_max_generations_in_flight` a call is refused with RESOURCE_EXHAUSTED
here, without reaching an Ingress replica.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from dataclasses import dataclass
from typing import Any, Callable

import grpc
from grpc_health.v1 import health_pb2_grpc

from genmedia.proxy_admission import GENERATION_METHODS, ProxyGate, Refused, RefusalMetrics
from genmedia.v1 import generation_pb2_grpc, provenance_pb2_grpc, safety_pb2_grpc

MAX_ERROR_CHARS = 200


@dataclass(frozen=True)
class MalformedRequest:
    """A request whose bytes are not a valid message of the method's request type."""

    method: str
    error: str


_END = object()
DEADLINE_KEY = "genmedia-deadline"
NO_DEADLINE_S = 10 * 365 * 24 * 3600.0  # grpc reports "no deadline" as a time ~forever away


LOST_REPLICA_DETAILS = "the replica serving this call was lost mid-call; retry (an idempotency_key makes it safe)"
_LOST_REPLICA_MARKERS = ("the actor died", "the actor experienced an error", "is unavailable: ", "actordiederror",
                         "actorunavailableerror", "rayactorerror")


_GATE = ProxyGate()  # one per process: the proxy's
_REFUSALS = RefusalMetrics()


class _Gated:
    """A generation call's slot in the proxy's bound (`async with`); raises Refused when full."""

    def __init__(self, method: str, context):
        self._method, self._context, self._app = method, context, None

    async def __aenter__(self) -> None:
        if self._method not in GENERATION_METHODS:
            return
        try:
            self._app = _GATE.enter(self._context.invocation_metadata())
        except Refused as refused:
            _REFUSALS.count(refused.app, self._method)
            self._context.set_trailing_metadata(refused.trailing_metadata)
            await self._context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(refused))

    async def __aexit__(self, *exc) -> None:
        _GATE.leave(self._app)


def _lost_replica(details) -> bool:
    text = str(details or "").lower()
    return any(marker in text for marker in _LOST_REPLICA_MARKERS)


class _DeadlineContext:
    """The proxy's servicer context, with the client's deadline added to the invocation metadata."""

    def __init__(self, context):
        self._context = context
        remaining = context.time_remaining()
        self._deadline = () if remaining is None or remaining > NO_DEADLINE_S else \
            ((DEADLINE_KEY, f"{time.time() + remaining:.3f}"),)

    def set_details(self, details) -> None:
        # Ray's proxy reports a replica that died under a call (the Ingress killed, OOM, node lost)
        # as INTERNAL with Ray's exception text; the client gets UNAVAILABLE (safe to retry) and no
        # actor ids. The Ingress never lets an error reach the proxy, so this is Ray's own status.
        if self._context.code() == grpc.StatusCode.INTERNAL and _lost_replica(details):
            self._context.set_code(grpc.StatusCode.UNAVAILABLE)
            details = LOST_REPLICA_DETAILS
        self._context.set_details(details)

    def invocation_metadata(self):
        own = tuple(m for m in (self._context.invocation_metadata() or ()) if m[0] != DEADLINE_KEY)
        return own + self._deadline

    def __getattr__(self, name: str):
        return getattr(self._context, name)


def _with_deadline_unary(method: str, handler: Callable) -> Callable:
    async def handle(request, context):
        async with _Gated(method, context):
            return await handler(request, _DeadlineContext(context))

    handle.__name__ = getattr(handler, "__name__", "unary")
    handle._genmedia_guard = True
    return handle


def _pumped(method: str, stream_handler: Callable) -> Callable:
    """The reader/writer form of a server-streaming async-generator handler, in which the
    generator runs in its own task, cancelled whenever the handler ends early."""

    async def handle(request, context) -> None:
        async with _Gated(method, context):
            await _pump(stream_handler, request, context)

    handle.__name__ = getattr(stream_handler, "__name__", "stream")
    handle._genmedia_guard = True
    return handle


async def _pump(stream_handler: Callable, request, context) -> None:
    messages: asyncio.Queue = asyncio.Queue()  # unbounded: the pump never waits on the client

    async def pump() -> None:
        try:
            async for message in stream_handler(request, _DeadlineContext(context)):
                messages.put_nowait(message)
        finally:
            messages.put_nowait(_END)

    task = asyncio.ensure_future(pump())
    try:
        while (message := await messages.get()) is not _END:
            await context.write(message)
        await task  # raises what the generator raised
    finally:
        if not task.done():
            task.cancel()  # lands in the proxy's wait on the replica, which cancels the request there
            task.add_done_callback(lambda t: t.cancelled() or t.exception())


def _guarded(method: str, handler):
    """`_lenient` and `_at_run_time` together (for a server that keeps the handlers as given)."""
    return _at_run_time(method, _lenient(method, handler))


def _at_run_time(method: str, handler):
    """The handler functions of `method` ("/package.Service/Method") wrapped: streams pumped
    (cancellation), every call given its deadline, generation calls held to the proxy's bound.
    Idempotent: a function already wrapped is left alone."""
    stream, unary = handler.unary_stream, handler.unary_unary
    if stream is not None and inspect.isasyncgenfunction(stream) and not hasattr(stream, "_genmedia_guard"):
        handler = handler._replace(unary_stream=_pumped(method, stream))
    if unary is not None and inspect.iscoroutinefunction(unary) and not hasattr(unary, "_genmedia_guard"):
        handler = handler._replace(unary_unary=_with_deadline_unary(method, unary))
    return handler


def _lenient(method: str, handler):
    parse = handler.request_deserializer
    if parse is None:
        return handler

    def deserialize(data: bytes):
        try:
            return parse(data)
        except Exception as exc:  # noqa: BLE001 - any parse failure is the client's malformed message
            return MalformedRequest(method, f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS])

    return handler._replace(request_deserializer=deserialize)


class _LenientServer:
    """Stands in for the server during registration. Request deserializers are made lenient before
    the server sees the handlers (Ray's server keeps them). Ray's server then swaps every handler
    function for its proxy's own, so the run-time guards are applied to what it registered: the
    generic handlers are patched in place after it (grpc looks their table up on every call), and
    the registered-method handlers are overridden here the way Ray does and registered with the
    base grpc.aio server directly."""

    def __init__(self, server):
        self._server = server

    def add_generic_rpc_handlers(self, handlers) -> None:
        for handler in handlers:
            method_handlers = getattr(handler, "_method_handlers", None)
            if method_handlers is not None:
                handler._method_handlers = {m: _lenient(m, h) for m, h in method_handlers.items()}
        self._server.add_generic_rpc_handlers(handlers)
        for handler in handlers:
            method_handlers = getattr(handler, "_method_handlers", None)
            if method_handlers is not None:
                handler._method_handlers = {m: _at_run_time(m, h) for m, h in method_handlers.items()}

    def add_registered_method_handlers(self, service_name: str, method_handlers: dict) -> None:
        lenient = {m: _lenient(f"/{service_name}/{m}", h) for m, h in method_handlers.items()}
        override = getattr(self._server, "_override_method_handler", None)  # Ray's gRPCGenericServer
        if override is None:
            self._server.add_registered_method_handlers(
                service_name, {m: _at_run_time(f"/{service_name}/{m}", h) for m, h in lenient.items()})
            return
        from grpc.aio._server import Server as AioServer  # the base Ray's server class extends

        served = {m: _at_run_time(f"/{service_name}/{m}", override(f"/{service_name}/{m}", h))
                  for m, h in lenient.items()}
        AioServer.add_registered_method_handlers(self._server, service_name, served)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._server, name)


def _wrap(add: Callable) -> Callable:
    def add_lenient(servicer, server) -> None:
        add(servicer, _LenientServer(server))

    add_lenient.__name__ = add.__name__
    add_lenient.__doc__ = f"{add.__module__}.{add.__name__}, with requests that fail to parse kept as \
MalformedRequest and server streams cancelled on the replica when the client leaves."
    return add_lenient


add_GenerationServiceServicer_to_server = _wrap(generation_pb2_grpc.add_GenerationServiceServicer_to_server)
add_SafetyServiceServicer_to_server = _wrap(safety_pb2_grpc.add_SafetyServiceServicer_to_server)
add_ProvenanceServiceServicer_to_server = _wrap(provenance_pb2_grpc.add_ProvenanceServiceServicer_to_server)
add_HealthServicer_to_server = _wrap(health_pb2_grpc.add_HealthServicer_to_server)
