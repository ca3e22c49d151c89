"""Pure summary helpers of the benchmark: lists and dicts of numbers in, JSON-ready dicts out.

Nothing here reads the clock, /proc or the service.
"""

from __future__ import annotations

import statistics
from typing import Any

import numpy as np


def summarize(values: list[float]) -> dict[str, float]:
    """{"n", "p50", "p95", "mean", "min", "max"} of `values` ({"n": 0} when empty)."""
    a = np.asarray(values, dtype=float)
    if a.size == 0:
        return {"n": 0}
    return {
        "n": int(a.size), "p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)),
        "mean": float(a.mean()), "min": float(a.min()), "max": float(a.max()),
    }


def per_unit(totals: dict[str, float], n: int) -> dict[str, float]:
    """CPU seconds per request (or image) by process role, largest first, after "total".

    `totals` are CPU seconds by role over `n` requests; roles under 0.5 ms per request are left out
    (they still count in "total"). {} when `n` is 0.
    """
    if not n:
        return {}
    rows = {k: v / n for k, v in sorted(totals.items(), key=lambda kv: -kv[1]) if v / n >= 0.0005}
    return {"total": sum(totals.values()) / n, **rows}


def stage_medians(rows: list[dict[str, float]]) -> dict[str, float]:
    """The median of each stage key over the rows that have it, keys sorted."""
    keys = sorted({k for r in rows for k in r})
    return {k: statistics.median(r[k] for r in rows if k in r) for k in keys}


def histogram(sizes: list[int]) -> dict[int, int]:
    """{size: count}, sizes ascending."""
    counts: dict[int, int] = {}
    for size in sizes:
        counts[size] = counts.get(size, 0) + 1
    return dict(sorted(counts.items()))


def batch_report(before: dict | None, after: dict | None, images: int, steps_per_image: int) -> dict[str, Any] | None:
    """Batch sizes the Denoiser (images per step) and the VAEDecoder (decodes per call) ran in a phase.

    `before` and `after` are the stats read before and after the phase ({"Denoiser": {"steps_run",
    "batch_sizes"}, "VAEDecoder": {"batch_sizes"}}, the batch sizes the most recent last); `images`
    is the number of images the phase made. None when either read failed.
    """
    if not before or not after:
        return None
    out: dict[str, Any] = {}
    steps = after["Denoiser"]["steps_run"] - before["Denoiser"]["steps_run"]
    sizes = after["Denoiser"]["batch_sizes"]
    if steps > 0:
        recent = sizes[-steps:]
        out["denoiser"] = {"steps_run": steps, "mean": images * steps_per_image / steps, "max": max(recent),
                           "histogram": histogram(recent), "histogram_of_last_steps": len(recent)}
    # Every image of the phase went through exactly one decode batch: walk back until they add up.
    vae, total = [], 0
    for size in reversed(after["VAEDecoder"]["batch_sizes"]):
        if total >= images:
            break
        vae.append(size)
        total += size
    if vae:
        out["vae_decoder"] = {"calls": len(vae), "mean": total / len(vae), "max": max(vae),
                              "histogram": histogram(vae), "complete": total == images}
    return out
