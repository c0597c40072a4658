"""How hits are scored and grouped, the same for every backend.

A hit's score is the backend's relevance (bm25 in SQLite, Lucene's BM25 in OpenSearch, or a
reciprocal-rank fusion for natural-language queries) plus bonuses that put exact matches first:
an entry holding the query's words as a phrase always outranks one holding them scattered,
and an entry that *is* the query (the label "Car" for "car") outranks one that merely contains
it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence

from videosense_shared.search.query import SearchHit, VideoHits
from videosense_shared.search.words import normalized

#: Added to an entry holding the query's words consecutively, in order (larger than any bm25).
PHRASE_BONUS = 1000.0
#: Added to an entry whose words are exactly the query's.
EXACT_BONUS = 100.0
#: The constant of reciprocal rank fusion (60 in the original paper: damps the top ranks).
RRF_K = 60


_ASCII_WORD = re.compile(r"[a-z0-9]+")


def _normalized(text: str) -> str:
    # The same as words.normalized, faster for ASCII text (most of it): no accents to strip,
    # so no Unicode decomposition character by character. A search scores hundreds of
    # candidate entries with this.
    if text.isascii():
        return " ".join(_ASCII_WORD.findall(text.lower()))
    return normalized(text)


def contains_phrase(text: str, query_text: str) -> bool:
    """Whether ``text`` holds the query's words consecutively, in order (case and accents
    ignored)."""
    needle = _normalized(query_text)
    return bool(needle) and f" {needle} " in f" {_normalized(text)} "


def is_exact(text: str, query_text: str) -> bool:
    """Whether ``text``'s words are exactly the query's."""
    return _normalized(text) == _normalized(query_text)


def final_score(relevance: float, text: str, query_text: str, *, phrase: bool | None) -> float:
    """The score of a hit: ``relevance`` (higher is better) plus the exact-match bonuses.

    ``phrase`` says whether the entry holds the query as a phrase when the backend knows it;
    ``None`` to decide from the text.
    """
    has_phrase = contains_phrase(text, query_text) if phrase is None else phrase
    bonus = PHRASE_BONUS if has_phrase else 0.0
    if is_exact(text, query_text):
        bonus += EXACT_BONUS
    return relevance + bonus


def rrf_scores(rankings: Iterable[Sequence[int]]) -> dict[int, float]:
    """Reciprocal rank fusion: each ranked list of ids gives ``1 / (RRF_K + rank)``."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (RRF_K + rank)
    return scores


def mark_words(text: str, words: Iterable[str]) -> str:
    """``text`` HTML-escaped with each of ``words`` (case-insensitive, whole words) in
    ``<mark>``: the snippet of a hit found by meaning rather than by the full-text index."""
    wanted = sorted({w.lower() for w in words if w}, key=len, reverse=True)
    if not wanted:
        return html.escape(text, quote=False)
    pattern = re.compile(
        r"(?<![^\W_])(" + "|".join(re.escape(w) for w in wanted) + r")(?![^\W_])", re.IGNORECASE
    )
    parts: list[str] = []
    last = 0
    for found in pattern.finditer(text):
        parts.append(html.escape(text[last : found.start()], quote=False))
        parts.append(f"<mark>{html.escape(found.group(0), quote=False)}</mark>")
        last = found.end()
    parts.append(html.escape(text[last:], quote=False))
    return "".join(parts)


def group_by_video(
    hits: Iterable[SearchHit], videos: Mapping[str, tuple[str, str, float | None]]
) -> tuple[VideoHits, ...]:
    """Hits grouped by video, videos by their best hit, hits best first (then by time).

    ``videos`` maps a video id to its ``(status, source_key, duration_s)``; hits of a video it
    does not hold are dropped (a video removed while the query ran).
    """
    grouped: dict[str, list[SearchHit]] = {}
    for hit in hits:
        if hit.video_id in videos:
            grouped.setdefault(hit.video_id, []).append(hit)
    result: list[VideoHits] = []
    for video_id, video_hits in grouped.items():
        video_hits.sort(key=lambda h: (-h.score, h.t_s))
        status, source_key, duration_s = videos[video_id]
        result.append(
            VideoHits.model_validate(
                {
                    "video_id": video_id,
                    "status": status,
                    "source_key": source_key,
                    "duration_s": duration_s,
                    "score": video_hits[0].score,
                    "hits": tuple(video_hits),
                }
            )
        )
    result.sort(key=lambda v: (-v.score, v.video_id))
    return tuple(result)
