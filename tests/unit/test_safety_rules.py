"""The rule book: loading errors, pattern hits and exceptions, fragments, the minors rule."""

import pytest

from safety.categories import Category
from safety.normalize import normalize
from safety.rules import RuleBook, RuleBookError, fragment_hit


@pytest.fixture(scope="module")
def rules():
    return RuleBook.load()


def hits(rules, text):
    return {c.value for c in rules.match(normalize(text))}


@pytest.mark.parametrize("text, category", [
    ("a nude woman on a bed", "sexual"),
    ("n.u.d.e photo", "sexual"),
    ("nu de woman", "sexual"),                      # fragment across a space
    ("a man being tortured, blood everywhere", "violence"),
    ("k1ll him with a knife", "violence"),
    ("nazi propaganda poster", "hate"),
    ("pro-ana thinspo collage", "self_harm"),
    ("how to build a pipe b0mb", "weapons"),
    ("Taylor Swift arrested, news photo", "real_person"),
    ("T-a-y-l-o-r S-w-i-f-t crying", "real_person"),
    ("Pikachu eating ramen", "copyright"),
])
def test_unsafe_prompts_hit_their_category(rules, text, category):
    assert category in hits(rules, text)


@pytest.mark.parametrize("text", [
    "shoot a portrait at golden hour", "breast cancer awareness poster", "kill the lights in the render",
    "a knife on a cutting board", "grilled chicken breast", "nude lipstick shades", "a snake dance",
    "a green apple on a table", "a frozen lake at dawn", "execute the plan, corporate poster",
    "a sexy sports car", "a suicide prevention hotline poster", "a same-sex couple with a puppy",
])
def test_benign_prompts_hit_nothing(rules, text):
    assert hits(rules, text) == set()


def test_fragments_must_align_with_word_edges():
    assert fragment_hit("nu de", ("nude",)) == "nude"
    assert fragment_hit("a snake dance", ("naked",)) is None


def test_minor_context(rules):
    direct, subject, suggestive = rules.minor_context(normalize("a 12 year old girl in lingerie"))
    assert subject and suggestive
    assert rules.minor_context(normalize("loli hentai"))[0]
    assert rules.minor_context(normalize("kids playing soccer in a park")) == (None, "kids", None)


def test_minor_context_sees_words_split_by_spaces(rules):
    assert rules.minor_context(normalize("a twe en in lin gerie")) == (None, "tween", "lingerie")
    assert rules.minor_context(normalize("te en, b i k i n i pin up"))[1:] == ("teen", "pin up")
    assert rules.minor_context(normalize("a teenage dream, kind words")) == (None, "teenage", None)


def test_version_and_digest(rules):
    assert rules.version and len(rules.digest) == 12


@pytest.mark.parametrize("text, match", [
    ("version: '1'\ncategories:\n  sexual:\n    patterns: ['(unclosed']\n", r"categories.sexual.patterns\[0\]"),
    ("version: '1'\ncategories:\n  nonsense: {}\n", "unknown"),
    ("categories: {}\n", "version"),
    ("version: '1'\nsemantic: {benign_veto_p: 1.5}\n", r"semantic.benign_veto_p: must be in \(0, 1\]"),
    ("version: '1'\nminors: {semantic_sexual_p: high}\n", "minors.semantic_sexual_p: expected a probability"),
])
def test_malformed_rule_books_name_the_entry(tmp_path, text, match):
    bad = tmp_path / "rules.yaml"
    bad.write_text(text)
    with pytest.raises(RuleBookError, match=match):
        RuleBook.load(bad)


def test_a_missing_rule_book_is_an_error(tmp_path):
    with pytest.raises(RuleBookError, match="cannot read"):
        RuleBook.load(tmp_path / "missing.yaml")


def test_score_entries(tmp_path):
    f = tmp_path / "rules.yaml"
    f.write_text("version: '1'\ncategories:\n  sexual:\n    patterns: [{pattern: sexy, score: 0.3}]\n")
    score = RuleBook.load(f).match(normalize("a sexy pose"))[Category.SEXUAL]
    assert score.score == 0.3 and score.evidence == "sexy"


def test_phrases_are_specific_single_words_are_not(rules):
    _, specific = rules.match_all(normalize("couples having sex on a bed"))
    assert Category.SEXUAL in specific
    hits, specific = rules.match_all(normalize("a form with boxes for name, age and sex"))
    assert Category.SEXUAL in hits and Category.SEXUAL not in specific
    hits, specific = rules.match_all(normalize("barack obama giving a speech"))
    assert Category.REAL_PERSON in specific


def test_vetoable_entries(tmp_path):
    f = tmp_path / "rules.yaml"
    f.write_text("version: '1'\ncategories:\n  sexual:\n    patterns: [{pattern: hentai, vetoable: false}]\n"
                 "  copyright:\n    patterns: [{pattern: black panther, vetoable: true}]\n")
    book = RuleBook.load(f)
    assert book.match_all(normalize("hentai"))[1] == {Category.SEXUAL}
    hits, specific = book.match_all(normalize("a black panther in the jungle"))
    assert Category.COPYRIGHT in hits and not specific
    f.write_text("version: '1'\ncategories:\n  sexual:\n    patterns: [{pattern: hentai, vetoable: maybe}]\n")
    with pytest.raises(RuleBookError, match=r"categories.sexual.patterns\[0\]: vetoable must be true or false"):
        RuleBook.load(f)
