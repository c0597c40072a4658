"""A search over the library and its results, independent of the index backend."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field, model_validator

from videosense_shared.messages import ImageRef, Model, VideoStatus
from videosense_shared.search.words import query_words

#: Longest query text accepted: longer queries are a client error, not a slow search.
MAX_QUERY_CHARS = 500

#: Most hits a single search returns.
MAX_LIMIT = 500


class EntryKind(StrEnum):
    """What an index entry holds: one per keyframe finding or transcript segment."""

    TEXT = "text"  # on-screen text read in a keyframe
    LABEL = "label"  # a label (object, scene) seen in a keyframe
    PERSON = "person"  # a recognised face's name in a keyframe
    CAPTION = "caption"  # a keyframe's caption
    TRANSCRIPT = "transcript"  # a transcript segment


class MatchMode(StrEnum):
    """How the query's words must appear in an entry."""

    PHRASE = "phrase"  # all words, consecutive and in order
    ANY = "any"  # at least one of the words
    PREFIX = "prefix"  # words in order, the last one as a prefix ("brief" finds "briefing")
    NATURAL = "natural"  # meaning, not words: text embeddings combined with full text (hybrid)


class SearchQuery(Model):
    """One search: the text, how it must match, and filters.

    Raises:
        pydantic.ValidationError: empty or over-long text, text without letters or digits, a
            limit out of range, or a time range that ends before it starts.
    """

    text: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    mode: MatchMode = MatchMode.PHRASE
    kinds: frozenset[EntryKind] = frozenset(EntryKind)  # empty is refused: nothing to search
    video_id: str | None = None
    start_s: float | None = Field(default=None, ge=0)  # hits at or after this time
    end_s: float | None = Field(default=None, ge=0)  # hits at or before this time
    limit: int = Field(default=50, ge=1, le=MAX_LIMIT)

    @model_validator(mode="after")
    def _coherent(self) -> SearchQuery:
        if not self.text.strip():
            raise ValueError("the query text is blank")
        if not query_words(self.text):
            # Punctuation alone ("***", '"') matches nothing in any backend: say so.
            raise ValueError("the query text has no letters or digits to search for")
        if not self.kinds:
            raise ValueError("at least one kind of entry must be searched")
        if self.start_s is not None and self.end_s is not None and self.end_s < self.start_s:
            raise ValueError(f"end_s {self.end_s} is before start_s {self.start_s}")
        return self


class SearchHit(Model):
    """One matching entry: where in which video, and what matched."""

    video_id: str
    kind: EntryKind
    text: str  # the entry's whole text (the line read, the label, the name, the segment)
    snippet: str  # the text with the matched words marked as <mark>...</mark>, HTML-escaped
    score: float  # higher is better; comparable within one search only
    t_s: float  # keyframe time, or segment start
    end_s: float | None = None  # segment end (transcript), None for keyframe entries
    scene_index: int | None = None
    keyframe_id: str | None = None
    image: ImageRef | None = None  # the keyframe image, for keyframe entries
    speaker: str | None = None  # transcript entries, when the transcript names speakers


class VideoHits(Model):
    """The hits of one video, best first, with what a result list shows about the video."""

    video_id: str
    status: VideoStatus
    source_key: str  # the uploaded object's key, the video's human name
    duration_s: float | None = None
    score: float  # the best hit's score
    hits: tuple[SearchHit, ...]


class SearchResults(Model):
    """A search's answer: videos ordered by their best hit, each with its hits in order."""

    query: SearchQuery
    total_hits: int  # before grouping and the limit
    # False when total_hits is a lower bound: a backend may stop counting a very common word
    # (the SQLite one past RANK_LIMIT matches, taking the newest of them unranked instead).
    total_exact: bool = True
    videos: tuple[VideoHits, ...]


class IndexedVideo(Model):
    """A video as the index knows it: listed whatever its status, even with no entries (a
    failed video)."""

    video_id: str
    status: VideoStatus
    source_key: str
    duration_s: float | None = None
    error: str | None = None  # why the video failed, when it did
    entries: int = Field(ge=0)  # how many entries it has in the index
    completed_at: datetime | None = None
