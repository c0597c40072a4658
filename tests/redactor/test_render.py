"""Writing the redacted copy: the sound is the source's packets, bit for bit; the frames keep
their count and their timestamps (a variable frame rate stays variable); the rotation and the
metadata survive; a frame without boxes keeps its picture; a box is really hidden."""

from __future__ import annotations

import hashlib
from pathlib import Path

import av
import numpy as np
import pytest

from redactor.render import Encoding, RenderError, render
from redactor.tracking import PixelBox
from tests.redactor.composite import Bgr, Rect, region_change, two_people
from tests.support.clips import make_colour_clip, retime, with_rotation

FAST = Encoding(preset="ultrafast")


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Rect]]]:
    return two_people(tmp_path_factory.mktemp("render") / "two.mp4", seconds=2.0)


def audio_packets(path: Path) -> list[tuple[int | None, str]]:
    with av.open(str(path)) as container:
        return [
            (packet.pts, hashlib.sha256(bytes(packet)).hexdigest())
            for packet in container.demux(audio=0)
            if packet.size
        ]


def audio_samples(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)])


def frame_times(path: Path) -> list[float]:
    with av.open(str(path)) as container:
        return [float(f.time or 0.0) for f in container.decode(video=0)]


def pictures(path: Path) -> list[Bgr]:
    with av.open(str(path)) as container:
        return [
            np.asarray(f.to_ndarray(format="bgr24"), np.uint8) for f in container.decode(video=0)
        ]


def every_frame(count: int, box: PixelBox) -> dict[int, list[PixelBox]]:
    return {i: [box] for i in range(count)}


def test_sound_is_copied_bit_for_bit_and_decodes_to_the_same_samples(
    clip: tuple[Path, list[dict[str, Rect]]], tmp_path: Path
) -> None:
    # GIVEN a clip with AAC sound, redacted on every frame
    path, truth = clip
    out = render(
        path,
        tmp_path / "out.mp4",
        every_frame(len(truth), (100, 80, 240, 220)),
        style="blur",
        strength=0.5,
        encoding=FAST,
    )
    # THEN the sound's packets are the source's (same bytes, same timestamps) ...
    assert out.copied_streams == ("audio:aac",)
    assert audio_packets(tmp_path / "out.mp4") == audio_packets(path)
    # ... and decode to the very same samples
    assert np.array_equal(audio_samples(tmp_path / "out.mp4"), audio_samples(path))


def test_frame_count_and_timestamps_match_the_source(
    clip: tuple[Path, list[dict[str, Rect]]], tmp_path: Path
) -> None:
    path, truth = clip
    rendered = render(
        path, tmp_path / "out.mp4", every_frame(10, (0, 0, 50, 50)), style="pixelate",
        strength=0.5, encoding=FAST,
    )  # fmt: skip
    assert rendered.frame_count == len(truth)
    assert frame_times(tmp_path / "out.mp4") == pytest.approx(frame_times(path), abs=1e-3)
    with av.open(str(path)) as a, av.open(str(tmp_path / "out.mp4")) as b:
        assert b.duration == pytest.approx(a.duration, abs=50_000)  # microseconds


def test_variable_frame_rate_stays_variable(tmp_path: Path) -> None:
    # GIVEN a clip whose frames come every 40 ms, then every 100 ms
    steady = make_colour_clip(tmp_path / "steady.mp4", colours=[("red", 30), ("blue", 30)])
    vfr = retime(steady, tmp_path / "vfr.mp4", pts_expr="if(lt(N,30),N/25,1.2+(N-30)/10)")
    # WHEN it is redacted
    render(
        vfr, tmp_path / "out.mp4", every_frame(60, (10, 10, 100, 100)), style="pixelate",
        strength=0.5, encoding=FAST,
    )  # fmt: skip
    # THEN every frame keeps its own time
    times = frame_times(tmp_path / "out.mp4")
    assert times == pytest.approx(frame_times(vfr), abs=1e-3)
    assert times[31] - times[30] == pytest.approx(0.1, abs=1e-3)


def test_a_frame_without_boxes_keeps_its_picture(
    clip: tuple[Path, list[dict[str, Rect]]], tmp_path: Path
) -> None:
    # GIVEN no box at all / WHEN rendered / THEN every frame is the source within encode noise
    path, _ = clip
    render(path, tmp_path / "out.mp4", {}, style="pixelate", strength=0.5, encoding=Encoding())
    for a, b in zip(pictures(path), pictures(tmp_path / "out.mp4"), strict=True):
        assert region_change(a, b, (0, 0, a.shape[1], a.shape[0])) < 2.5


@pytest.mark.parametrize("style", ["pixelate", "blur"])
def test_a_box_is_hidden_and_nothing_outside_it_changes(
    clip: tuple[Path, list[dict[str, Rect]]], tmp_path: Path, style: str
) -> None:
    path, truth = clip
    face = truth[0]["eileen"]
    x0, y0, x1, y1 = face
    render(
        path, tmp_path / "out.mp4", {0: [(x0, y0, x1, y1)]},
        style=style, strength=0.5, encoding=Encoding(crf=12),  # type: ignore[arg-type]
    )  # fmt: skip
    source, redacted = pictures(path)[0], pictures(tmp_path / "out.mp4")[0]
    assert region_change(source, redacted, face) > 15
    assert region_change(source, redacted, truth[0]["grace"]) < 3


def test_display_rotation_and_metadata_are_carried_over(
    clip: tuple[Path, list[dict[str, Rect]]], tmp_path: Path
) -> None:
    # GIVEN a phone-style clip: landscape frames and a 90-degree display matrix
    rotated = with_rotation(clip[0], tmp_path / "rotated.mp4", degrees=90)
    # WHEN redacted
    render(rotated, tmp_path / "out.mp4", {}, style="pixelate", strength=0.5, encoding=FAST)
    # THEN the copy carries the same rotation (read from the source)
    with av.open(str(tmp_path / "out.mp4")) as container:
        first = next(container.decode(video=0))
        assert round(first.rotation) % 360 == 90


def test_sound_that_mp4_cannot_hold_untouched_fails_with_the_reason(tmp_path: Path) -> None:
    # GIVEN a Matroska file with PCM sound (MP4 cannot carry it as a copy)
    source = tmp_path / "pcm.mkv"
    with av.open(str(source), "w") as out:
        video = out.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        sound = out.add_stream("pcm_s16le", rate=8000)
        for i in range(5):
            frame = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="bgr24")
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        samples = av.AudioFrame.from_ndarray(
            np.zeros((1, 1600), np.int16), format="s16", layout="mono"
        )
        samples.sample_rate = 8000
        out.mux(sound.encode(samples))
        out.mux(sound.encode(None))
    # WHEN rendered / THEN it fails saying why, rather than dropping or re-encoding the sound
    with pytest.raises(RenderError, match="cannot be copied into MP4 untouched"):
        render(source, tmp_path / "out.mp4", {}, style="pixelate", strength=0.5, encoding=FAST)
