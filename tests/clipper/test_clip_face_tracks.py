"""``videosense clip --person`` on a real video through the real pipeline: the redaction
stage records the person's face track, and the clip is cut to their time on screen, not to the
whole scene around it.

The video is one 8 s shot (a drifting textured background, no cut) in which Eileen Collins's
photo (scikit-image's public-domain astronaut) is on screen from 3 s to 5 s only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import av
import pytest

from tests.redactor.composite import Bgr, Placement, background, eileen, gallery, paste, write_clip
from tests.support.command_line import cli
from tests.support.polling import short_polls
from videosense.embedded import EmbeddedStack
from videosense_shared.messages import Stage, StageStatus, VideoStatus

FPS = 25
SIZE = (640, 360)
SECONDS = 8
ON_SCREEN = (3.0, 5.0)  # when the face is shown


def face_in_one_shot(path: Path) -> Path:
    """One shot of ``SECONDS``; Eileen's face shown during ``ON_SCREEN``; a tone throughout."""
    person = eileen().scaled(0.6)
    first, last = (round(t * FPS) for t in ON_SCREEN)

    def frames() -> Iterable[Bgr]:
        for i in range(SECONDS * FPS):
            frame = background(SIZE, i)
            if first <= i < last:
                paste(frame, Placement(person, 240 + (i - first) // 5, 80))
            yield frame

    return write_clip(path, frames(), SIZE, fps=FPS, audio_s=SECONDS)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return face_in_one_shot(tmp_path_factory.mktemp("face-track") / "visitor.mp4")


@pytest.fixture
async def stack(
    aws_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[EmbeddedStack]:
    short_polls(monkeypatch, "INGEST", "FRAME_EXTRACTOR", "AGGREGATOR", "REDACTOR", "CLIPPER")
    monkeypatch.setenv("VIDEOSENSE_REDACTOR_PRESET", "ultrafast")
    # A gallery with another photo of her: redaction under "all" names the track it records.
    faces = gallery(tmp_path / "gallery", [eileen()])
    monkeypatch.setenv("VIDEOSENSE_REDACTOR_FACE_GALLERY", str(faces))
    async with EmbeddedStack(endpoint=aws_env["AWS_ENDPOINT_URL"]) as running:
        yield running


def frame_count(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


@pytest.mark.integration
async def test_a_person_is_clipped_to_their_face_track_not_the_scene(
    stack: EmbeddedStack, clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the video analysed into scenes and redacted (faces tracked and named)
    video_id = await stack.upload(clip, stages=(Stage.FRAMES, Stage.REDACTION))
    event = await stack.wait_completed(video_id, timeout_s=180)
    assert event.status == VideoStatus.COMPLETE
    document = await stack.store.read(video_id)
    assert document.stages[Stage.REDACTION].status == StageStatus.COMPLETE
    assert document.redaction is not None
    assert document.redaction.face_tracks is not None
    (track,) = [t for t in document.redaction.face_tracks if t.name == "eileen"]
    # (the track is her time on screen, as sampled: first seen within 0.6 s of her entrance,
    # last within 0.2 s of her exit)
    assert ON_SCREEN[0] <= track.start_s <= ON_SCREEN[0] + 0.6
    assert ON_SCREEN[1] - 0.25 <= track.end_s <= ON_SCREEN[1] + 0.05
    # (and the shot around her is far longer: a scene clip would start and end elsewhere)
    (scene,) = [s for s in document.scenes if s.start_s <= track.start_s < s.end_s]
    assert scene.start_s <= 1.0
    assert scene.end_s >= SECONDS - 1.0

    # WHEN her clips are asked for by name
    out = tmp_path / "clips"
    code, stdout, err = await cli(capsys, "clip", video_id, "--person", "Eileen", "--out", str(out))

    # THEN one clip is cut from the start of her track to its end, frame-exact
    assert code == 0, err
    [made] = list(out.iterdir())
    assert made.name == f"clip-001_{track.start_s:.3f}-{track.end_s:.3f}.mp4"
    assert frame_count(made) == round((track.end_s - track.start_s) * FPS)
    assert f"{track.start_s:.3f}-{track.end_s:.3f} s" in stdout
    # AND the command says where the range came from
    assert "from the face tracks" in err

    # WHEN padded / THEN the track is widened by the padding on both sides
    padded = tmp_path / "padded"
    code, _, err = await cli(
        capsys, "clip", video_id, "--person", "eileen", "--pad", "0.4", "--out", str(padded)
    )
    assert code == 0, err
    [wider] = list(padded.iterdir())
    start, end = track.start_s - 0.4, track.end_s + 0.4
    assert wider.name == f"clip-001_{start:.3f}-{end:.3f}.mp4"
