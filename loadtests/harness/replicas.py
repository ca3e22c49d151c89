"""Replica counts per deployment over time, from Ray Serve's own API.

One short-lived Ray driver process (like loadtests.service_runner's stats driver) attaches to the
service's Ray GCS and prints `serve.status()`'s replica states for the application every
`interval` seconds, as JSON lines; a thread here collects them. The driver exits when this process
closes its stdin (or dies), and `stop()` ends it by pid. It is started, and its first sample
awaited, before the load starts, so its start-up CPU does not fall inside the measured window.

The GCS address and the environment (the Ray auth token) come from a `Service` started by the
harness, or from `--ray-address` and the caller's environment when the harness targets a running
service. Without either there is no replica series and the report says so.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from typing import Any

from loadtests.common import REPO, log

_POLL_CODE = r"""
import json, os, sys, threading, time
import ray
from ray import serve
ray.init(address=sys.argv[1], namespace="serve", log_to_driver=False, logging_level="ERROR")
app, interval = sys.argv[2], float(sys.argv[3])
prefix = f"SERVE_REPLICA::{app}#"
def replica_names():
    names = {}
    for actor in ray.util.list_named_actors(all_namespaces=True):
        if actor["namespace"] == "serve" and actor["name"].startswith(prefix):
            deployment = actor["name"][len(prefix):].split("#")[0]
            names.setdefault(deployment, []).append(actor["name"])
    return {d: sorted(n) for d, n in names.items()}
def kill(deployment):
    # A fault for the chaos scenarios: one live replica of `deployment`, killed without restart
    # (as a crash or OOM would); the Serve controller notices and starts a replacement.
    fault = {"t": time.time(), "action": "kill_replica", "deployment": deployment}
    try:
        names = replica_names().get(deployment, [])
        if not names:
            raise LookupError(f"no live replica of {deployment}")
        fault["replica"] = names[0]
        ray.kill(ray.get_actor(names[0], namespace="serve"), no_restart=True)
        fault["ok"] = True
    except Exception as exc:
        fault.update(ok=False, error=repr(exc)[:300])
    print("FAULT=" + json.dumps(fault), flush=True)
def commands():
    for line in sys.stdin:  # "KILL <deployment>"
        verb, _, arg = line.strip().partition(" ")
        if verb == "KILL":
            kill(arg)
    os._exit(0)  # stdin closed: the harness is done (or died)
threading.Thread(target=commands, daemon=True).start()
while True:
    try:
        status = serve.status().applications.get(app)
        deployments = {} if status is None else {
            name: {getattr(state, "value", str(state)): n for state, n in d.replica_states.items()}
            for name, d in status.deployments.items()}
        print("REPLICAS=" + json.dumps({"t": time.time(), "deployments": deployments, "names": replica_names()}),
              flush=True)
    except Exception as exc:
        print("POLLERROR=" + repr(exc)[:300], flush=True)
    time.sleep(interval)
"""


class ReplicaPoller:
    """Collects `{"t": unix time, "deployments": {name: {state: count}}}` samples."""

    def __init__(self, gcs_address: str, env: dict[str, str], app_name: str, interval_s: float = 1.0):
        self.gcs_address, self.env, self.app_name, self.interval_s = gcs_address, env, app_name, interval_s
        self.samples: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.faults: list[dict[str, Any]] = []
        self._fault_done = threading.Condition()
        self.proc: subprocess.Popen | None = None
        self._thread: threading.Thread | None = None
        self._first = threading.Event()

    def start(self, wait_s: float = 90.0) -> bool:
        """Starts the driver; True once its first sample arrived (False: no series, logged)."""
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _POLL_CODE, self.gcs_address, self.app_name, str(self.interval_s)],
            cwd=REPO, env=self.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        if not self._first.wait(wait_s):
            log(f"replica poller: no sample after {wait_s:.0f} s ({'; '.join(self.errors[-1:]) or 'no output'})")
            return False
        return True

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("REPLICAS="):
                self.samples.append(json.loads(line.removeprefix("REPLICAS=")))
                self._first.set()
            elif line.startswith("FAULT="):
                with self._fault_done:
                    self.faults.append(json.loads(line.removeprefix("FAULT=")))
                    self._fault_done.notify_all()
            elif line.startswith("POLLERROR="):
                self.errors.append(line.removeprefix("POLLERROR=").strip())

    def kill_replica(self, deployment: str, timeout_s: float = 30.0) -> dict[str, Any]:
        """Kills one live replica of `deployment` (no restart: Serve replaces it); returns the
        fault record {t, action, deployment, replica, ok[, error]}."""
        if self.proc is None or self.proc.stdin is None:
            return {"t": None, "action": "kill_replica", "deployment": deployment, "ok": False,
                    "error": "no Ray driver attached"}
        with self._fault_done:
            before = len(self.faults)
            self.proc.stdin.write(f"KILL {deployment}\n")
            self.proc.stdin.flush()
            if not self._fault_done.wait_for(lambda: len(self.faults) > before, timeout_s):
                return {"t": None, "action": "kill_replica", "deployment": deployment, "ok": False,
                        "error": f"the driver did not answer within {timeout_s:.0f} s"}
            return self.faults[before]

    def replaced_after_s(self, fault: dict[str, Any]) -> float | None:
        """Seconds from a kill until the deployment again had as many RUNNING replicas as before
        it, none of them the killed one; None if that never happened in the samples."""
        deployment, killed, t = fault.get("deployment"), fault.get("replica"), fault.get("t")
        if not fault.get("ok") or t is None:
            return None
        before = [s for s in self.samples if s["t"] <= t]
        wanted = before[-1]["deployments"].get(deployment, {}).get("RUNNING", 1) if before else 1
        for sample in self.samples:
            if sample["t"] <= t:
                continue
            running = sample["deployments"].get(deployment, {}).get("RUNNING", 0)
            names = sample.get("names", {}).get(deployment, [])
            if running >= wanted and killed not in names and len(names) >= wanted:
                return sample["t"] - t
        return None

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            self.proc.stdin.close()  # the driver exits on EOF
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()  # our own child, by its Popen handle
            self.proc.wait(timeout=10)
        self.proc = None

    def series(self, t0_unix: float, until_s: float | None = None) -> dict[str, Any]:
        """{'t': [s since t0], 'running': {deployment: [n]}, 'total': {deployment: [n]}, 'errors'}:
        the samples from t0 - 1 interval to `until_s` after t0 (all later ones by default)."""
        names = sorted({name for s in self.samples for name in s["deployments"]})
        out: dict[str, Any] = {"source": "ray.serve.status() via a Ray driver", "interval_s": self.interval_s,
                               "t": [], "running": {n: [] for n in names}, "total": {n: [] for n in names},
                               "errors": self.errors[-5:]}
        for sample in self.samples:
            t = sample["t"] - t0_unix
            if t < -self.interval_s or (until_s is not None and t > until_s):
                continue
            out["t"].append(sample["t"] - t0_unix)
            for name in names:
                states = sample["deployments"].get(name, {})
                out["running"][name].append(states.get("RUNNING", 0))
                out["total"][name].append(sum(states.values()))
        return out


def unavailable(reason: str) -> dict[str, Any]:
    return {"source": None, "unavailable": reason, "t": [], "running": {}, "total": {}, "errors": []}


def poll_replicas_for(service, app_name: str, interval_s: float) -> ReplicaPoller | None:
    """A started poller for a loadtests.service_runner.Service, or None (logged) if it cannot attach."""
    address = service.gcs_address()
    if address is None:
        log("replica poller: the service's GCS address was not found")
        return None
    poller = ReplicaPoller(address, service.env(), app_name, interval_s)
    if not poller.start():
        poller.stop()
        return None
    return poller
