"""The local backend on a clip with two known people (Eileen Collins and Grace Hopper): every
policy hides exactly the intended faces on every frame, and leaves the others as they were."""

from __future__ import annotations

import asyncio
from pathlib import Path

import av
import numpy as np
import pytest

from redactor.backend import RedactionError, RedactionRequest
from redactor.handler import look
from redactor.local import LocalBackend
from redactor.pipeline import redact as redact_video
from redactor.policy import parse_policy
from redactor.settings import RedactorSettings
from tests.redactor.composite import (
    Bgr,
    Rect,
    eileen,
    gallery,
    grace,
    region_change,
    two_people,
    write_clip,
)
from tests.support.pictures import pil_text
from videosense_shared.backends import BackendUnavailableError
from videosense_shared.messages import SourceRef

# Mean absolute change inside a face rectangle: re-encoding alone moves it by 1-3 levels, a
# pixelation of a face by 15 or more.
REDACTED = 10.0
UNTOUCHED = 4.0


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Rect]]]:
    return two_people(tmp_path_factory.mktemp("two-people") / "two people.mp4")


@pytest.fixture(scope="module")
def faces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return gallery(tmp_path_factory.mktemp("gallery"), [eileen(), grace()])


def centre(rect: Rect) -> Rect:
    """The middle 60% of a rectangle."""
    x0, y0, x1, y1 = rect
    dx, dy = (x1 - x0) // 5, (y1 - y0) // 5
    return (x0 + dx, y0 + dy, x1 - dx, y1 - dy)


def frames(path: Path) -> list[Bgr]:
    with av.open(str(path)) as container:
        return [
            np.asarray(f.to_ndarray(format="bgr24"), np.uint8) for f in container.decode(video=0)
        ]


def redact(clip: Path, out: Path, settings: RedactorSettings) -> Path:
    request = RedactionRequest(
        video_id="v",
        source=SourceRef(bucket="b", key="k", etag="e", size_bytes=1),
        path=clip,
        policy=parse_policy(settings.policy),
        redact_text=settings.redact_text,
    )
    fast = settings.model_copy(update={"preset": "ultrafast"})
    asyncio.run(redact_video(LocalBackend(settings), request, out, look(fast)))
    return out


@pytest.mark.parametrize(
    ("policy", "hidden"),
    [
        pytest.param("all", {"eileen", "grace"}, id="all"),
        pytest.param("only:eileen", {"eileen"}, id="only-eileen"),
        pytest.param("only:grace", {"grace"}, id="only-grace"),
        pytest.param("except:eileen", {"grace"}, id="except-eileen"),
        pytest.param("except:eileen,grace", set(), id="except-both"),
    ],
)
def test_policy_hides_exactly_the_intended_people_on_every_frame(
    clip: tuple[Path, list[dict[str, Rect]]],
    faces: Path,
    tmp_path: Path,
    policy: str,
    hidden: set[str],
) -> None:
    # GIVEN the two-people clip and a gallery with another photo of each
    path, truth = clip
    settings = RedactorSettings(policy=policy, face_gallery=faces)
    # WHEN it is redacted with the policy
    out = redact(path, tmp_path / "out.mp4", settings)
    # THEN on every frame each hidden face is changed a lot and each other face barely (its
    # central part: a stray box on the noisy background next to it may touch its border)
    source, redacted = frames(path), frames(out)
    assert len(redacted) == len(source) == len(truth)
    for i, (a, b, people) in enumerate(zip(source, redacted, truth, strict=True)):
        for name, rect in people.items():
            if name in hidden:
                change = region_change(a, b, rect)
                assert change > REDACTED, f"frame {i}: {name}'s face is visible ({change:.1f})"
            else:
                change = region_change(a, b, centre(rect))
                assert change < UNTOUCHED, f"frame {i}: {name}'s face was touched ({change:.1f})"


def test_a_policy_that_names_people_needs_the_gallery(
    clip: tuple[Path, list[dict[str, Rect]]], tmp_path: Path
) -> None:
    # GIVEN no gallery / WHEN a policy names someone / THEN the backend says what is missing
    settings = RedactorSettings(policy="only:eileen", face_gallery=tmp_path / "none")
    with pytest.raises(BackendUnavailableError, match="videosense faces index"):
        redact(clip[0], tmp_path / "out.mp4", settings)


def test_a_file_that_is_not_a_video_is_a_redaction_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video" * 100)
    with pytest.raises(RedactionError, match="cannot be opened as media"):
        redact(junk, tmp_path / "out.mp4", RedactorSettings())


def test_redact_text_hides_on_screen_text_too(tmp_path: Path) -> None:
    # GIVEN 2 s of a title card (no face)
    card = pil_text("Mission briefing", (640, 360))
    clip = write_clip(tmp_path / "card.mp4", [card] * 50, (640, 360))
    # WHEN redacted with and without text
    plain = redact(clip, tmp_path / "plain.mp4", RedactorSettings())
    texted = redact(clip, tmp_path / "text.mp4", RedactorSettings(redact_text=True))
    # THEN only the text redaction changes the words, on every frame
    words = (40, 150, 400, 210)
    for a, b, c in zip(frames(clip), frames(plain), frames(texted), strict=True):
        assert region_change(a, b, words) < UNTOUCHED
        assert region_change(a, c, words) > REDACTED
