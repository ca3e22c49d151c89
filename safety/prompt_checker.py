"""Prompt checks: normalisation, then the rule layer and the semantic layer, per category.

    checker = PromptChecker.load()
    scores = checker.score(["a photo of ..."])[0]     # list[CategoryScore], every prompt category

A category's score is the higher of its rule score and its semantic score. `sexual_minors`
scores 1.0 when a minor subject occurs with any sexual or suggestive term (or with a semantic
sexual score at or above the rule book's floor), or when a direct term occurs.
"""

from __future__ import annotations

from pathlib import Path

from safety.categories import PROMPT_CATEGORIES, Category
from safety.normalize import normalize
from safety.rules import RuleBook
from safety.semantic import SemanticClassifier
from safety.verdict import CategoryScore


class PromptChecker:
    def __init__(self, rules: RuleBook, semantic: SemanticClassifier):
        self.rules = rules
        self.semantic = semantic

    @classmethod
    def load(cls, rules_path: Path | str | None = None, model_dir: Path | None = None) -> "PromptChecker":
        """Raises RuleBookError (bad rule book) or ClassifierUnavailable (model missing)."""
        rules = RuleBook.load(rules_path)
        semantic = SemanticClassifier(block_p=rules.semantic_block_p, slope=rules.semantic_slope,
                                      model_dir=model_dir)
        return cls(rules, semantic)

    @property
    def model_versions(self) -> dict[str, str]:
        return {"prompt_semantic": self.semantic.version, "prompt_rules": self.rules.digest}

    def score(self, prompts: list[str]) -> list[list[CategoryScore]]:
        """Scores for every prompt category, per prompt. Raises ClassifierUnavailable."""
        normalized = [normalize(p) for p in prompts]
        semantic = self.semantic.scores([n.canonical for n in normalized])
        results = []
        for text, sem in zip(normalized, semantic):
            rule = self.rules.match(text)
            merged: dict[Category, CategoryScore] = {}
            for c in PROMPT_CATEGORIES:
                candidates = [s for s in (rule.get(c), sem.get(c)) if s is not None]
                merged[c] = max(candidates, key=lambda s: s.score) if candidates else CategoryScore(c, 0.0, "none")
            merged[Category.SEXUAL_MINORS] = self._minors(text, merged[Category.SEXUAL], merged[Category.SEXUAL_MINORS])
            results.append([merged[c] for c in PROMPT_CATEGORIES])
        return results

    def _minors(self, text, sexual: CategoryScore, current: CategoryScore) -> CategoryScore:
        direct, subject, suggestive = self.rules.minor_context(text)
        if direct:
            return CategoryScore(Category.SEXUAL_MINORS, 1.0, "rule", direct)
        if subject:
            if sexual.source == "rule" and sexual.score > 0:
                return CategoryScore(Category.SEXUAL_MINORS, 1.0, "rule", f"{subject} + {sexual.evidence}")
            if suggestive:
                return CategoryScore(Category.SEXUAL_MINORS, 1.0, "rule", f"{subject} + {suggestive}")
            if sexual.score >= self.rules.minors.semantic_sexual_floor:
                return CategoryScore(Category.SEXUAL_MINORS, 1.0, "semantic",
                                     f"{subject} + sexual similarity {sexual.score:.2f}")
        return current
