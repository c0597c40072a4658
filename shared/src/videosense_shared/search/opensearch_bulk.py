"""The ``_bulk`` request bodies the OpenSearch backend sends, and what it makes of the replies.

A ``_bulk`` reply is HTTP 200 even when items were refused: ``errors: true`` and a status per
item. Every refused item is an error of the whole request (the message is retried), except
deleting a document that is already gone (404 ``not_found``): the delete's goal is reached.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from videosense_shared.search.protocol import SearchIndexError

#: Actions per ``_bulk`` request (well under the default 100 MB request limit of a domain and
#: the smaller request limit of a Serverless collection, for entries of a few hundred bytes).
BULK_ACTIONS = 1000


def index_lines(index: str, source: dict[str, Any], doc_id: str | None = None) -> list[str]:
    """The two lines of an ``index`` action: with ``doc_id`` an overwrite of that document,
    without it a new document whose id the cluster picks (a Serverless collection's way)."""
    action: dict[str, Any] = {"_index": index}
    if doc_id is not None:
        action["_id"] = doc_id
    return [json.dumps({"index": action}), json.dumps(source)]


def delete_lines(index: str, doc_ids: Iterable[str]) -> list[str]:
    """One ``delete`` action line per document id."""
    return [json.dumps({"delete": {"_index": index, "_id": doc_id}}) for doc_id in doc_ids]


def chunks(lines: list[str], *, lines_per_action: int) -> Iterator[list[str]]:
    """``lines`` cut into request bodies of at most :data:`BULK_ACTIONS` actions each."""
    step = BULK_ACTIONS * lines_per_action
    for start in range(0, len(lines), step):
        yield lines[start : start + step]


def check_bulk_reply(payload: dict[str, Any]) -> None:
    """Raise when the reply reports refused items (a delete of a missing document is not one).

    Raises:
        SearchIndexError: how many items were refused, and the first one's id and reason.
    """
    if not payload.get("errors"):
        return
    failed = [
        item
        for entry in payload.get("items", [])
        for action, item in entry.items()
        if int(item.get("status", 200)) >= 300
        and not (action == "delete" and int(item.get("status", 0)) == 404)
    ]
    if not failed:
        return
    first = failed[0]
    raise SearchIndexError(
        f"OpenSearch _bulk: {len(failed)} item(s) refused, the first ({first.get('_id')}): "
        f"{item_reason(first)}"
    )


def item_reason(payload: dict[str, Any]) -> str:
    """The reason OpenSearch gives in an error reply or a refused item."""
    error = payload.get("error")
    if isinstance(error, dict):
        return str(error.get("reason") or error.get("type") or error)
    return str(error or payload)[:300]
