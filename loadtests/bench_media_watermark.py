"""Audio and video watermark benchmarks in one command: both tables, the worse exit code.

    .venv/bin/python -m loadtests.bench_media_watermark [--quick] [--only audio|video]
        [--audio-args "..."] [--video-args "..."] [--out-dir DIR]

Runs ``loadtests.bench_audio_watermark`` and then ``loadtests.bench_video_watermark`` in this
process (their ``main(argv)``), lets their progress go to stderr as it comes, and prints their
stdout (notes, tables, target checks) together at the end, audio first. The exit code is the
worse of the two (0: all targets met, 1: a target missed, 2: a benchmark failed to run).

Default counts are the issue's: audio 20 clips x 10 s per set and 1,000 unmarked clips; video
10 photo-pan videos per size (256, 512), 10 tiny-t2v videos and 200 unmarked videos (about
half an hour on two CPU cores, the audio part most of it). ``--quick`` is a smoke run with
small counts (a few minutes); ``--audio-args`` / ``--video-args`` are appended to the
benchmark's arguments (later ones win), e.g. ``--video-args "--videos 4 --sizes 256"``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import shlex
import sys
import time
import traceback
from pathlib import Path

FULL = {
    "audio": ["--clips", "20", "--seconds", "10", "--false-positive", "1000"],
    "video": ["--videos", "10", "--sizes", "256,512", "--false-positive", "200"],
}
QUICK = {
    "audio": ["--clips", "2", "--seconds", "4", "--false-positive", "20"],
    "video": ["--videos", "2", "--generated", "1", "--sizes", "256", "--false-positive", "8"],
}
MODULES = {"audio": "loadtests.bench_audio_watermark", "video": "loadtests.bench_video_watermark"}


def run_one(kind: str, argv: list[str]) -> tuple[int, str, float]:
    """Runs one benchmark's main(argv); returns (exit code, its stdout, seconds)."""
    import importlib

    out = io.StringIO()
    t = time.perf_counter()
    print(f"== {kind}: python -m {MODULES[kind]} {shlex.join(argv)}", file=sys.stderr, flush=True)
    try:
        module = importlib.import_module(MODULES[kind])
        with contextlib.redirect_stdout(out):
            rc = module.main(argv)
    except SystemExit as exc:          # argparse errors and explicit exits
        rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except Exception:  # noqa: BLE001 - report the failure, still run the other benchmark
        out.write(f"{MODULES[kind]} failed:\n{traceback.format_exc()}")
        rc = 2
    return int(rc or 0), out.getvalue(), time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    ap.add_argument("--only", choices=sorted(MODULES), default=None, help="run one of the two")
    ap.add_argument("--audio-args", default="", help="extra arguments for bench_audio_watermark")
    ap.add_argument("--video-args", default="", help="extra arguments for bench_video_watermark")
    ap.add_argument("--out-dir", default=None, help="write audio.json and video.json here")
    args = ap.parse_args(argv)

    base = QUICK if args.quick else FULL
    extra = {"audio": shlex.split(args.audio_args), "video": shlex.split(args.video_args)}
    kinds = [args.only] if args.only else ["audio", "video"]
    if args.out_dir:
        Path(args.out_dir).mkdir(parents=True, exist_ok=True)
    results = {}
    for kind in kinds:
        bench_argv = base[kind] + extra[kind]
        if args.out_dir:
            bench_argv += ["--out", str(Path(args.out_dir) / f"{kind}.json")]
        results[kind] = (bench_argv, *run_one(kind, bench_argv))

    verdicts = {0: "all targets met", 1: "targets missed"}
    for kind, (bench_argv, rc, text, seconds) in results.items():
        print(f"\n{'=' * 30} {kind} watermark ({seconds:.0f} s): python -m {MODULES[kind]} "
              f"{shlex.join(bench_argv)}")
        print(text.rstrip())
    print("\n" + "; ".join(f"{kind}: {verdicts.get(rc, f'failed (exit {rc})')}"
                           for kind, (_, rc, _, _) in results.items()))
    return max((rc for _, rc, _, _ in results.values()), default=0)


if __name__ == "__main__":
    sys.exit(main())
