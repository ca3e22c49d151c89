"""An ArtifactStore wrapper that records storage metrics for the ingress (storage/ stays free of Ray).

`put` time goes to genmedia_stage_duration_seconds{stage="storage_put"}; a call that fails with
a server-side error counts in genmedia_storage_errors_total{backend, operation, kind}: kind
"unavailable" (the store is down or throttling: Unavailable) or "other" (anything unexpected).
NotFound and InvalidArgument are answers about the caller's input, not store failures, and are
not counted.
"""

from __future__ import annotations

import time
from typing import Any

from genmedia.errors import InvalidArgument, NotFound, Unavailable
from services.metrics import Metrics
from storage import ArtifactStore

_METERED = ("put", "create", "get", "head", "exists", "delete", "presigned_url", "get_by_uri")


class MeteredStore:
    """Delegates to `store`; every other attribute (uri, key_for_uri, ...) passes through."""

    def __init__(self, store: ArtifactStore, backend: str, metrics: Metrics):
        self._store = store
        self._backend = backend
        self._metrics = metrics

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if name not in _METERED:
            return attr

        def metered(*args, **kwargs):
            start = time.perf_counter()
            try:
                result = attr(*args, **kwargs)
            except (NotFound, InvalidArgument):
                raise
            except Unavailable:
                self._count(name, "unavailable")
                raise
            except Exception:
                self._count(name, "other")
                raise
            if name == "put":
                self._metrics.stage_duration.observe(time.perf_counter() - start, tags={"stage": "storage_put",
                                                                                        "model": ""})
            return result

        return metered

    def _count(self, operation: str, kind: str) -> None:
        self._metrics.storage_errors.inc(tags={"backend": self._backend, "operation": operation, "kind": kind})
