"""The native ids of this process's threads (Linux /proc), for setting a scheduling policy on all
of them: a replica's stages (services/runtime.py) and the load generator
(loadtests/harness/client_scheduling.py)."""

from __future__ import annotations

import os
import threading


def thread_ids() -> list[int]:
    """Every thread of this process; only the calling one where /proc is not available."""
    try:
        return [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        return [threading.get_native_id()]
