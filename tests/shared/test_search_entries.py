"""A finished document as search index entries: what is indexed per keyframe and per
transcript segment, and what is left out."""

from __future__ import annotations

from tests.support.search_documents import document, keyframe, segment
from videosense_shared.messages import VideoStatus
from videosense_shared.search import EntryKind
from videosense_shared.search.entries import document_entries


def test_keyframe_findings_and_transcript_segments_become_entries() -> None:
    # GIVEN a keyframe with a text line (also reported word by word), labels, a named and an
    # unnamed face and a caption, and a transcript of two segments
    doc = document(
        "v1",
        keyframe(
            50,
            scene=2,
            text=("Mission briefing:", "Mission", "briefing:"),
            labels=("Person", "Car", "person"),
            faces=("Eileen Collins", None),
            caption="a woman at a lectern",
        ),
        segments=(segment(1.0, 3.5, "Welcome to the briefing", "spk_0"), segment(4.0, 6.0, "  ")),
    )

    # WHEN it is turned into entries
    entries = document_entries(doc)

    # THEN the line is one entry (its words are not repeated), labels once each whatever the
    # case, the named face only, the caption, and the segment with text, with times and places
    assert [(e.kind, e.text) for e in entries] == [
        (EntryKind.TEXT, "Mission briefing:"),
        (EntryKind.LABEL, "Person"),
        (EntryKind.LABEL, "Car"),
        (EntryKind.PERSON, "Eileen Collins"),
        (EntryKind.CAPTION, "a woman at a lectern"),
        (EntryKind.TRANSCRIPT, "Welcome to the briefing"),
    ]
    text = entries[0]
    assert (text.t_s, text.scene_index, text.keyframe_id) == (2.0, 2, "kf-50")
    assert text.image is not None
    assert text.image.key == "frames/v/000000050.jpg"
    spoken = entries[-1]
    assert (spoken.t_s, spoken.end_s, spoken.speaker, spoken.keyframe_id) == (
        1.0,
        3.5,
        "spk_0",
        None,
    )


def test_control_characters_are_removed_from_indexed_text() -> None:
    # GIVEN on-screen text with control characters in it
    doc = document("v1", keyframe(0, text=("A\x02B\x03C\x00",)))

    # WHEN indexed
    entries = document_entries(doc)

    # THEN they are spaces (the SQLite snippet markers can never come from the text)
    assert [e.text for e in entries] == ["A B C"]


def test_a_failed_document_has_no_entries() -> None:
    # GIVEN a failed video without keyframes or transcript
    doc = document("v1", status=VideoStatus.FAILED, error="not a video")

    # WHEN turned into entries THEN there are none
    assert document_entries(doc) == []
