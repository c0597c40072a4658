"""Snippets of search hits: what the query matched marked the way the FTS5 expression matches
it (phrase as one run, prefix, any word; case and accents folded), HTML-escaped, long texts
cut around the first match."""

from __future__ import annotations

import pytest

from videosense_shared.search import MatchMode, SearchQuery
from videosense_shared.search.fts_query import SNIPPET_WORDS, snippet_html


@pytest.mark.parametrize(
    ("text", "query", "mode", "snippet"),
    [
        pytest.param(
            "Mission briefing:",
            "MISSION BRIEFING",
            MatchMode.PHRASE,
            "<mark>Mission briefing</mark>:",
            id="phrase one run, punctuation kept",
        ),
        pytest.param(
            "briefing the mission crew",
            "mission briefing",
            MatchMode.ANY,
            "<mark>briefing</mark> the <mark>mission</mark> crew",
            id="any word each",
        ),
        pytest.param(
            "Today's mission briefing",
            "mission brief",
            MatchMode.PREFIX,
            "Today's <mark>mission briefing</mark>",
            id="prefix completes the word",
        ),
        pytest.param(
            "mission brief, mission briefing",
            "mission briefing",
            MatchMode.PHRASE,
            "mission brief, <mark>mission briefing</mark>",
            id="phrase not prefix",
        ),
        pytest.param(
            "Le Café de l'École",
            "cafe ecole",
            MatchMode.ANY,
            "Le <mark>Café</mark> de l'<mark>École</mark>",
            id="accents folded",
        ),
        pytest.param(
            "ha ha ha ho",
            "ha ha",
            MatchMode.PHRASE,
            "<mark>ha ha ha</mark> ho",
            id="overlapping instances one run",
        ),
        pytest.param(
            "<b>car</b> & co",
            "car",
            MatchMode.PHRASE,
            "&lt;b&gt;<mark>car</mark>&lt;/b&gt; &amp; co",
            id="html escaped",
        ),
    ],
)
def test_snippet_marks_what_the_query_matched(
    text: str, query: str, mode: MatchMode, snippet: str
) -> None:
    assert snippet_html(text, SearchQuery(text=query, mode=mode)) == snippet


def test_a_long_text_is_cut_around_the_first_match() -> None:
    # GIVEN a 100-word segment with the word at position 40
    words = [f"w{i}" for i in range(100)]
    words[40] = "rocket"

    # WHEN making its snippet
    snippet = snippet_html(" ".join(words), SearchQuery(text="rocket"))

    # THEN 32 words from a few before the match, cut marks on both sides
    assert snippet.startswith("…w36 w37 w38 w39 <mark>rocket</mark> w41")
    assert snippet.endswith(f" w{36 + SNIPPET_WORDS - 1}…")
    assert len(snippet.strip("…").split()) == SNIPPET_WORDS


def test_a_match_near_the_end_shows_the_last_words() -> None:
    words = [f"w{i}" for i in range(40)]
    snippet = snippet_html(" ".join(words) + ".", SearchQuery(text="w39"))
    assert snippet.startswith("…w8 ")
    assert snippet.endswith("<mark>w39</mark>.")
