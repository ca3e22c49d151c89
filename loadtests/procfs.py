"""Reading the process table from /proc (Linux): used to find, account and clean up processes.

In: pids. Out: a process's state, parent and start time, its argv, every pid on the machine, and a
process tree below a root. A start time (in clock ticks) together with a pid identifies a process,
so a pid reused by a later process is never mistaken for the one seen before.
"""

from __future__ import annotations

import os
from pathlib import Path


def proc_stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, start time in ticks) of `pid`, or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[1]), int(fields[19])


def cmdline(pid: int) -> list[str]:
    """The argv of `pid` (empty if it is gone or has none)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def all_pids() -> list[int]:
    """Every pid in /proc."""
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def descendants(root: int) -> dict[int, int]:
    """{pid: start ticks} of `root` and every live process below it."""
    children: dict[int, list[int]] = {}
    starts: dict[int, int] = {}
    for pid in all_pids():
        stat = proc_stat(pid)
        if stat is None or stat[0] == "Z":
            continue
        children.setdefault(stat[1], []).append(pid)
        starts[pid] = stat[2]
    found, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in starts:
            found[pid] = starts[pid]
        todo.extend(children.get(pid, []))
    return found


def is_serve_run(argv: list[str]) -> bool:
    """Whether `argv` is a `serve run ...` command line."""
    return any(Path(a).name == "serve" and i + 1 < len(argv) and argv[i + 1] == "run" for i, a in enumerate(argv))
