"""Every invalid request gets INVALID_ARGUMENT naming the field; nothing crashes a replica."""

from __future__ import annotations

import grpc
import pytest

from genmedia.v1 import generation_pb2 as pb

pytestmark = pytest.mark.integration

LONG_PROMPT = "word " * 400

CASES = [
    ({"prompt": ""}, "prompt", "must not be empty"),
    ({"prompt": "   "}, "prompt", "must not be empty"),
    ({"prompt": LONG_PROMPT}, "prompt", "tokens"),
    ({"prompt": "x", "negative_prompt": LONG_PROMPT}, "negative_prompt", "tokens"),
    ({"prompt": "x", "width": 100}, "width", "multiple of 8 in 64..2048"),
    ({"prompt": "x", "height": 4096}, "height", "64..2048"),
    ({"prompt": "x", "width": 56}, "width", "64..2048"),
    ({"prompt": "x", "model": "tiny-flux", "width": 72}, "width", "multiple of 16"),
    ({"prompt": "x", "steps": 151}, "steps", "1..150"),
    ({"prompt": "x", "guidance_scale": 30.5}, "guidance_scale", "0..30"),
    ({"prompt": "x", "guidance_scale": -1}, "guidance_scale", "0..30"),
    ({"prompt": "x", "guidance_scale": float("nan")}, "guidance_scale", "finite"),
    ({"prompt": "x", "num_images": 5}, "num_images", "1..4"),
    ({"prompt": "x", "model": "no-such-model"}, "model", "unknown image model"),
    ({"prompt": "x", "scheduler": 99}, "scheduler", "unknown"),
    ({"prompt": "x", "model": "tiny-sd", "scheduler": pb.SCHEDULER_FLOW_MATCH_EULER}, "scheduler", "not supported"),
    ({"prompt": "x", "model": "tiny-flux", "scheduler": pb.SCHEDULER_DDIM}, "scheduler", "not supported"),
    ({"prompt": "x", "model": "tiny-flux", "negative_prompt": "y"}, "negative_prompt", "not supported"),
    ({"prompt": "x", "seed": 2**63}, "seed", "0.."),
    ({"prompt": "x", "format": 42}, "format", "unknown"),
    ({"prompt": "x", "idempotency_key": "a" * 129}, "idempotency_key", "printable ASCII"),
    ({"prompt": "x\x00y"}, "prompt", "control characters"),
]


@pytest.mark.parametrize("fields,field,fragment", CASES, ids=[c[1] + "-" + str(i) for i, c in enumerate(CASES)])
def test_unary_rejects(client, fields, field, fragment):
    with pytest.raises(grpc.RpcError) as err:
        client.generate_image(timeout=30, **fields)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
    assert err.value.details().startswith(f"{field}: ") and fragment in err.value.details()
    assert "Traceback" not in err.value.details()


def test_stream_rejects_with_error_event_and_status(client):
    stream = client.stream_image(prompt="x", steps=0, width=10, timeout=30)
    events = []
    with pytest.raises(grpc.RpcError) as err:
        for event in stream:
            events.append(event)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert events and events[-1].HasField("error")
    assert events[-1].error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert events[-1].error.message.startswith("width: ")


def test_service_still_healthy_after_bad_input(client):
    assert client.is_serving()
    assert client.generate_image(prompt="still fine", seed=1, timeout=60).images


@pytest.mark.parametrize("method, data", [
    ("/genmedia.v1.GenerationService/GenerateImage", b"\x0a\x01\xff"),  # prompt: invalid UTF-8
    ("/genmedia.v1.GenerationService/GenerateImage", b"\x0a\x05ab"),  # truncated
    ("/genmedia.v1.ProvenanceService/Verify", b"\x0a\xff\xff\xff\xff\x0f"),  # length beyond the message
    ("/grpc.health.v1.Health/Check", b"\x0a\x01\xff"),
])
def test_bytes_that_are_not_a_message_are_invalid_argument_naming_the_request(service, method, data):
    import grpc as _grpc

    from genmedia.client import MetadataInterceptor, auth_metadata

    with _grpc.insecure_channel(service.address) as raw:
        channel = _grpc.intercept_channel(raw, MetadataInterceptor(auth_metadata()))
        call = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
        with pytest.raises(_grpc.RpcError) as err:
            call(data, timeout=30)
    assert err.value.code() == _grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
    assert err.value.details().startswith("request: the bytes are not a valid request message")
