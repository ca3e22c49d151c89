"""The load generator's own CPU scheduling: `normal`, or `fifo` to stand in for a client machine
of its own when the client shares the service's cores.

On one small machine the client competes with the service it measures: under overload its event
loop wakes late, so a refusal the service sent in 3 ms is recorded 300 ms later and the send lag
exceeds the run's limit. `fifo` puts every thread of this process under SCHED_FIFO at the lowest
real-time priority (1), so the client runs whenever it has work; it sleeps between arrivals and
uses a fraction of a core, and the kernel's real-time throttling still leaves the service at least
5% of every second in the worst case. SCHED_RESET_ON_FORK keeps anything the client starts later
(a service it launches, a fault's command) on the normal policy. It needs CAP_SYS_NICE (root, or
a raised RLIMIT_RTPRIO); without it the run stops with a clear error rather than measuring
something else. The report records which policy ran.
"""

from __future__ import annotations

import os

from genmedia.os_threads import thread_ids

POLICIES = ("normal", "fifo")
FIFO_PRIORITY = 1


class SchedulingError(RuntimeError):
    """The requested client scheduling could not be applied."""


def apply(policy: str) -> int:
    """Puts every thread of this process under `policy` (`normal` puts it back); threads they start
    later inherit it. Returns the number of threads changed. Raises SchedulingError when the kernel refuses."""
    if policy not in POLICIES:
        raise ValueError(f"client scheduling: {policy!r} is not one of {POLICIES}")
    if not hasattr(os, "sched_setscheduler"):
        if policy == "normal":
            return 0
        raise SchedulingError("client scheduling fifo: this platform has no SCHED_FIFO (Linux only)")
    if policy == "normal":  # lowering needs no privilege
        flag, priority = os.SCHED_OTHER, 0
    else:
        flag, priority = os.SCHED_FIFO | getattr(os, "SCHED_RESET_ON_FORK", 0), FIFO_PRIORITY
    changed = 0
    for tid in thread_ids():
        try:
            os.sched_setscheduler(tid, flag, os.sched_param(priority))
            changed += 1
        except ProcessLookupError:
            continue  # the thread ended meanwhile
        except PermissionError as exc:
            raise SchedulingError("client scheduling fifo needs CAP_SYS_NICE (run as root or raise "
                                  f"RLIMIT_RTPRIO): {exc}") from None
    return changed


def current() -> str:
    """The calling thread's policy as a name (for the report)."""
    if not hasattr(os, "sched_getscheduler"):
        return "normal"
    policy = os.sched_getscheduler(0) & ~getattr(os, "SCHED_RESET_ON_FORK", 0)
    return "fifo" if policy == getattr(os, "SCHED_FIFO", -1) else "normal"
