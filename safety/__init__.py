"""Safety classification: prompt and image checks, per-tenant policies and verdicts (no Ray).

    checker = PromptChecker.load()                        # rules + fine-tuned MiniLM semantic layer
    [scores] = checker.score(["a photo of ..."])
    verdict = PolicyBook().resolve("default").decide(scores, rules_version=checker.rules.version,
                                                     model_versions=checker.model_versions)

The services wrap these in the `Safety` deployment (services/safety.py); other code may import
them directly, e.g. to classify a file in a notebook.
"""

from safety.categories import Action, Category
from safety.policy import CategoryThresholds, PolicyBook, TenantPolicy
from safety.verdict import CategoryScore, Verdict

__all__ = ["Action", "Category", "CategoryScore", "CategoryThresholds", "PolicyBook", "TenantPolicy", "Verdict"]
