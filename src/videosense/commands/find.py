"""``videosense find``: the videos and time points where a text, label or person appears."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from videosense.commands import EXIT_FAILED, EXIT_OK, EXIT_USAGE, error
from videosense.commands.endpoint import point_at
from videosense.documents import FinishedDocumentNotFoundError, finished_documents, read_finished
from videosense.report import print_hits
from videosense.search import Hit, Query, QueryKind, find_in_document
from videosense_shared.aws import AwsClients
from videosense_shared.settings import CommonSettings


def add_parser(sub: Any) -> None:
    """Add ``find`` to the sub-command parsers (``sub`` from ``add_subparsers``)."""
    parser = sub.add_parser(
        "find",
        help="list the videos and times where a text, label or person appears",
        description=(
            "Search finished documents (documents/*.json in the media bucket). --text matches "
            "whole words, case-insensitive, in the text read from keyframes; --label and "
            "--person match a label or recognized face name exactly, case-insensitive."
        ),
    )
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--text", help="words read on screen (all of them, in this order)")
    what.add_argument("--label", help="a label name, e.g. 'Person'")
    what.add_argument("--person", help="a recognized face's name (celebrity or collection)")
    parser.add_argument("--video", help="search this video id only")
    parser.add_argument("--json", action="store_true", help="print the matches as JSON")
    parser.add_argument(
        "--endpoint", help="AWS endpoint, e.g. of a running `videosense up` (AWS_ENDPOINT_URL)"
    )


def query_from(args: argparse.Namespace) -> Query:
    """The query the arguments ask for.

    Raises:
        ValueError: an empty value, or a text with nothing to match.
    """
    for kind in QueryKind:
        value = getattr(args, kind.value)
        if value is not None:
            return Query(kind, value)
    raise ValueError("one of --text, --label or --person is required")


def run(args: argparse.Namespace) -> int:
    """Run ``videosense find``; returns the exit code."""
    try:
        query = query_from(args)
    except ValueError as err:
        error(str(err))
        return EXIT_USAGE
    point_at(args.endpoint)
    try:
        hits, searched = asyncio.run(search(query, args.video))
    except FinishedDocumentNotFoundError as err:
        error(f"video {err.args[0]} has no finished document (unknown id, or still processing)")
        return EXIT_FAILED
    except (ClientError, BotoCoreError, ValidationError) as err:
        error(f"cannot read the documents: {err}")
        return EXIT_FAILED
    if args.json:
        print(json.dumps([hit.to_json() for hit in hits], indent=2))
    else:
        print_hits(hits)
    videos = len({hit.video_id for hit in hits})
    print(
        f"videosense: {len(hits)} keyframe(s) in {videos} video(s) match "
        f"{query.kind.value} {query.value!r} ({searched} document(s) searched)",
        file=sys.stderr,
    )
    return EXIT_OK


async def search(query: Query, video_id: str | None) -> tuple[list[Hit], int]:
    """The hits in one video's or every finished document, and how many documents were read.

    Raises:
        FinishedDocumentNotFoundError: ``video_id`` has no finished document.
        botocore.exceptions.ClientError: S3 refused a request.
        botocore.exceptions.BotoCoreError: S3 cannot be reached, or no credentials.
        pydantic.ValidationError: ``video_id``'s object is not a video document.
    """
    common = CommonSettings()
    async with AwsClients(common.region) as aws:
        if video_id is not None:
            document = await read_finished(aws.s3, common.bucket, video_id)
            return find_in_document(document, query), 1
        hits: list[Hit] = []
        searched = 0

        def skipped(key: str, reason: str) -> None:
            print(f"videosense: skipped s3://{common.bucket}/{key}: {reason}", file=sys.stderr)

        async for document in finished_documents(aws.s3, common.bucket, on_unreadable=skipped):
            searched += 1
            hits.extend(find_in_document(document, query))
        return hits, searched
