"""Per-tenant safety policies: each category maps to actions by score thresholds.

A category's action is the most severe one whose threshold the score reaches:

    violence: {flag: 0.3, block: 0.5}   # 0.2 -> allow, 0.4 -> flag, 0.9 -> block

`sexual_minors` is not configurable below BLOCK: any policy that would let it through, or
raise its block threshold above the rule book's floor, is rejected at validation.
Tenants inherit the `default` policy and override whole categories.
"""

from __future__ import annotations

from typing import Iterable

from pydantic import BaseModel, ConfigDict, Field, model_validator

from safety.categories import Action, Category
from safety.verdict import CategoryDecision, CategoryScore, Verdict

MINORS_MAX_THRESHOLD = 0.5  # the block threshold for sexual_minors may be lowered, never raised above this


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CategoryThresholds(_Strict):
    """Score thresholds (0..1) per action; unset actions never trigger."""

    flag: float | None = Field(default=None, ge=0, le=1, description="Flag for review at or above this score.")
    blur: float | None = Field(default=None, ge=0, le=1, description="Release blurred at or above this score.")
    block: float | None = Field(default=None, ge=0, le=1, description="Block at or above this score.")

    def action(self, score: float) -> Action:
        for action in (Action.BLOCK, Action.BLUR, Action.FLAG):
            threshold = getattr(self, action.value)
            if threshold is not None and score >= threshold:
                return action
        return Action.ALLOW


def _default_categories() -> dict[Category, CategoryThresholds]:
    block = CategoryThresholds(flag=0.35, block=0.5)
    return {
        Category.SEXUAL: block,
        Category.SEXUAL_MINORS: CategoryThresholds(block=0.3),
        Category.VIOLENCE: block,
        Category.HATE: block,
        Category.SELF_HARM: block,
        Category.WEAPONS: block,
        Category.REAL_PERSON: block,
        Category.COPYRIGHT: CategoryThresholds(flag=0.5),
        Category.FACE: CategoryThresholds(),
    }


class TenantPolicy(_Strict):
    """One tenant's policy. Categories left out keep the default policy's thresholds."""

    version: str = Field(default="1", min_length=1, description="Bumped by the operator on every change; in verdicts.")
    categories: dict[Category, CategoryThresholds] = Field(
        default_factory=dict, description="Thresholds per category (sexual, violence, ..., face)."
    )
    store_prompts: bool = Field(default=False, description="Keep plain prompts in records (else only a keyed hash).")

    @model_validator(mode="after")
    def _minors_always_block(self) -> "TenantPolicy":
        minors = self.categories.get(Category.SEXUAL_MINORS)
        if minors is not None:
            if minors.block is None or minors.block > MINORS_MAX_THRESHOLD:
                raise ValueError(
                    f"categories.sexual_minors: always blocked; block threshold must be set and at most "
                    f"{MINORS_MAX_THRESHOLD} (no override)"
                )
        return self


class PolicyBook(_Strict):
    """The default policy and per-tenant overrides."""

    default: TenantPolicy = Field(
        default_factory=lambda: TenantPolicy(categories=_default_categories()),
        description="Policy of every tenant not listed under `tenants`.",
    )
    tenants: dict[str, TenantPolicy] = Field(default_factory=dict, description="Per-tenant overrides by tenant name.")

    @model_validator(mode="after")
    def _complete_default(self) -> "PolicyBook":
        merged = {**_default_categories(), **self.default.categories}
        object.__setattr__(self, "default", self.default.model_copy(update={"categories": merged}))
        return self

    def resolve(self, tenant: str) -> "ResolvedPolicy":
        override = self.tenants.get(tenant)
        if override is None:
            return ResolvedPolicy("default", self.default.version, dict(self.default.categories),
                                  self.default.store_prompts)
        categories = {**self.default.categories, **override.categories}
        return ResolvedPolicy(tenant, f"{self.default.version}+{override.version}", categories,
                              override.store_prompts)


class ResolvedPolicy:
    """A tenant's effective thresholds; turns classifier scores into a Verdict."""

    def __init__(self, name: str, version: str, categories: dict[Category, CategoryThresholds], store_prompts: bool):
        self.name = name
        self.version = version
        self.categories = categories
        self.store_prompts = store_prompts

    def decide(self, scores: Iterable[CategoryScore], *, rules_version: str, model_versions: dict[str, str],
               floor: Action = Action.ALLOW) -> Verdict:
        """The verdict for one item's scores. ``floor`` raises every decision to at least that action
        (an image inherits its prompt's FLAG or BLUR)."""
        decisions = []
        for s in sorted(scores, key=lambda s: list(Category).index(s.category)):
            thresholds = self.categories.get(s.category, CategoryThresholds())
            decisions.append(CategoryDecision(s.category, s.score, thresholds.action(s.score), s.source,
                                              s.evidence, s.boxes))
        action = Action.most_severe([d.action for d in decisions] + [floor])
        return Verdict(action, tuple(decisions), self.name, self.version, rules_version, dict(model_versions))
