"""Starts the real service (`serve run <config>.yaml`, a local Ray cluster, the real gRPC proxy)
as a subprocess on loopback ports, and stops it. Used by integration tests and benchmarks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from genmedia.client import GenmediaClient

REPO = Path(__file__).resolve().parent.parent
SERVICER_FUNCTIONS = [
    "genmedia.v1.generation_pb2_grpc.add_GenerationServiceServicer_to_server",
    "grpc_health.v1.health_pb2_grpc.add_HealthServicer_to_server",
]


def serve_config(app_args: dict, grpc_port: int, http_port: int) -> dict:
    """A Serve config document around genmedia's application args."""
    return {
        "proxy_location": "HeadOnly",
        "http_options": {"host": "127.0.0.1", "port": http_port},
        "grpc_options": {"port": grpc_port, "grpc_servicer_functions": SERVICER_FUNCTIONS},
        "applications": [
            {"name": "genmedia", "route_prefix": "/genmedia", "import_path": "services.app:build_app",
             "logging_config": {"enable_access_log": False}, "args": app_args}
        ],
    }


@dataclass
class RunningService:
    address: str
    process: subprocess.Popen
    log_path: Path
    config_path: Path

    def log_tail(self, lines: int = 80) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)  # serve run shuts Serve and its Ray down
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                pass
        try:  # whatever is left of this service's process group (raylet, workers)
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=30)


def start_service(config: dict, workdir: Path, env: dict[str, str] | None = None, timeout_s: float = 420) -> RunningService:
    """Writes `config` to workdir, runs `serve run` on it and waits for gRPC health SERVING."""
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "serve.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    log_path = workdir / "serve.log"
    serve_bin = Path(sys.executable).parent / "serve"
    process_env = {**os.environ, **(env or {}), "RAY_USAGE_STATS_ENABLED": "0", "PYTHONUNBUFFERED": "1"}
    process_env.pop("RAY_ADDRESS", None)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(serve_bin), "run", "--address", "local", str(config_path)],
            cwd=REPO, env=process_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    address = f"127.0.0.1:{config['grpc_options']['port']}"
    service = RunningService(address, process, log_path, config_path)
    deadline = time.monotonic() + timeout_s
    with GenmediaClient(address) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"serve run exited with {process.returncode}:\n{service.log_tail()}")
            if client.is_serving(timeout=2):
                return service
            time.sleep(1)
    service.stop()
    raise RuntimeError(f"service not SERVING after {timeout_s}s:\n{service.log_tail()}")


def temp_workdir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))
