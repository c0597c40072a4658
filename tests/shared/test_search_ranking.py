"""The exact-match bonuses every backend applies: the same answer for ASCII text (its fast
path) as for any other."""

from __future__ import annotations

import pytest

from videosense_shared.search.ranking import (
    EXACT_BONUS,
    PHRASE_BONUS,
    contains_phrase,
    final_score,
    is_exact,
)


@pytest.mark.parametrize(
    ("text", "query", "exact", "phrase"),
    [
        pytest.param("Mission briefing:", "mission BRIEFING", True, True, id="ascii case"),
        pytest.param("  car!!  ", "car", True, True, id="ascii punctuation"),
        pytest.param("red_car", "red car", True, True, id="underscore splits"),
        pytest.param("a red car", "red car", False, True, id="ascii phrase inside"),
        pytest.param("carpet", "car", False, False, id="not a word prefix"),
        pytest.param("Café Noir", "cafe noir", True, True, id="accent"),
        pytest.param("École d'été", "ecole d ete", True, True, id="accents and apostrophe"),
        pytest.param("cafe", "café", True, True, id="accent in the query"),
        pytest.param("ﬁsh market", "fish", False, True, id="ligature"),
    ],
)
def test_exact_and_phrase_ignore_case_accents_and_punctuation(
    text: str, query: str, exact: bool, phrase: bool
) -> None:
    assert is_exact(text, query) is exact
    assert contains_phrase(text, query) is phrase


def test_final_score_adds_the_bonuses() -> None:
    assert final_score(1.5, "Car", "car", phrase=None) == 1.5 + PHRASE_BONUS + EXACT_BONUS
    assert final_score(1.5, "a red car", "car", phrase=None) == 1.5 + PHRASE_BONUS
    assert final_score(1.5, "a red car", "red blue", phrase=False) == 1.5
