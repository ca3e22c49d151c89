"""Prompt checks: normalisation, then the rule layer and the semantic layer, per category.

    checker = PromptChecker.load()
    scores = checker.score(["a photo of ..."])[0]     # list[CategoryScore], every prompt category

A category's score is the higher of its rule score and its semantic score, except that rule hits
of single words are overruled when the semantic layer is confident the prompt is benign
(p(benign) at or above the rule book's `semantic.benign_veto_p`): rules match words, and many
words have a harmless sense ("nude colour palette", "hearts are trump", "no gore"); the
verdict's evidence names the overruled word. A phrase ("having sex") is never overruled, nor is
`sexual_minors`: it scores 1.0 when a minor subject occurs with any sexual or suggestive term
(or with a semantic probability of sexual content at or above the rule book's
`minors.semantic_sexual_p`), or when a direct term occurs.
"""

from __future__ import annotations

from pathlib import Path

from safety.categories import PROMPT_CATEGORIES, Category
from safety.normalize import normalize
from safety.rules import RuleBook
from safety.semantic import SemanticClassifier
from safety.verdict import CategoryScore

# Columns of the semantic layer's probabilities (benign first) that add up to "sexual content".
_SEXUAL_COLUMNS = [1 + PROMPT_CATEGORIES.index(c) for c in (Category.SEXUAL, Category.SEXUAL_MINORS)]


class PromptChecker:
    def __init__(self, rules: RuleBook, semantic: SemanticClassifier):
        self.rules = rules
        self.semantic = semantic

    @classmethod
    def load(cls, rules_path: Path | str | None = None, model_dir: Path | None = None,
             head_path: Path | None = None) -> "PromptChecker":
        """Raises RuleBookError (bad rule book) or ClassifierUnavailable (model missing)."""
        rules = RuleBook.load(rules_path)
        semantic = SemanticClassifier(block_p=rules.semantic_block_p, slope=rules.semantic_slope,
                                      model_dir=model_dir, head_path=head_path)
        return cls(rules, semantic)

    @property
    def model_versions(self) -> dict[str, str]:
        return {"prompt_semantic": self.semantic.version, "prompt_rules": self.rules.digest}

    def score(self, prompts: list[str]) -> list[list[CategoryScore]]:
        """Scores for every prompt category, per prompt. Raises ClassifierUnavailable."""
        normalized = [normalize(p) for p in prompts]
        probs = self.semantic.probabilities([n.canonical for n in normalized])
        results = []
        for text, row in zip(normalized, probs):
            sem = self.semantic.scores_for(row)
            p_benign = float(row[0])
            vetoed = p_benign >= self.rules.semantic_benign_veto_p
            rule, specific = self.rules.match_all(text)
            merged: dict[Category, CategoryScore] = {}
            for c in PROMPT_CATEGORIES:
                r, s = rule.get(c), sem[c]
                if (r is not None and vetoed and c not in specific and c is not Category.SEXUAL_MINORS
                        and r.score > s.score):
                    merged[c] = CategoryScore(c, s.score, "semantic",
                                              f"{s.evidence}; rule '{r.evidence}' overruled, benign p={p_benign:.2f}")
                elif r is not None and r.score >= s.score:
                    merged[c] = r
                else:
                    merged[c] = s
            p_sexual = float(row[_SEXUAL_COLUMNS].sum())
            merged[Category.SEXUAL_MINORS] = self._minors(text, rule.get(Category.SEXUAL), p_sexual,
                                                          merged[Category.SEXUAL_MINORS])
            results.append([merged[c] for c in PROMPT_CATEGORIES])
        return results

    def _minors(self, text, sexual_rule: CategoryScore | None, p_sexual: float,
                current: CategoryScore) -> CategoryScore:
        direct, subject, suggestive = self.rules.minor_context(text)
        if direct:
            return CategoryScore(Category.SEXUAL_MINORS, 1.0, "rule", direct)
        if subject:
            if sexual_rule is not None and sexual_rule.score > 0:
                return CategoryScore(Category.SEXUAL_MINORS, 1.0, "rule", f"{subject} + {sexual_rule.evidence}")
            if suggestive:
                return CategoryScore(Category.SEXUAL_MINORS, 1.0, "rule", f"{subject} + {suggestive}")
            if p_sexual >= self.rules.minors.semantic_sexual_p:
                return CategoryScore(Category.SEXUAL_MINORS, 1.0, "semantic",
                                     f"{subject} + sexual p={p_sexual:.2f}")
        return current
