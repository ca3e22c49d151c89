"""Starts the real service (`serve run <config>.yaml`: a local Ray cluster, the real gRPC proxy)
on loopback ports for integration tests, with the benchmark's runner (loadtests.service_runner),
which also cleans up every process of the service's tree when it stops."""

from __future__ import annotations

from pathlib import Path

from loadtests.service_runner import Service, local_config, write_serve_config

REPO = Path(__file__).resolve().parent.parent


def serve_config(app_args: dict, grpc_port: int, http_port: int) -> dict:
    """config/local.yaml (servicers, logging, proxy settings) with the test's application args."""
    config = local_config(grpc_port, http_port)
    config["applications"][0]["args"] = app_args
    return config


def start_service(config: dict, workdir: Path, env: dict[str, str] | None = None, timeout_s: float = 420) -> Service:
    """Writes `config` to workdir, runs `serve run` on it and waits for gRPC health SERVING.

    Returns the running Service (`address`, `log_tail()`, `stop()`); RuntimeError with the log
    tail if it does not come up.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "serve.yaml"
    write_serve_config(config_path, config)
    service = Service(config_path, workdir / "serve.log", config["grpc_options"]["port"], extra_env=env)
    service.start()
    try:
        service.wait_serving(timeout_s)
    except BaseException:
        service.stop()
        raise
    return service
