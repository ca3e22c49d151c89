"""The capacity bound in the gRPC proxy (genmedia/proxy_admission.py): the gate's counting and the
guarded handlers on a real grpc.aio server on 127.0.0.1, standing in for Ray's proxy. The bound is
read as the proxies read it (a `read` function; Ray's internal KV in the service, where
tests/integration/test_overload.py drives it)."""

from __future__ import annotations

import asyncio
import threading

import grpc
import pytest

from genmedia import grpc_servicers
from genmedia.proxy_admission import GENERATION_METHODS, Limit, ProxyGate, Refused

GENERATE = "/genmedia.v1.GenerationService/GenerateImage"
STREAM = "/genmedia.v1.GenerationService/StreamImage"
VERIFY = "/genmedia.v1.ProvenanceService/Verify"


def _run(coro):
    return asyncio.new_event_loop().run_until_complete(coro)


def test_generation_methods_are_the_six_generation_rpcs():
    from genmedia.v1 import generation_pb2

    service = generation_pb2.DESCRIPTOR.services_by_name["GenerationService"]
    generating = {f"/genmedia.v1.GenerationService/{m.name}" for m in service.methods
                  if m.name.startswith(("Generate", "Stream"))}
    assert GENERATION_METHODS == generating


def test_gate_refuses_over_the_bound_and_frees_slots_on_leave():
    async def go():
        gate = ProxyGate(read=lambda: {"genmedia": Limit(3, 1.5)}, refresh_s=0)
        # The first call starts the read: admitted (nothing known yet) but counted all the same.
        first = gate.enter(())
        await asyncio.sleep(0.05)
        keys = [gate.enter(()), gate.enter((("application", "genmedia"),))]
        assert [first, *keys] == ["", "", "genmedia"] and gate.in_flight == {"": 2, "genmedia": 1}
        for metadata in ((), (("application", "genmedia"),)):  # unnamed calls go to the only app
            with pytest.raises(Refused) as err:
                gate.enter(metadata)
        assert "3 generations in flight through this gRPC proxy" in str(err.value) and err.value.app == "genmedia"
        assert err.value.trailing_metadata == (("retry-after-ms", "1500"),)
        gate.leave(first)
        assert gate.enter((("application", "genmedia"),)) == "genmedia"

    _run(go())


def test_gate_bound_zero_or_unknown_app_refuses_nothing():
    async def go():
        gate = ProxyGate(read=lambda: {"a": Limit(0, 1.0), "b": Limit(1, 1.0)}, refresh_s=0)
        gate.enter(())
        await asyncio.sleep(0.05)
        assert [gate.enter((("application", "a"),)) for _ in range(5)] == ["a"] * 5
        assert gate.enter(()) == ""  # two apps and none named: counted, never refused
        assert gate.enter((("application", "other"),)) == "other"  # no published bound
        assert gate.enter((("application", "other"),)) == "other"
        gate.enter((("application", "b"),))
        with pytest.raises(Refused):  # b's own calls only: the unnamed ones are not b's
            gate.enter((("application", "b"),))

    _run(go())


def test_gate_keeps_the_last_bounds_when_a_read_fails():
    reads = iter([{"genmedia": Limit(1, 1.0)}])

    def read():
        return next(reads)  # StopIteration (an error) on the second read

    async def go():
        gate = ProxyGate(read=read, refresh_s=0)
        gate.leave(gate.enter(()))
        await asyncio.sleep(0.05)
        assert gate.enter(()) == ""
        await asyncio.sleep(0.05)  # the failed second read
        with pytest.raises(Refused):
            gate.enter(())

    _run(go())


class Server:
    """A grpc.aio server on its own thread whose handlers are wrapped as the proxy's are."""

    def __init__(self):
        self.release = None
        self.started = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()
        assert self._ready.wait(10)

    def _run(self):
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())

    async def _serve(self):
        self.release = asyncio.Event()

        async def unary(request, context):
            self.started += 1
            await self.release.wait()
            return b"done"

        async def stream(request, context):
            self.started += 1
            await self.release.wait()
            yield b"done"

        def handlers(service, methods):
            return grpc.method_handlers_generic_handler(service, {
                name: grpc_servicers._guarded(f"/{service}/{name}", make(
                    fn, request_deserializer=lambda b: b, response_serializer=lambda b: b))
                for name, (make, fn) in methods.items()})

        self._server = grpc.aio.server()
        self._server.add_generic_rpc_handlers([
            handlers("genmedia.v1.GenerationService", {
                "GenerateImage": (grpc.unary_unary_rpc_method_handler, unary),
                "StreamImage": (grpc.unary_stream_rpc_method_handler, stream)}),
            handlers("genmedia.v1.ProvenanceService", {"Verify": (grpc.unary_unary_rpc_method_handler, unary)})])
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        await self._server.start()
        self._ready.set()
        await self._server.wait_for_termination()

    def open(self):
        self._loop.call_soon_threadsafe(self.release.set)


@pytest.fixture
def gated(monkeypatch):
    gate = ProxyGate(read=lambda: {"genmedia": Limit(2, 0.25)}, refresh_s=0)
    monkeypatch.setattr(grpc_servicers, "_GATE", gate)
    counted = []
    monkeypatch.setattr(grpc_servicers._REFUSALS, "count", lambda app, method: counted.append((app, method)))
    server = Server()
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield server, channel, gate, counted


def _wait(predicate, timeout=10.0):
    import time

    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end
        time.sleep(0.01)


def test_proxy_refuses_generation_calls_over_the_bound_before_the_handler(gated):
    server, channel, gate, counted = gated
    with pytest.raises(grpc.RpcError):  # the first call reads the bound; let it fail fast
        channel.unary_unary(GENERATE)(b"x", timeout=0.2)
    _wait(lambda: gate._limits)
    _wait(lambda: not sum(gate.in_flight.values()))
    started = server.started
    held = [channel.unary_unary(GENERATE).future(b"x", timeout=30),
            channel.unary_stream(STREAM)(b"x", timeout=30)]
    _wait(lambda: server.started == started + 2)

    for method, call in ((GENERATE, lambda: channel.unary_unary(GENERATE)(b"x", timeout=30)),
                         (STREAM, lambda: list(channel.unary_stream(STREAM)(b"x", timeout=30)))):
        with pytest.raises(grpc.RpcError) as err:
            call()
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "at capacity (2 generations in flight through this gRPC proxy)" in err.value.details()
        assert dict(err.value.trailing_metadata())["retry-after-ms"] == "250"
        assert counted[-1] == ("genmedia", method)
    assert server.started == started + 2  # the refused calls never reached the handler

    # Other RPCs are not held to the bound.
    verify = channel.unary_unary(VERIFY).future(b"x", timeout=30)
    _wait(lambda: server.started == started + 3)

    server.open()
    assert held[0].result() == b"done" and list(held[1]) == [b"done"] and verify.result() == b"done"
    _wait(lambda: not sum(gate.in_flight.values()))
    assert channel.unary_unary(GENERATE)(b"x", timeout=30) == b"done"
