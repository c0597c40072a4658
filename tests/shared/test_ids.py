"""Deterministic ids: same lineage, same id; any difference, a different id."""

from __future__ import annotations

from videosense_shared.ids import message_id_for, trace_id_for, video_id_for


def test_same_upload_is_one_video() -> None:
    assert video_id_for("b", "uploads/a.mp4", '"abc"') == video_id_for("b", "uploads/a.mp4", "abc")


def test_changed_object_is_a_new_video() -> None:
    ids = {
        video_id_for("b", "uploads/a.mp4", "abc"),
        video_id_for("b", "uploads/a.mp4", "abd"),
        video_id_for("b", "uploads/b.mp4", "abc"),
        video_id_for("c", "uploads/a.mp4", "abc"),
    }
    assert len(ids) == 4


def test_parts_cannot_collide_by_concatenation() -> None:
    assert video_id_for("ab", "c", "e") != video_id_for("a", "bc", "e")


def test_unicode_keys_are_stable() -> None:
    assert video_id_for("b", "uploads/été 1.mp4", "x") == video_id_for(
        "b", "uploads/été 1.mp4", "x"
    )
    assert video_id_for("b", "uploads/été 1.mp4", "x").startswith("v")


def test_child_message_ids_follow_lineage() -> None:
    parent = message_id_for("v1", "VideoIngested")
    assert message_id_for(parent, "FramesExtracted", "0") == message_id_for(
        parent, "FramesExtracted", "0"
    )
    assert message_id_for(parent, "FramesExtracted", "0") != message_id_for(
        parent, "FramesExtracted", "1"
    )
    assert trace_id_for("v1") == trace_id_for("v1") != trace_id_for("v2")
