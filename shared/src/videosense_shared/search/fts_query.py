"""A :class:`SearchQuery` as an SQLite FTS5 ``MATCH`` expression, built so that no character
of the user's text is ever read as FTS5 syntax.

The text is first reduced to its words (letters and digits only, :func:`query_words`); each is
then written as an FTS5 string (double-quoted, quotes doubled), so ``NEAR``, ``AND``, ``*``,
``"``, ``:``, ``^`` and parentheses in a query are words to find or nothing at all, never
operators. Only this module adds operators, and only the ones the match mode calls for.
"""

from __future__ import annotations

import html

from videosense_shared.search.query import MatchMode, SearchQuery
from videosense_shared.search.words import query_words

# Snippet markers: control characters, which indexed text never holds (entries are cleaned),
# so they can be swapped for <mark> after the text is HTML-escaped.
MARK_START = "\x02"
MARK_END = "\x03"


def fts_string(text: str) -> str:
    """``text`` as one FTS5 string: a phrase of its tokens, never an operator."""
    return '"' + text.replace('"', '""') + '"'


def match_expression(query: SearchQuery) -> str:
    """The FTS5 expression of the query's text in its mode.

    ``phrase``: all words, consecutive, in order; ``prefix``: the same with the last word a
    prefix; ``any`` and ``natural`` (its full-text half): any of the words.

    Raises:
        ValueError: the text has no words (a validated :class:`SearchQuery` always has some).
    """
    words = query_words(query.text)
    if not words:
        raise ValueError("the query text has no letters or digits to search for")
    if query.mode is MatchMode.PHRASE:
        return fts_string(" ".join(words))
    if query.mode is MatchMode.PREFIX:
        return fts_string(" ".join(words)) + " *"
    return " OR ".join(fts_string(word) for word in dict.fromkeys(words))


def phrase_expression(query: SearchQuery) -> str:
    """The query's words as one FTS5 phrase: the entries that earn the phrase bonus."""
    return fts_string(" ".join(query_words(query.text)))


def marked_html(snippet: str) -> str:
    """A snippet with FTS5 markers as HTML: the text escaped, the matches in ``<mark>``."""
    escaped = html.escape(snippet, quote=False)
    return escaped.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>")
