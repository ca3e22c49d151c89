"""The one place where errors become gRPC status codes.

Ray Serve would turn an unhandled exception into INTERNAL with the traceback in the details; the
ingress catches everything and maps it here instead. Errors raised in another deployment arrive
wrapped by Ray (RayTaskError subclasses that are also instances of the cause), so both the
exception and its `cause` are inspected.
"""

from __future__ import annotations

import asyncio
import logging
import math

import grpc
from ray.exceptions import RayActorError, TaskCancelledError
from ray.serve.exceptions import BackPressureError, DeploymentUnavailableError

from genmedia import errors

logger = logging.getLogger("genmedia.ingress")

_CODES: list[tuple[type[errors.GenMediaError], grpc.StatusCode]] = [
    (errors.InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.NotFound, grpc.StatusCode.NOT_FOUND),
    (errors.PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
    (errors.Unauthenticated, grpc.StatusCode.UNAUTHENTICATED),
    (errors.ResourceExhausted, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (errors.DeadlineExceeded, grpc.StatusCode.DEADLINE_EXCEEDED),
    (errors.Cancelled, grpc.StatusCode.CANCELLED),
    (errors.Unavailable, grpc.StatusCode.UNAVAILABLE),
]


def _genmedia_cause(exc: BaseException) -> errors.GenMediaError | None:
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, errors.GenMediaError):
            return exc
        exc = getattr(exc, "cause", None) or exc.__cause__
        seen += 1
    return None


def status_for(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """(code, client-safe message) for any exception. Unknown exceptions are logged as bugs."""
    known = _genmedia_cause(exc)
    if known is not None:
        for cls, code in _CODES:
            if isinstance(known, cls):
                return code, known.message
    if isinstance(exc, BackPressureError):
        return grpc.StatusCode.RESOURCE_EXHAUSTED, "the service is at capacity; retry after a short delay"
    if isinstance(exc, (DeploymentUnavailableError, RayActorError)):
        return grpc.StatusCode.UNAVAILABLE, "a pipeline stage is unavailable; retry"
    if isinstance(exc, (asyncio.CancelledError, TaskCancelledError)):
        return grpc.StatusCode.CANCELLED, "the request was cancelled"
    logger.error("internal error", exc_info=exc)
    return grpc.StatusCode.INTERNAL, "internal error (a bug in genmedia; it has been logged)"


# Details travel in trailing metadata, which clients cap (8-16 KB): a message that echoes a huge
# client input would turn a precise status into the client's RESOURCE_EXHAUSTED.
MAX_DETAILS_CHARS = 1024


# Trailing metadata of every RESOURCE_EXHAUSTED: milliseconds after which a retry should be admitted.
RETRY_AFTER_KEY = "retry-after-ms"


def retry_after_s(exc: BaseException) -> float | None:
    """The retry advice for an overload error, None for any other error."""
    known = _genmedia_cause(exc)
    if isinstance(known, errors.ResourceExhausted):
        return known.retry_after_s
    if isinstance(exc, BackPressureError):
        return 1.0
    return None


def set_status(grpc_context, exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """Maps `exc` and sets the code, the details and (for overload) `retry-after-ms` on the call's
    context; returns the code and details."""
    code, message = status_for(exc)
    if len(message) > MAX_DETAILS_CHARS:
        message = message[:MAX_DETAILS_CHARS - 1] + "…"
    grpc_context.set_code(code)
    grpc_context.set_details(message)
    retry = retry_after_s(exc)
    if retry is not None:
        grpc_context.set_trailing_metadata([(RETRY_AFTER_KEY, str(max(1, math.ceil(retry * 1000))))])
    return code, message
