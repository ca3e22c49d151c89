"""Safety's failure mode: a classifier that cannot run blocks the content (fail closed)."""

from __future__ import annotations

from genmedia.errors import Unavailable


class ClassifierUnavailable(Unavailable):
    """A classifier could not load or run; the content is not released (gRPC UNAVAILABLE)."""
