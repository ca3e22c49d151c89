#!/usr/bin/env python3
"""Trains the semantic layer's classifier head: an MLP (one hidden ReLU layer) over MiniLM embeddings.

    python scripts/train_safety_head.py             # writes safety/data/semantic_head.npz
    python scripts/train_safety_head.py --cv 5      # also reports k-fold cross-validation

Training data: the labelled prompt sets used for development (loadtests/data/safety_prompts_
{dev,test,holdout,final,release,gate}.jsonl) plus the rule book's exemplars and benign anchors. Never the `audit`
set: that one is kept for the reported evaluation. Inputs are normalised exactly as at serving
time (safety.normalize), and the classes are `benign` plus the eight prompt categories. The
output is plain numpy (weights, bias, class names, a digest of the training data), so serving
needs no scikit-learn.
"""

from __future__ import annotations

import argparse
import hashlib
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

TRAINING_SETS = ("dev", "test", "holdout", "final", "release", "gate")


def training_rows() -> list[tuple[str, str]]:
    rows = [(r["text"], r["category"] if r["label"] == "unsafe" else "benign")
            for name in TRAINING_SETS for r in load_set(name)]
    rules = RuleBook.load()
    for category, exemplars in rules.exemplars.items():
        rows += [(e, category.value) for e in exemplars]
    rows += [(b, "benign") for b in rules.benign_exemplars]
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cv", type=int, default=0, help="k-fold cross-validation report (0: skip)")
    parser.add_argument("--hidden", type=int, default=512, help="hidden units")
    parser.add_argument("--alpha", type=float, default=1e-3, help="L2 regularisation")
    args = parser.parse_args()
    from sentence_transformers import SentenceTransformer
    from sklearn.neural_network import MLPClassifier
    from sklearn.model_selection import StratifiedKFold

    rows = training_rows()
    texts = [normalize(t).canonical for t, _ in rows]
    labels = np.array([CLASSES.index(c) for _, c in rows])
    model = SentenceTransformer(str(bundled_model_dir()), device="cpu")
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
    digest = hashlib.sha256("\n".join(f"{c}\t{t}" for t, c in rows).encode()).hexdigest()[:12]
    (w1, w2), (b1, b2) = clf.coefs_, clf.intercepts_
    np.savez_compressed(HEAD_PATH, w1=w1.astype(np.float32), b1=b1.astype(np.float32), w2=w2.astype(np.float32),
                        b2=b2.astype(np.float32), classes=np.array(CLASSES), training_digest=np.array(digest))
    print(f"wrote {HEAD_PATH.relative_to(REPO)}: {len(rows)} training rows, digest {digest}")
    assert [c.value for c in PROMPT_CATEGORIES] == CLASSES[1:]
    return 0


if __name__ == "__main__":
    sys.exit(main())
