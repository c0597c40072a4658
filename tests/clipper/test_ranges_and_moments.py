"""Where clips come from: ranges found in a document for each selector, then padded and merged
(pure logic, no media)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from clipper.moments import describe, find_moments, find_ranges
from clipper.ranges import TimeRange, merge, pad, prepare
from videosense.commands.clip import spans_for_hits
from videosense.search import Query, QueryKind, find_in_document
from videosense_shared.document import DocumentKeyframe, VideoDocument
from videosense_shared.messages import (
    MAX_CLIP_SPANS,
    ClipRequested,
    ClipSelector,
    ClipSpan,
    Face,
    FaceTrack,
    ImageRef,
    Label,
    MediaFacts,
    ObjectRef,
    Redaction,
    Scene,
    Segment,
    SourceRef,
    TextDetection,
    Transcript,
    VideoStatus,
)
from videosense_shared.search import EntryKind, SearchHit

BOX = {"left": 0.1, "top": 0.1, "width": 0.2, "height": 0.2}


def _keyframe(frame: int, scene: int, **found: object) -> DocumentKeyframe:
    return DocumentKeyframe.model_validate(
        {
            "id": f"kf{frame}",
            "frame": frame,
            "t_s": frame / 25,
            "scene_index": scene,
            "image": ImageRef(bucket="b", key=f"frames/v/{frame:09d}.jpg", width=64, height=48),
            **found,
        }
    )


@pytest.fixture
def document() -> VideoDocument:
    """Three scenes (0-4 s, 4-10 s, 10-12 s); Jane in the first and last, a dog in the second,
    a slide reading "Q3 revenue: up"; a transcript of three segments."""
    return VideoDocument(
        video_id="v",
        status=VideoStatus.COMPLETE,
        source=SourceRef(bucket="b", key="uploads/x.mp4", etag="e", size_bytes=1),
        media=MediaFacts(
            duration_s=12,
            fps=25,
            width=64,
            height=48,
            frame_count=300,
            video_codec="h264",
            has_audio=True,
        ),
        created_at=datetime(2024, 1, 1, tzinfo=UTC),
        scenes=(
            Scene(index=0, start_frame=0, end_frame=100, start_s=0.0, end_s=4.0),
            Scene(index=1, start_frame=100, end_frame=250, start_s=4.0, end_s=10.0),
            Scene(index=2, start_frame=250, end_frame=300, start_s=10.0, end_s=12.0),
        ),
        keyframes=(
            _keyframe(10, 0, faces=(Face(box=BOX, confidence=99, name="Jane Doe"),)),
            _keyframe(60, 0, faces=(Face(box=BOX, confidence=97, name="Jane Doe"),)),
            _keyframe(
                120,
                1,
                labels=(Label(name="Dog", confidence=90),),
                text=(TextDetection(text="Q3 revenue: up", confidence=95),),
            ),
            _keyframe(260, 2, faces=(Face(box=BOX, confidence=96, name="Jane Doe"),)),
        ),
        transcript=Transcript(
            language="en",
            text="...",
            segments=(
                Segment(start_s=0.5, end_s=2.0, text="Good morning, everyone."),
                Segment(start_s=4.2, end_s=6.8, text="Revenue grew in Q3, as you can see."),
                Segment(start_s=9.0, end_s=11.5, text="Thank you, good MORNING again!"),
            ),
        ),
    )


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        # a person: the whole scene of each keyframe showing her, each scene once
        (ClipSelector(person="jane doe"), [(0.0, 4.0), (10.0, 12.0)]),
        (ClipSelector(label="DOG"), [(4.0, 10.0)]),
        # text on screen: whole words, in order, punctuation ignored
        (ClipSelector(text="q3 REVENUE"), [(4.0, 10.0)]),
        (ClipSelector(text="revenue q3"), []),
        # spoken words: each segment saying them, start to end
        (ClipSelector(say="good morning"), [(0.5, 2.0), (9.0, 11.5)]),
        (ClipSelector(say="goodbye"), []),
        (ClipSelector(from_s=2.5, to_s=7.25), [(2.5, 7.25)]),
        (ClipSelector(person="Nobody"), []),
    ],
)
def test_each_selector_finds_its_ranges(
    document: VideoDocument, selector: ClipSelector, expected: list[tuple[float, float]]
) -> None:
    # WHEN the selector is applied to the document / THEN these ranges, in time order
    assert [(r.start_s, r.end_s) for r in find_ranges(document, selector)] == expected


def test_keyframe_matching_agrees_with_videosense_find(document: VideoDocument) -> None:
    # GIVEN the same words searched by `videosense find` and selected for clips
    for kind, value in ((QueryKind.TEXT, "revenue: UP"), (QueryKind.PERSON, "JANE DOE")):
        hits = find_in_document(document, Query(kind, value))
        ranges = find_ranges(document, ClipSelector.model_validate({kind.value: value}))
        # THEN the clips are the scenes of exactly the keyframes find reports
        scenes = {s.index: (s.start_s, s.end_s) for s in document.scenes}
        assert sorted({scenes[h.scene_index] for h in hits}) == [
            (r.start_s, r.end_s) for r in ranges
        ]


def test_a_phrase_without_words_is_refused(document: VideoDocument) -> None:
    with pytest.raises(ValueError, match="no letters or digits"):
        find_ranges(document, ClipSelector(say="?!"))


def test_selector_takes_exactly_one_kind() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        ClipSelector(person="a", label="b")
    with pytest.raises(ValueError, match="exactly one"):
        ClipSelector()
    with pytest.raises(ValueError, match="from_s < to_s"):
        ClipSelector(from_s=3, to_s=2)


def test_padding_widens_ranges_but_never_before_zero() -> None:
    padded = pad([TimeRange(0.5, 2.0), TimeRange(5.0, 6.0)], 1.0)
    assert padded == [TimeRange(0.0, 3.0), TimeRange(4.0, 7.0)]
    with pytest.raises(ValueError, match="padding"):
        pad([], -1)


def test_merge_joins_overlaps_and_ranges_closer_than_the_gap() -> None:
    ranges = [
        TimeRange(10, 12),
        TimeRange(0, 2),
        TimeRange(1, 3),
        TimeRange(3.5, 4),
        TimeRange(6, 7),
    ]
    # WHEN merged without a gap / THEN only overlapping (and touching) ranges join
    assert merge(ranges, 0) == [
        TimeRange(0, 3),
        TimeRange(3.5, 4),
        TimeRange(6, 7),
        TimeRange(10, 12),
    ]
    # WHEN merged with a 1 s gap / THEN 3.0 -> 3.5 joins, 4 -> 6 does not (2 s apart)
    assert merge(ranges, 1.0) == [TimeRange(0, 4), TimeRange(6, 7), TimeRange(10, 12)]
    # WHEN padded first / THEN the padding can bring ranges together
    assert prepare(ranges, pad_s=1.0, merge_gap_s=0) == [TimeRange(0, 8), TimeRange(9, 13)]


def test_explicit_ranges_are_a_selector_of_their_own() -> None:
    # GIVEN ranges a client resolved / THEN they are one selector, alone, each ordered, bounded
    spans = (ClipSpan(from_s=1, to_s=2), ClipSpan(from_s=0, to_s=0.5))
    assert ClipSelector(ranges=spans).ranges == spans
    with pytest.raises(ValueError, match="exactly one"):
        ClipSelector(ranges=spans, say="hello")
    with pytest.raises(ValueError, match="exactly one"):
        ClipSelector(ranges=spans, from_s=0, to_s=1)
    with pytest.raises(ValueError, match="end after it starts"):
        ClipSelector(ranges=(ClipSpan(from_s=3, to_s=3),))
    with pytest.raises(ValueError, match="at least 1 item"):
        ClipSelector(ranges=())
    with pytest.raises(ValueError, match=f"at most {MAX_CLIP_SPANS} items"):
        ClipSelector(
            ranges=tuple(ClipSpan(from_s=i, to_s=i + 1) for i in range(MAX_CLIP_SPANS + 1))
        )
    # AND they travel in a request as JSON and come back equal
    request = ClipRequested(
        message_id="m",
        video_id="v",
        trace_id="t",
        request_id="r",
        selector=ClipSelector(ranges=spans),
    )
    assert ClipRequested.model_validate_json(request.model_dump_json()) == request


def test_explicit_ranges_are_cut_as_given_then_padded_and_merged(document: VideoDocument) -> None:
    # GIVEN explicit ranges out of order, one twice
    selector = ClipSelector(
        ranges=(
            ClipSpan(from_s=9, to_s=11.5),
            ClipSpan(from_s=0.5, to_s=2),
            ClipSpan(from_s=4, to_s=10),
            ClipSpan(from_s=0.5, to_s=2),
        )
    )
    # WHEN found / THEN each range once, in time order, whatever the document holds
    found = find_ranges(document, selector)
    assert [(r.start_s, r.end_s) for r in found] == [(0.5, 2.0), (4.0, 10.0), (9.0, 11.5)]
    assert describe(selector) == "4 explicit range(s)"
    # AND padding and merging apply as for any selector
    assert prepare(found, pad_s=0.5, merge_gap_s=1.5) == [TimeRange(0, 12)]
    assert prepare(found, pad_s=0, merge_gap_s=0) == [TimeRange(0.5, 2), TimeRange(4, 11.5)]


def _hit(kind: EntryKind, t_s: float, **more: object) -> SearchHit:
    return SearchHit.model_validate(
        {"video_id": "v", "kind": kind, "text": "x", "snippet": "x", "score": 1.0, "t_s": t_s}
        | more
    )


def test_query_hits_become_segments_and_whole_scenes(document: VideoDocument) -> None:
    # GIVEN a natural-language search's hits: a transcript segment, two keyframes of scene 1,
    # a caption of a keyframe whose scene the document lacks, a segment with no length
    hits = [
        _hit(EntryKind.TRANSCRIPT, 9.0, end_s=11.5),
        _hit(EntryKind.TEXT, 4.8, scene_index=1),
        _hit(EntryKind.LABEL, 4.8, scene_index=1),
        _hit(EntryKind.CAPTION, 2.4, scene_index=7),
        _hit(EntryKind.TRANSCRIPT, 3.0, end_s=3.0),
    ]
    # WHEN turned into ranges / THEN the segment as spoken, the scene once, the lone keyframe's
    # own frame (1/fps), in time order; the empty segment is dropped
    spans = spans_for_hits(hits, document)
    assert [(s.from_s, s.to_s) for s in spans] == [(2.4, 2.44), (4.0, 10.0), (9.0, 11.5)]
    # AND no hits give no ranges
    assert spans_for_hits([], document) == ()


def _with_tracks(document: VideoDocument, *tracks: FaceTrack) -> VideoDocument:
    redaction = Redaction(
        image=ObjectRef(bucket="b", key="redacted/v.mp4"),
        policy="all",
        style="pixelate",
        faces_redacted=len(tracks),
        frames_with_faces=10,
        frame_count=300,
        backend="local",
        face_tracks=tracks,
    )
    return document.model_copy(update={"redaction": redaction})


def test_a_person_with_face_tracks_is_cut_to_their_time_on_screen(
    document: VideoDocument,
) -> None:
    # GIVEN Jane's face tracks inside her scenes (0-4 s and 10-12 s), and another person's
    tracked = _with_tracks(
        document,
        FaceTrack(start_s=1.2, end_s=2.6, name="Jane Doe"),
        FaceTrack(start_s=3.0, end_s=3.4, name="jane doe"),
        FaceTrack(start_s=10.5, end_s=11.0, name="Jane Doe", redacted=False),
        FaceTrack(start_s=5.0, end_s=6.0, name="John"),
        FaceTrack(start_s=7.0, end_s=8.0),
    )
    # WHEN --person asks for her (any case)
    moments = find_moments(tracked, ClipSelector(person=" jane DOE"))
    # THEN the ranges are her tracks, not her scenes, and say so
    assert moments.source == "face_tracks"
    assert moments.ranges == [TimeRange(1.2, 2.6), TimeRange(3.0, 3.4), TimeRange(10.5, 11.0)]
    # AND padded and merged like any ranges
    assert prepare(moments.ranges, pad_s=0.5, merge_gap_s=0.0) == [
        TimeRange(0.7, 3.9),
        TimeRange(10.0, 11.5),
    ]


def test_a_person_without_a_named_track_gets_the_scenes_of_their_keyframes(
    document: VideoDocument,
) -> None:
    # GIVEN face tracks that do not name Jane (no gallery photo of her when redacting)
    tracked = _with_tracks(document, FaceTrack(start_s=1.0, end_s=2.0))
    # WHEN --person asks for her / THEN the recognizer's keyframes give her whole scenes
    moments = find_moments(tracked, ClipSelector(person="Jane Doe"))
    assert moments.source == "scenes"
    assert moments.ranges == [TimeRange(0.0, 4.0), TimeRange(10.0, 12.0)]
    # AND so does a document without recorded tracks (before schema v3, or no redaction)
    assert find_moments(document, ClipSelector(person="Jane Doe")).source == "scenes"


def test_every_selector_says_where_its_moments_came_from(document: VideoDocument) -> None:
    assert find_moments(document, ClipSelector(label="dog")).source == "scenes"
    assert find_moments(document, ClipSelector(say="revenue")).source == "transcript"
    assert find_moments(document, ClipSelector(from_s=1, to_s=2)).source == "explicit"
    spans = (ClipSpan(from_s=1, to_s=2),)
    assert find_moments(document, ClipSelector(ranges=spans)).source == "explicit"
