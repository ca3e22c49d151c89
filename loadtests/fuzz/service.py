"""Starting a private genmedia service for the fuzzer (``--start-service``), and reading its replicas.

- `fuzz_serve_config(grpc_port, http_port, workdir)`: config/local.yaml (every tiny image, video and
  audio model) with local storage, records and keys in `workdir`, and every deployment at exactly
  one replica, so that any replica that appears during a run is a restart, never autoscaling; quotas
  and the admission bound off, so that cases reach the parsing and validation they are meant for.
- `start_fuzz_service(workdir, port)`: writes that config, runs `serve run` (loadtests.service_runner's
  Service: own process group, private Ray token, clean-up by pid) and waits for SERVING.
- `replica_snapshot(service)`: every Serve replica actor of the service's Ray instance (id, class,
  state, pid, restarts, death cause), read by a short-lived Ray driver.
- `restarts_between(before, after)`: the replicas that died or appeared in between.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadtests.common import REPO
from loadtests.service_runner import Service, _driver_line, free_port, local_config, port_free, write_serve_config


def fuzz_serve_config(grpc_port: int, http_port: int, workdir: Path) -> dict[str, Any]:
    """config/local.yaml on the given ports, state in `workdir`, one replica per deployment."""
    config = local_config(grpc_port, http_port)
    args = config["applications"][0]["args"]
    args["cache_dir"] = str(REPO / "var" / "cache")
    args["storage"] = {"backend": "local", "local_root": str(workdir / "artifacts")}
    args["provenance"]["records_url"] = f"sqlite:///{workdir / 'records.db'}"
    args["provenance"]["dev_keys_dir"] = str(workdir / "keys")
    for value in args.values():
        if isinstance(value, dict) and "autoscaling" in value:
            value["autoscaling"] = {"min_replicas": 1, "max_replicas": 1}
    # The fuzzer tests request handling, not shedding: with the embedded default's quota (20 calls/s)
    # and admission bound (8 generations), four cases in five were refused before being parsed.
    args["ingress"]["quotas"] = {**args["ingress"].get("quotas", {}), "enabled": False}
    args["ingress"]["max_generations_in_flight"] = 0
    args["ingress"]["proxy_max_generations_in_flight"] = 0
    return config


def start_fuzz_service(workdir: Path, port: int | None = None, timeout_s: float = 600) -> Service:
    """A running private service on 127.0.0.1 (`address`, `stop()`); RuntimeError with the log tail
    if it does not come up."""
    workdir.mkdir(parents=True, exist_ok=True)
    if port is None:
        port = free_port(set())
    elif not port_free(port):
        raise RuntimeError(f"port {port} is in use")
    config = fuzz_serve_config(port, free_port({port}), workdir)
    config_path = workdir / "serve.yaml"
    write_serve_config(config_path, config)
    service = Service(config_path, workdir / "serve.log", port,
                      extra_env={"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"})
    service.start()
    try:
        service.wait_serving(timeout_s)
    except BaseException:
        service.stop()
        raise
    return service


_REPLICAS_CODE = r"""
import json, sys, ray
from ray._private import state
ray.init(address=sys.argv[1], log_to_driver=False, logging_level="ERROR")
out = []
for actor_id, a in state.actors().items():
    name = a.get("Name") or ""
    cls = a.get("ActorClassName") or ""
    if "ServeReplica" not in cls and not name.startswith("SERVE_REPLICA"):
        continue
    death = a.get("DeathCause") or {}
    out.append({"id": actor_id, "name": name, "class": cls, "state": a.get("State"), "pid": a.get("Pid"),
                "restarts": a.get("NumRestarts", 0), "death": json.dumps(death, default=str)[:300]})
print("REPLICAS=" + json.dumps(out))
"""


@dataclass
class Replica:
    id: str
    name: str
    state: str
    pid: int | None
    restarts: int
    death: str


def replica_snapshot(service: Service) -> list[Replica] | None:
    """The Serve replica actors of `service`'s Ray instance; None when they cannot be read."""
    found = _driver_line(service, _REPLICAS_CODE, "REPLICAS=")
    if found is None:
        return None
    return [Replica(r["id"], r["name"] or r["class"], str(r["state"]), r["pid"], int(r["restarts"] or 0), r["death"])
            for r in json.loads(found)]


def restarts_between(before: list[Replica], after: list[Replica]) -> list[str]:
    """One line per replica that died, restarted in place, or appeared between the snapshots."""
    alive_before = {r.id: r for r in before if r.state == "ALIVE"}
    lines = []
    for r in after:
        old = alive_before.get(r.id)
        if old is None and r.id not in {b.id for b in before}:
            lines.append(f"new replica {r.name} ({r.state}, pid {r.pid})")
        elif old is not None and r.state != "ALIVE":
            lines.append(f"replica {r.name} is {r.state} (pid {r.pid}): {r.death}")
        elif old is not None and (r.restarts != old.restarts or r.pid != old.pid):
            lines.append(f"replica {r.name} restarted in place: restarts {old.restarts}->{r.restarts}, "
                         f"pid {old.pid}->{r.pid}")
    return lines
