"""The service under load: an address on loopback, or one the harness starts itself.

- `check_loopback(address, allow_remote)`: the harness refuses non-loopback targets unless
  `--allow-remote` is given (a load test pointed at the wrong host is an outage).
- `Target`: a context manager giving `.address` and, when it can, a started `ReplicaPoller`:
  - `--start-service`: config/local.yaml (all tiny models, the 2-core sizing) on free loopback
    ports, local artifact storage, SQLite records and dev keys in a temp dir, started with
    loadtests.service_runner.Service (`serve run --address local`, its own Ray instance with a
    private auth token) and stopped, with every process of its tree, on exit;
  - `--address` (+ optional `--ray-address` host:port of the service's Ray GCS, the auth token
    taken from RAY_AUTH_TOKEN in the environment) for a service that is already running.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import tempfile
from pathlib import Path
from typing import Any

from loadtests.common import APP_NAME, REPO, log
from loadtests.harness.replicas import ReplicaPoller, poll_replicas_for, unavailable


def check_loopback(address: str, allow_remote: bool = False) -> None:
    """ValueError unless `address` (host:port) resolves only to loopback addresses (or allowed)."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit():
        raise ValueError(f"address must be host:port, got {address!r}")
    if allow_remote:
        return
    try:
        infos = socket.getaddrinfo(host, int(port), proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise ValueError(f"cannot resolve {host!r}: {exc}") from None
    remote = sorted({i[4][0] for i in infos if not ipaddress.ip_address(i[4][0].split("%")[0]).is_loopback})
    if remote:
        raise ValueError(f"{address} is not a loopback address ({', '.join(remote)}); load tests target loopback "
                         "only unless --allow-remote is given")


def apply_override(args: dict[str, Any], override: str) -> None:
    """`path.to.field=VALUE` (VALUE read as YAML) set in the application args; ValueError if malformed.
    The service validates the result when it starts (unknown fields are errors there)."""
    import yaml

    path, sep, raw = override.partition("=")
    keys = path.strip().split(".")
    if not sep or not all(keys):
        raise ValueError(f"--set {override!r}: expected PATH=VALUE, e.g. denoiser.autoscaling.max_replicas=3")
    node = args
    for key in keys[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ValueError(f"--set {override!r}: {key} is not a section")
    node[keys[-1]] = yaml.safe_load(raw)


def harness_serve_config(grpc_port: int, http_port: int, workdir: Path, add_models: tuple[str, ...] = (),
                         max_generations_in_flight: int | None = None,
                         overrides: tuple[str, ...] = ()) -> dict[str, Any]:
    """config/local.yaml on the given ports, with storage, records and keys under `workdir`, plus
    the built-in presets in `add_models` (e.g. cpu-small), an ingress admission bound and `--set`
    overrides."""
    from loadtests.service_runner import local_config

    config = local_config(grpc_port, http_port)
    app = config["applications"][0]
    app["name"] = APP_NAME
    args = app["args"]
    args["cache_dir"] = str(REPO / "var" / "cache")
    args["storage"] = {"backend": "local", "local_root": str(workdir / "artifacts")}
    args["provenance"]["records_url"] = f"sqlite:///{workdir / 'records.db'}"
    args["provenance"]["dev_keys_dir"] = str(workdir / "keys")
    known = {m["name"] for m in args["models"]}
    args["models"] += [{"name": m, "source": f"preset:{m}"} for m in add_models if m not in known]
    if max_generations_in_flight is not None:  # the bound at the ingress replica and in the proxy alike
        args["ingress"]["max_generations_in_flight"] = max_generations_in_flight
        args["ingress"]["proxy_max_generations_in_flight"] = max_generations_in_flight
    for override in overrides:
        apply_override(args, override)
    return config


class Target:
    def __init__(self, address: str | None, start_service: bool, allow_remote: bool = False,
                 ray_address: str | None = None, app_name: str = APP_NAME, replica_poll_s: float = 1.0,
                 start_timeout_s: float = 600.0, add_models: tuple[str, ...] = (),
                 max_generations_in_flight: int | None = None, overrides: tuple[str, ...] = ()):
        if bool(address) == bool(start_service):
            raise ValueError("give exactly one of --address and --start-service")
        if address:
            check_loopback(address, allow_remote)
        self.address = address
        self.start_service, self.ray_address, self.app_name = start_service, ray_address, app_name
        self.replica_poll_s, self.start_timeout_s = replica_poll_s, start_timeout_s
        self.add_models, self.max_generations_in_flight = tuple(add_models), max_generations_in_flight
        self.overrides = tuple(overrides)
        self.service = None
        self.poller: ReplicaPoller | None = None
        self.replica_note = "no --ray-address given (and the harness did not start the service)"
        self._tmp: tempfile.TemporaryDirectory | None = None

    def __enter__(self) -> "Target":
        try:
            if self.start_service:
                self._start()
            if self.service is not None:
                self.poller = poll_replicas_for(self.service, self.app_name, self.replica_poll_s)
            elif self.ray_address:
                poller = ReplicaPoller(self.ray_address, dict(os.environ), self.app_name, self.replica_poll_s)
                self.poller = poller if poller.start() else None
                if self.poller is None:
                    poller.stop()
            if self.poller is None and (self.service is not None or self.ray_address):
                self.replica_note = "the Ray driver could not read serve.status() (see the log)"
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _start(self) -> None:
        from loadtests.service_runner import Service, free_port, write_serve_config

        self._tmp = tempfile.TemporaryDirectory(prefix="genmedia-loadtest-")
        workdir = Path(self._tmp.name)
        grpc_port = free_port(set())
        http_port = free_port({grpc_port})
        config_path = workdir / "serve.yaml"
        write_serve_config(config_path, harness_serve_config(grpc_port, http_port, workdir, self.add_models,
                                                             self.max_generations_in_flight, self.overrides))
        self.service = Service(config_path, workdir / "serve.log", grpc_port)
        self.address = self.service.address
        self.service.start()
        seconds = self.service.wait_serving(self.start_timeout_s)
        log(f"service SERVING at {self.address} after {seconds:.0f} s")

    def inject(self, fault) -> dict[str, Any]:
        """Carries out a scenario fault (`workload.Fault`): a command, or a replica kill through the
        replica poller's Ray driver."""
        if fault.action == "exec":
            from loadtests.harness.faults import run_exec

            return run_exec(fault)
        if self.poller is None:
            return {"ok": False, "error": f"no Ray driver attached ({self.replica_note})"}
        return self.poller.kill_replica(fault.deployment)

    def replaced_after_s(self, fault: dict[str, Any]) -> float | None:
        return None if self.poller is None else self.poller.replaced_after_s(fault)

    def replicas(self, t0_unix: float, until_s: float | None = None) -> dict[str, Any]:
        if self.poller is None:
            return unavailable(self.replica_note)
        return self.poller.series(t0_unix, until_s)

    def __exit__(self, *exc) -> None:
        if self.poller is not None:
            self.poller.stop()
        if self.service is not None:
            self.service.stop()
            self.service = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
