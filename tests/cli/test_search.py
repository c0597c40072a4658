"""``videosense find``'s query logic on documents built in the test: which keyframes match a
text, a label or a person, and what each hit says about where it is."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from videosense.search import Query, QueryKind, find, find_in_document
from videosense_shared.document import DocumentKeyframe, VideoDocument
from videosense_shared.messages import (
    Box,
    Face,
    ImageRef,
    Label,
    SourceRef,
    TextDetection,
    VideoStatus,
)

BOX = Box(left=0.1, top=0.1, width=0.2, height=0.2)


def keyframe(
    frame: int,
    *,
    scene: int = 0,
    text: tuple[str, ...] = (),
    labels: tuple[str, ...] = (),
    faces: tuple[str | None, ...] = (),
) -> DocumentKeyframe:
    return DocumentKeyframe(
        id=f"kf-{frame}",
        frame=frame,
        t_s=frame / 25,
        scene_index=scene,
        image=ImageRef(bucket="media", key=f"keyframes/v/{frame:09d}.jpg", width=640, height=360),
        text=tuple(TextDetection(text=t, confidence=90.0, box=BOX) for t in text),
        labels=tuple(Label(name=n, confidence=85.0) for n in labels),
        faces=tuple(Face(box=BOX, confidence=99.0, name=n) for n in faces),
    )


def document(video_id: str, *keyframes: DocumentKeyframe) -> VideoDocument:
    return VideoDocument(
        video_id=video_id,
        status=VideoStatus.COMPLETE,
        source=SourceRef(bucket="media", key=f"uploads/{video_id}.mp4", etag="e", size_bytes=1),
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        keyframes=keyframes,
    )


BRIEFING = document(
    "v1",
    keyframe(0, text=("Mission briefing:", "Mission", "briefing:")),
    keyframe(
        50, scene=1, text=("Debriefing at 10",), labels=("Person",), faces=("Eileen_Collins",)
    ),
    keyframe(100, scene=2, labels=("person", "Car"), faces=(None, "eileen_collins")),
)


@pytest.mark.parametrize(
    ("query", "frames"),
    [
        pytest.param(Query(QueryKind.TEXT, "briefing"), [0], id="a word, not inside another"),
        pytest.param(Query(QueryKind.TEXT, "MISSION BRIEFING"), [0], id="a phrase, any case"),
        pytest.param(Query(QueryKind.TEXT, "briefing mission"), [], id="words out of order"),
        pytest.param(Query(QueryKind.TEXT, "brief"), [], id="part of a word"),
        pytest.param(Query(QueryKind.TEXT, "at 10"), [50], id="digits"),
        pytest.param(Query(QueryKind.LABEL, "PERSON"), [50, 100], id="label any case"),
        pytest.param(Query(QueryKind.LABEL, "Pers"), [], id="label whole name only"),
        pytest.param(Query(QueryKind.PERSON, "Eileen_Collins"), [50, 100], id="person any case"),
        pytest.param(Query(QueryKind.PERSON, "Nobody"), [], id="unknown person"),
    ],
)
def test_which_keyframes_match(query: Query, frames: list[int]) -> None:
    # GIVEN a document with text, labels and faces in three keyframes
    # WHEN it is searched
    hits = find_in_document(BRIEFING, query)
    # THEN exactly the keyframes holding the query are found
    assert [hit.frame for hit in hits] == frames


def test_a_hit_says_where_and_what_matched() -> None:
    # GIVEN a keyframe whose text holds the word as a line and as a word
    # WHEN the word is searched
    [hit] = find_in_document(BRIEFING, Query(QueryKind.TEXT, "briefing"))
    # THEN the hit names the video, time, scene, frame and keyframe image
    assert (hit.video_id, hit.t_s, hit.scene_index, hit.frame) == ("v1", 0.0, 0, 0)
    assert (hit.image_bucket, hit.image_key) == ("media", "keyframes/v/000000000.jpg")
    # AND lists each distinct detection that matched, with its confidence
    assert [(e.value, e.confidence) for e in hit.evidence] == [
        ("Mission briefing:", 90.0),
        ("briefing:", 90.0),
    ]
    assert hit.to_json()["image"] == {"bucket": "media", "key": "keyframes/v/000000000.jpg"}


def test_hits_come_per_video_in_time_order() -> None:
    # GIVEN two documents, one with keyframes stored out of time order
    later_first = document(
        "v2", keyframe(75, scene=1, labels=("Car",)), keyframe(25, labels=("Car",))
    )
    # WHEN both are searched
    hits = find([BRIEFING, later_first], Query(QueryKind.LABEL, "car"))
    # THEN the hits follow the documents' order, then time
    assert [(h.video_id, h.frame) for h in hits] == [("v1", 100), ("v2", 25), ("v2", 75)]


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        pytest.param(QueryKind.TEXT, "  ", id="blank text"),
        pytest.param(QueryKind.TEXT, "?!", id="text without letters or digits"),
        pytest.param(QueryKind.PERSON, "", id="empty person"),
    ],
)
def test_a_query_with_nothing_to_match_is_refused(kind: QueryKind, value: str) -> None:
    # GIVEN/WHEN a query with nothing to look for is made / THEN it is refused with a reason
    with pytest.raises(ValueError, match=f"--{kind.value}"):
        Query(kind, value)
