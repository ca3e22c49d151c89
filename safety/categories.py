"""The safety categories and the actions a policy can take, in order of severity."""

from __future__ import annotations

from enum import Enum


class Category(str, Enum):
    SEXUAL = "sexual"                  # nudity and sexual content involving adults
    SEXUAL_MINORS = "sexual_minors"    # any sexual content involving minors: always blocked
    VIOLENCE = "violence"              # gore, mutilation, graphic injury, killing
    HATE = "hate"                      # hateful or dehumanising content against protected groups
    SELF_HARM = "self_harm"            # suicide, self-injury, eating-disorder promotion
    WEAPONS = "weapons"                # weapon or explosive making, attacks on people
    REAL_PERSON = "real_person"        # likeness of real, named people
    COPYRIGHT = "copyright"            # copyrighted characters, trademarked brands and logos
    FACE = "face"                      # images only: a human face is visible (privacy policies)


PROMPT_CATEGORIES: tuple[Category, ...] = tuple(c for c in Category if c is not Category.FACE)


class Action(str, Enum):
    """What happens to content. Ordered: a verdict takes the most severe action of its categories."""

    ALLOW = "allow"   # release as is
    FLAG = "flag"     # release, store marked for human review
    BLUR = "blur"     # release a blurred version, and say so
    BLOCK = "block"   # never release; a blocked prompt spends no generation time

    @property
    def severity(self) -> int:
        return _SEVERITY[self]

    @staticmethod
    def most_severe(actions) -> "Action":
        return max(actions, key=lambda a: a.severity, default=Action.ALLOW)


_SEVERITY = {Action.ALLOW: 0, Action.FLAG: 1, Action.BLUR: 2, Action.BLOCK: 3}
