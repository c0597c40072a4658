"""``videosense redact VIDEO --out FILE``: a privacy-safe copy of one video, made by the
redaction stage on the embedded stack (the same service, queue and document as in the cloud).

Policy, style and text redaction given here override the redactor's settings
(``VIDEOSENSE_REDACTOR_*``) for this run; names in ``only:``/``except:`` are people of the face
gallery (``videosense faces index``) or, with ``VIDEOSENSE_REDACTOR_BACKEND=rekognition``, of
the Rekognition collection.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from redactor.policy import parse_policy
from redactor.service import service as redactor_service
from redactor.settings import RedactorSettings
from videosense.commands import EXIT_FAILED, EXIT_OK, EXIT_USAGE, error
from videosense_shared.messages import Stage, StageStatus


def _policy(value: str) -> str:
    try:
        return str(parse_policy(value))
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_parser(sub: Any) -> None:
    """Add ``redact`` to the sub-command parsers."""
    redact = sub.add_parser(
        "redact",
        help="save a copy of a video with faces (and text) pixelated or blurred, sound kept",
        description=(
            "Runs the redaction stage on the embedded stack: faces are detected a few times a "
            "second, tracked and hidden on every frame; the sound is copied untouched."
        ),
    )
    redact.add_argument("video", type=Path, help="a local video file")
    redact.add_argument("--out", type=Path, required=True, help="where to save the MP4")
    redact.add_argument(
        "--policy",
        type=_policy,
        default=None,
        help="all (default), only:NAME,... or except:NAME,... (gallery/collection names)",
    )
    redact.add_argument("--style", choices=("pixelate", "blur"), default=None)
    redact.add_argument(
        "--strength", type=float, default=None, help="0 (light) to 1 (strong); default 0.5"
    )
    redact.add_argument(
        "--redact",
        action="append",
        choices=("faces", "text"),
        default=[],
        help="what to hide besides faces: 'text' also hides on-screen text (repeatable)",
    )
    redact.add_argument("--timeout", type=float, default=3600.0, help="seconds (default 3600)")


def _settings(args: argparse.Namespace) -> RedactorSettings:
    overrides: dict[str, Any] = {}
    if args.policy is not None:
        overrides["policy"] = args.policy
    if args.style is not None:
        overrides["style"] = args.style
    if args.strength is not None:
        overrides["strength"] = args.strength
    if "text" in args.redact:
        overrides["redact_text"] = True
    return RedactorSettings(**overrides)


def run(args: argparse.Namespace) -> int:
    """Run ``videosense redact``; returns the exit code."""
    video: Path = args.video
    if not video.is_file():
        error(f"no such file: {video}")
        return EXIT_USAGE
    try:
        settings = _settings(args)
    except ValidationError as err:
        error(f"invalid redaction settings: {err.errors()[0]['msg']}")
        return EXIT_USAGE
    return asyncio.run(_redact(video, args.out, settings, args.timeout))


def _progress(message: str) -> None:
    print(f"videosense: {message}", file=sys.stderr, flush=True)


async def _redact(video: Path, out: Path, settings: RedactorSettings, timeout_s: float) -> int:
    # Imported here: the embedded stack loads every service, which only this path needs.
    from videosense.embedded import EmbeddedStack

    _progress("starting the embedded stack (AWS emulator + services)")
    async with EmbeddedStack(extra_services=[redactor_service(settings)]) as stack:
        video_id = await stack.upload(video, (Stage.REDACTION,))
        _progress(f"redacting ({settings.backend}, policy {settings.policy}, {settings.style})")
        try:
            await stack.wait_completed(video_id, timeout_s)
        except TimeoutError:
            error(f"timed out after {timeout_s:g} s")
            return EXIT_FAILED
        document = await stack.store.read(video_id)
        info = document.stages[Stage.REDACTION]
        if info.status != StageStatus.COMPLETE or document.redaction is None:
            error(f"redaction {info.status.value}: {info.error or 'no result'}")
            return EXIT_FAILED
        redaction = document.redaction
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(out.name + ".part")
        resp = await stack.aws.s3.get_object(Bucket=redaction.image.bucket, Key=redaction.image.key)
        async with resp["Body"] as body:
            with partial.open("wb") as sink:
                while part := await body.read(8 * 1024 * 1024):
                    sink.write(part)
        shutil.move(partial, out)
    print(
        f"{out}: {redaction.faces_redacted} face(s) hidden on {redaction.frames_with_faces} of "
        f"{redaction.frame_count} frames (policy {redaction.policy}, {redaction.style}, "
        f"{redaction.backend})"
        + (f", {redaction.text_regions} text region(s)" if redaction.text_regions else "")
    )
    if redaction.face_names_error:
        # The faces are hidden all the same; who they were could not be told.
        print(f"faces left unnamed: {redaction.face_names_error}")
    return EXIT_OK
