"""Running the service for the benchmark: its Serve config, `serve run`, and its clean-up.

- `serve_config(...)` -> the temporary Serve config (a dict); `write_serve_config(path, config)`.
- `wait_for_machine(max_wait_s, port)`: waits until no other `serve run`/Ray instance runs here.
- `free_port(avoid)` -> an unused local port.
- `Service(config_path, log_path, port)`: `start()` runs `serve run --address local CONFIG` in its
  own process group with a private Ray auth token; `wait_serving(timeout_s)` -> seconds until gRPC
  health says SERVING; `stop()` ends it and every process of its tree that is left, by pid.
- `denoiser_stats(service)` -> the Denoiser's and VAEDecoder's `stats()`, read through a short-lived
  Ray driver that finds the service's GCS address in its session dir and uses the private token.
- `ray_stop_force()`: `ray stop --force` (stops EVERY Ray instance on the machine).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from genmedia.client import GenmediaClient
from loadtests.common import APP_NAME, BIN, CPU_MODEL, REPO, TINY_MODEL, log
from loadtests.procfs import all_pids, cmdline, descendants, is_serve_run, proc_stat

# --- the Serve config ----------------------------------------------------------------------------


def local_config(grpc_port: int, http_port: int) -> dict[str, Any]:
    """The shipped config/local.yaml as a document, on the given loopback ports."""
    config = yaml.safe_load((REPO / "config" / "local.yaml").read_text())
    config["http_options"]["port"] = http_port
    config["grpc_options"]["port"] = grpc_port
    return config


def serve_config(grpc_port: int, http_port: int, storage_root: Path, cache_dir: Path,
                 gpu_model: str | None = None, denoiser_threads: int = 2, vae_threads: int = 2) -> dict[str, Any]:
    """The temporary Serve config: the shipped config/local.yaml with the benchmark's models.

    The deployment sizing (num_cpus, torch_threads, queue limits, access logs off) is read from
    config/local.yaml, so the benchmark measures what `make serve` runs; only the models, ports,
    paths and (for experiments) the stage thread counts are replaced. On a GPU run the stages get
    GPU fractions.
    """
    config = local_config(grpc_port, http_port)
    app = config["applications"][0]
    app["name"] = APP_NAME
    args = app["args"]
    models: list[dict[str, Any]] = [
        # device cpu: on a GPU machine these stay the CPU comparison (a replica given a GPU would
        # otherwise put them on cuda with device "auto").
        {"name": CPU_MODEL, "source": f"preset:{CPU_MODEL}", "device": "cpu"},
        # Overhead-bound: one thread, as config/local.yaml sets for every tiny preset (measured:
        # 8-client throughput 1.1x with 2 threads, 2.1-2.4x with 1).
        {"name": TINY_MODEL, "source": f"preset:{TINY_MODEL}", "device": "cpu", "torch_threads": 1},
    ]
    if gpu_model:
        models.append({"name": gpu_model, "source": f"preset:{gpu_model}", "precision": "fp16", "device": "cuda"})
        for stage, fraction in {"text_encoder": 0.1, "denoiser": 0.6, "vae_decoder": 0.2}.items():
            args[stage]["actor"]["num_gpus"] = fraction
    args.update(models=models, default_model=CPU_MODEL, cache_dir=str(cache_dir),
                storage={"backend": "local", "local_root": str(storage_root)})
    args["denoiser"]["torch_threads"] = denoiser_threads
    args["vae_decoder"]["torch_threads"] = vae_threads
    return config


def write_serve_config(path: Path, config: dict[str, Any]) -> None:
    """Writes `config` as YAML to `path`, keys in their order."""
    path.write_text(yaml.safe_dump(config, sort_keys=False))


# --- before the start ----------------------------------------------------------------------------


def other_ray_users(own: set[int]) -> list[str]:
    """Live `serve run` processes and Ray GCS servers on this machine that are not ours."""
    found = []
    for pid in all_pids():
        if pid in own:
            continue
        stat = proc_stat(pid)
        if stat is None or stat[0] == "Z":
            continue
        argv = cmdline(pid)
        if is_serve_run(argv) or (argv and Path(argv[0]).name == "gcs_server"):
            found.append(f"{pid}: {' '.join(argv)[:120]}")
    return found


def wait_for_machine(max_wait_s: float, port: int) -> None:
    """Waits (polling every 20 s) until no other `serve run` or Ray instance runs here; raises
    RuntimeError if one still does after `max_wait_s`, or if `port` is taken."""
    deadline = time.monotonic() + max_wait_s
    while True:
        others = other_ray_users({os.getpid()})
        if not others:
            break
        if time.monotonic() > deadline:
            raise RuntimeError("another Ray/Serve instance is still running after waiting:\n  " + "\n  ".join(others))
        log("waiting for other Ray/Serve instances to finish: " + "; ".join(others))
        time.sleep(20)
    if not port_free(port):
        raise RuntimeError(f"port {port} is in use; pick another with --port")


def port_free(port: int) -> bool:
    """Whether 127.0.0.1:`port` can be bound now."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(avoid: set[int]) -> int:
    """A local port the OS reports free, not one of `avoid`."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in avoid:
            return port


# --- the service ---------------------------------------------------------------------------------


class Service:
    """`serve run CONFIG` in its own session (process group), logs to a file."""

    def __init__(self, config_path: Path, log_path: Path, port: int, extra_env: dict[str, str] | None = None):
        self.extra_env = extra_env or {}  # e.g. S3 credentials for the service under test
        self.config_path = config_path
        self.log_path = log_path
        self.address = f"127.0.0.1:{port}"
        self.proc: subprocess.Popen | None = None
        self.tree: dict[int, int] = {}
        # A new local Ray instance enables token authentication. Give this private instance a
        # fresh random token of its own, so the short-lived stats driver can connect to it
        # (and nothing else can), without reading any token file.
        self.ray_env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
        self.ray_env_keys = ("RAY_AUTH_TOKEN_PATH",)  # must not point elsewhere

    def env(self) -> dict[str, str]:
        """The environment for `serve run` and the stats driver: ours, with the private token."""
        env = {**os.environ, **self.extra_env, **self.ray_env}
        for key in ("RAY_ADDRESS", *self.ray_env_keys):
            env.pop(key, None)
        return env

    def start(self) -> None:
        env = self.env()
        env.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(
                # --address local: always a new Ray instance of our own, never someone else's cluster.
                [str(BIN / "serve"), "run", "--address", "local", str(self.config_path)],
                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        log(f"started serve run (pid {self.proc.pid}); log: {self.log_path}")

    def wait_serving(self, timeout_s: float) -> float:
        """Seconds until gRPC health says SERVING; RuntimeError (with the log tail) if `serve run`
        exits or `timeout_s` passes first."""
        started = time.monotonic()
        with GenmediaClient(self.address) as client:
            while time.monotonic() - started < timeout_s:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"serve run exited with {self.proc.returncode}:\n{self.log_tail()}")
                if client.is_serving(timeout=2.0):
                    self.snapshot()
                    return time.monotonic() - started
                time.sleep(2)
        raise RuntimeError(f"not SERVING after {timeout_s:.0f} s:\n{self.log_tail()}")

    def snapshot(self) -> None:
        """Remembers the processes of the service's tree (for the clean-up)."""
        if self.proc is not None:
            self.tree.update(descendants(self.proc.pid))

    def gcs_address(self) -> str | None:
        """host:port of the service's Ray GCS (its port is dynamic: read from the session dir)."""
        for pid in descendants(self.proc.pid):
            argv = cmdline(pid)
            if not argv or Path(argv[0]).name != "gcs_server":
                continue
            opts = dict(a[2:].split("=", 1) for a in argv[1:] if a.startswith("--") and "=" in a)
            port = opts.get("gcs_server_port", "0")
            if port == "0" and "session-dir" in opts:
                files = sorted(Path(opts["session-dir"]).glob("gcs_server_port_*"))
                port = files[0].read_text().strip() if files else "0"
            if port != "0":
                return f"{opts.get('node-ip-address', '127.0.0.1')}:{port}"
        return None

    def log_tail(self, lines: int = 40) -> str:
        """The last `lines` lines of the `serve run` log."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """SIGINT to `serve run`, then SIGINT/SIGTERM/SIGKILL to its process group, then SIGKILL
        by pid to any process of its tree still alive (same pid and start time)."""
        if self.proc is None:
            return
        self.snapshot()
        pgid = self.proc.pid  # start_new_session: the process is its group's leader
        # SIGINT to the `serve run` driver first (a Ctrl-C: it shuts Serve and its Ray instance
        # down); a SIGINT to the whole group would also hit the raylet and workers mid-shutdown.
        steps = ((signal.SIGINT, False, 45), (signal.SIGINT, True, 15), (signal.SIGTERM, True, 15),
                 (signal.SIGKILL, True, 10))
        for sig, group, wait_s in steps:
            if self.proc.poll() is not None:
                break
            log(f"stopping the service: {sig.name} to {'process group' if group else 'pid'} {pgid}")
            try:
                (os.killpg if group else os.kill)(pgid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=wait_s)
            except subprocess.TimeoutExpired:
                pass
        # Ray's own processes (GCS, raylet, workers) normally exit with the driver; kill any that
        # did not, by pid, checking the start time so a reused pid is never hit.
        time.sleep(1)
        left = [pid for pid, start in self.tree.items() if (s := proc_stat(pid)) and s[0] != "Z" and s[2] == start]
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if left:
            log(f"killed {len(left)} leftover process(es) of the service: {left}")
        self.proc = None


def ray_stop_force() -> None:
    """`ray stop --force`: stops EVERY Ray instance on this machine (only with --ray-stop-force)."""
    subprocess.run([str(BIN / "ray"), "stop", "--force"], check=False)


# --- the stages' stats ---------------------------------------------------------------------------

_STATS_CODE = r"""
import json, sys, ray
from ray import serve
ray.init(address=sys.argv[1], namespace="serve", log_to_driver=False, logging_level="ERROR")
stats = {name: serve.get_deployment_handle(name, app_name=sys.argv[2]).stats.remote().result(timeout_s=60)
         for name in ("Denoiser", "VAEDecoder")}
print("STATS=" + json.dumps(stats))
"""


def _driver_line(service: Service, code: str, prefix: str, *args: str) -> str | None:
    """Runs ``code`` as a short-lived Ray driver attached to the service (its GCS address first on
    the command line, then ``args``) and returns what follows ``prefix`` on the line that has it;
    None (logged) when the driver cannot attach or prints no such line."""
    address = service.gcs_address()
    if address is None:
        return None
    try:
        out = subprocess.run([sys.executable, "-c", code, address, *args], cwd=REPO, capture_output=True,
                             text=True, timeout=120, env=service.env())
    except subprocess.TimeoutExpired:
        log(f"the Ray driver reading {prefix.rstrip('=')} timed out")
        return None
    for line in out.stdout.splitlines():
        if line.startswith(prefix):
            return line.removeprefix(prefix)
    log(f"could not read {prefix.rstrip('=')}: {out.stderr.strip()[-300:]}")
    return None


def denoiser_stats(service: Service) -> dict | None:
    """The Denoiser's steps_run and recent batch sizes and the VAEDecoder's recent batch sizes,
    read by a short-lived Ray driver (outside any timed window). None if they cannot be read."""
    found = _driver_line(service, _STATS_CODE, "STATS=", APP_NAME)
    return None if found is None else json.loads(found)


_METRICS_PORT_CODE = r"""
import sys, ray
ray.init(address=sys.argv[1], log_to_driver=False, logging_level="ERROR")
print("PORT=" + str(ray.nodes()[0]["MetricsExportPort"]))
"""


def metrics_port(service: Service) -> int | None:
    """The port where the service's Ray node exports Prometheus metrics (Serve's and ours), read
    by a short-lived Ray driver. None if it cannot be read."""
    found = _driver_line(service, _METRICS_PORT_CODE, "PORT=")
    return None if found is None else int(found)
