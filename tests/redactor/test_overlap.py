"""Scan and render at once: the copy is the one a render after the finished scan writes (same
boxes on every frame, same frames and timestamps, same sound packets, same pictures); either
side failing stops the other with the right reason; the hand-over between them stays bounded."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import av
import numpy as np
import pytest

from redactor.backend import RedactionError, RedactionRequest
from redactor.boxes import boxes_per_frame
from redactor.feed import BoxFeed, FeedAbortedError, ReaderStoppedError
from redactor.handler import look
from redactor.local import LocalBackend
from redactor.pipeline import redact
from redactor.policy import parse_policy
from redactor.render import RenderError, render
from redactor.settings import RedactorSettings
from redactor.tracking import PixelBox
from tests.redactor.collect import CollectedBoxes
from tests.redactor.composite import Rect, two_people
from videosense_shared.messages import SourceRef

SETTINGS = RedactorSettings(preset="ultrafast")


class RecordingFeed(BoxFeed):
    """A feed that remembers what the render was given for every frame."""

    def __init__(self) -> None:
        super().__init__()
        self.drawn: dict[int, list[PixelBox]] = {}

    def boxes(self, frame: int) -> Sequence[PixelBox]:
        found = super().boxes(frame)
        if found:
            self.drawn[frame] = list(found)
        return found


def request(path: Path) -> RedactionRequest:
    return RedactionRequest(
        video_id="v",
        source=SourceRef(bucket="b", key="k", etag="e", size_bytes=1),
        path=path,
        policy=parse_policy("all"),
    )


def packets(path: Path, kind: str) -> list[tuple[int | None, str]]:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0] if kind == "audio" else container.streams.video[0]
        return [
            (p.pts, hashlib.sha256(bytes(p)).hexdigest()) for p in container.demux(stream) if p.size
        ]


def frames(path: Path) -> list[tuple[float, bytes]]:
    with av.open(str(path)) as container:
        return [
            (float(f.time or 0.0), np.asarray(f.to_ndarray(), np.uint8).tobytes())
            for f in container.decode(video=0)
        ]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Rect]]]:
    return two_people(tmp_path_factory.mktemp("overlap") / "two.mp4", seconds=3.0)


def test_the_copy_is_the_one_a_render_after_the_scan_writes(
    clip: tuple[Path, list[dict[str, Rect]]], tmp_path: Path
) -> None:
    # GIVEN the two-people clip with sound
    path, truth = clip
    backend = LocalBackend(SETTINGS)
    # WHEN it is redacted with the render following the scan
    feed = RecordingFeed()
    overlapped = tmp_path / "overlapped.mp4"
    findings, rendered = asyncio.run(
        redact(backend, request(path), overlapped, look(SETTINGS), feed)
    )
    # ... and again with the render after the finished scan, from the whole plan
    after = tmp_path / "after.mp4"
    found = asyncio.run(backend.find(request(path), CollectedBoxes()))
    plan = boxes_per_frame(found, SETTINGS)
    render(path, after, plan, style=SETTINGS.style, strength=SETTINGS.strength,
           encoding=look(SETTINGS).encoding)  # fmt: skip
    # THEN every frame got the whole plan's boxes, both faces on every frame
    assert feed.drawn == plan
    assert len(plan) == len(truth) == rendered.frame_count == findings.scan.frame_count
    # ... and both copies have the same frames at the same times, and the source's sound
    assert frames(overlapped) == frames(after)
    assert packets(overlapped, "audio") == packets(after, "audio") == packets(path, "audio")


def test_renders_waiting_for_their_scans_do_not_take_the_threads_scans_need(
    clip: tuple[Path, list[dict[str, Rect]]], tmp_path: Path
) -> None:
    # GIVEN a worker whose shared thread pool has a single thread
    path, _ = clip
    feed = BoxFeed()

    async def run() -> int:
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=1))
        job = redact(LocalBackend(SETTINGS), request(path), tmp_path / "out.mp4", look(SETTINGS),
                     feed)  # fmt: skip
        try:
            _, rendered = await asyncio.wait_for(job, timeout=120)
        except TimeoutError:
            feed.abort()  # free the render that waits forever
            raise
        return rendered.frame_count

    # WHEN a video is redacted / THEN its scan gets the thread and the copy is written
    assert asyncio.run(run()) == 75


def test_a_render_that_fails_stops_the_scan_and_gives_its_reason(tmp_path: Path) -> None:
    # GIVEN a Matroska video whose PCM sound an MP4 cannot carry untouched
    source = tmp_path / "pcm.mkv"
    with av.open(str(source), "w") as out:
        video = out.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 320, 240, "yuv420p"
        sound = out.add_stream("pcm_s16le", rate=8000)
        for i in range(250):
            picture = np.full((240, 320, 3), i % 256, np.uint8)
            frame = av.VideoFrame.from_ndarray(picture, format="bgr24")
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        samples = av.AudioFrame.from_ndarray(
            np.zeros((1, 8000), np.int16), format="s16", layout="mono"
        )
        samples.sample_rate = 8000
        out.mux(sound.encode(samples))
        out.mux(sound.encode(None))
    # WHEN redacted / THEN the render's reason is the one given
    with pytest.raises(RenderError, match="cannot be copied into MP4 untouched"):
        asyncio.run(redact(LocalBackend(SETTINGS), request(source), tmp_path / "out.mp4",
                           look(SETTINGS)))  # fmt: skip


def test_a_scan_that_fails_stops_the_render_and_gives_its_reason(tmp_path: Path) -> None:
    # GIVEN a file that is no video
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 500)
    # WHEN redacted / THEN the scan's reason is the one given
    with pytest.raises(RedactionError, match="cannot be opened as media"):
        asyncio.run(redact(LocalBackend(SETTINGS), request(junk), tmp_path / "out.mp4",
                           look(SETTINGS)))  # fmt: skip


def test_the_writer_waits_while_it_is_far_ahead_of_the_reader() -> None:
    # GIVEN a feed that lets its writer be at most 5 frames ahead of its reader, at frame 0
    feed = BoxFeed(max_ahead=5)
    feed.publish(0, [[(0.0, 0.0, 1.0, 1.0)]] * 10)
    done = threading.Event()

    def write() -> None:
        feed.publish(10, [[]] * 10)
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    # THEN the writer waits while the reader is more than 5 frames behind ...
    for frame in range(5):
        assert list(feed.boxes(frame)) == [(0.0, 0.0, 1.0, 1.0)]
    assert not done.wait(0.3)
    # ... and goes on once it is not
    feed.boxes(5)
    assert done.wait(5)
    writer.join()


def test_either_side_failing_wakes_the_other() -> None:
    # GIVEN a reader waiting for a frame that is not final
    feed = BoxFeed()
    failure: list[BaseException] = []

    def read() -> None:
        try:
            feed.boxes(0)
        except FeedAbortedError as err:
            failure.append(err)

    reader = threading.Thread(target=read)
    reader.start()
    # WHEN the writer fails / THEN the reader is told
    feed.abort()
    reader.join(5)
    assert failure
    assert not reader.is_alive()
    # ... and a writer publishing to a reader that failed is told to stop
    stopped = BoxFeed()
    stopped.stop(failed=True)
    with pytest.raises(ReaderStoppedError):
        stopped.publish(0, [[]])
