"""CPU accounting: the CPU each of the benchmark's processes uses, and the load of everyone else.

In: /proc (the machine's busy time, the own processes' utime + stime). Out: cumulative samples,
per-role CPU seconds between two snapshots (`CpuMeter.diff`), the average foreign load in cores
between two samples (`CpuMeter.foreign_cores`), and a wait for a quiet machine (`wait_quiet`).
`Quiet` is the policy for timed calls disturbed by foreign load. `METER` is the one meter of a run;
the benchmark sets `METER.service` once the service is up, so the service's tree counts as own.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from loadtests.common import APP_NAME, TARGET_QUIET, log
from loadtests.procfs import cmdline, descendants, is_serve_run

if TYPE_CHECKING:
    from loadtests.service_runner import Service


def process_label(pid: int) -> str:
    """A short role name for one of the benchmark's processes."""
    if pid == os.getpid():
        return "bench(client)"
    argv = [a for a in cmdline(pid) if a]
    if not argv:
        return "?"
    head = argv[0].strip()
    if head.startswith("ray-dashboard-"):  # "ray-dashboard-JobHead-0 (python -c ...)"
        return "dashboard-modules"
    if head.startswith("ray::"):
        name = head[5:].split()[0].split(".")[0]  # "ray::Actor.method" while it runs a task
        return name.replace(f"ServeReplica:{APP_NAME}:", "")
    base = Path(head).name
    if base.startswith("python"):
        if is_serve_run(argv):
            return "serve-run(driver)"
        scripts = [a for a in argv[1:] if a.endswith(".py") and "/" in a and " " not in a and "'" not in a]
        return Path(scripts[0]).stem if scripts else "python"
    return base


class CpuMeter:
    """CPU seconds used on this machine by processes that are not the benchmark's (other people's
    tests, say): the machine has few cores, so such load would land in the timings. The own
    processes are this one and the service's tree; the rest of the machine's busy time is foreign.
    """

    TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def __init__(self):
        self.service: Service | None = None

    def _own_pids(self) -> list[int]:
        pids = [os.getpid()]
        if self.service is not None and self.service.proc is not None:
            pids += list(descendants(self.service.proc.pid))
        return pids

    def sample(self) -> tuple[float, float]:
        """(busy CPU seconds of the whole machine, CPU seconds of the own processes), cumulative."""
        with open("/proc/stat") as f:
            cpu = [int(x) for x in f.readline().split()[1:]]
        busy = sum(cpu[:8]) - cpu[3] - cpu[4]  # all but idle and iowait (guest is inside user)
        own = sum(int(f[11]) + int(f[12]) for f in map(_stat_fields, self._own_pids()) if f)  # utime + stime
        return busy / self.TICK, own / self.TICK

    def by_process(self) -> dict[int, tuple[int, float]]:
        """{pid: (start ticks, cumulative CPU seconds)} of the own processes."""
        out: dict[int, tuple[int, float]] = {}
        for pid in self._own_pids():
            fields = _stat_fields(pid)
            if fields:
                out[pid] = (int(fields[19]), (int(fields[11]) + int(fields[12])) / self.TICK)
        return out

    @staticmethod
    def diff(before: dict[int, tuple[int, float]], after: dict[int, tuple[int, float]]) -> dict[str, float]:
        """CPU seconds used between two snapshots, by process role (replica, proxy, raylet, ...).

        By pid, not by name: Ray retitles a worker while it runs a task.
        """
        out: dict[str, float] = {}
        for pid, (start, cpu) in after.items():
            old = before.get(pid)
            used = cpu - old[1] if old and old[0] == start else cpu  # a process started in between
            if used > 0:
                label = process_label(pid)
                out[label] = out.get(label, 0.0) + used
        return out

    @staticmethod
    def foreign_cores(before: tuple[float, float], after: tuple[float, float], seconds: float) -> float:
        """Average number of cores used by foreign processes between two samples."""
        if seconds <= 0:
            return 0.0
        return max(0.0, (after[0] - before[0]) - (after[1] - before[1])) / seconds

    def wait_quiet(self, threshold: float, max_wait_s: float, window_s: float = 3.0) -> float:
        """Waits until foreign load stays under `threshold` cores for `window_s`; returns the wait."""
        started = time.monotonic()
        announced = False
        while True:
            before, t0 = self.sample(), time.perf_counter()
            time.sleep(window_s)
            load = self.foreign_cores(before, self.sample(), time.perf_counter() - t0)
            waited = time.monotonic() - started
            if load < threshold or waited > max_wait_s:
                if announced or load >= threshold:
                    log(f"foreign CPU load {load:.2f} cores after waiting {waited:.0f} s")
                return waited
            if not announced:
                log(f"other processes use {load:.2f} cores; waiting for a quiet machine (up to {max_wait_s:.0f} s)")
                announced = True


METER = CpuMeter()


@dataclass(frozen=True)
class Quiet:
    """How foreign CPU load is handled: a timed call during which other processes used more than
    `threshold` cores is measured again (at most `retries` times) once the machine is quiet."""

    threshold: float = TARGET_QUIET
    retries: int = 4
    max_wait_s: float = 120.0


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (index 0 is the state), or None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()
