"""Text normalisation that defeats the usual filter evasions before any matching.

    "Ｎ.u.d.е  ph0to"  ->  variants {"n.u.d.e photo", "nude photo", ...}, squashed "nudephoto"

Steps, in order: Unicode NFKC (fullwidth and compatibility forms), removal of zero-width,
format and control characters, confusable folding (Cyrillic, Greek and other look-alikes to
Latin; diacritics stripped) and case folding; then variants, each also with runs of three or more
equal letters squeezed to one ("nuuude"):
leetspeak decoded inside words that are mostly letters ("k1ll", "p0rn"; "1990s" is left alone)
and, in the last (canonical) form, inside any word with a letter ("70pl355"),
single characters joined across separators ("n.u.d.e", "k i l l"), and a squashed form with
every non-letter removed, in which only curated fragments are searched ("nu de", "na-ked").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Look-alikes NFKC leaves alone, folded to the Latin letter they imitate.
_CONFUSABLES = {
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d", "ԛ": "q", "ԝ": "w",
    "ɡ": "g", "һ": "h", "ո": "n", "ս": "u", "ց": "g", "ւ": "l", "ӏ": "l", "ԍ": "g", "ѵ": "v", "ɩ": "i",
    "п": "n", "П": "n", "г": "r", "и": "u", "ш": "w", "ь": "b", "ԃ": "d",
    "А": "a", "В": "b", "Е": "e", "К": "k", "М": "m", "Н": "h", "О": "o", "Р": "p", "С": "c", "Т": "t",
    "У": "y", "Х": "x", "Ѕ": "s", "І": "i", "Ј": "j",
    # Greek
    "α": "a", "β": "b", "γ": "y", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
    "τ": "t", "υ": "u", "χ": "x", "ω": "w", "Α": "a", "Β": "b", "Ε": "e", "Η": "h", "Ι": "i", "Κ": "k",
    "Μ": "m", "Ν": "n", "Ο": "o", "Ρ": "p", "Τ": "t", "Υ": "y", "Χ": "x", "Ζ": "z",
    "μ": "u", "π": "n", "ϲ": "c", "ϳ": "j",
    # other look-alikes
    "ı": "i", "ł": "l", "ø": "o", "đ": "d", "ß": "ss", "æ": "ae", "œ": "oe", "ſ": "s", "ƒ": "f",
}
_CONFUSABLE_TABLE = str.maketrans(_CONFUSABLES)

# Leetspeak, decoded only inside words that are mostly letters. "1" and "!" read as "i" or "l".
_LEET_I = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "6": "g", "7": "t", "8": "b", "9": "g",
                         "@": "a", "$": "s", "!": "i", "|": "l", "+": "t", "€": "e", "£": "l"})
_LEET_L = {**_LEET_I, ord("1"): "l", ord("!"): "l"}
_LEET_CHARS = set("0134567 89@$!|+€£".replace(" ", ""))
_WORD = re.compile(r"[^\s\-]+")
# Numbers with units are not leetspeak: "3d", "4k", "1990s", "35mm", "2nd".
_UNIT = re.compile(r"\d+(?:d|k|x|s|th|st|nd|rd|px|mm|cm|m|km|kg|g|hz|fps|p|yo)")
# Single characters with the same separator between each, e.g. "n.u.d.e", "k i l l", "1*1", "p-0-r-n":
# at least three characters across spaces, two across other separators. One separator per run,
# so "b-r-a-d p-i-t-t" stays two words.
_CH = r"(?:[^\W_]|[@$0-9])"
_SPACED = re.compile(
    rf"(?<![^\W_]){_CH}(?:(?P<sp>[ ]){_CH}(?:(?P=sp){_CH})+|(?P<sep>[.\-_*+~'`,:;/\\|])(?P=sep)*{_CH}(?:(?P=sep)+{_CH})*)(?![^\W_])"
)
_SEPARATORS = re.compile(r"[\s.\-_*+~'`,:;/\\|]+")
_REPEATS = re.compile(r"([a-z])\1{2,}")
_NON_LETTERS = re.compile(r"[^a-z]+")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class NormalizedText:
    """The forms of one prompt that the rules and the classifier see."""

    folded: str                   # NFKC, invisible characters removed, confusables folded, casefolded
    variants: tuple[str, ...]     # folded plus leetspeak- and separator-decoded forms (deduplicated)
    squashed: str                 # letters only, of the fully decoded form: "nu de" -> "nude"

    @property
    def canonical(self) -> str:
        """The most decoded form: what the semantic classifier embeds."""
        return self.variants[-1]


def _strip_invisible(text: str) -> str:
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat == "Cf":  # zero-width space/joiners, word joiner, BOM, bidi controls, soft hyphen
            continue
        if cat == "Cc" or cat in ("Zl", "Zp"):
            out.append(" ")
            continue
        out.append(ch)
    return "".join(out)


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = _strip_invisible(text)
    text = text.translate(_CONFUSABLE_TABLE)
    decomposed = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    text = text.casefold().translate(_CONFUSABLE_TABLE)
    return _SPACES.sub(" ", text).strip()


def _mostly_letters(word: str, dense: bool = False) -> bool:
    """A word with leetspeak characters worth decoding: at least a third letters ("k1ll", "s3x"),
    or, when ``dense``, any letter at all ("70pl355"); never a number with a unit ("1990s")."""
    core = word.strip(".,;:!?\"'()[]{}")
    if not core or not any(ch in _LEET_CHARS for ch in core) or _UNIT.fullmatch(core):
        return False
    letters = sum(ch.isalpha() for ch in core)
    return letters >= 1 and (dense or letters * 3 >= len(core))


def _decode_leet(text: str, table: dict, dense: bool = False) -> str:
    def repl(match: re.Match) -> str:
        word = match.group(0)
        if not _mostly_letters(word, dense):
            return word
        core_start = len(word) - len(word.lstrip(".,;:?\"'()[]{}"))
        core_end = len(word.rstrip(".,;:?\"'()[]{}"))
        return word[:core_start] + word[core_start:core_end].translate(table) + word[core_end:]
    return _WORD.sub(repl, text)


def _join_spaced(text: str) -> str:
    def repl(m: re.Match) -> str:
        run = m.group(0)
        # "a n a k e d elf" -> "a naked elf": a leading article or pronoun stays a word of its own.
        if m.group("sp") and len(run) > 7 and run[0] in "ai" and run[1] == " ":
            return run[:2] + _SEPARATORS.sub("", run[2:])
        return _SEPARATORS.sub("", run)
    return _SPACED.sub(repl, text)


def normalize(text: str) -> NormalizedText:
    folded = _fold(text)
    joined = _join_spaced(folded)
    leet_i = _decode_leet(joined, _LEET_I)
    leet_l = _decode_leet(joined, _LEET_L)
    joined_after = _join_spaced(_decode_leet(folded, _LEET_I))
    # Last, so canonical: words that are mostly digits decoded too ("70pl355" -> "topless").
    dense = _decode_leet(leet_i, _LEET_I, dense=True)
    variants: list[str] = []
    for v in (folded, joined, leet_l, joined_after, leet_i, dense):
        for form in (v, _REPEATS.sub(r"\1", v)):
            if form not in variants:
                variants.append(form)
    squashed = _NON_LETTERS.sub("", variants[-1])
    return NormalizedText(folded, tuple(variants), squashed)
