"""The face tracks a redaction records for the document: each face's time on screen, named
when the face gallery knows it (under ``all`` too: naming hides nothing more), and bounded in
number. The local backend on the real two-people clip, and the recording rule on made-up
tracks."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from redactor.backend import Findings, RedactionRequest
from redactor.face_tracks import findings_tracks, record_tracks
from redactor.local import LocalBackend
from redactor.policy import parse_policy
from redactor.scan import Scan
from redactor.settings import RedactorSettings
from redactor.tracking import Track
from tests.redactor.collect import CollectedBoxes
from tests.redactor.composite import Rect, eileen, gallery, grace, two_people
from videosense_shared.messages import FaceTrack, SourceRef

SECONDS = 2.0


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Rect]]]:
    return two_people(tmp_path_factory.mktemp("tracks") / "two.mp4", seconds=SECONDS, audio=False)


@pytest.fixture(scope="module")
def faces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return gallery(tmp_path_factory.mktemp("gallery"), [eileen(), grace()])


def find(path: Path, settings: RedactorSettings) -> Findings:
    request = RedactionRequest(
        video_id="v",
        source=SourceRef(bucket="b", key="k", etag="e", size_bytes=1),
        path=path,
        policy=parse_policy(settings.policy),
    )
    return asyncio.run(LocalBackend(settings).find(request, CollectedBoxes()))


def test_under_all_a_gallery_names_the_recorded_tracks(
    clip: tuple[Path, list[dict[str, Rect]]], faces: Path
) -> None:
    # GIVEN the two-people clip (both on screen for its whole 2 s) and a gallery of both
    path, _ = clip
    settings = RedactorSettings(policy="all", face_gallery=faces)
    # WHEN the local backend finds the faces under "all"
    findings = find(path, settings)
    tracks, omitted = findings_tracks(findings, parse_policy("all"))
    # THEN one named track per person is recorded, hidden, spanning the clip (the noisy
    # background may add an unnamed false face: recorded too, but nobody's)
    assert omitted == 0
    named = [t for t in tracks if t.name is not None]
    assert sorted(t.name or "" for t in named) == ["eileen", "grace"]
    assert len(tracks) == len(findings.seen)
    for track in named:
        assert track.redacted
        assert track.start_s == 0.0  # the first frame is sampled
        assert SECONDS - 0.25 <= track.end_s <= SECONDS  # the last sample is within 0.2 s
    # AND naming did not change what is hidden: every track
    assert len(findings.faces) == findings.faces_seen == len(tracks)


def test_without_a_gallery_tracks_are_recorded_unnamed(
    clip: tuple[Path, list[dict[str, Rect]]], tmp_path: Path
) -> None:
    # GIVEN no gallery / WHEN "all" is applied
    settings = RedactorSettings(policy="all", face_gallery=tmp_path / "none")
    # THEN the faces are recorded, without names, and no gallery is no error
    findings = find(clip[0], settings)
    tracks, _ = findings_tracks(findings, parse_policy("all"))
    assert len(tracks) >= 2
    assert {t.name for t in tracks} == {None}
    assert findings.names_error is None


def test_an_unusable_gallery_leaves_the_tracks_unnamed_and_says_why(
    clip: tuple[Path, list[dict[str, Rect]]], tmp_path: Path
) -> None:
    # GIVEN a gallery folder whose only photo is not an image
    folder = tmp_path / "faces"
    folder.mkdir()
    (folder / "eileen.jpg").write_bytes(b"not a photo")
    # WHEN "all" is applied
    findings = find(clip[0], RedactorSettings(policy="all", face_gallery=folder))
    # THEN every face is still hidden, unnamed, and the findings say why
    tracks, _ = findings_tracks(findings, parse_policy("all"))
    assert len(findings.faces) == findings.faces_seen >= 2
    assert {t.name for t in tracks} == {None}
    assert findings.names_error is not None
    assert "holds no readable photo" in findings.names_error


def test_a_named_policy_records_who_was_left_visible(
    clip: tuple[Path, list[dict[str, Rect]]], faces: Path
) -> None:
    # GIVEN "except:eileen" / WHEN applied
    policy = "except:eileen"
    tracks, _ = findings_tracks(
        find(clip[0], RedactorSettings(policy=policy, face_gallery=faces)), parse_policy(policy)
    )
    # THEN Eileen's track is recorded as not redacted, Grace's as redacted
    named = {(t.name, t.redacted) for t in tracks if t.name is not None}
    assert named == {("eileen", False), ("grace", True)}


def _track(index: int, first: int, last: int, name: str | None) -> Track:
    track = Track(index, "face", 0, detections=[(first, (0, 0, 1, 1)), (last, (0, 0, 1, 1))])
    track.votes = [name]
    return track


def test_times_count_from_the_first_frame_and_end_with_the_last_frame() -> None:
    # GIVEN a 10 fps stream whose first frame is at 1.0 s, and a track detected on frames 3..7
    found = Scan(frame_rate=10.0, times=[1.0 + i / 10 for i in range(10)])
    # WHEN recorded
    (track,), _ = record_tracks([_track(0, 3, 7, "jane")], found, parse_policy("all"))
    # THEN it runs from frame 3's time to the end of frame 7, relative to the first frame
    assert track == FaceTrack(start_s=0.3, end_s=0.8, name="jane", redacted=True)
    # AND a track ending on the last frame ends one frame period after it
    (last,), _ = record_tracks([_track(0, 8, 9, None)], found, parse_policy("all"))
    assert last.end_s == pytest.approx(1.0)


def test_past_the_limit_named_tracks_are_kept_first_then_the_longest() -> None:
    # GIVEN five tracks: two short named ones, three unnamed of different lengths
    found = Scan(frame_rate=10.0, times=[i / 10 for i in range(100)])
    tracks = [
        _track(0, 0, 1, "jane"),
        _track(1, 10, 60, None),  # longest unnamed
        _track(2, 20, 25, None),
        _track(3, 30, 50, None),
        _track(4, 70, 71, "john"),
    ]
    # WHEN at most three are recorded
    kept, omitted = record_tracks(tracks, found, parse_policy("all"), limit=3)
    # THEN both named tracks and the longest unnamed one stay, in time order; two are counted
    assert [(t.start_s, t.name) for t in kept] == [(0.0, "jane"), (1.0, None), (7.0, "john")]
    assert omitted == 2
