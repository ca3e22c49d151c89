"""Which exception becomes which gRPC status (the one mapping, services/grpc_status.py)."""

import asyncio
import pickle

import grpc
import pytest
from ray.exceptions import RayTaskError
from ray.serve.exceptions import BackPressureError

from genmedia import errors
from services.grpc_status import status_for


@pytest.mark.parametrize(
    "exc,code",
    [
        (errors.InvalidArgument("width", "bad"), grpc.StatusCode.INVALID_ARGUMENT),
        (errors.NotFound("gone"), grpc.StatusCode.NOT_FOUND),
        (errors.PermissionDenied("no", category="violence"), grpc.StatusCode.PERMISSION_DENIED),
        (errors.Unauthenticated("who"), grpc.StatusCode.UNAUTHENTICATED),
        (errors.ResourceExhausted("busy", 2.0), grpc.StatusCode.RESOURCE_EXHAUSTED),
        (errors.DeadlineExceeded("late"), grpc.StatusCode.DEADLINE_EXCEEDED),
        (errors.Cancelled("bye"), grpc.StatusCode.CANCELLED),
        (errors.Unavailable("s3 down"), grpc.StatusCode.UNAVAILABLE),
        (BackPressureError(num_queued_requests=3, max_queued_requests=2), grpc.StatusCode.RESOURCE_EXHAUSTED),
        (asyncio.CancelledError(), grpc.StatusCode.CANCELLED),
        (ZeroDivisionError("bug"), grpc.StatusCode.INTERNAL),
    ],
)
def test_status_for(exc, code):
    got, message = status_for(exc)
    assert got == code
    assert "Traceback" not in message


def test_internal_hides_details():
    _, message = status_for(KeyError("secret internals"))
    assert "secret" not in message


def test_error_wrapped_by_ray_keeps_its_status():
    """Errors raised in another deployment arrive as RayTaskError; the cause decides the code."""
    try:
        raise errors.InvalidArgument("prompt", "is 93 CLIP tokens; this model accepts at most 77")
    except errors.InvalidArgument as cause:
        wrapped = RayTaskError("encode", "traceback text", cause).as_instanceof_cause()
    code, message = status_for(wrapped)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert message == "prompt: is 93 CLIP tokens; this model accepts at most 77"


@pytest.mark.parametrize("exc", [errors.InvalidArgument("f", "m"), errors.ResourceExhausted("m", 3.0),
                                 errors.PermissionDenied("m", "hate"), errors.Unavailable("m")])
def test_errors_survive_pickling(exc):
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is type(exc) and back.__dict__ == exc.__dict__


def test_details_that_echo_huge_input_are_capped():
    from genmedia.errors import InvalidArgument
    from services.grpc_status import MAX_DETAILS_CHARS, set_status

    class Context:
        def set_code(self, code):
            self.code = code

        def set_details(self, details):
            self.details = details

    context = Context()
    set_status(context, InvalidArgument("model", "unknown model " + "x" * 100_000))
    assert len(context.details) == MAX_DETAILS_CHARS and context.details.startswith("model: unknown model")
