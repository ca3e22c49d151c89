"""The benchmark's report: the machine description, the printed table, and the JSON file.

In: the report dict that `bench_e2e.main` builds ({"machine", "args", "latency": [comparison
reports], optional "service_start_s", "gpu", "throughput", "error"}); a report read back from the
JSON file renders the same way. Out: `render_report(report)` -> the table text, `print_report`
prints it to stdout, `write_json(report, path)` writes the numbers. Only `machine()` touches torch.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

from loadtests.common import CONCURRENT_CLIENTS


def machine() -> dict[str, Any]:
    """CPU count and affinity, processor, platform, Python and torch versions, CUDA and the GPU."""
    import torch

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


def cpu_text(per: dict[str, float], top: int = 9) -> str:
    """"total T = role ms, ..." of a per-request CPU dict (stats.per_unit), the rest as "others"."""
    items = list(per.items())
    total = dict(items).get("total", 0.0)
    rest = [(k, v) for k, v in items if k != "total"]
    text = ", ".join(f"{k} {v * 1000:.0f}" for k, v in rest[:top])
    if len(rest) > top:
        text += f", others {sum(v for _, v in rest[top:]) * 1000:.0f}"
    return f"total {total * 1000:.0f} = {text}"


def comparison_table(c: dict[str, Any]) -> list[str]:
    """The lines of one bare vs end-to-end comparison (a `Comparison.report()` dict)."""
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
            lines.append(f"  CPU ms per request, {kind}: " + cpu_text(per))
    f = c.get("foreign_load_cores", {})
    if f.get("n"):
        lines.append(f"  other processes' CPU load during kept calls: median {f['p50']:.2f}, max {f['max']:.2f} cores; "
                     f"re-measured {c['discarded_noisy']} disturbed call(s), kept {c['noisy_kept']} disturbed")
    if c["errors"]:
        lines.append(f"  errors: {c['errors'][:3]}")
    return lines


def throughput_table(t: dict[str, Any]) -> list[str]:
    """The lines of the throughput phases (the dict `bench_e2e.throughput` returns)."""
    out = [f"{t['model']} throughput (default 64x64, default steps), after warm-up"]
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
                   f"CPU ms per image: {cpu_text(row['cpu_s_per_image'])}")
    out.append(f"  ratio {CONCURRENT_CLIENTS} clients / 1 client: {t['ratio']:.2f}x   "
               f"target >= {t['target_ratio']:.1f}x: {'PASS' if t['pass'] else 'FAIL'}")
    return out


def render_report(report: dict[str, Any]) -> str:
    """The whole table as text (what `print_report` prints)."""
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
        out += throughput_table(t)
    if report.get("error"):
        out.append(f"benchmark error: {report['error']}")
    out.append("=" * 100)
    return "\n".join(out)


def print_report(report: dict[str, Any]) -> None:
    """Prints `render_report(report)` to stdout."""
    print(render_report(report), flush=True)


def write_json(report: dict[str, Any], path: Path) -> None:
    """Writes `report` to `path` as indented JSON (values JSON cannot hold as their str())."""
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
