"""The rule book: per-category patterns from a versioned YAML file, matched on normalised text.

See safety/data/rules.yaml for the file format. A pattern or fragment hit gives its category a
score (1.0 unless the entry sets one) with the matched text as evidence. Sexual content with a
minor subject is its own category, `sexual_minors`, decided here from the `minors` section.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from safety.categories import Category
from safety.normalize import NormalizedText
from safety.verdict import CategoryScore

BUNDLED_RULES = Path(__file__).parent / "data" / "rules.yaml"
_LETTER_RUNS = re.compile(r"[a-z]+")


class RuleBookError(ValueError):
    """The rule book file is malformed; the message names the entry."""


@dataclass(frozen=True)
class Pattern:
    regex: re.Pattern
    score: float
    vetoable: bool | None = None    # None: decided by what matched (one word: yes; a phrase: no)


@dataclass(frozen=True)
class CategoryRules:
    patterns: tuple[Pattern, ...]
    exceptions: re.Pattern | None
    fragments: tuple[str, ...]
    exemplars: tuple[str, ...]

    def without_exceptions(self, text: str) -> str:
        return self.exceptions.sub(" ", text) if self.exceptions is not None else text


@dataclass(frozen=True)
class MinorRules:
    subjects: tuple[Pattern, ...]
    direct: tuple[Pattern, ...]
    suggestive: tuple[Pattern, ...]
    fragments: tuple[str, ...]
    subject_fragments: tuple[str, ...]
    suggestive_fragments: tuple[str, ...]
    exceptions: re.Pattern | None
    semantic_sexual_p: float


def _compile(entry, where: str) -> Pattern:
    vetoable = None
    if isinstance(entry, str):
        text, score = entry, 1.0
    elif isinstance(entry, dict) and set(entry) <= {"pattern", "score", "vetoable"} and "pattern" in entry:
        text, score, vetoable = entry["pattern"], float(entry.get("score", 1.0)), entry.get("vetoable")
        if vetoable is not None and not isinstance(vetoable, bool):
            raise RuleBookError(f"{where}: vetoable must be true or false, got {vetoable!r}")
    else:
        raise RuleBookError(f"{where}: expected a pattern string or {{pattern, score, vetoable}}, got {entry!r}")
    if not 0 < score <= 1:
        raise RuleBookError(f"{where}: score must be in (0, 1], got {score}")
    try:
        return Pattern(re.compile(rf"(?<![a-z0-9])(?:{text})(?![a-z0-9])"), score, vetoable)
    except re.error as exc:
        raise RuleBookError(f"{where}: invalid regular expression: {exc}") from None


def _patterns(raw: dict, key: str, where: str) -> tuple[Pattern, ...]:
    return tuple(_compile(e, f"{where}.{key}[{i}]") for i, e in enumerate(raw.get(key) or ()))


def _exceptions(raw: dict, where: str) -> re.Pattern | None:
    items = raw.get("exceptions") or ()
    if not items:
        return None
    try:
        return re.compile("|".join(rf"(?<![a-z0-9])(?:{e})(?![a-z0-9])" for e in items))
    except re.error as exc:
        raise RuleBookError(f"{where}.exceptions: invalid regular expression: {exc}") from None


_LITERAL = re.compile(r"[a-z][a-z ]*[a-z]")


def _top_level_alternatives(pattern: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(pattern):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
    parts.append(pattern[start:])
    return parts


def _literal_words(entries, min_letters: int, plural: bool = False) -> list[str]:
    """The literal alternatives of ``min_letters``+ letters among full-score pattern entries, spaces
    removed ("elon musk" -> "elonmusk"); with ``plural``, also "tweens?" -> "tween"."""
    words = []
    for entry in entries or ():
        if isinstance(entry, dict) and float(entry.get("score", 1.0)) < 1.0:
            continue
        text = entry["pattern"] if isinstance(entry, dict) else entry
        for alt in _top_level_alternatives(text):
            if plural and alt.endswith("s?"):
                alt = alt[:-2]
            if _LITERAL.fullmatch(alt) and len(alt.replace(" ", "")) >= min_letters:
                words.append(alt.replace(" ", ""))
    return words


def _fragments(raw: dict, where: str) -> tuple[str, ...]:
    """The listed fragments, plus every literal alternative of 5+ letters among the patterns
    ("elon musk" -> "elonmusk"), so names spelled with inserted spaces or separators still hit."""
    frags = list(raw.get("fragments") or ())
    for f in frags:
        if not isinstance(f, str) or not f.isalpha() or not f.islower():
            raise RuleBookError(f"{where}.fragments: {f!r} must be lowercase letters only")
    for key in ("patterns", "direct"):
        frags += _literal_words(raw.get(key), 5)
    return tuple(dict.fromkeys(frags))


def _derived(raw: dict, key: str) -> tuple[str, ...]:
    """The literal words of 4+ letters among ``raw[key]``'s alternatives ("tweens?" -> "tween"), as
    fragments: a minor subject or a suggestive term decides nothing alone, so short ones are safe."""
    return tuple(dict.fromkeys(_literal_words(raw.get(key), 4, plural=True)))


def fragment_hit(text: str, fragments: tuple[str, ...]) -> str | None:
    """A fragment spelled across word breaks ("nu de", "na-ked") in ``text``.

    The text is squashed to letters only; a fragment counts only where it starts at the start of
    a word and ends at the end of a word, so "snake dance" does not contain "naked".
    """
    runs = [(m.start(), m.group(0)) for m in _LETTER_RUNS.finditer(text)]
    squashed = "".join(w for _, w in runs)
    starts, ends, pos = set(), set(), 0
    for _, word in runs:
        starts.add(pos)
        pos += len(word)
        ends.add(pos)
    for frag in fragments:
        i = squashed.find(frag)
        while i != -1:
            if i in starts and i + len(frag) in ends:
                return frag
            i = squashed.find(frag, i + 1)
    return None


class RuleBook:
    """Compiled rules of one rule book file."""

    def __init__(self, raw: dict, digest: str):
        if not isinstance(raw, dict) or not isinstance(raw.get("version"), str) or not raw["version"]:
            raise RuleBookError("version: a non-empty string is required")
        self.version: str = raw["version"]
        self.digest = digest
        cats = raw.get("categories") or {}
        unknown = set(cats) - {c.value for c in Category}
        if unknown:
            raise RuleBookError(f"categories: unknown {sorted(unknown)}; known: {[c.value for c in Category]}")
        self.categories: dict[Category, CategoryRules] = {}
        for name, body in cats.items():
            where = f"categories.{name}"
            self.categories[Category(name)] = CategoryRules(
                _patterns(body, "patterns", where), _exceptions(body, where), _fragments(body, where),
                tuple(body.get("exemplars") or ()),
            )
        m = raw.get("minors") or {}
        self.minors = MinorRules(
            _patterns(m, "subjects", "minors"), _patterns(m, "direct", "minors"),
            _patterns(m, "suggestive", "minors"), _fragments(m, "minors"),
            _derived(m, "subjects"), _derived(m, "suggestive"), _exceptions(m, "minors"),
            _probability(m.get("semantic_sexual_p", 0.2), "minors.semantic_sexual_p"),
        )
        self.benign_exemplars: tuple[str, ...] = tuple(raw.get("benign_exemplars") or ())
        sem = raw.get("semantic") or {}
        self.semantic_block_p = _probability(sem.get("block_p", 0.7), "semantic.block_p")
        self.semantic_slope = float(sem.get("slope", 5.0))
        self.semantic_benign_veto_p = _probability(sem.get("benign_veto_p", 0.8), "semantic.benign_veto_p")

    @classmethod
    def load(cls, path: Path | str | None = None) -> "RuleBook":
        """Loads and compiles a rule book (the bundled one by default). Raises RuleBookError."""
        path = Path(path) if path is not None else BUNDLED_RULES
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise RuleBookError(f"cannot read rule book {path}: {exc.strerror}") from None
        try:
            raw = yaml.safe_load(data)
        except yaml.YAMLError as exc:
            raise RuleBookError(f"rule book {path} is not valid YAML: {exc}") from None
        return cls(raw, hashlib.sha256(data).hexdigest()[:12])

    @property
    def exemplars(self) -> dict[Category, tuple[str, ...]]:
        return {c: r.exemplars for c, r in self.categories.items() if r.exemplars}

    def match(self, text: NormalizedText) -> dict[Category, CategoryScore]:
        """Rule scores per category (categories without a hit are absent)."""
        return self.match_all(text)[0]

    def match_all(self, text: NormalizedText) -> tuple[dict[Category, CategoryScore], set[Category]]:
        """Rule scores per category, and the categories hit by a specific term.

        A term is specific when it is a phrase ("having sex", "barack obama") or its pattern says
        `vetoable: false`; a single word ("sex", "trump", "gore") has harmless senses, so the
        prompt checker lets a confident benign reading overrule it (a pattern may say
        `vetoable: true` for an ambiguous phrase).
        """
        hits: dict[Category, CategoryScore] = {}
        specific: set[Category] = set()
        for category, rules in self.categories.items():
            best: CategoryScore | None = None
            for variant in text.variants:
                cleaned = rules.without_exceptions(variant)
                for p in rules.patterns:
                    m = p.regex.search(cleaned)
                    if not m:
                        continue
                    if best is None or p.score > best.score:
                        best = CategoryScore(category, p.score, "rule", m.group(0)[:40])
                    if p.vetoable is False or (p.vetoable is None and " " in m.group(0).strip()):
                        specific.add(category)
                if best is not None and best.score >= 1.0:
                    break
            if best is None or best.score < 1.0:
                frag = fragment_hit(rules.without_exceptions(text.canonical), rules.fragments)
                if frag:
                    best = CategoryScore(category, 1.0, "rule", frag)
            if best is not None:
                hits[category] = best
        return hits, specific

    def minor_context(self, text: NormalizedText) -> tuple[str | None, str | None, str | None]:
        """(direct term, minor subject, suggestive term) found in the text, each or None."""
        m = self.minors
        direct = subject = suggestive = None
        for variant in text.variants:
            cleaned = m.exceptions.sub(" ", variant) if m.exceptions is not None else variant
            direct = direct or _first(m.direct, cleaned)
            subject = subject or _first(m.subjects, cleaned)
            suggestive = suggestive or _first(m.suggestive, cleaned)
        canonical = m.exceptions.sub(" ", text.canonical) if m.exceptions is not None else text.canonical
        # Words split by spaces ("twe en", "lin gerie"): the patterns' literal words as fragments.
        direct = direct or fragment_hit(canonical, m.fragments)
        subject = subject or fragment_hit(canonical, m.subject_fragments)
        suggestive = suggestive or fragment_hit(canonical, m.suggestive_fragments)
        return direct, subject, suggestive


def _probability(value, where: str) -> float:
    try:
        p = float(value)
    except (TypeError, ValueError):
        raise RuleBookError(f"{where}: expected a probability, got {value!r}") from None
    if not 0 < p <= 1:
        raise RuleBookError(f"{where}: must be in (0, 1], got {p}")
    return p


def _first(patterns: tuple[Pattern, ...], text: str) -> str | None:
    for p in patterns:
        m = p.regex.search(text)
        if m:
            return m.group(0)[:40]
    return None
