"""The clipper through the real pipeline on the emulator: a numbered video is analysed, then
``videosense clip`` asks the running stack for clips (ClipRequested on the clipper's queue,
ClipsReady on clips-ready) and downloads them; bad input gets a clear answer, never silence."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.clipper.coded_video import coded_video, expected_frames, frame_numbers
from tests.support.command_line import cli
from tests.support.polling import short_polls
from videosense.cli import main
from videosense.commands.clip import request_clips
from videosense.embedded import EmbeddedStack
from videosense_shared.ids import message_id_for
from videosense_shared.layout import clips_prefix, clips_result_key
from videosense_shared.messages import (
    ClipRequested,
    ClipSelector,
    ClipStatus,
    Stage,
    VideoStatus,
)
from videosense_shared.objects import GONE

FPS = 25
SECONDS = 10


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return coded_video(tmp_path_factory.mktemp("clip-src") / "coded.mp4", seconds=SECONDS)


@pytest.fixture
async def stack(
    aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[EmbeddedStack]:
    short_polls(monkeypatch, "INGEST", "FRAME_EXTRACTOR", "AGGREGATOR", "CLIPPER")
    async with EmbeddedStack(endpoint=aws_env["AWS_ENDPOINT_URL"]) as running:
        yield running


async def analysed(stack: EmbeddedStack, clip: Path) -> str:
    video_id = await stack.upload(clip, stages=(Stage.FRAMES,))
    event = await stack.wait_completed(video_id, timeout_s=90)
    assert event.status == VideoStatus.COMPLETE
    return video_id


async def test_clip_command_cuts_downloads_and_records_the_clips(
    stack: EmbeddedStack, clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a finished video
    video_id = await analysed(stack, clip)
    before = await stack.store.read(video_id)
    # WHEN two ranges (one past the end) are asked for, with a supercut
    out = tmp_path / "clips"
    code, stdout, err = await cli(
        capsys, "clip", video_id, "--from", "1.3", "--to", "6.7", "--supercut", "--out", str(out)
    )
    # THEN the clip and the supercut are downloaded, frame-exact, and listed with their method
    assert code == 0, err
    files = sorted(p.name for p in out.iterdir())
    assert files == ["clip-001_1.300-6.700.mp4", "supercut.mp4"]
    for name in files:
        assert frame_numbers(out / name) == expected_frames(1.3, 6.7, FPS, FPS * SECONDS)
    assert "smart" in stdout
    # AND the files and the recorded answer are in the bucket under clips/{video}/{request}/
    listed = await stack.aws.s3.list_objects_v2(
        Bucket=stack.common.bucket, Prefix=f"clips/{video_id}/"
    )
    keys = sorted(o["Key"] for o in listed.get("Contents", []))
    assert len(keys) == 3
    assert {k.rsplit("/", 1)[1] for k in keys} == {*files, "result.json"}
    # AND clipping changed nothing in the video's document
    after = await stack.store.read(video_id)
    assert after.stages == before.stages
    assert after.status == before.status


async def test_repeated_request_is_answered_from_its_record(
    stack: EmbeddedStack, clip: Path
) -> None:
    # GIVEN a request answered once
    video_id = await analysed(stack, clip)
    request = ClipRequested(
        message_id=message_id_for("req-1", "ClipRequested"),
        video_id=video_id,
        trace_id="req-1",
        request_id="req-1",
        selector=ClipSelector(from_s=2.0, to_s=4.0),
        pad_s=0.5,
    )
    first = await request_clips(stack.aws, stack.common, request, 120)
    assert first.status is ClipStatus.COMPLETE
    [only] = first.clips
    assert only.key.startswith(clips_prefix(video_id, "req-1"))
    assert (only.ranges[0].requested_start_s, only.ranges[0].requested_end_s) == (1.5, 4.5)
    # WHEN the same request comes again
    again = await request_clips(stack.aws, stack.common, request, 120)
    # THEN the answer is the recorded one: same id, same files, same times (nothing recut)
    assert again == first
    head = await stack.aws.s3.head_object(
        Bucket=stack.common.bucket, Key=clips_result_key(video_id, "req-1")
    )
    assert head["ContentLength"] > 0


async def test_bad_requests_get_clear_answers(
    stack: EmbeddedStack, clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video_id = await analysed(stack, clip)
    out = tmp_path / "out"
    # WHEN nothing matches / THEN exit 0, "no moments found", no files
    code, _, err = await cli(capsys, "clip", video_id, "--label", "Dog", "--out", str(out))
    assert code == 0, err
    assert "no moments found for --label 'Dog'" in err
    assert not out.exists()
    # WHEN the video is unknown / THEN a failed answer naming it
    code, _, err = await cli(capsys, "clip", "no-such-video", "--from", "0", "--to", "1",
                             "--out", str(out))  # fmt: skip
    assert code == 1
    assert "no-such-video has no finished document" in err
    # WHEN the range lies beyond the end / THEN it fails saying so
    code, _, err = await cli(capsys, "clip", video_id, "--from", "20", "--to", "30",
                             "--out", str(out))  # fmt: skip
    assert code == 1
    assert "starts after the end of the video" in err
    # WHEN the upload was deleted from the bucket / THEN it fails saying so, nothing written
    document = await stack.store.read(video_id)
    await stack.aws.s3.delete_object(Bucket=document.source.bucket, Key=document.source.key)
    code, _, err = await cli(capsys, "clip", video_id, "--from", "1", "--to", "2",
                             "--out", str(out))  # fmt: skip
    assert code == 1
    assert GONE in err
    assert not out.exists()
    listed = await stack.aws.s3.list_objects_v2(
        Bucket=stack.common.bucket, Prefix=f"clips/{video_id}/"
    )
    # (only the recorded answers of the failed requests: no clip file)
    names = {o["Key"].rsplit("/", 1)[1] for o in listed.get("Contents", [])}
    assert names == {"result.json"}


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # WHEN --to comes without --from, or a range or padding makes no sense / THEN exit 2
    with pytest.raises(SystemExit) as exited:
        main(["clip", "v", "--to", "3", "--out", str(tmp_path)])
    assert exited.value.code == 2
    assert main(["clip", "v", "--from", "3", "--out", str(tmp_path)]) == 2
    assert "--from and --to go together" in capsys.readouterr().err
    assert main(["clip", "v", "--from", "3", "--to", "1", "--out", str(tmp_path)]) == 2
    assert main(["clip", "v", "--say", "hi", "--pad", "-1", "--out", str(tmp_path)]) == 2
