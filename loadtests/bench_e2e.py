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

The pieces live in modules beside this one: service_runner (the Serve config, `serve run`, its
clean-up, the stages' stats), cpu_accounting (per-process CPU, foreign load), timed_calls (one bare
or end-to-end call), stats (percentiles and other summaries), report (the table and the JSON), and
common (shared constants, log). This module holds the argument parsing and the measurement phases.
"""

from __future__ import annotations

import argparse
import gc
import signal
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from engines.registry import ModelSpec
from genmedia.client import GenmediaClient
from loadtests.common import (
    CONCURRENT_CLIENTS, CPU_CASE, CPU_MODEL, GPU_CASE, REPO, TARGET_P50_RATIO, TARGET_QUIET,
    TARGET_THROUGHPUT_RATIO, TINY_MODEL, log,
)
from loadtests.cpu_accounting import METER, Quiet
from loadtests.report import machine, print_report, write_json
from loadtests.service_runner import (
    Service, denoiser_stats, free_port, ray_stop_force, serve_config, wait_for_machine, write_serve_config,
)
from loadtests.stats import batch_report, per_unit, stage_medians, summarize
from loadtests.timed_calls import bare_call, e2e_call, load_bare

# --- measurements --------------------------------------------------------------------------------


@dataclass
class Comparison:
    """The timed calls of one bare vs end-to-end comparison; `report()` -> its JSON-ready summary
    (percentiles, ratios against the target, stage medians, CPU per request, foreign load)."""

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
            kind: per_unit(totals, len(getattr(self, kind))) for kind, totals in self.cpu.items()
        }
        out["bare_stage_medians_s"] = stage_medians(self.bare_stages)
        out["e2e_stage_medians_s"] = stage_medians(self.e2e_stages)
        return out


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
    """`clients` threads, each with its own channel, sending GenerateImage back to back; `total`
    requests in all -> one throughput row (images/s, latency summary, CPU per image, foreign load)."""
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
        "cpu_s_per_image": per_unit(cpu, len(latencies)),
        "clients": clients, "requests": total, "ok": len(latencies), "errors": len(errors),
        "error_samples": errors[:3], "seconds": seconds, "images_per_s": len(latencies) / seconds,
        "latency_s": summarize(latencies),
    }


def throughput(service: Service, args, quiet: Quiet) -> dict[str, Any]:
    """tiny-sd: warm-up, then a 1-client and an 8-client phase (each measured again, up to 3 times
    in all, if other processes were busy); the two rows with their batch sizes, and the ratio."""
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

    def phase(clients: int, total: int, seed_base: int) -> dict[str, Any]:
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


# --- main ----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see --help)."""
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
    """One benchmark run (see the module docstring); the exit status."""
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
        write_serve_config(config_path, config)
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
            ray_stop_force()
    print_report(report)
    if args.out:
        write_json(report, args.out)
        log(f"wrote {args.out}")
    log(f"work dir (config, log, artifacts): {workdir}")
    return status


if __name__ == "__main__":
    sys.exit(main())
