"""A :class:`SearchQuery` as an SQLite FTS5 ``MATCH`` expression, built so that no character
of the user's text is ever read as FTS5 syntax.

The text is first reduced to its words (letters and digits only, :func:`query_words`); each is
then written as an FTS5 string (double-quoted, quotes doubled), so ``NEAR``, ``AND``, ``*``,
``"``, ``:``, ``^`` and parentheses in a query are words to find or nothing at all, never
operators. Only this module adds operators, and only the ones the match mode calls for.
"""

from __future__ import annotations

import html
import re

from videosense_shared.search.query import MatchMode, SearchQuery
from videosense_shared.search.words import normalized, query_words

#: Most words a snippet shows (as FTS5's snippet() with 32 tokens).
SNIPPET_WORDS = 32
#: Words shown before the first match when a snippet is cut.
_LEAD_WORDS = 4
# A word as the unicode61 tokenizer sees one: letters and digits (see words.query_words).
_TOKEN = re.compile(r"[^\W_]+")


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


def _folded(word: str) -> str:
    # What unicode61 with remove_diacritics compares: lower case, no accents.
    return word.lower() if word.isascii() else normalized(word)


def snippet_html(text: str, query: SearchQuery) -> str:
    """The entry's text as an HTML snippet with what the query matched in ``<mark>``: the
    same matching as the FTS5 expression (:func:`match_expression`): words folded to lower
    case without accents; a phrase (the last word a prefix in prefix mode) marked as one run,
    each word on its own in the any-word modes. Texts longer than :data:`SNIPPET_WORDS` words
    are cut around the first match, with ``…``.

    Computed in Python for the final hits rather than by FTS5's ``snippet()``: that needs the
    entry's row found again through the full-text index, a lookup per hit (or a walk over all
    matches of a common word), where this is a pass over one short text.
    """
    tokens = list(_TOKEN.finditer(text))
    folded = [_folded(t.group(0)) for t in tokens]
    words = [_folded(w) for w in query_words(query.text)]
    runs: list[tuple[int, int]] = []  # [first, last] token of each match, in order
    if query.mode in (MatchMode.PHRASE, MatchMode.PREFIX):
        n = len(words)
        for i in range(len(folded) - n + 1):
            head_ok = folded[i : i + n - 1] == words[:-1]
            last = folded[i + n - 1]
            last_ok = (
                last.startswith(words[-1]) if query.mode is MatchMode.PREFIX else last == words[-1]
            )
            if head_ok and last_ok:
                if runs and i <= runs[-1][1]:
                    runs[-1] = (runs[-1][0], i + n - 1)  # overlapping instances: one run
                else:
                    runs.append((i, i + n - 1))
    else:
        wanted = set(words)
        runs = [(i, i) for i, word in enumerate(folded) if word in wanted]
    first, end = 0, len(tokens)
    if len(tokens) > SNIPPET_WORDS:
        lead = runs[0][0] if runs else 0
        first = max(0, min(lead - _LEAD_WORDS, len(tokens) - SNIPPET_WORDS))
        end = first + SNIPPET_WORDS
    start_char = 0 if first == 0 else tokens[first].start()
    end_char = len(text) if end == len(tokens) else tokens[end - 1].end()
    parts = ["…" if first > 0 else ""]
    at = start_char
    for run_first, run_last in runs:
        if run_last < first or run_first >= end:
            continue
        mark_start = tokens[max(run_first, first)].start()
        mark_end = tokens[min(run_last, end - 1)].end()
        parts.append(html.escape(text[at:mark_start], quote=False))
        parts.append(f"<mark>{html.escape(text[mark_start:mark_end], quote=False)}</mark>")
        at = mark_end
    parts.append(html.escape(text[at:end_char], quote=False))
    parts.append("…" if end < len(tokens) else "")
    return "".join(parts)
