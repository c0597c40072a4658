"""``videosense clip``: cut the moments a selector finds in a video into MP4 files.

Two ways in, told apart by the first argument:

- a **video id** (a video a running stack finished): the command sends ``ClipRequested`` to the
  clipper's queue, waits for the ``ClipsReady`` that answers it on the ``clips-ready`` topic
  (through a private queue it creates and deletes), and downloads the files to ``--out``.
  ``--endpoint`` points it at a running ``videosense up`` (or LocalStack); without it, the AWS
  environment decides.
- a **local video file**: the command starts the embedded stack, analyses the file with just
  the stages the selector needs (recognition for ``--person/--label/--text``, the transcript
  for ``--say``, the frames alone for ``--from/--to``, what ``videosense run`` analyses for
  ``--query``), then clips it the same way: one command from a file to clips, nothing left
  running.

``--query`` is resolved here, not in the clipper: a natural-language search of the library
index (the one ``videosense find`` reads, ``VIDEOSENSE_SEARCH_*``) filtered to the video gives
its best ``--limit`` hits; each becomes a range (a transcript hit its segment, a keyframe hit
its scene, read from the video's finished document) and the request carries those explicit
ranges. The clipper service thus needs no embedding model (see docs/architecture.md).

Every request carries a deadline, ``--timeout`` seconds after it is sent: the command waits
that long at most, and a request nobody answered by then has failed ("no clipper answered
within N s", exit 1) for every reader, the web app included
(:mod:`videosense_shared.clip_answers`).

Exit codes: 0 clips written, or no moments found; 1 the request failed (the reason is printed);
2 usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path, PurePosixPath
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from videosense.commands import EXIT_FAILED, EXIT_OK, EXIT_USAGE, error
from videosense.commands.endpoint import point_at
from videosense.commands.find import UnknownVideoError, search
from videosense.documents import FinishedDocumentNotFoundError, read_finished
from videosense_shared.aws import AwsClients
from videosense_shared.bus import Publisher, queue_url
from videosense_shared.bus.publisher import message_attributes
from videosense_shared.clip_answers import read_answer, settle
from videosense_shared.document import VideoDocument
from videosense_shared.ids import message_id_for
from videosense_shared.messages import (
    MAX_CLIP_SPANS,
    ClipFile,
    ClipRequested,
    ClipSelector,
    ClipSpan,
    ClipsReady,
    ClipStatus,
    Stage,
    utc_now,
)
from videosense_shared.provision import subscribe_queue
from videosense_shared.search import (
    EntryKind,
    MatchMode,
    SearchHit,
    SearchIndexError,
    SearchQuery,
)
from videosense_shared.search.backends import SearchConfigurationError
from videosense_shared.search.embeddings import EmbeddingModelUnavailableError
from videosense_shared.search.settings import SearchSettings
from videosense_shared.settings import CommonSettings
from videosense_shared.topology import CLIPPER, CLIPS_READY

#: A keyframe hit without its scene in the document is cut as its own frame, at this rate
#: when the document does not know the video's.
_DEFAULT_FPS = 25.0


def add_parser(sub: Any) -> None:
    """Add ``clip`` to the sub-command parsers (``sub`` from ``add_subparsers``)."""
    parser = sub.add_parser(
        "clip",
        help="cut every moment where a person, label, text or phrase appears into MP4 files",
        description=(
            "Cut frame-accurate clips (with sound) of a video: the whole scene of each keyframe "
            "showing --person/--label/--text, each transcript segment saying --say, "
            "--from/--to, or the moments a natural-language --query finds in the search index "
            "(its best --limit hits: a transcript hit's segment, a keyframe hit's scene). "
            "TARGET is a video id of a running stack, or a local video file to analyse on the "
            "embedded stack first."
        ),
    )
    parser.add_argument("target", metavar="TARGET", help="a video id, or a local video file")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--person", help="a recognized face's name (whole scenes)")
    what.add_argument("--label", help="a label name, e.g. 'Dog' (whole scenes)")
    what.add_argument("--text", help="words read on screen (whole scenes)")
    what.add_argument("--say", help="words spoken (the transcript segments saying them)")
    what.add_argument(
        "--query",
        help="a question in natural language, e.g. 'a man talking about space', searched in "
        "the library index (as `videosense find --query`) within this video",
    )
    what.add_argument("--from", dest="from_s", type=float, metavar="T", help="start, seconds")
    parser.add_argument("--to", dest="to_s", type=float, metavar="T", help="end, with --from")
    parser.add_argument("--pad", type=float, default=0.0, metavar="S", help="widen each range")
    parser.add_argument(
        "--merge-gap", type=float, default=0.0, metavar="S", help="join ranges closer than S"
    )
    parser.add_argument(
        "--supercut", action="store_true", help="also join every range into one file, chaptered"
    )
    parser.add_argument(
        "--limit",
        type=int,
        default=10,
        help=f"with --query: clip the best N hits (default 10, at most {MAX_CLIP_SPANS}); a "
        "natural-language search ranks by meaning and has no absolute score to cut at",
    )
    parser.add_argument(
        "--index",
        type=Path,
        help="with --query: the SQLite index file (default: VIDEOSENSE_SEARCH_INDEX_PATH)",
    )
    parser.add_argument("--out", type=Path, required=True, help="directory for the MP4 files")
    parser.add_argument("--endpoint", help="AWS endpoint, e.g. of a running `videosense up`")
    parser.add_argument(
        "--timeout",
        type=float,
        default=1800.0,
        help="seconds to wait for the analysis and for the clipper's answer (default 1800); a "
        "clip request nobody answered by then has failed",
    )


def selector_from(args: argparse.Namespace) -> ClipSelector:
    """The selector the arguments ask for.

    Raises:
        ValueError: ``--to`` without ``--from`` (or the reverse), or an empty value.
    """
    if (args.from_s is None) != (args.to_s is None):
        raise ValueError("--from and --to go together")
    try:
        return ClipSelector(
            person=args.person,
            label=args.label,
            text=args.text,
            say=args.say,
            from_s=args.from_s,
            to_s=args.to_s,
        )
    except ValidationError as err:
        messages = "; ".join(e["msg"].removeprefix("Value error, ") for e in err.errors())
        raise ValueError(messages) from None


def search_query_from(args: argparse.Namespace, video_id: str) -> SearchQuery:
    """The natural-language search ``--query`` asks for, within ``video_id``.

    Raises:
        ValueError: a text with nothing to search, or a ``--limit`` out of range.
    """
    if not 1 <= args.limit <= MAX_CLIP_SPANS:
        raise ValueError(f"--limit must be between 1 and {MAX_CLIP_SPANS}")
    try:
        return SearchQuery(
            text=args.query, mode=MatchMode.NATURAL, video_id=video_id, limit=args.limit
        )
    except ValidationError as err:
        reasons = "; ".join(e["msg"].removeprefix("Value error, ") for e in err.errors())
        raise ValueError(f"--query: {reasons}") from None


def spans_for_hits(hits: Sequence[SearchHit], document: VideoDocument) -> tuple[ClipSpan, ...]:
    """The ranges the hits stand for, in time order, each once: a transcript hit's segment,
    a keyframe hit's whole scene (or its own frame when the document has no such scene), as
    ``videosense clip --say`` and ``--text`` cut them."""
    scenes = {scene.index: scene for scene in document.scenes}
    fps = document.media.fps if document.media and document.media.fps else _DEFAULT_FPS
    spans: set[tuple[float, float]] = set()
    for hit in hits:
        if hit.kind is EntryKind.TRANSCRIPT:
            if hit.end_s is not None and hit.end_s > hit.t_s:
                spans.add((hit.t_s, hit.end_s))
            continue
        scene = scenes.get(hit.scene_index) if hit.scene_index is not None else None
        if scene is not None and scene.end_s > scene.start_s:
            spans.add((scene.start_s, scene.end_s))
        else:
            spans.add((hit.t_s, hit.t_s + 1.0 / fps))
    return tuple(ClipSpan(from_s=start, to_s=end) for start, end in sorted(spans))


async def resolve_query(
    video_id: str, hits: Sequence[SearchHit], aws: AwsClients, bucket: str
) -> ClipSelector | None:
    """The selector of explicit ranges for the hits of a search within ``video_id`` (None
    when there are none).

    Raises:
        FinishedDocumentNotFoundError: the video has no finished document to read scenes from.
        pydantic.ValidationError: the document is unreadable.
        botocore.exceptions.ClientError: S3 refused the read.
    """
    if not hits:
        return None
    document = await read_finished(aws.s3, bucket, video_id)
    spans = spans_for_hits(hits, document)
    return ClipSelector(ranges=spans) if spans else None


def stages_for(selector: ClipSelector | SearchQuery) -> tuple[Stage, ...]:
    """The analysis a local file needs before ``selector`` can find anything in it."""
    if isinstance(selector, SearchQuery):
        # A question can be answered by anything the index holds (captions and the transcript
        # by meaning): what `videosense run` analyses (captions only when configured).
        from videosense.embedded import default_run_stages  # loads every service

        return default_run_stages()
    if selector.say is not None:
        return (Stage.FRAMES, Stage.TRANSCRIPT)
    if selector.from_s is not None:
        return (Stage.FRAMES,)
    return (Stage.FRAMES, Stage.RECOGNITION)


def request_for(video_id: str, selector: ClipSelector, args: argparse.Namespace) -> ClipRequested:
    """A new clip request (a fresh request id) for ``video_id``, due ``--timeout`` seconds from
    now.

    Raises:
        pydantic.ValidationError: a negative pad or merge gap.
    """
    request_id = uuid.uuid4().hex
    now = utc_now()
    return ClipRequested(
        message_id=message_id_for(request_id, "ClipRequested"),
        video_id=video_id,
        trace_id=request_id,
        request_id=request_id,
        selector=selector,
        pad_s=args.pad,
        merge_gap_s=args.merge_gap,
        supercut=args.supercut,
        occurred_at=now,
        deadline_at=now + timedelta(seconds=args.timeout),
    )


def run(args: argparse.Namespace) -> int:
    """Run ``videosense clip``; returns the exit code."""
    target = Path(args.target)
    ask: ClipSelector | SearchQuery
    try:
        settings = SearchSettings() if args.index is None else SearchSettings(index_path=args.index)
        if args.query is not None:
            # A local file's video id is known once uploaded: validate with a placeholder.
            ask = search_query_from(args, "" if target.is_file() else args.target)
        else:
            ask = selector_from(args)
        if args.pad < 0 or args.merge_gap < 0:
            raise ValueError("--pad and --merge-gap must be >= 0")
    except ValueError as err:
        error(str(err))
        return EXIT_USAGE
    if (
        isinstance(ask, SearchQuery)
        and not target.is_file()
        and settings.backend == "sqlite"
        and not settings.index_path.is_file()
    ):
        error(
            f"no search index at {settings.index_path}: --query needs the library index "
            "(filled by `videosense run` and `videosense up`; or point --index at one)"
        )
        return EXIT_FAILED
    try:
        if target.is_file():
            result = asyncio.run(_clip_local_file(target, ask, settings, args))
        else:
            point_at(args.endpoint)
            result = asyncio.run(_clip_video(args.target, ask, settings, args))
    except TimeoutError:
        error(f"no clipper answered within {args.timeout:g} s (is a stack running?)")
        return EXIT_FAILED
    except _NotAnalysedError as err:
        error(str(err))
        return EXIT_FAILED
    except UnknownVideoError as err:
        error(f"video {err.args[0]} is not in the search index (unknown id, or still processing)")
        return EXIT_FAILED
    except FinishedDocumentNotFoundError as err:
        error(f"video {err.args[0]} has no finished document")
        return EXIT_FAILED
    except (SearchConfigurationError, SearchIndexError, EmbeddingModelUnavailableError) as err:
        error(str(err))
        return EXIT_FAILED
    except (ClientError, BotoCoreError) as err:
        error(f"cannot reach the stack: {err}")
        return EXIT_FAILED
    if result is None:
        print(f"videosense: no moments found for --query {args.query!r}", file=sys.stderr)
        return EXIT_OK
    return _report(result)


class _NotAnalysedError(Exception):
    """The local file's analysis failed or timed out; no clips can be cut."""


async def _clip_video(
    video_id: str,
    ask: ClipSelector | SearchQuery,
    settings: SearchSettings,
    args: argparse.Namespace,
) -> tuple[ClipsReady, list[Path]] | None:
    common = CommonSettings()
    async with AwsClients(common.region) as aws:
        if isinstance(ask, SearchQuery):
            results = await search(ask, settings)
            hits = [hit for video in results.videos for hit in video.hits]
            _progress(f"{len(hits)} hit(s) for {ask.text!r} in the search index")
            selector = await resolve_query(video_id, hits, aws, common.bucket)
            if selector is None:
                return None
        else:
            selector = ask
        request = request_for(video_id, selector, args)
        result = await request_clips(aws, common, request, args.timeout)
        return result, await download(aws, result, args.out)


async def _clip_local_file(
    path: Path,
    ask: ClipSelector | SearchQuery,
    settings: SearchSettings,
    args: argparse.Namespace,
) -> tuple[ClipsReady, list[Path]] | None:
    # Imported here: the embedded stack loads every service (and their models).
    from videosense.embedded import EmbeddedStack

    _progress("starting the embedded stack (AWS emulator + services)")
    async with EmbeddedStack(search=settings) as stack:
        video_id = await stack.upload(path, stages_for(ask))
        _progress(f"analysing {path.name} ({', '.join(s.value for s in stages_for(ask))})")
        try:
            event = await stack.wait_completed(video_id, args.timeout)
        except TimeoutError:
            raise _NotAnalysedError(f"the analysis timed out after {args.timeout:g} s") from None
        if event.document is None:
            raise _NotAnalysedError(f"the analysis failed: {event.error or event.status.value}")
        _progress(f"analysed ({event.status.value}); cutting")
        if isinstance(ask, SearchQuery):
            # The stack's own indexer writes the index: search it once it holds this video.
            if stack.search_index is None:
                raise _NotAnalysedError("the embedded stack has no search index")
            await stack.wait_indexed(await stack.store.read(video_id), args.timeout)
            query = ask.model_copy(update={"video_id": video_id})
            results = await stack.search_index.search(query)
            hits = [hit for video in results.videos for hit in video.hits]
            selector = await resolve_query(video_id, hits, stack.aws, stack.common.bucket)
            if selector is None:
                return None
        else:
            selector = ask
        request = request_for(video_id, selector, args)
        result = await request_clips(stack.aws, stack.common, request, args.timeout)
        return result, await download(stack.aws, result, args.out)


def _subscription_policy(queue_arn: str, topic_arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
                }
            ],
        }
    )


async def request_clips(
    aws: AwsClients, common: CommonSettings, request: ClipRequested, timeout_s: float
) -> ClipsReady:
    """Send ``request`` to the clipper and wait for its answer, at most ``timeout_s`` and never
    past the request's deadline.

    A private queue subscribed to ``clips-ready`` (deleted afterwards) receives the answers;
    others' answers are skipped. When the wait ends without one, the request is settled as
    every reader settles it (:func:`videosense_shared.clip_answers.settle`): its recorded
    answer if the message was missed, or past the deadline the ``failed`` answer "no clipper
    answered within N s".

    Raises:
        TimeoutError: no answer within ``timeout_s``, and the request's deadline is later.
        botocore.exceptions.ClientError: the stack is not there (no clipper queue or topic).
    """
    topic_arn = await Publisher(aws.sns, aws.sts, common).topic_arn(CLIPS_READY)
    name = common.queue_name(f"cli-clips-{request.request_id[:12]}")
    url = (await aws.sqs.create_queue(QueueName=name))["QueueUrl"]
    subscription: str | None = None
    try:
        arn = (await aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"]))[
            "Attributes"
        ]["QueueArn"]
        await aws.sqs.set_queue_attributes(
            QueueUrl=url, Attributes={"Policy": _subscription_policy(arn, topic_arn)}
        )
        subscription = await subscribe_queue(
            aws, topic_arn, arn, {"type": ["ClipsReady"], "video_id": [request.video_id]}
        )
        clipper_url = await queue_url(aws.sqs, common, CLIPPER)
        await aws.sqs.send_message(
            QueueUrl=clipper_url,
            MessageBody=request.model_dump_json(),
            MessageAttributes=message_attributes(request),  # type: ignore[arg-type]
        )
        _progress(f"requested clips of {request.video_id} (request {request.request_id})")
        wait_s = timeout_s
        if request.deadline_at is not None:
            wait_s = min(wait_s, (request.deadline_at - utc_now()).total_seconds())
        try:
            async with asyncio.timeout(max(0.0, wait_s)):
                return await _answer(aws, url, request)
        except TimeoutError:
            recorded = await read_answer(
                aws.s3, common.bucket, request.video_id, request.request_id
            )
            settled = settle(request, recorded, utc_now(), default_deadline_s=None)
            if settled is None:
                raise
            return settled
    finally:
        if subscription:
            await aws.sns.unsubscribe(SubscriptionArn=subscription)
        await aws.sqs.delete_queue(QueueUrl=url)


async def _answer(aws: AwsClients, url: str, request: ClipRequested) -> ClipsReady:
    """The answer to ``request`` from the private queue (others' answers are dropped)."""
    while True:
        resp = await aws.sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=5
        )
        for message in resp.get("Messages", []):
            await aws.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            try:
                result = ClipsReady.model_validate_json(message.get("Body", ""))
            except ValidationError:
                continue
            if result.request_id == request.request_id:
                return result


async def download(aws: AwsClients, result: ClipsReady, out: Path) -> list[Path]:
    """Download the answer's files into ``out``; returns their paths (clips, then supercut).

    Raises:
        botocore.exceptions.ClientError: a file cannot be read.
        OSError: ``out`` cannot be written.
    """
    files = [*result.clips, *([result.supercut] if result.supercut else [])]
    if not files:
        return []
    await asyncio.to_thread(out.mkdir, parents=True, exist_ok=True)
    paths = []
    for clip in files:
        path = out / PurePosixPath(clip.key).name
        part = path.with_name(f".{path.name}.part")
        resp = await aws.s3.get_object(Bucket=clip.bucket, Key=clip.key)
        async with resp["Body"] as body:
            with part.open("wb") as sink:
                while chunk := await body.read(8 * 1024 * 1024):
                    sink.write(chunk)
        part.replace(path)
        paths.append(path)
    return paths


def _describe(clip: ClipFile) -> str:
    parts = []
    for r in clip.ranges:
        line = f"{r.start_s:.3f}-{r.end_s:.3f} s, {r.frames} frames, {r.method}"
        if r.clamped:
            line += f" (asked up to {r.requested_end_s:g} s: clamped to the end of the video)"
        parts.append(line)
    return "; ".join(parts)


#: How the summary names where the moments came from.
_SOURCES = {
    "face_tracks": " (the person's time on screen, from the face tracks)",
    "scenes": " (whole scenes of the matching keyframes)",
    "transcript": " (transcript segments)",
}


def _report(outcome: tuple[ClipsReady, list[Path]]) -> int:
    result, paths = outcome
    if result.status is ClipStatus.EMPTY:
        print(f"videosense: {result.reason or 'no moments found'}", file=sys.stderr)
        return EXIT_OK
    if result.status is ClipStatus.FAILED:
        error(f"clipping failed: {result.reason}")
        return EXIT_FAILED
    files = [*result.clips, *([result.supercut] if result.supercut else [])]
    for path, clip in zip(paths, files, strict=True):
        print(f"{path}  {_describe(clip) if clip is not result.supercut else 'supercut'}")
    origin = _SOURCES.get(result.source or "", "")
    print(
        f"videosense: {len(result.clips)} clip(s) written to {paths[0].parent}{origin}",
        file=sys.stderr,
    )
    return EXIT_OK


def _progress(message: str) -> None:
    print(f"videosense: {message}", file=sys.stderr, flush=True)
