"""``videosense find``: where in the library a text, label, person or spoken words appear, or
what matches a question in natural language, from the search index (never by reading every
document).

The index is the one the indexer service writes (``VIDEOSENSE_SEARCH_*``): by default the
SQLite file that ``videosense run`` and ``videosense up`` fill on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from videosense.commands import EXIT_FAILED, EXIT_OK, EXIT_USAGE, error
from videosense.commands.endpoint import point_at
from videosense_shared.aws import AwsClients
from videosense_shared.search import (
    EntryKind,
    MatchMode,
    SearchIndexError,
    SearchQuery,
    SearchResults,
)
from videosense_shared.search.backends import SearchConfigurationError, open_search_index
from videosense_shared.search.embeddings import EmbeddingModelUnavailableError
from videosense_shared.search.settings import SearchSettings
from videosense_shared.settings import CommonSettings

#: What each "what" flag searches.
_KINDS: dict[str, frozenset[EntryKind]] = {
    "text": frozenset({EntryKind.TEXT}),
    "label": frozenset({EntryKind.LABEL}),
    "person": frozenset({EntryKind.PERSON}),
    "say": frozenset({EntryKind.TRANSCRIPT}),
    "query": frozenset(EntryKind),
}
_CLOCK = re.compile(r"^(?:(\d+):)?(?:(\d+):)?(\d+(?:\.\d+)?)$")


def seconds(value: str) -> float:
    """A time as seconds: ``90``, ``1:30`` or ``0:01:30.5``.

    Raises:
        argparse.ArgumentTypeError: not a time.
    """
    found = _CLOCK.match(value.strip())
    if found is None:
        raise argparse.ArgumentTypeError(f"{value!r} is not a time (90, 1:30 or 0:01:30)")
    first, second, secs = found.groups()
    hours, minutes = (first, second) if second is not None else (None, first)
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(secs)


def add_parser(sub: Any) -> None:
    """Add ``find`` to the sub-command parsers (``sub`` from ``add_subparsers``)."""
    parser = sub.add_parser(
        "find",
        help="search the library: where a text, label, person or spoken words appear",
        description=(
            "Search the library index (filled by `videosense run`, `videosense up` and the "
            "indexer service). By default the words must appear in this order; --any finds "
            "entries with any of them, --prefix completes the last word. Words match whole, "
            "case-insensitive, accents ignored; entries holding the exact phrase come first."
        ),
    )
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--text", help="words read on screen")
    what.add_argument("--label", help="a label, e.g. 'Person'")
    what.add_argument("--person", help="a recognized face's name (celebrity or collection)")
    what.add_argument("--say", help="words spoken (the transcript)")
    what.add_argument(
        "--query",
        help="a question in natural language over everything, e.g. 'a man talking about "
        "space' (meaning, not only words: captions and transcript by text embeddings)",
    )
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--any", action="store_true", help="any of the words, not all in order")
    how.add_argument("--prefix", action="store_true", help="the last word as a prefix")
    parser.add_argument("--video", help="search this video id only")
    parser.add_argument(
        "--from", dest="start", type=seconds, help="hits at or after this time (90, 1:30)"
    )
    parser.add_argument("--to", dest="end", type=seconds, help="hits at or before this time")
    parser.add_argument("--limit", type=int, default=50, help="most hits shown (default 50)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--index", type=Path, help="the SQLite index file (default: VIDEOSENSE_SEARCH_INDEX_PATH)"
    )
    parser.add_argument(
        "--endpoint", help="AWS endpoint (AWS_ENDPOINT_URL), for the opensearch backend"
    )


def query_from(args: argparse.Namespace) -> SearchQuery:
    """The query the arguments ask for.

    Raises:
        ValueError: an unsearchable text, a bad range or limit, or a mode that does not apply.
    """
    chosen = [(flag, getattr(args, flag)) for flag in _KINDS if getattr(args, flag) is not None]
    if not chosen:
        raise ValueError("one of --text, --label, --person, --say or --query is required")
    flag, value = chosen[0]
    kinds = _KINDS[flag]
    if flag == "query":
        if args.any or args.prefix:
            raise ValueError("--any and --prefix apply to words, not to --query")
        mode = MatchMode.NATURAL
    else:
        mode = MatchMode.ANY if args.any else MatchMode.PREFIX if args.prefix else MatchMode.PHRASE
    try:
        return SearchQuery(
            text=value,
            mode=mode,
            kinds=kinds,
            video_id=args.video,
            start_s=args.start,
            end_s=args.end,
            limit=args.limit,
        )
    except ValidationError as err:
        reasons = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'query'}: {e['msg']}" for e in err.errors()
        )
        raise ValueError(f"--{flag}: {reasons}") from None


def run(args: argparse.Namespace) -> int:
    """Run ``videosense find``; returns the exit code."""
    try:
        query = query_from(args)
        settings = SearchSettings() if args.index is None else SearchSettings(index_path=args.index)
    except ValueError as err:
        error(str(err))
        return EXIT_USAGE
    if settings.backend == "sqlite" and not settings.index_path.is_file():
        error(
            f"no search index at {settings.index_path}: analyse videos with `videosense run` "
            "or `videosense up` first (or point --index at one)"
        )
        return EXIT_FAILED
    point_at(args.endpoint)
    try:
        results = asyncio.run(search(query, settings))
    except UnknownVideoError as err:
        error(f"video {err.args[0]} is not in the search index (unknown id, or still processing)")
        return EXIT_FAILED
    except (SearchConfigurationError, SearchIndexError, EmbeddingModelUnavailableError) as err:
        error(str(err))
        return EXIT_FAILED
    except (ClientError, BotoCoreError) as err:
        error(f"cannot reach the search index: {err}")
        return EXIT_FAILED
    if args.json:
        print(results.model_dump_json(indent=2))
    else:
        print_results(results)
    shown = sum(len(v.hits) for v in results.videos)
    print(
        f"videosense: {results.total_hits} match(es) for {query.text!r} ({query.mode.value}); "
        f"{shown} shown in {len(results.videos)} video(s)",
        file=sys.stderr,
    )
    return EXIT_OK


class UnknownVideoError(LookupError):
    """``--video`` names a video the index does not hold."""


async def search(query: SearchQuery, settings: SearchSettings) -> SearchResults:
    """Run the query on the index the settings describe.

    Raises:
        UnknownVideoError: ``query.video_id`` is not in the index.
        SearchConfigurationError: the settings do not describe a usable backend.
        SearchIndexError: the index failed.
        EmbeddingModelUnavailableError: a natural-language query without the model.
        botocore.exceptions.BotoCoreError: AWS cannot be reached (opensearch backend).
    """
    if settings.backend == "opensearch":
        async with AwsClients(CommonSettings().region) as aws:
            return await _search(query, settings, aws)
    return await _search(query, settings, None)


async def _search(
    query: SearchQuery, settings: SearchSettings, aws: AwsClients | None
) -> SearchResults:
    index = await open_search_index(settings, aws=aws)
    try:
        if query.video_id is not None and await index.get_video(query.video_id) is None:
            raise UnknownVideoError(query.video_id)
        return await index.search(query)
    finally:
        await index.close()


def _clock(secs: float) -> str:
    minutes, rest = divmod(secs, 60)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours:d}:{minutes:02d}:{rest:04.1f}" if hours else f"{minutes:02d}:{rest:04.1f}"


def print_results(results: SearchResults) -> None:
    """Print the results: a line per video, then one per hit (time, scene, kind, text)."""
    for video in results.videos:
        print(f"video {video.video_id}  {video.status.value}  {video.source_key}")
        for hit in video.hits:
            when = _clock(hit.t_s) + (f"-{_clock(hit.end_s)}" if hit.end_s is not None else "")
            scene = f"scene {hit.scene_index}" if hit.scene_index is not None else ""
            who = f"{hit.speaker}: " if hit.speaker else ""
            where = f"  s3://{hit.image.bucket}/{hit.image.key}" if hit.image else ""
            print(
                f"  {when:<15} {scene:<9} {hit.kind.value:<10} {who}{json.dumps(hit.text)}{where}"
            )
