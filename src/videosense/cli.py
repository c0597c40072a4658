"""The ``videosense`` command line: ``run``, ``up``, ``extract``, ``find``, ``faces``, ``dlq``,
``clip`` and ``redact``.

Exit codes: 0 complete or partial, 1 failed (or timed out), 2 usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from ingest.settings import requestable_stages
from videosense.commands import clip as clip_command
from videosense.commands import dlq as dlq_command
from videosense.commands import faces as faces_command
from videosense.commands import find as find_command
from videosense.commands import redact as redact_command
from videosense.embedded import EmbeddedStack, available_stages, default_run_stages
from videosense.report import print_document, print_extraction
from videosense_shared.document import VideoDocument
from videosense_shared.logs import configure_logging
from videosense_shared.messages import Stage, VideoStatus
from videosense_shared.objects import read_bytes
from videosense_shared.store import DocumentNotFoundError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad command-line input: reported in one line, exit code 2."""


def _stages(value: str) -> tuple[Stage, ...]:
    try:
        return requestable_stages(value, available_stages())
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="videosense", description="Event-driven video understanding on AWS."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="service logs on stderr")
    sub = parser.add_subparsers(dest="command", required=True)
    available = ",".join(s.value for s in available_stages())

    run = sub.add_parser("run", help="analyse one video on the embedded stack and print it")
    run.add_argument("video", type=Path, help="a local video file")
    run.add_argument(
        "--stages",
        type=_stages,
        default=None,
        help=f"comma list (available: {available}; default: all but captions, which run "
        "when a captioning backend or model is configured)",
    )
    run.add_argument("--json", action="store_true", help="print the schema-v3 JSON document")
    run.add_argument("--out", type=Path, help="also save the document and keyframes here")
    run.add_argument("--timeout", type=float, default=3600.0, help="seconds (default 3600)")

    up = sub.add_parser("up", help="start the embedded stack and leave it running")
    up.add_argument("--port", type=int, default=0, help="emulator port (default: a free one)")
    up.add_argument(
        "--web-port", type=int, default=0, help="web app port on 127.0.0.1 (default: a free one)"
    )

    ext = sub.add_parser("extract", help="the frame stage alone on a local file, no AWS")
    ext.add_argument("video", type=Path)
    ext.add_argument("--out", type=Path, required=True, help="directory for scenes and JPEGs")
    ext.add_argument("--json", action="store_true", help="print the result as JSON")

    find_command.add_parser(sub)
    faces_command.add_parser(sub)
    dlq_command.add_parser(sub)
    clip_command.add_parser(sub)
    redact_command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = _parser().parse_args(argv)
    level = os.environ.get("VIDEOSENSE_LOG_LEVEL") or ("INFO" if args.verbose else "WARNING")
    configure_logging(level, os.environ.get("VIDEOSENSE_LOG_FORMAT", "console"))
    try:
        if args.command == "run":
            return asyncio.run(_run(args))
        if args.command == "up":
            return asyncio.run(_up(args))
        if args.command == "find":
            return find_command.run(args)
        if args.command == "faces":
            return faces_command.run(args)
        if args.command == "dlq":
            return dlq_command.run(args)
        if args.command == "clip":
            return clip_command.run(args)
        if args.command == "redact":
            return redact_command.run(args)
        return _extract(args)
    except UsageError as err:
        print(f"videosense: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("videosense: interrupted", file=sys.stderr)
        return 130


def _check_video_arg(path: Path) -> Path:
    if not path.exists():
        raise UsageError(f"no such file: {path}")
    if not path.is_file():
        raise UsageError(f"not a file: {path}")
    return path


def _stop_on_signals() -> None:
    # SIGTERM (and SIGINT, even where a shell started us with it ignored) cancel the command's
    # main task, so the stack drains its services and stops the emulator child on the way out.
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)


def _progress(message: str) -> None:
    print(f"videosense: {message}", file=sys.stderr, flush=True)


async def _run(args: argparse.Namespace) -> int:
    video = _check_video_arg(args.video)
    _stop_on_signals()
    _progress("starting the embedded stack (AWS emulator + services)")
    async with EmbeddedStack() as stack:
        video_id = await stack.upload(video, args.stages or default_run_stages())
        _progress(f"uploaded s3://{stack.common.bucket}/{stack.common.uploads_prefix}{video.name}")
        watcher = asyncio.create_task(_watch(stack, video_id))
        try:
            event = await stack.wait_completed(video_id, args.timeout)
        except TimeoutError:
            _progress(f"timed out after {args.timeout:g} s")
            return EXIT_FAILED
        finally:
            watcher.cancel()
        document = await stack.store.read(video_id)
        # `videosense find` reads the library index: return once this video is in it.
        try:
            await stack.wait_indexed(document, 60.0)
        except TimeoutError:
            _progress("the video is not in the search index yet: `videosense find` may miss it")
        if args.out:
            await _save(stack, document, args.out)
            _progress(f"saved the document and keyframes under {args.out}")
    if args.json:
        print(document.model_dump_json(indent=2))
    else:
        print_document(document)
    return EXIT_FAILED if event.status == VideoStatus.FAILED else EXIT_OK


async def _watch(stack: EmbeddedStack, video_id: str) -> None:
    # Progress on stderr: every change of the document's stage statuses.
    last = ""
    while True:
        try:
            header = await stack.store.header(video_id)
        except DocumentNotFoundError:
            line = "ingesting"
        else:
            parts = [f"{stage.value} {info.status.value}" for stage, info in header.stages.items()]
            line = f"{header.status.value}" + (f" ({', '.join(parts)})" if parts else "")
        if line != last:
            _progress(line)
            last = line
        await asyncio.sleep(0.5)


async def _save(stack: EmbeddedStack, document: VideoDocument, out: Path) -> None:
    frames = out / "keyframes"
    frames.mkdir(parents=True, exist_ok=True)
    for keyframe in document.keyframes:
        image = await read_bytes(stack.aws.s3, keyframe.image.bucket, keyframe.image.key)
        (frames / Path(keyframe.image.key).name).write_bytes(image)
    (out / "document.json").write_text(document.model_dump_json(indent=2))


async def _up(args: argparse.Namespace) -> int:
    _stop_on_signals()
    async with EmbeddedStack(port=args.port) as stack, _web(stack, args.web_port) as web_url:
        assert stack.provisioned is not None
        topic = stack.provisioned.topic_arns["video-completed"]
        print(
            json.dumps(
                {
                    "endpoint": stack.endpoint,
                    "bucket": stack.common.bucket,
                    "uploads_prefix": stack.common.uploads_prefix,
                    "table": stack.common.table_name,
                    "completion_topic": topic,
                    "web": web_url,
                },
                indent=2,
            ),
            flush=True,
        )
        _progress(f"web app: {web_url}")
        _progress(
            f"ready. Try: aws --endpoint-url {stack.endpoint} s3 cp VIDEO "
            f"s3://{stack.common.bucket}/{stack.common.uploads_prefix}  (Ctrl-C stops)"
        )
        # Ctrl-C cancels this task; leaving the block drains the services and stops the emulator.
        with contextlib.suppress(asyncio.CancelledError):
            await stack.run_forever()
    return EXIT_OK


def _web(stack: EmbeddedStack, port: int) -> contextlib.AbstractAsyncContextManager[str]:
    # Imported here: the web framework loads only for the command that serves it.
    from videosense.web.hosting import serve_web
    from videosense.web.settings import WebSettings

    # Local only: the embedded stack has no authentication in front of it.
    return serve_web(stack.aws, WebSettings(host="127.0.0.1", port=port))


def _extract(args: argparse.Namespace) -> int:
    # Imported here: decoding libraries load only for the command that needs them.
    from frame_extractor.extraction import ExtractedKeyframe, ExtractionError, extract
    from frame_extractor.settings import FrameExtractorSettings

    video = _check_video_arg(args.video)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    def save(kf: ExtractedKeyframe) -> None:
        (out / f"{kf.frame:09d}.jpg").write_bytes(kf.jpeg)

    try:
        result = extract(video, FrameExtractorSettings(), save)
    except ExtractionError as err:
        print(f"videosense: {video}: {err}", file=sys.stderr)
        return EXIT_FAILED
    summary = {
        "source": str(video),
        "media": {
            "duration_s": result.duration_s,
            "fps": result.fps,
            "width": result.width,
            "height": result.height,
            "frame_count": result.frame_count,
        },
        "scenes": [s.model_dump() for s in result.scenes],
        "keyframes": [
            {
                "frame": kf.frame,
                "t_s": kf.t_s,
                "scene_index": kf.scene_index,
                "width": kf.width,
                "height": kf.height,
                "file": f"{kf.frame:09d}.jpg",
            }
            for kf in result.keyframes
        ],
    }
    (out / "extraction.json").write_text(json.dumps(summary, indent=2))
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print_extraction(summary, out)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
