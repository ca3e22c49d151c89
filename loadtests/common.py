"""Constants and the log line shared by the benchmark's modules (no torch, no Ray: cheap to import).

In: nothing. Out: paths (REPO, BIN), the Serve app name, the benchmark's models, request cases and
targets, and `log(message)`, which writes a timestamped line to stderr.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the venv's bin: `serve` and `ray` are run from here
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
    """One progress line on stderr, `[bench HH:MM:SS] message` (stdout is kept for the table)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
