"""The semantic layer's classifier head: a small MLP (one ReLU hidden layer) over MiniLM embeddings.

Trained by scripts/train_safety_head.py on the labelled development prompts and the rule
book's exemplars; stored as plain numpy in safety/data/semantic_head.npz (no scikit-learn at
serving time). `probabilities(embeddings)` gives, per prompt, one probability per class:
`benign` and the eight prompt categories. The shipped head also carries the low-rank adapter it
was fine-tuned with (safety/adapter.py; `adapter` is empty for a `--frozen` head), which the
semantic layer merges into MiniLM before it embeds anything: the head is only valid on the
adapted encoder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from safety.adapter import read_adapter
from safety.categories import PROMPT_CATEGORIES
from safety.errors import ClassifierUnavailable

HEAD_PATH = Path(__file__).parent / "data" / "semantic_head.npz"
CLASSES = ["benign"] + [c.value for c in PROMPT_CATEGORIES]


class CategoryHead:
    def __init__(self, path: Path | None = None):
        path = Path(path) if path is not None else HEAD_PATH
        try:
            with np.load(path) as data:
                self.layers = [(data[f"w{i}"], data[f"b{i}"]) for i in (1, 2)]
                self.adapter, self.adapter_scale = read_adapter(data)
                classes = [str(c) for c in data["classes"]]
                self.version = f"head@{data['training_digest']}"
        except (OSError, KeyError, ValueError) as exc:
            raise ClassifierUnavailable(f"semantic classifier head unavailable: {path}: {exc}") from None
        if classes != CLASSES:
            raise ClassifierUnavailable(f"semantic classifier head {path} has classes {classes}, expected {CLASSES}")

    @property
    def input_size(self) -> int:
        return self.layers[0][0].shape[0]

    def probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        (w1, b1), (w2, b2) = self.layers
        hidden = np.maximum(embeddings @ w1 + b1, 0.0)
        logits = hidden @ w2 + b2
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)
