"""Verify's hit rate: does an attacked released image lead back to its own record?

    python -m loadtests.bench_verify [--sizes 512,1024] [--generated 4] [--distractors 100000]

Seals images as the service does (watermark, fingerprint, C2PA; dev keys in a temporary folder),
records them in a SQLite record store with `--distractors` random extra fingerprints indexed, then
runs every attack of loadtests.watermark_attacks on every image and verifies the result with
provenance.verification.Verifier. A hit is a verdict of GENERATED_HERE or LIKELY_GENERATED_HERE
naming the image's own generation. Target: at least 99% of attacked images. Images: scikit-image
sample photos and tiny-sd generations (noise-like), at each size.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from loadtests.bench_watermark import PHOTOS, load_images
from loadtests.watermark_attacks import ATTACKS

TARGET = 0.99


def encode_png(pixels: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


def generated_images(count: int, size: int) -> list[tuple[str, np.ndarray]]:
    from loadtests.eval_safety_images import generated

    return [(f"tiny-sd-{size}-{i}", img) for i, (_, img) in enumerate(generated(count, size))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="512,1024")
    parser.add_argument("--generated", type=int, default=4, help="tiny-sd generations per size")
    parser.add_argument("--distractors", type=int, default=100_000, help="random fingerprints also indexed")
    args = parser.parse_args(argv)

    from provenance.c2pa import ManifestVerifier
    from provenance.fingerprint import HammingIndex
    from provenance.keys import load_keys
    from provenance.records import ArtifactRecord, GenerationRecord, RecordStore, prompt_hmac
    from provenance.sealing import Sealer
    from provenance.verification import Authenticity, Verifier, index_key
    from services.records import new_generation_id

    work = Path(tempfile.mkdtemp(prefix="genmedia-bench-verify-"))
    keys = load_keys(env={}, dev_dir=work / "keys")
    sealer = Sealer(keys, "bench")
    records = RecordStore.open(f"sqlite:///{work / 'records.db'}")
    index = HammingIndex()
    rng = np.random.default_rng(0)
    if args.distractors:
        index.add_many([f"distractor/{i}" for i in range(args.distractors)],
                       rng.integers(0, 256, (args.distractors, 32), dtype=np.uint8))
    verifier = Verifier(sealer.watermarker, records, index, ManifestVerifier(keys.c2pa_trust_anchors))

    sealed = []
    for size in [int(s) for s in args.sizes.split(",")]:
        images = load_images(size, PHOTOS, 0) + generated_images(args.generated, size)
        for name, pixels in images:
            gid = new_generation_id()
            s = sealer.seal(pixels, "image/png", encode_png, generation_id=gid, index=0, model="bench",
                            model_version="v1")
            records.add(GenerationRecord(
                generation_id=gid, tenant="bench", kind="image", model="bench", model_version="v1",
                prompt_hmac=prompt_hmac(keys.record_key, "bench", name), created_at=datetime.now(timezone.utc),
                artifacts=(ArtifactRecord(gid, 0, f"file:///bench/{gid}.png", s.sha256, "image/png", s.payload,
                                          s.fingerprint, width=s.width, height=s.height),)))
            index.add(index_key(gid, 0), s.fingerprint)
            sealed.append((size, name, gid, s))

    from PIL import Image

    hits = defaultdict(lambda: [0, 0, 0])  # (size, attack) -> [hits, by watermark, total]
    times = []
    for size, name, gid, s in sealed:
        marked = np.asarray(Image.open(io.BytesIO(s.data)).convert("RGB"))
        cases = [("none (the released file)", s.data)] + [(a, encode_png(fn(marked))) for a, fn in ATTACKS.items()]
        for attack, data in cases:
            t = time.perf_counter()
            report = verifier.verify(data)
            times.append(time.perf_counter() - t)
            ok = report.record is not None and report.record.generation_id == gid and report.authenticity in (
                Authenticity.GENERATED_HERE, Authenticity.LIKELY_GENERATED_HERE)
            h = hits[(size, attack)]
            h[0] += ok
            h[1] += ok and report.watermark_found
            h[2] += 1

    total = sum(h[0] for h in hits.values())
    count = sum(h[2] for h in hits.values())
    print(f"Verify on {len(sealed)} sealed images ({len(PHOTOS)} photos and {args.generated} tiny-sd generations "
          f"per size), {len(index):,} fingerprints indexed, CPU\n")
    print("| size | attack | right record | of which by watermark |")
    print("|---|---|---:|---:|")
    for (size, attack), (h, w, n) in sorted(hits.items(), key=lambda kv: (kv[0][0], kv[0][1] != "none (the released file)", kv[0][1])):
        print(f"| {size} | {attack} | {h}/{n} | {w}/{n} |")
    rate = total / count
    print(f"\nright record for {total}/{count} attacked or original images ({rate:.4f}); target {TARGET}: "
          f"{'met' if rate >= TARGET else 'MISSED'}")
    print(f"Verify latency p50 {1000 * np.median(times):.1f} ms, p99 {1000 * np.percentile(times, 99):.1f} ms")
    return 0 if rate >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
