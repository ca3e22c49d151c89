"""Normalisation defeats each evasion before matching, and leaves ordinary text alone."""

import pytest

from safety.normalize import normalize


@pytest.mark.parametrize("text, expected", [
    ("NuDe", "nude"),                                   # case
    ("ｎｕｄｅ beach", "nude beach"),                      # fullwidth (NFKC)
    ("nu\u200bde w\u2060oman", "nude woman"),            # zero-width space and word joiner
    ("n\u00adude", "nude"),                              # soft hyphen
    ("nаkеd", "naked"),                                  # Cyrillic а, е
    ("ηαked", "naked"),                                  # Greek η, α
    ("пudе", "nude"), ("рогп", "porn"),                  # Cyrillic п for n, г for r
    ("nüde", "nude"),                                    # diacritics
    ("p0rn", "porn"), ("k1ll him", "kill him"), ("s3x", "sex"), ("6un", "gun"),  # leetspeak
    ("n.u.d.e photo", "nude photo"), ("k i l l him", "kill him"), ("n-a-k-e-d", "naked"),  # separators
    ("s-e-l-f---h-a-r-m", "selfharm"),                   # repeated separators
    ("a n a k e d elf", "a naked elf"),                  # spaced word after an article
    ("nuuude", "nude"),                                  # repeated letters
    ("min0r 70pl355", "minor topless"),                  # dense leetspeak: mostly digits
])
def test_each_evasion_is_decoded(text, expected):
    assert expected in normalize(text).variants


@pytest.mark.parametrize("text", ["a 1990s poster", "a 3d render in 4k", "35mm film", "the 2nd floor"])
def test_numbers_with_units_are_not_leetspeak(text):
    assert normalize(text).variants[0] == text
    assert all(v == text for v in normalize(text).variants)


def test_ordinary_text_keeps_one_form():
    n = normalize("A lighthouse at dusk, oil painting")
    assert n.variants == ("a lighthouse at dusk, oil painting",)
    assert n.canonical == "a lighthouse at dusk, oil painting"


def test_control_characters_become_spaces():
    assert normalize("kill\nhim").folded == "kill him"


def test_separate_words_stay_separate():
    assert "brad pitt injured" in normalize("B-r-a-d P-i-t-t i_n_j_u_r_e_d").variants
