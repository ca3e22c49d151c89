"""A client that cancels a server stream cancels the work behind it, wherever the handler is.

Ray's gRPC proxy serves a stream with an async generator that cancels the replica's request only
if the cancellation lands while it awaits the replica. These tests stand a real grpc.aio server on
127.0.0.1 in front of a generator shaped like the proxy's (an await on "the replica", then a
yield), and cancel the call while the server is blocked writing to a client that stopped reading:
the case in which Ray's own handler leaves the replica running (a CI run lost 120 s to it).
"""

from __future__ import annotations

import asyncio
import threading
import time

import grpc
import pytest

from genmedia.grpc_servicers import DEADLINE_KEY, _guarded

METHOD = "/test.Streams/Stream"
UNARY = "/test.Streams/Unary"
MESSAGE = b"x" * (256 * 1024)  # a few of these fill the client's flow-control window


class Replica:
    """What the proxy's generator waits on; records how it was stopped."""

    def __init__(self):
        self.cancelled = threading.Event()
        self.sent = 0

    async def stream(self, request, context):
        try:
            while True:
                await asyncio.sleep(0.01)  # the proxy awaiting the replica's next message
                self.sent += 1
                yield MESSAGE
        except asyncio.CancelledError:
            self.cancelled.set()  # where Ray's proxy calls response.cancel()
            raise


class Server:
    """One grpc.aio server on its own loop and thread for the module (grpc.aio does not take
    well to a fresh server per test on fresh loops: its shutdown can hang after a failed write).
    Each test installs the stream it wants before calling."""

    def __init__(self):
        self.port = None
        self.stream = None
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())

    async def _serve(self):
        async def stream(request, context):
            async for message in self.stream(request, context):
                yield message

        async def unary(request, context):
            return dict(context.invocation_metadata()).get(DEADLINE_KEY, "none").encode()

        self._server = grpc.aio.server()
        self._server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("test.Streams", {
            "Stream": _guarded(METHOD, grpc.unary_stream_rpc_method_handler(
                stream, request_deserializer=lambda b: b, response_serializer=lambda b: b)),
            "Unary": _guarded(UNARY, grpc.unary_unary_rpc_method_handler(
                unary, request_deserializer=lambda b: b, response_serializer=lambda b: b))})])
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        await self._server.start()
        self._ready.set()
        await self._server.wait_for_termination()

    def start(self):
        self._thread.start()
        assert self._ready.wait(10)

    def stop(self):
        asyncio.run_coroutine_threadsafe(self._server.stop(None), self._loop)
        self._thread.join(5)  # a daemon thread: a shutdown that hangs in grpc does not hold up the run


@pytest.fixture(scope="module")
def server():
    s = Server()
    s.start()
    yield s
    s.stop()


def _read_one_then_stall_then_cancel(port: int) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.unary_stream(METHOD)(b"go", timeout=30)
        assert next(call) == MESSAGE
        time.sleep(1.0)  # the server fills the window and blocks in its write
        call.cancel()


@pytest.mark.parametrize("attempt", range(3))
def test_cancel_while_the_server_writes_cancels_the_replica(server, attempt):
    replica = Replica()
    server.stream = replica.stream
    _read_one_then_stall_then_cancel(server.port)
    assert replica.cancelled.wait(5), "the cancelled stream kept its replica running"


def test_guarded_stream_delivers_every_message_and_the_status(server):
    async def stream(request, context):
        for i in range(20):
            await asyncio.sleep(0)
            yield bytes([i]) * 100_000

    server.stream = stream
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        got = list(channel.unary_stream(METHOD)(b"go", timeout=30))
    assert [m[0] for m in got] == list(range(20)) and all(len(m) == 100_000 for m in got)


def test_guarded_stream_raises_what_the_generator_raises(server):
    async def stream(request, context):
        yield b"first"
        raise RuntimeError("the proxy failed")

    server.stream = stream
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        call = channel.unary_stream(METHOD)(b"go", timeout=30)
        assert next(call) == b"first"
        with pytest.raises(grpc.RpcError) as err:
            next(call)
    assert err.value.code() == grpc.StatusCode.UNKNOWN and "RuntimeError" in err.value.details()


def test_handlers_see_the_client_deadline_as_metadata(server):
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        unary = channel.unary_unary(UNARY)
        sent = time.time()
        deadline = float(unary(b"x", timeout=20))
        # The remaining time comes from gRPC's own clock, not time.time(): late in a long test run
        # (minutes into the process) CI saw the derived deadline 98 ms past the wall clock's
        # bound, so the bound allows half a second. A deadline off by that much is harmless.
        assert sent + 19 < deadline <= time.time() + 20.5
        assert unary(b"x") == b"none"  # no deadline, no metadata
        # A client cannot send its own (later) deadline.
        assert float(unary(b"x", timeout=5, metadata=((DEADLINE_KEY, "9999999999"),))) < time.time() + 6

        async def stream(request, context):
            yield dict(context.invocation_metadata()).get(DEADLINE_KEY, "none").encode()

        server.stream = stream
        [got] = list(channel.unary_stream(METHOD)(b"x", timeout=20))
        assert abs(float(got) - (time.time() + 20)) < 2


# --- through Ray's own gRPC server class ------------------------------------------------------------
class RayProxyServer(Server):
    """Ray Serve's gRPCGenericServer, which replaces every handler with its proxy's, registered with
    our `add_*` function exactly as the proxy does: the guards must survive Ray's override."""

    async def _serve(self):
        from ray.serve._private.grpc_util import gRPCGenericServer

        from genmedia.grpc_servicers import add_GenerationServiceServicer_to_server
        from genmedia.v1.generation_pb2_grpc import GenerationServiceServicer

        def factory(service_method, streaming_type):
            async def stream(request, context):
                async for message in self.stream(request, context):
                    yield message

            async def unary(request, context):
                return dict(context.invocation_metadata()).get(DEADLINE_KEY, "none").encode()

            async def unused(request_iterator, context):
                raise NotImplementedError

            return {"UNARY_UNARY": unary, "UNARY_STREAM": stream}.get(streaming_type.name, unused)

        self._server = gRPCGenericServer(factory)
        add_GenerationServiceServicer_to_server(GenerationServiceServicer(), self._server)
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        await self._server.start()
        self._ready.set()
        await self._server.wait_for_termination()


@pytest.fixture(scope="module")
def ray_server():
    s = RayProxyServer()
    s.start()
    yield s
    s.stop()


def test_through_rays_server_a_cancel_while_writing_cancels_the_replica(ray_server):
    replica = Replica()
    ray_server.stream = replica.stream
    with grpc.insecure_channel(f"127.0.0.1:{ray_server.port}") as channel:
        call = channel.unary_stream("/genmedia.v1.GenerationService/StreamVideo")(b"", timeout=30)
        assert next(call) == MESSAGE
        time.sleep(1.0)
        call.cancel()
    assert replica.cancelled.wait(5), "Ray's handler replaced the guard: the replica kept running"


def test_through_rays_server_unary_calls_see_the_deadline(ray_server):
    with grpc.insecure_channel(f"127.0.0.1:{ray_server.port}") as channel:
        answer = channel.unary_unary("/genmedia.v1.GenerationService/GenerateImage")(b"", timeout=20)
    assert abs(float(answer) - (time.time() + 20)) < 2


class _RecordingContext:
    """The parts of a grpc.aio servicer context that Ray's proxy uses to report a status."""

    def __init__(self):
        self._code, self._details = None, None

    def time_remaining(self):
        return None

    def invocation_metadata(self):
        return ()

    def code(self):
        return self._code

    def details(self):
        return self._details

    def set_code(self, code):
        self._code = code

    def set_details(self, details):
        self._details = details


@pytest.mark.parametrize("ray_text", [
    "The actor died unexpectedly before finishing this task.",
    "ray.exceptions.ActorDiedError: The actor died because its worker process was killed (ray.kill)",
    "The actor 9f3e... is unavailable: connection reset. The task may or may not have been executed on the actor.",
])
def test_a_replica_lost_mid_call_is_unavailable_not_internal(ray_text):
    from ray.serve._private.grpc_util import ResponseStatus, set_grpc_code_and_details

    from genmedia.grpc_servicers import LOST_REPLICA_DETAILS, _DeadlineContext

    inner = _RecordingContext()
    set_grpc_code_and_details(_DeadlineContext(inner), ResponseStatus(code=grpc.StatusCode.INTERNAL,
                                                                      message=ray_text, is_error=True))
    assert inner.code() == grpc.StatusCode.UNAVAILABLE and inner.details() == LOST_REPLICA_DETAILS


def test_our_own_internal_status_is_kept():
    from ray.serve._private.grpc_util import ResponseStatus, set_grpc_code_and_details

    from genmedia.grpc_servicers import _DeadlineContext

    inner = _RecordingContext()
    ours = "internal error (a bug in genmedia; it has been logged)"
    set_grpc_code_and_details(_DeadlineContext(inner), ResponseStatus(code=grpc.StatusCode.INTERNAL, message=ours,
                                                                      is_error=True))
    assert inner.code() == grpc.StatusCode.INTERNAL and inner.details() == ours
