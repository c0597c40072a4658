"""Words as every index backend sees them: letters and digits, split on everything else.

The same rule as SQLite FTS5's ``unicode61`` tokenizer and OpenSearch's ``standard`` analyzer
(close enough for queries): a user's query is reduced to these words before any backend sees
it, so no character of it can ever be read as query syntax.
"""

from __future__ import annotations

import re
import unicodedata

# Letters and digits (\w without the underscore, which both tokenizers treat as a separator).
_WORD = re.compile(r"[^\W_]+")
# Control characters (C0, DEL, C1): never part of a text worth indexing; dropped so that
# entries, snippets and the HTML built from them carry none.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


def query_words(text: str) -> tuple[str, ...]:
    """The words of ``text`` as written (case kept: the backends fold case themselves)."""
    return tuple(_WORD.findall(text))


def normalized(text: str) -> str:
    """``text`` as lower-case words without accents, separated by one space: what two texts
    must share to be "the same words" (the exact-match bonus compares these)."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_WORD.findall(plain))


def clean_text(text: str) -> str:
    """``text`` with control characters turned into spaces and surrounding space stripped."""
    return _CONTROL.sub(" ", text).strip()
