"""Per-replica process setup shared by the stage deployments: torch threads and the CPU scheduling
policy of the replica's threads."""

from __future__ import annotations

import logging
import os
import threading
import time

import torch

from genmedia.os_threads import thread_ids
from services.config import DeploymentSettings

logger = logging.getLogger("genmedia.runtime")

_POLICIES = {"normal": getattr(os, "SCHED_OTHER", 0), "batch": getattr(os, "SCHED_BATCH", 3),
             "idle": getattr(os, "SCHED_IDLE", 5)}
REAPPLY_S = 10.0  # threads started later by a thread not yet switched (a runtime's pool) are caught this soon


def configure_replica(settings: DeploymentSettings) -> None:
    """Applies thread settings before any model is loaded (torch fixes its pool on first use) and the
    replica's CPU scheduling policy."""
    if settings.torch_threads:
        torch.set_num_threads(settings.torch_threads)
    logging.getLogger("genmedia").setLevel(logging.INFO)
    if settings.cpu_scheduling != "normal":
        schedule_threads(settings.cpu_scheduling)
        threading.Thread(target=_keep_scheduling, args=(settings.cpu_scheduling,), daemon=True,
                         name="genmedia-cpu-scheduling").start()


def schedule_threads(policy: str) -> int:
    """Puts every thread of this process under `policy` (normal, batch, idle); threads they start
    inherit it. Returns how many threads were changed. Linux only; elsewhere a no-op."""
    target = _POLICIES[policy]
    if not hasattr(os, "sched_setscheduler"):
        return 0
    changed = 0
    for tid in thread_ids():
        try:
            if os.sched_getscheduler(tid) != target:
                os.sched_setscheduler(tid, target, os.sched_param(0))
                changed += 1
        except (ProcessLookupError, PermissionError, OSError):
            continue  # a thread that ended, or one we may not change (left as it is)
    return changed


def _keep_scheduling(policy: str) -> None:
    first = True
    while True:
        time.sleep(REAPPLY_S)
        changed = schedule_threads(policy)
        if changed and first:
            logger.info("cpu_scheduling %s applied to %d threads started after the replica", policy, changed)
            first = False
