"""The embedded search index (SQLite FTS5) on a real file: every match mode and filter,
ranking, query-syntax injection, re-indexing, failed videos, grouping by video."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.support.search_documents import document, keyframe, segment
from videosense_shared.messages import VideoStatus
from videosense_shared.search import EntryKind, MatchMode, SearchQuery, SearchResults
from videosense_shared.search.protocol import SearchIndexError
from videosense_shared.search.sqlite_index import SqliteSearchIndex

BRIEFING = document(
    "v1",
    keyframe(0, text=("Mission briefing:",), labels=("Person",), faces=("Eileen Collins",)),
    keyframe(250, scene=1, text=("Debriefing at 10",), labels=("Car",), caption="a red car"),
    keyframe(1000, scene=2, text=("briefing the mission crew",)),
    segments=(
        segment(2.0, 5.0, "Today's mission briefing covers the launch", "spk_0"),
        segment(20.0, 30.0, "The crew walks to the car", "spk_1"),
    ),
)
COOKING = document(
    "v2",
    keyframe(0, text=("Kitchen",), labels=("Person", "Bowl")),
    segments=(segment(0.0, 4.0, "Stir the soup before the briefing"),),
)


@pytest.fixture
async def index(tmp_path: Path) -> AsyncIterator[SqliteSearchIndex]:
    idx = SqliteSearchIndex(tmp_path / "search.sqlite")
    await idx.index_video(BRIEFING)
    await idx.index_video(COOKING)
    yield idx
    await idx.close()


def texts(results: SearchResults) -> list[tuple[str, str]]:
    """(video, text) of every hit, in result order."""
    return [(v.video_id, h.text) for v in results.videos for h in v.hits]


async def test_phrase_finds_the_words_in_order_in_any_case(index: SqliteSearchIndex) -> None:
    # WHEN searching the phrase "MISSION BRIEFING"
    results = await index.search(SearchQuery(text="MISSION BRIEFING"))

    # THEN the line and the segment holding it, not "briefing the mission crew", with marks
    assert sorted(h for _, h in texts(results)) == [
        "Mission briefing:",
        "Today's mission briefing covers the launch",
    ]
    line = next(h for v in results.videos for h in v.hits if h.kind is EntryKind.TEXT)
    assert line.snippet == "<mark>Mission briefing</mark>:"
    assert (line.t_s, line.scene_index, line.keyframe_id) == (0.0, 0, "kf-0")
    assert line.image is not None
    assert line.image.key == "frames/v/000000000.jpg"


async def test_any_word_puts_the_exact_phrase_first(index: SqliteSearchIndex) -> None:
    # WHEN searching any of the words "mission briefing"
    results = await index.search(SearchQuery(text="mission briefing", mode=MatchMode.ANY))

    # THEN every entry with either word matches, and the entries holding the phrase come
    # before those with the words apart, the one that is exactly the phrase first of all
    found = texts(results)
    assert ("v1", "briefing the mission crew") in found
    assert ("v2", "Stir the soup before the briefing") in found
    assert results.videos[0].video_id == "v1"
    hits = results.videos[0].hits
    assert [h.text for h in hits[:2]] == [
        "Mission briefing:",
        "Today's mission briefing covers the launch",
    ]
    assert hits[1].score > max(h.score for h in hits[2:])
    assert results.total_hits == 4


async def test_prefix_completes_the_last_word(index: SqliteSearchIndex) -> None:
    # WHEN searching "mission brief" as a prefix
    results = await index.search(SearchQuery(text="mission brief", mode=MatchMode.PREFIX))

    # THEN "mission briefing" is found; a phrase search of the same text finds nothing
    assert ("v1", "Mission briefing:") in texts(results)
    assert (await index.search(SearchQuery(text="mission brief"))).videos == ()


@pytest.mark.parametrize(
    ("kinds", "expected"),
    [
        pytest.param({EntryKind.LABEL}, {("v1", "Car")}, id="label"),
        pytest.param({EntryKind.CAPTION}, {("v1", "a red car")}, id="caption"),
        pytest.param({EntryKind.TRANSCRIPT}, {("v1", "The crew walks to the car")}, id="said"),
        pytest.param(
            {EntryKind.LABEL, EntryKind.CAPTION}, {("v1", "Car"), ("v1", "a red car")}, id="two"
        ),
    ],
)
async def test_kind_filter(
    index: SqliteSearchIndex, kinds: set[EntryKind], expected: set[tuple[str, str]]
) -> None:
    # WHEN searching "car" in some kinds of entries only THEN only those match
    results = await index.search(SearchQuery(text="car", kinds=frozenset(kinds)))
    assert set(texts(results)) == expected


async def test_person_filter(index: SqliteSearchIndex) -> None:
    results = await index.search(
        SearchQuery(text="eileen collins", kinds=frozenset({EntryKind.PERSON}))
    )
    assert texts(results) == [("v1", "Eileen Collins")]


async def test_video_filter(index: SqliteSearchIndex) -> None:
    # WHEN searching "person" in one video THEN the other video's label is not a hit
    results = await index.search(SearchQuery(text="person", video_id="v2"))
    assert texts(results) == [("v2", "Person")]


async def test_time_range_filter_keeps_entries_overlapping_it(index: SqliteSearchIndex) -> None:
    # WHEN searching "car" between 9 s and 25 s
    results = await index.search(SearchQuery(text="car", start_s=9.0, end_s=25.0))

    # THEN the keyframe at 10 s and the segment running from 20 s to 30 s
    assert set(texts(results)) == {
        ("v1", "Car"),
        ("v1", "a red car"),
        ("v1", "The crew walks to the car"),
    }
    # AND a range after them finds the segment still running only
    later = await index.search(SearchQuery(text="car", start_s=25.0))
    assert texts(later) == [("v1", "The crew walks to the car")]


async def test_results_are_grouped_by_video_with_video_facts(index: SqliteSearchIndex) -> None:
    # WHEN a word appears in both videos
    results = await index.search(SearchQuery(text="person"))

    # THEN one group per video, with its status, source key and duration
    assert {v.video_id for v in results.videos} == {"v1", "v2"}
    group = next(v for v in results.videos if v.video_id == "v2")
    assert (group.status, group.source_key, group.duration_s) == (
        VideoStatus.COMPLETE,
        "uploads/v2.mp4",
        60.0,
    )
    assert group.score == group.hits[0].score


async def test_transcript_hits_carry_speaker_and_end(index: SqliteSearchIndex) -> None:
    results = await index.search(
        SearchQuery(text="launch", kinds=frozenset({EntryKind.TRANSCRIPT}))
    )
    hit = results.videos[0].hits[0]
    assert (hit.t_s, hit.end_s, hit.speaker, hit.keyframe_id, hit.image) == (
        2.0,
        5.0,
        "spk_0",
        None,
        None,
    )


async def test_limit_caps_the_hits(index: SqliteSearchIndex) -> None:
    results = await index.search(SearchQuery(text="the", mode=MatchMode.ANY, limit=2))
    assert sum(len(v.hits) for v in results.videos) == 2
    assert results.total_hits == 4


@pytest.mark.parametrize(
    "text",
    [
        pytest.param('mission" OR "kitchen', id="quote"),
        pytest.param("brief*", id="star"),
        pytest.param("NEAR(mission crew)", id="NEAR"),
        pytest.param("mission AND kitchen", id="AND"),
        pytest.param("(mission) OR (kitchen)", id="parentheses"),
        pytest.param("text:kitchen", id="column filter"),
        pytest.param("^mission - crew", id="initial token and minus"),
    ],
)
async def test_query_syntax_in_the_text_is_never_an_operator(
    index: SqliteSearchIndex, text: str
) -> None:
    # WHEN the text holds FTS5 operators THEN the search runs (no syntax error) and finds only
    # entries with the words, consecutive, as written: never "kitchen" through an OR
    results = await index.search(SearchQuery(text=text))
    assert ("v2", "Kitchen") not in texts(results)
    for mode in MatchMode:
        if mode is not MatchMode.NATURAL:
            await index.search(SearchQuery(text=text, mode=mode))


async def test_operator_words_are_searched_as_words(tmp_path: Path) -> None:
    # GIVEN a line that holds the words "near" and "and"
    idx = SqliteSearchIndex(tmp_path / "i.sqlite")
    await idx.index_video(document("v1", keyframe(0, text=("Rock AND roll NEAR you",))))

    # WHEN searching them THEN they match as words
    results = await idx.search(SearchQuery(text="AND roll NEAR"))
    assert texts(results) == [("v1", "Rock AND roll NEAR you")]
    await idx.close()


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("x" * 10_000, id="10000 characters"),
        pytest.param('"*()', id="punctuation only"),
        pytest.param("   ", id="blank"),
        pytest.param("", id="empty"),
    ],
)
def test_unsearchable_text_is_a_validation_error(text: str) -> None:
    with pytest.raises(ValidationError):
        SearchQuery(text=text)


async def test_reindexing_replaces_the_entries(index: SqliteSearchIndex) -> None:
    # GIVEN v1 indexed; WHEN it is indexed again, then with a different document
    await index.index_video(BRIEFING)
    again = await index.search(SearchQuery(text="mission briefing"))
    count = await index.index_video(document("v1", keyframe(0, text=("Landing",))))

    # THEN the second time changed nothing, and the third left only the new entries
    assert len(again.videos[0].hits) == 2
    assert count == 1
    assert (await index.search(SearchQuery(text="mission briefing"))).videos == ()
    assert texts(await index.search(SearchQuery(text="landing"))) == [("v1", "Landing")]
    video = await index.get_video("v1")
    assert video is not None
    assert video.entries == 1


async def test_a_failed_video_is_listed_with_its_error(index: SqliteSearchIndex) -> None:
    # GIVEN a failed video with no entries
    failed = document("v3", status=VideoStatus.FAILED, error="not a video")
    assert await index.index_video(failed) == 0

    # WHEN listing videos THEN it is there, with its error; and it can be listed alone
    listed = {v.video_id: v for v in await index.list_videos()}
    assert set(listed) == {"v1", "v2", "v3"}
    assert (listed["v3"].status, listed["v3"].error, listed["v3"].entries) == (
        VideoStatus.FAILED,
        "not a video",
        0,
    )
    only = await index.list_videos(status=VideoStatus.FAILED)
    assert [v.video_id for v in only] == ["v3"]


async def test_remove_video(index: SqliteSearchIndex) -> None:
    await index.remove_video("v2")
    await index.remove_video("unknown")
    assert {v.video_id for v in (await index.search(SearchQuery(text="person"))).videos} == {"v1"}
    assert await index.get_video("v2") is None


async def test_a_second_reader_sees_what_the_writer_indexed(tmp_path: Path) -> None:
    # GIVEN a writer and a reader on the same file (the indexer and the web app)
    writer = SqliteSearchIndex(tmp_path / "i.sqlite")
    reader = SqliteSearchIndex(tmp_path / "i.sqlite")

    # WHEN the writer indexes THEN the reader finds it
    await writer.index_video(BRIEFING)
    assert (await reader.search(SearchQuery(text="debriefing"))).total_hits == 1
    await writer.close()
    await reader.close()


async def test_natural_language_without_a_model_is_refused(index: SqliteSearchIndex) -> None:
    with pytest.raises(SearchIndexError, match="text-embedding model"):
        await index.search(SearchQuery(text="a man talking", mode=MatchMode.NATURAL))


async def test_a_file_that_is_not_an_index_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "junk.sqlite"
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(SearchIndexError, match="cannot open"):
        SqliteSearchIndex(path)
