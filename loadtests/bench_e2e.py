"""End-to-end benchmark of genmedia against the bare diffusers pipeline. A benchmark, not a test.

    python -m loadtests.bench_e2e [--requests 20] [--warmup 3] [--port 9100] [--out report.json]
                                  [--gpu-model sd15-arch]

In one run it
  1. writes a temporary Serve config (models cpu-small and tiny-sd, sized for a 2-core machine),
  2. starts the service with `serve run` in its own process group and waits for SERVING,
  3. compares, on cpu-small (256x256, 20 steps, guidance 7.5), the bare in-process pipeline
     (engines.reference.run_pipeline) with the same request through gRPC GenerateImage, one at a
     time and interleaved, never both at once (target: e2e p50 <= 1.10 x bare p50),
  4. measures tiny-sd throughput with 1 client and with 8 concurrent clients (target: >= 2x),
  5. prints one table (and writes it as JSON with --out), with PASS/FAIL per target,
  6. always stops the service: SIGINT to its process group, then SIGTERM/SIGKILL, then any process
     of its tree that is left (by pid). It never runs `ray stop --force` unless --ray-stop-force is
     given: that would also stop other people's Ray instances on the machine.

The exit code is 0 whatever the numbers; it is non-zero only when the benchmark could not run.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from engines.loading import DECODE_PARTS, DENOISE_PARTS, TEXT_PARTS, load_parts, model_info
from engines.params import RawImageFields, resolve_image_params
from engines.reference import run_pipeline
from engines.registry import ModelSpec
from genmedia.client import GenmediaClient
from genmedia.v1 import generation_pb2 as pb

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ALL_PARTS = TEXT_PARTS | DENOISE_PARTS | DECODE_PARTS
APP_NAME = "genmedia"

CPU_MODEL = "cpu-small"
TINY_MODEL = "tiny-sd"
CPU_CASE = dict(width=256, height=256, steps=20, guidance=7.5)
GPU_CASE = dict(width=512, height=512, steps=30, guidance=7.5)
TARGET_P50_RATIO = 1.10
TARGET_THROUGHPUT_RATIO = 2.0
CONCURRENT_CLIENTS = 8
RPC_TIMEOUT_S = 600.0
TARGET_QUIET = 0.15  # foreign load (cores) above which a measurement counts as disturbed
STAGES = ("queued_s", "text_encode_s", "denoise_s", "decode_s", "store_s", "total_s")


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the Serve config ----------------------------------------------------------------------------


def serve_config(grpc_port: int, http_port: int, storage_root: Path, cache_dir: Path,
                 gpu_model: str | None = None, denoiser_threads: int = 2, vae_threads: int = 2) -> dict[str, Any]:
    """The temporary Serve config: config/local.yaml's shape, with the benchmark's models.

    Sizing for a 2-core machine, as config/local.yaml does. `num_cpus` is only what Ray reserves
    when placing a replica, not a limit: 0.25 + 0.25 + 1 + 0.25 = 1.75 <= 2, so all four
    replicas fit on the node (Serve's controller and proxies reserve 0) with no autoscaler wait.
    What really divides the two cores is `torch_threads`: the denoiser (the 20-step hot loop) gets
    both cores, since during one request no other stage is busy while it runs; the VAE decoder
    runs after denoising, so it may use both cores too; the text encoder is a few milliseconds a
    prompt and keeps 1 thread so that it never competes with a running denoise. Giving every
    stage 2 threads on 2 cores is what the bare pipeline does in-process (set_num_threads(2)),
    so the comparison is like for like; more threads than cores would oversubscribe under load.
    """
    models: list[dict[str, Any]] = [
        # device cpu: on a GPU machine these stay the CPU comparison (a replica given a GPU would
        # otherwise put them on cuda with device "auto").
        {"name": CPU_MODEL, "source": f"preset:{CPU_MODEL}", "device": "cpu"},
        # The tiny model is overhead-bound: a second intra-op thread makes its steps slower and,
        # under concurrent load, oversubscribes the cores the other stages need (measured: 8-client
        # throughput 1.1x with 2 threads, 2.4x with 1). config/local.yaml sets the same.
        {"name": TINY_MODEL, "source": f"preset:{TINY_MODEL}", "device": "cpu", "torch_threads": 1},
    ]
    gpus = {"text_encoder": 0.0, "denoiser": 0.0, "vae_decoder": 0.0}
    if gpu_model:
        models.append({"name": gpu_model, "source": f"preset:{gpu_model}", "precision": "fp16", "device": "cuda"})
        gpus = {"text_encoder": 0.1, "denoiser": 0.6, "vae_decoder": 0.2}
    return {
        "proxy_location": "HeadOnly",
        "http_options": {"host": "127.0.0.1", "port": http_port},
        "grpc_options": {
            "port": grpc_port,
            "grpc_servicer_functions": [
                "genmedia.v1.generation_pb2_grpc.add_GenerationServiceServicer_to_server",
                "grpc_health.v1.health_pb2_grpc.add_HealthServicer_to_server",
            ],
        },
        "applications": [{
            "name": APP_NAME,
            "route_prefix": "/genmedia",
            "import_path": "services.app:build_app",
            # As config/local.yaml: no per-call access-log line in every replica (measurable CPU
            # per hop on 2 cores); errors and our own logs still go to the Serve logs.
            "logging_config": {"enable_access_log": False},
            "args": {
                "models": models,
                "default_model": CPU_MODEL,
                "cache_dir": str(cache_dir),
                "storage": {"backend": "local", "local_root": str(storage_root)},
                "ingress": {
                    "actor": {"num_cpus": 0.25},
                    "max_ongoing_requests": 64,
                    "max_queued_requests": 256,
                    "autoscaling": {"min_replicas": 1, "max_replicas": 2, "target_ongoing_requests": 16},
                },
                "text_encoder": {
                    "actor": {"num_cpus": 0.25, "num_gpus": gpus["text_encoder"]},
                    "torch_threads": 1,
                    "max_ongoing_requests": 32,
                    "autoscaling": {"min_replicas": 1, "max_replicas": 1},
                },
                "denoiser": {
                    "actor": {"num_cpus": 1, "num_gpus": gpus["denoiser"]},
                    "torch_threads": denoiser_threads,
                    "max_ongoing_requests": 32,
                    "max_batch_images": 8,
                    "autoscaling": {"min_replicas": 1, "max_replicas": 1},
                },
                "vae_decoder": {
                    "actor": {"num_cpus": 0.25, "num_gpus": gpus["vae_decoder"]},
                    "torch_threads": vae_threads,
                    "max_ongoing_requests": 32,
                    "autoscaling": {"min_replicas": 1, "max_replicas": 1},
                },
            },
        }],
    }


# --- processes -----------------------------------------------------------------------------------


def _proc_stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, start time in ticks) of `pid`, or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[1]), int(fields[19])


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def _all_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _descendants(root: int) -> dict[int, int]:
    """{pid: start ticks} of `root` and every live process below it."""
    children: dict[int, list[int]] = {}
    starts: dict[int, int] = {}
    for pid in _all_pids():
        stat = _proc_stat(pid)
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


def _is_serve_run(argv: list[str]) -> bool:
    return any(Path(a).name == "serve" and i + 1 < len(argv) and argv[i + 1] == "run" for i, a in enumerate(argv))


def other_ray_users(own: set[int]) -> list[str]:
    """Live `serve run` processes and Ray GCS servers on this machine that are not ours."""
    found = []
    for pid in _all_pids():
        if pid in own:
            continue
        stat = _proc_stat(pid)
        if stat is None or stat[0] == "Z":
            continue
        argv = _cmdline(pid)
        if _is_serve_run(argv) or (argv and Path(argv[0]).name == "gcs_server"):
            found.append(f"{pid}: {' '.join(argv)[:120]}")
    return found


def wait_for_machine(max_wait_s: float, port: int) -> None:
    """Waits (polling every 20 s) until no other `serve run` or Ray instance runs here."""
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
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(avoid: set[int]) -> int:
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in avoid:
            return port


def process_label(pid: int) -> str:
    """A short role name for one of the benchmark's processes."""
    if pid == os.getpid():
        return "bench(client)"
    argv = [a for a in _cmdline(pid) if a]
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
        if _is_serve_run(argv):
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
            pids += list(_descendants(self.service.proc.pid))
        return pids

    def sample(self) -> tuple[float, float]:
        """(busy CPU seconds of the whole machine, CPU seconds of the own processes), cumulative."""
        with open("/proc/stat") as f:
            cpu = [int(x) for x in f.readline().split()[1:]]
        busy = sum(cpu[:8]) - cpu[3] - cpu[4]  # all but idle and iowait (guest is inside user)
        own = 0
        for pid in self._own_pids():
            try:
                text = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            fields = text[text.rindex(")") + 2:].split()
            own += int(fields[11]) + int(fields[12])  # utime + stime
        return busy / self.TICK, own / self.TICK

    def by_process(self) -> dict[int, tuple[int, float]]:
        """{pid: (start ticks, cumulative CPU seconds)} of the own processes."""
        out: dict[int, tuple[int, float]] = {}
        for pid in self._own_pids():
            try:
                text = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            fields = text[text.rindex(")") + 2:].split()
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


class Service:
    """`serve run CONFIG` in its own session (process group), logs to a file."""

    def __init__(self, config_path: Path, log_path: Path, port: int):
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

    def start(self) -> None:
        env = {**os.environ, **self.ray_env}
        for key in ("RAY_ADDRESS", *self.ray_env_keys):
            env.pop(key, None)
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
            self.tree.update(_descendants(self.proc.pid))

    def gcs_address(self) -> str | None:
        """host:port of the service's Ray GCS (its port is dynamic: read from the session dir)."""
        for pid in _descendants(self.proc.pid):
            argv = _cmdline(pid)
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
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
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
        left = [pid for pid, start in self.tree.items() if (s := _proc_stat(pid)) and s[0] != "Z" and s[2] == start]
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if left:
            log(f"killed {len(left)} leftover process(es) of the service: {left}")
        self.proc = None


# --- measurements --------------------------------------------------------------------------------


def summarize(values: list[float]) -> dict[str, float]:
    a = np.asarray(values, dtype=float)
    if a.size == 0:
        return {"n": 0}
    return {
        "n": int(a.size), "p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)),
        "mean": float(a.mean()), "min": float(a.min()), "max": float(a.max()),
    }


class BareTimer:
    """Times the stages of one in-process pipeline call by wrapping its encode_prompt and vae.decode."""

    def __init__(self, pipe):
        self.pipe = pipe
        self.marks: dict[str, float] = {}

    def __enter__(self) -> "BareTimer":
        pipe, marks = self.pipe, self.marks
        encode, decode = pipe.encode_prompt, pipe.vae.decode

        def timed_encode(*a, **k):
            marks["text_start"] = time.perf_counter()
            try:
                return encode(*a, **k)
            finally:
                marks["text_end"] = time.perf_counter()

        def timed_decode(*a, **k):
            marks["decode_start"] = time.perf_counter()
            try:
                return decode(*a, **k)
            finally:
                marks["decode_end"] = time.perf_counter()

        pipe.encode_prompt = timed_encode
        pipe.vae.decode = timed_decode
        return self

    def __exit__(self, *exc) -> None:
        del self.pipe.encode_prompt
        del self.pipe.vae.decode

    def stages(self, start: float, end: float) -> dict[str, float]:
        m = self.marks
        if not {"text_start", "text_end", "decode_start", "decode_end"} <= m.keys():
            return {}
        return {
            "text_encode_s": m["text_end"] - m["text_start"],
            "denoise_s": m["decode_start"] - m["text_end"],  # latents prep + the step loop
            "decode_s": m["decode_end"] - m["decode_start"],
            "other_s": (m["text_start"] - start) + (end - m["decode_end"]),  # checks, postprocess
            "total_s": end - start,
        }


@dataclass
class Comparison:
    model: str
    case: dict[str, Any]
    bare: list[float] = field(default_factory=list)
    e2e: list[float] = field(default_factory=list)
    bare_stages: list[dict[str, float]] = field(default_factory=list)
    e2e_stages: list[dict[str, float]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    foreign: list[float] = field(default_factory=list)  # foreign CPU load (cores) during each kept call
    discarded: int = 0  # calls measured again because other processes were busy
    cpu: dict[str, dict[str, float]] = field(default_factory=dict)  # kind -> process role -> CPU s (sum)

    def report(self) -> dict[str, Any]:
        bare, e2e = summarize(self.bare), summarize(self.e2e)
        out: dict[str, Any] = {"model": self.model, **self.case, "bare_s": bare, "e2e_s": e2e, "errors": self.errors}
        if bare.get("n") and e2e.get("n"):
            out["ratio_p50"] = e2e["p50"] / bare["p50"]
            out["ratio_p95"] = e2e["p95"] / bare["p95"]
            out["target_ratio_p50"] = TARGET_P50_RATIO
            out["pass_p50"] = out["ratio_p50"] <= TARGET_P50_RATIO
        out["foreign_load_cores"] = summarize(self.foreign)
        out["noisy_kept"] = sum(f > TARGET_QUIET for f in self.foreign)
        out["discarded_noisy"] = self.discarded
        out["cpu_s_per_request"] = {
            kind: _per(totals, len(getattr(self, kind))) for kind, totals in self.cpu.items()
        }
        out["bare_stage_medians_s"] = _stage_medians(self.bare_stages)
        out["e2e_stage_medians_s"] = _stage_medians(self.e2e_stages)
        return out


def _per(totals: dict[str, float], n: int) -> dict[str, float]:
    """CPU seconds per request by process role, largest first, with the total."""
    if not n:
        return {}
    rows = {k: v / n for k, v in sorted(totals.items(), key=lambda kv: -kv[1]) if v / n >= 0.0005}
    return {"total": sum(totals.values()) / n, **rows}


def _stage_medians(rows: list[dict[str, float]]) -> dict[str, float]:
    keys = sorted({k for r in rows for k in r})
    return {k: statistics.median(r[k] for r in rows if k in r) for k in keys}


def load_bare(spec: ModelSpec, cache_dir: Path):
    parts = load_parts(spec, cache_dir, ALL_PARTS)
    return parts, model_info(spec, parts)


def bare_call(parts, info, prompt: str, seed: int, case: dict[str, Any]) -> tuple[float, dict[str, float]]:
    raw = RawImageFields(prompt=prompt, model=info.name, width=case["width"], height=case["height"],
                         steps=case["steps"], guidance_scale=case["guidance"], seed=seed)
    params = resolve_image_params(raw, info, seed_if_unset=seed)
    with BareTimer(parts.pipeline) as timer:
        start = time.perf_counter()
        images = run_pipeline(parts, params)
        if parts.device.type == "cuda":
            torch.cuda.synchronize()
        end = time.perf_counter()
    if images.shape[1:3] != (case["height"], case["width"]):
        raise RuntimeError(f"bare pipeline returned {images.shape}")
    return end - start, timer.stages(start, end)


def e2e_call(client: GenmediaClient, model: str, prompt: str, seed: int,
             case: dict[str, Any] | None = None) -> tuple[float, dict[str, float]]:
    fields: dict[str, Any] = dict(prompt=prompt, model=model, seed=seed, return_bytes=False,
                                  format=pb.IMAGE_FORMAT_PNG)
    if case:
        fields.update(width=case["width"], height=case["height"], steps=case["steps"],
                      guidance_scale=case["guidance"])
    start = time.perf_counter()
    result = client.generate_image(timeout=RPC_TIMEOUT_S, **fields)
    wall = time.perf_counter() - start
    if len(result.images) != 1 or (case and (result.width, result.steps) != (case["width"], case["steps"])):
        raise RuntimeError(f"unexpected result: {len(result.images)} images, {result.width}px, {result.steps} steps")
    stages = {name: getattr(result.timings, name) for name in STAGES}
    stages["client_overhead_s"] = wall - result.timings.total_s  # gRPC, proxy, routing, manifest, reply
    return wall, stages


@dataclass(frozen=True)
class Quiet:
    """How foreign CPU load is handled: a timed call during which other processes used more than
    `threshold` cores is measured again (at most `retries` times) once the machine is quiet."""

    threshold: float = TARGET_QUIET
    retries: int = 4
    max_wait_s: float = 120.0


def compare(service: Service, spec: ModelSpec, cache_dir: Path, case: dict[str, Any], requests: int,
            warmup: int, settle_s: float, threads: int | None, quiet: Quiet) -> Comparison:
    """Bare vs end-to-end, interleaved one call at a time (never concurrent), the order alternating."""
    if threads:
        torch.set_num_threads(threads)
    log(f"loading {spec.name} in-process (all parts) for the bare pipeline")
    parts, info = load_bare(spec, cache_dir)
    comparison = Comparison(spec.name, dict(case))
    try:
        with GenmediaClient(service.address) as client:
            for i in range(warmup + requests):
                timed = i >= warmup
                prompt = f"a lighthouse on a cliff at dusk, oil painting, study {i}"  # no embedding-cache hits
                seed = 1000 + i
                order = ("bare", "e2e") if i % 2 == 0 else ("e2e", "bare")
                for kind in order:
                    for attempt in range(quiet.retries + 1):
                        time.sleep(settle_s)  # let the other side's threads go idle
                        before, cpu_before = METER.sample(), METER.by_process()
                        if kind == "bare":
                            seconds, stages = bare_call(parts, info, prompt, seed, case)
                        else:
                            seconds, stages = e2e_call(client, spec.name, prompt, seed, case)
                        foreign = METER.foreign_cores(before, METER.sample(), seconds)
                        cpu = METER.diff(cpu_before, METER.by_process())
                        noisy = foreign > quiet.threshold
                        log(f"{spec.name} {'run' if timed else 'warm-up'} {i}: {kind} {seconds:.3f} s"
                            f"{f'  (foreign load {foreign:.2f} cores)' if foreign > 0.05 else ''}")
                        if not (timed and noisy and attempt < quiet.retries):
                            break
                        comparison.discarded += 1
                        log("  discarded: other processes were busy; waiting, then measuring again")
                        METER.wait_quiet(quiet.threshold, quiet.max_wait_s)
                    if timed:
                        getattr(comparison, kind).append(seconds)
                        getattr(comparison, f"{kind}_stages").append(stages)
                        comparison.foreign.append(foreign)
                        totals = comparison.cpu.setdefault(kind, {})
                        for label, value in cpu.items():
                            totals[label] = totals.get(label, 0.0) + value
    finally:
        del parts
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    return comparison


def throughput_phase(address: str, clients: int, total: int, seed_base: int) -> dict[str, Any]:
    """`clients` threads, each with its own channel, sending GenerateImage back to back."""
    share = [total // clients + (1 if k < total % clients else 0) for k in range(clients)]
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)

    def worker(k: int) -> None:
        with GenmediaClient(address) as client:
            client.is_serving()  # connect before the clock starts
            barrier.wait()
            for j in range(share[k]):
                seed = seed_base + k * 100_000 + j
                try:
                    seconds, _ = e2e_call(client, TINY_MODEL, f"a small red boat, sketch {seed}", seed)
                    with lock:
                        latencies.append(seconds)
                except Exception as exc:  # noqa: BLE001 - counted and reported
                    with lock:
                        errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")

    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    before, cpu_before = METER.sample(), METER.by_process()
    start = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    after = METER.sample()
    cpu = METER.diff(cpu_before, METER.by_process())
    return {
        "foreign_load_cores": METER.foreign_cores(before, after, seconds),
        "machine_busy_cores": (after[0] - before[0]) / seconds,
        "cpu_s_per_image": _per(cpu, len(latencies)),
        "clients": clients, "requests": total, "ok": len(latencies), "errors": len(errors),
        "error_samples": errors[:3], "seconds": seconds, "images_per_s": len(latencies) / seconds,
        "latency_s": summarize(latencies),
    }


_STATS_CODE = r"""
import json, sys, ray
from ray import serve
ray.init(address=sys.argv[1], namespace="serve", log_to_driver=False, logging_level="ERROR")
stats = {name: serve.get_deployment_handle(name, app_name=sys.argv[2]).stats.remote().result(timeout_s=60)
         for name in ("Denoiser", "VAEDecoder")}
print("STATS=" + json.dumps(stats))
"""


def denoiser_stats(service: Service) -> dict | None:
    """The Denoiser's steps_run and recent batch sizes and the VAEDecoder's recent batch sizes,
    read by a short-lived Ray driver (outside any timed window)."""
    address = service.gcs_address()
    if address is None:
        return None
    try:
        env = {**os.environ, **service.ray_env}
        for key in ("RAY_ADDRESS", *service.ray_env_keys):
            env.pop(key, None)
        out = subprocess.run([sys.executable, "-c", _STATS_CODE, address, APP_NAME], cwd=REPO,
                             capture_output=True, text=True, timeout=120, env=env)
    except subprocess.TimeoutExpired:
        log("reading the stage stats timed out")
        return None
    for line in out.stdout.splitlines():
        if line.startswith("STATS="):
            return json.loads(line.removeprefix("STATS="))
    log(f"could not read the Denoiser's stats: {out.stderr.strip()[-300:]}")
    return None


def batch_report(before: dict | None, after: dict | None, images: int, steps_per_image: int) -> dict[str, Any] | None:
    """Batch sizes the Denoiser (images per step) and the VAEDecoder (decodes per call) ran in a phase."""
    if not before or not after:
        return None
    out: dict[str, Any] = {}
    steps = after["Denoiser"]["steps_run"] - before["Denoiser"]["steps_run"]
    sizes = after["Denoiser"]["batch_sizes"]
    if steps > 0:
        recent = sizes[-steps:]
        out["denoiser"] = {"steps_run": steps, "mean": images * steps_per_image / steps, "max": max(recent),
                           "histogram": _histogram(recent), "histogram_of_last_steps": len(recent)}
    # Every image of the phase went through exactly one decode batch: walk back until they add up.
    vae, total = [], 0
    for size in reversed(after["VAEDecoder"]["batch_sizes"]):
        if total >= images:
            break
        vae.append(size)
        total += size
    if vae:
        out["vae_decoder"] = {"calls": len(vae), "mean": total / len(vae), "max": max(vae),
                              "histogram": _histogram(vae), "complete": total == images}
    return out


def _histogram(sizes: list[int]) -> dict[int, int]:
    histogram: dict[int, int] = {}
    for size in sizes:
        histogram[size] = histogram.get(size, 0) + 1
    return dict(sorted(histogram.items()))


def throughput(service: Service, args, quiet: Quiet) -> dict[str, Any]:
    address = service.address
    with GenmediaClient(address) as client:
        warm = [e2e_call(client, TINY_MODEL, f"warm-up boat {i}", 50 + i)[0] for i in range(max(args.warmup, 3))]
    one_latency = statistics.median(warm)
    log(f"{TINY_MODEL} single-client warm-up latency {one_latency * 1000:.0f} ms")
    burst = throughput_phase(address, CONCURRENT_CLIENTS, CONCURRENT_CLIENTS * 3, seed_base=900_000)
    log(f"{TINY_MODEL} {CONCURRENT_CLIENTS}-client warm-up: {burst['images_per_s']:.1f} img/s")
    n1 = args.tiny_requests_1 or int(min(400, max(20, round(args.phase_seconds / one_latency))))
    n8 = args.tiny_requests_8 or int(min(2000, max(40, round(args.phase_seconds * burst["images_per_s"]))))
    n8 = -(-n8 // CONCURRENT_CLIENTS) * CONCURRENT_CLIENTS
    steps = 4  # tiny-sd's default steps (engines/presets.py); used only for the mean batch size

    def phase(clients: int, total: int, seed_base: int) -> tuple[dict[str, Any], dict | None]:
        for attempt in range(3):
            METER.wait_quiet(quiet.threshold, quiet.max_wait_s)
            before = denoiser_stats(service)
            log(f"{TINY_MODEL}: {clients} client(s), {total} requests in all")
            row = throughput_phase(address, clients, total, seed_base + attempt * 10_000_000)
            after = denoiser_stats(service)
            row["batches"] = batch_report(before, after, row["ok"], steps)
            log(f"  {row['images_per_s']:.2f} images/s in {row['seconds']:.1f} s, "
                f"foreign load {row['foreign_load_cores']:.2f} cores")
            if row["foreign_load_cores"] <= quiet.threshold:
                break
            row["repeated"] = attempt + 1
            log("  other processes were busy: measuring the phase again")
        return row

    single = phase(1, n1, 1_000_000)
    multi = phase(CONCURRENT_CLIENTS, n8, 2_000_000)
    ratio = multi["images_per_s"] / single["images_per_s"] if single["images_per_s"] else float("nan")
    return {"model": TINY_MODEL, "single": single, "concurrent": multi, "ratio": ratio,
            "target_ratio": TARGET_THROUGHPUT_RATIO, "pass": ratio >= TARGET_THROUGHPUT_RATIO}


# --- report --------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    info = {
        "cpu_count": os.cpu_count(), "processor": platform.processor() or platform.machine(),
        "platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
        "cuda": torch.cuda.is_available(),
    }
    if info["cuda"]:
        info["gpu"] = torch.cuda.get_device_name(0)
    try:
        info["affinity_cpus"] = len(os.sched_getaffinity(0))
    except AttributeError:
        pass
    return info


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:9.1f}"


def _cpu_text(per: dict[str, float], top: int = 9) -> str:
    items = list(per.items())
    total = dict(items).get("total", 0.0)
    rest = [(k, v) for k, v in items if k != "total"]
    text = ", ".join(f"{k} {v * 1000:.0f}" for k, v in rest[:top])
    if len(rest) > top:
        text += f", others {sum(v for _, v in rest[top:]) * 1000:.0f}"
    return f"total {total * 1000:.0f} = {text}"


def comparison_table(c: dict[str, Any]) -> list[str]:
    lines = [f"{c['model']} {c['width']}x{c['height']}, {c['steps']} steps, guidance {c['guidance']}, "
             f"sequential, n={c['bare_s'].get('n', 0)} timed (interleaved bare/e2e)"]
    lines.append(f"  {'':26}{'p50 ms':>9}  {'p95 ms':>9}  {'mean ms':>9}  {'min ms':>9}  {'max ms':>9}")
    for label, key in (("bare pipeline (in-proc)", "bare_s"), ("end-to-end (gRPC)", "e2e_s")):
        s = c[key]
        if s.get("n"):
            lines.append(f"  {label:26}{_ms(s['p50'])}  {_ms(s['p95'])}  {_ms(s['mean'])}  {_ms(s['min'])}  "
                         f"{_ms(s['max'])}")
    if "ratio_p50" in c:
        verdict = "PASS" if c["pass_p50"] else "FAIL"
        lines.append(f"  ratio e2e/bare: p50 {c['ratio_p50']:.3f}  p95 {c['ratio_p95']:.3f}   "
                     f"target p50 <= {c['target_ratio_p50']:.2f}: {verdict}")
    b, e = c["bare_stage_medians_s"], c["e2e_stage_medians_s"]
    if b or e:
        lines.append(f"  stage medians ms {'':9}{'text':>9}  {'denoise':>9}  {'decode':>9}  {'queued':>9}  "
                     f"{'store':>9}  {'other':>9}  {'total':>9}")
        if b:
            lines.append(f"  {'bare (in-proc marks)':26}{_ms(b.get('text_encode_s'))}  {_ms(b.get('denoise_s'))}  "
                         f"{_ms(b.get('decode_s'))}  {'-':>9}  {'-':>9}  {_ms(b.get('other_s'))}  "
                         f"{_ms(b.get('total_s'))}")
        if e:
            lines.append(f"  {'e2e (server timings)':26}{_ms(e.get('text_encode_s'))}  {_ms(e.get('denoise_s'))}  "
                         f"{_ms(e.get('decode_s'))}  {_ms(e.get('queued_s'))}  {_ms(e.get('store_s'))}  "
                         f"{_ms(e.get('client_overhead_s'))}  {_ms(e.get('total_s'))}")
            lines.append("  (e2e 'other' = client wall - server total_s: gRPC, proxy, routing, manifest, reply)")
    for kind, per in c.get("cpu_s_per_request", {}).items():
        if per:
            lines.append(f"  CPU ms per request, {kind}: " + _cpu_text(per))
    f = c.get("foreign_load_cores", {})
    if f.get("n"):
        lines.append(f"  other processes' CPU load during kept calls: median {f['p50']:.2f}, max {f['max']:.2f} cores; "
                     f"re-measured {c['discarded_noisy']} disturbed call(s), kept {c['noisy_kept']} disturbed")
    if c["errors"]:
        lines.append(f"  errors: {c['errors'][:3]}")
    return lines


def print_report(report: dict[str, Any]) -> None:
    m = report["machine"]
    out = ["", "=" * 100, "genmedia end-to-end benchmark",
           f"machine: {m['cpu_count']} CPUs (affinity {m.get('affinity_cpus', '?')}), processor "
           f"{m['processor']!r}, {m['platform']}", f"python {m['python']}, torch {m['torch']}, "
           f"CUDA: {'yes (' + m.get('gpu', '') + ')' if m['cuda'] else 'no'}",
           f"service start to SERVING: {report.get('service_start_s', float('nan')):.1f} s; torch_threads: "
           f"text 1, denoiser {report['args']['denoiser_threads']}, vae {report['args']['vae_threads']}", ""]
    for c in report.get("latency", []):
        out += comparison_table(c) + [""]
    gpu = report.get("gpu")
    if isinstance(gpu, str):
        out += [f"GPU comparison: {gpu}", ""]
    t = report.get("throughput")
    if t:
        out.append(f"{t['model']} throughput (default 64x64, default steps), after warm-up")
        out.append(f"  {'clients':>7}  {'requests':>8}  {'errors':>6}  {'seconds':>8}  {'images/s':>9}  "
                   f"{'p50 ms':>9}  {'p95 ms':>9}  {'foreign':>7}  denoiser batch: mean / max  histogram")
        for row in (t["single"], t["concurrent"]):
            lat = row["latency_s"]
            bat = (row.get("batches") or {}).get("denoiser")
            bat_text = f"{bat['mean']:.2f} / {bat['max']}  {bat['histogram']}" if bat else "n/a"
            if bat and bat["histogram_of_last_steps"] < bat["steps_run"]:
                bat_text += f" (histogram: last {bat['histogram_of_last_steps']} of {bat['steps_run']} steps)"
            out.append(f"  {row['clients']:>7}  {row['requests']:>8}  {row['errors']:>6}  {row['seconds']:>8.2f}  "
                       f"{row['images_per_s']:>9.2f}  {_ms(lat.get('p50'))}  {_ms(lat.get('p95'))}  "
                       f"{row['foreign_load_cores']:>7.2f}  {bat_text}")
        out.append("  (foreign: average cores used by processes outside the benchmark during the phase)")
        for row in (t["single"], t["concurrent"]):
            vae = (row.get("batches") or {}).get("vae_decoder")
            if vae:
                out.append(f"  {row['clients']} client(s): VAE decode batches mean {vae['mean']:.2f}, max {vae['max']}, "
                           f"{vae['histogram']}")
            out.append(f"  {row['clients']} client(s): machine busy {row['machine_busy_cores']:.2f} cores; "
                       f"CPU ms per image: {_cpu_text(row['cpu_s_per_image'])}")
        out.append(f"  ratio {CONCURRENT_CLIENTS} clients / 1 client: {t['ratio']:.2f}x   "
                   f"target >= {t['target_ratio']:.1f}x: {'PASS' if t['pass'] else 'FAIL'}")
    if report.get("error"):
        out.append(f"benchmark error: {report['error']}")
    out.append("=" * 100)
    print("\n".join(out), flush=True)


# --- main ----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m loadtests.bench_e2e", description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=20, help="timed requests per side (bare, e2e)")
    p.add_argument("--warmup", type=int, default=3, help="untimed requests per side first")
    p.add_argument("--port", type=int, default=9100, help="gRPC port of the service")
    p.add_argument("--out", type=Path, default=None, help="write the numbers as JSON here")
    p.add_argument("--gpu-model", default=None, help="also compare this preset (e.g. sd15-arch) at 512x512, "
                   "30 steps, fp16 on cuda; skipped without a GPU")
    p.add_argument("--cache-dir", type=Path, default=REPO / "var" / "cache", help="model cache (built presets)")
    p.add_argument("--settle", type=float, default=0.25, help="pause before each timed call, seconds")
    p.add_argument("--phase-seconds", type=float, default=15.0, help="aimed length of each throughput phase")
    p.add_argument("--tiny-requests-1", type=int, default=0, help="requests of the 1-client phase (0: auto)")
    p.add_argument("--tiny-requests-8", type=int, default=0, help="requests of the 8-client phase (0: auto)")
    p.add_argument("--max-foreign-load", type=float, default=TARGET_QUIET,
                   help="cores other processes may use during a timed call before it is measured again")
    p.add_argument("--retries", type=int, default=4, help="re-measurements of a disturbed call")
    p.add_argument("--quiet-wait", type=float, default=120.0, help="longest wait for a quiet machine, seconds")
    p.add_argument("--denoiser-threads", type=int, default=2, help="torch_threads of the Denoiser (experiments)")
    p.add_argument("--vae-threads", type=int, default=2, help="torch_threads of the VAEDecoder (experiments)")
    p.add_argument("--skip-latency", action="store_true", help="only the throughput phases")
    p.add_argument("--skip-throughput", action="store_true", help="only the latency comparison")
    p.add_argument("--start-timeout", type=float, default=300.0, help="seconds to wait for SERVING")
    p.add_argument("--wait-others", type=float, default=900.0,
                   help="seconds to wait for other `serve run`/Ray instances to finish first")
    p.add_argument("--ray-stop-force", action="store_true",
                   help="run `ray stop --force` at the end (stops EVERY Ray instance on this machine)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cache_dir = args.cache_dir.expanduser().resolve()
    gpu_model = args.gpu_model if args.gpu_model and torch.cuda.is_available() else None
    report: dict[str, Any] = {"machine": machine(), "args": {k: str(v) for k, v in vars(args).items()},
                              "latency": []}
    if args.gpu_model and gpu_model is None:
        report["gpu"] = "skipped: no GPU"
        log(f"--gpu-model {args.gpu_model}: skipped: no GPU")

    def on_sigterm(signum, frame):  # so that the finally below stops the service
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    # Started with `&` from a script, this process (and so `serve run`) would ignore SIGINT; the
    # service is stopped with a SIGINT, so restore the default for us and our children.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    workdir = Path(tempfile.mkdtemp(prefix="genmedia-bench-"))
    service: Service | None = None
    status = 0
    try:
        wait_for_machine(args.wait_others, args.port)
        http_port = free_port({args.port})
        config = serve_config(args.port, http_port, workdir / "artifacts", cache_dir, gpu_model,
                              args.denoiser_threads, args.vae_threads)
        config_path = workdir / "serve.yaml"
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        log(f"serve config: {config_path} (gRPC {args.port}, HTTP {http_port})")

        # Build (or find) the presets here first, so that the replicas only load them.
        torch.set_num_threads(2)
        from engines.sources import resolve_source

        for name in [CPU_MODEL, TINY_MODEL] + ([gpu_model] if gpu_model else []):
            started = time.perf_counter()
            path = resolve_source(f"preset:{name}", cache_dir)
            log(f"preset {name}: {path} ({time.perf_counter() - started:.1f} s)")

        service = Service(config_path, workdir / "serve.log", args.port)
        service.start()
        report["service_start_s"] = service.wait_serving(args.start_timeout)
        log(f"SERVING after {report['service_start_s']:.1f} s")

        cpu_spec = ModelSpec(name=CPU_MODEL, source=f"preset:{CPU_MODEL}", device="cpu")
        quiet = Quiet(args.max_foreign_load, args.retries, args.quiet_wait)
        METER.service = service
        METER.wait_quiet(quiet.threshold, quiet.max_wait_s)
        if not args.skip_latency:
            comparison = compare(service, cpu_spec, cache_dir, CPU_CASE, args.requests, args.warmup, args.settle, 2,
                                 quiet)
            report["latency"].append(comparison.report())
        if gpu_model and not args.skip_latency:
            gpu_spec = ModelSpec(name=gpu_model, source=f"preset:{gpu_model}", precision="fp16", device="cuda")
            comparison = compare(service, gpu_spec, cache_dir, GPU_CASE, args.requests, args.warmup, args.settle,
                                 None, quiet)
            report["latency"].append(comparison.report())
        if not args.skip_throughput:
            report["throughput"] = throughput(service, args, quiet)
    except KeyboardInterrupt:
        report["error"] = "interrupted"
        status = 130
    except Exception as exc:  # noqa: BLE001 - reported, then the service is stopped
        report["error"] = f"{type(exc).__name__}: {exc}"
        status = 1
    finally:
        if service is not None:
            if status and service.proc is not None:
                log("service log tail:\n" + service.log_tail())
            service.stop()
        if args.ray_stop_force:
            subprocess.run([str(BIN / "ray"), "stop", "--force"], check=False)
    print_report(report)
    if args.out:
        args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
        log(f"wrote {args.out}")
    log(f"work dir (config, log, artifacts): {workdir}")
    return status


if __name__ == "__main__":
    sys.exit(main())
