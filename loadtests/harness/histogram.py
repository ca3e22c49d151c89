"""Latency histograms: HdrHistogram (the `hdrhistogram` package, pinned in the `test` extra).

Values are recorded in microseconds from 1 us to 1 hour with 3 significant digits, so every
percentile is within 0.1 % of the true value whatever the range; `encoded()` is the standard
compressed base64 form, which other HDR tools can read and `Latency.decode` merges back.
"""

from __future__ import annotations

from typing import Any

from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 3_600 * 1_000_000
SIGNIFICANT_DIGITS = 3
PERCENTILES = (50.0, 90.0, 99.0, 99.9)


def percentile_key(p: float) -> str:
    """50.0 -> 'p50', 99.9 -> 'p99.9'."""
    return "p" + (f"{p:g}")


class Latency:
    """An HDR histogram of latencies in seconds."""

    def __init__(self) -> None:
        self.hist = HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)

    def record(self, seconds: float) -> None:
        us = int(round(seconds * 1e6))
        self.hist.record_value(min(max(us, LOWEST_US), HIGHEST_US))

    def merge(self, other: "Latency") -> "Latency":
        self.hist.add(other.hist)
        return self

    @property
    def count(self) -> int:
        return int(self.hist.get_total_count())

    def percentile(self, p: float) -> float:
        """The latency (s) at percentile `p` (0..100); NaN when empty."""
        if self.count == 0:
            return float("nan")
        return self.hist.get_value_at_percentile(p) / 1e6

    def summary(self, percentiles: tuple[float, ...] = PERCENTILES) -> dict[str, Any]:
        """{'count', 'min', 'mean', 'max', 'p50', 'p90', 'p99', 'p99.9'} in seconds (None when empty)."""
        if self.count == 0:
            return {"count": 0, **{k: None for k in ("min", "mean", "max")},
                    **{percentile_key(p): None for p in percentiles}}
        return {
            "count": self.count,
            "min": self.hist.get_min_value() / 1e6,
            "mean": self.hist.get_mean_value() / 1e6,
            "max": self.hist.get_max_value() / 1e6,
            **{percentile_key(p): self.percentile(p) for p in percentiles},
        }

    def encoded(self) -> str:
        """The histogram in HdrHistogram's compressed base64 encoding."""
        data = self.hist.encode()
        return data.decode("ascii") if isinstance(data, bytes) else str(data)

    @classmethod
    def decode(cls, encoded: str) -> "Latency":
        out = cls()
        out.hist.decode_and_add(encoded)
        return out
