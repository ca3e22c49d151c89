"""Verdicts: one explicit object per classified item (a prompt or an image)."""

from __future__ import annotations

from dataclasses import dataclass, field

from safety.categories import Action, Category


@dataclass(frozen=True)
class Box:
    """A detected region in pixels: top-left corner, width, height."""

    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True)
class CategoryScore:
    """A classifier's score for one category, 0..1, and where it came from.

    ``source`` names the layer (``rule``, ``semantic``, ``nudenet``, ``opencv-haar``,
    ``prompt``); ``evidence`` is a short, client-safe reason (the matched rule term, the nearest
    exemplar's category, the detector's class); ``boxes`` locate image detections.
    """

    category: Category
    score: float
    source: str
    evidence: str = ""
    boxes: tuple[Box, ...] = ()


@dataclass(frozen=True)
class CategoryDecision:
    """A score after the tenant policy was applied to it."""

    category: Category
    score: float
    action: Action
    source: str
    evidence: str = ""
    boxes: tuple[Box, ...] = ()


@dataclass(frozen=True)
class Verdict:
    """The decision on one item.

    ``action`` is the most severe action over ``categories`` (every category scored, in the
    order of `Category`). ``blurred`` is set on an image verdict when the released image is the
    blurred version. Versions pin what decided: the tenant policy, the rule book and each model.
    """

    action: Action
    categories: tuple[CategoryDecision, ...]
    policy: str
    policy_version: str
    rules_version: str
    model_versions: dict[str, str] = field(default_factory=dict)
    blurred: bool = False

    @property
    def triggered(self) -> tuple[CategoryDecision, ...]:
        """The categories whose action is not ALLOW, most severe first."""
        hits = [c for c in self.categories if c.action is not Action.ALLOW]
        return tuple(sorted(hits, key=lambda c: (-c.action.severity, -c.score)))

    @property
    def reason(self) -> str:
        """A one-line, client-safe explanation, e.g. ``violence (score 0.93, rule 'gore')``."""
        hits = self.triggered
        if not hits:
            return "no category reached its threshold"
        top = hits[0]
        detail = f"{top.source} {top.evidence!r}" if top.evidence else top.source
        return f"{top.category.value} (score {top.score:.2f}, {detail})"

    def to_dict(self) -> dict:
        return {
            "action": self.action.value,
            "categories": [
                {"category": c.category.value, "score": round(c.score, 4), "action": c.action.value,
                 "source": c.source, "evidence": c.evidence,
                 "boxes": [[b.x, b.y, b.w, b.h] for b in c.boxes]}
                for c in self.categories
            ],
            "policy": self.policy,
            "policy_version": self.policy_version,
            "rules_version": self.rules_version,
            "model_versions": dict(self.model_versions),
            "blurred": self.blurred,
        }

    @classmethod
    def from_dict(cls, raw: dict) -> "Verdict":
        return cls(
            action=Action(raw["action"]),
            categories=tuple(
                CategoryDecision(Category(c["category"]), float(c["score"]), Action(c["action"]), c["source"],
                                 c.get("evidence", ""), tuple(Box(*b) for b in c.get("boxes", ())))
                for c in raw["categories"]
            ),
            policy=raw["policy"], policy_version=raw["policy_version"], rules_version=raw["rules_version"],
            model_versions=dict(raw.get("model_versions", {})), blurred=bool(raw.get("blurred", False)),
        )
