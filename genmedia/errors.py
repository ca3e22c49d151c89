"""The one error taxonomy of genmedia.

Libraries (`engines`, `storage`, `safety`, `provenance`) raise these; the gRPC ingress maps
them to status codes once (`services/grpc_status.py`). Anything else that escapes is a bug and
becomes ``INTERNAL`` with a generic message: clients never see stack traces.

Every class is picklable with its fields intact, because these errors cross Ray task
boundaries between deployments.
"""

from __future__ import annotations


class GenMediaError(Exception):
    """Base class. ``message`` is safe to show to the client."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __reduce__(self):
        return (self.__class__, (self.message,))


class InvalidArgument(GenMediaError):
    """A request field is wrong. ``field`` names it (dotted path into the request)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message

    def __reduce__(self):
        return (self.__class__, (self.field, self.reason))


class NotFound(GenMediaError):
    """The named thing (a generation, an artifact) does not exist for this caller."""


class PermissionDenied(GenMediaError):
    """A policy (safety, tenancy) forbids the request. ``category`` says which."""

    def __init__(self, message: str, category: str = ""):
        super().__init__(message)
        self.category = category

    def __reduce__(self):
        return (self.__class__, (self.message, self.category))


class Unauthenticated(GenMediaError):
    """No valid credentials."""


class ResourceExhausted(GenMediaError):
    """Overload or quota; ``retry_after_s`` is the advice to the client, ``reason`` which limit
    (``rate``, ``concurrency``, ``capacity``)."""

    def __init__(self, message: str, retry_after_s: float = 1.0, reason: str = "capacity"):
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.reason = reason

    def __reduce__(self):
        return (self.__class__, (self.message, self.retry_after_s, self.reason))


class DeadlineExceeded(GenMediaError):
    """The request cannot finish before its deadline."""


class Cancelled(GenMediaError):
    """The client went away; work stopped."""


class Unavailable(GenMediaError):
    """A dependency (storage, a classifier, a replica) is down. Safe to retry."""
