"""`exec` faults: commands the harness runs during the load (stop the S3 server, restart the
database, delete a pod), and their undo after a pause. `kill_replica` faults go through the
replica poller's Ray driver instead (loadtests/harness/replicas.py).

Commands are argv lists run without a shell; `${VAR}` in an argument is replaced from the
harness's environment (an unset variable is an error, not an empty string). Each command must end
within `COMMAND_TIMEOUT_S`.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from typing import Any

COMMAND_TIMEOUT_S = 120.0
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand(argv: tuple[str, ...], env: dict[str, str] | None = None) -> list[str]:
    env = os.environ if env is None else env

    def value(match: re.Match) -> str:
        name = match.group(1)
        if name not in env:
            raise KeyError(f"${{{name}}} is not set in the harness's environment")
        return env[name]

    return [_VAR.sub(value, arg) for arg in argv]


def _run(argv: list[str]) -> dict[str, Any]:
    started = time.time()
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"argv": argv, "ok": False, "error": repr(exc)[:300], "seconds": time.time() - started}
    out = {"argv": argv, "ok": done.returncode == 0, "returncode": done.returncode,
           "seconds": time.time() - started}
    if done.returncode:
        out["error"] = (done.stderr or done.stdout)[-500:]
    return out


def run_exec(fault, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Runs the fault's command, waits `undo_after_s`, runs its undo (even if the command failed
    part-way, so a half-applied fault is not left behind). Blocking: call it from a thread."""
    record: dict[str, Any] = {"t": time.time()}
    try:
        argv, undo = expand(fault.command, env), expand(fault.undo, env) if fault.undo else []
    except KeyError as exc:
        return {**record, "ok": False, "error": str(exc.args[0])}
    record["run"] = _run(argv)
    if undo:
        time.sleep(max(0.0, record["t"] + fault.undo_after_s - time.time()))
        record["undo"] = _run(undo)
        record["undone_after_s"] = time.time() - record["t"]
    record["ok"] = record["run"]["ok"] and record.get("undo", {"ok": True})["ok"]
    if not record["ok"]:
        record["error"] = record["run"].get("error") or record.get("undo", {}).get("error")
    return record
