"""The stage ledger on the header: each requested stage's status and timings, and the chunk
counters that tell when a chunked stage has all its output."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from videosense_shared.messages import Stage, StageStatus, utc_now
from videosense_shared.store.codec import header_key, item_key, n, s, ts
from videosense_shared.store.keys import chunk_key
from videosense_shared.store.protocol import DocumentNotFoundError
from videosense_shared.store.table import DynamoTable
from videosense_shared.topology import PARTITION_KEY, SORT_KEY

_STAGE_NAMES = {"#stages": "stages", "#status": "status"}
# The stage exists (was requested) and is not terminal yet.
_OPEN_STAGE = (
    "attribute_exists(#stages.#stage) AND "
    "NOT #stages.#stage.#status IN (:complete, :failed, :skipped)"
)
_TERMINAL_VALUES = {
    ":complete": s(StageStatus.COMPLETE.value),
    ":failed": s(StageStatus.FAILED.value),
    ":skipped": s(StageStatus.SKIPPED.value),
}


class StageLedger:
    """Stage status, timings and chunk counting (part of
    :class:`~videosense_shared.store.dynamo.DynamoDocumentStore`)."""

    _table: DynamoTable

    async def mark_stage_queued(self, video_id: str, stage: Stage, *, at: datetime) -> bool:
        """See :meth:`DocumentStore.mark_stage_queued
        <videosense_shared.store.DocumentStore.mark_stage_queued>`."""
        return await self._table.update_header(
            video_id,
            "SET #stages.#stage.#status = :running, #stages.#stage.queued_at = :at",
            condition="#stages.#stage.#status = :pending",
            names={**_STAGE_NAMES, "#stage": stage.value},
            values={
                ":running": s(StageStatus.RUNNING.value),
                ":pending": s(StageStatus.PENDING.value),
                ":at": s(ts(at)),
            },
        )

    async def record_stage_start(self, video_id: str, stage: Stage, at: datetime) -> bool:
        """See :meth:`DocumentStore.record_stage_start
        <videosense_shared.store.DocumentStore.record_stage_start>`."""
        # Timestamps are fixed-width UTC strings: comparing them compares the times.
        return await self._table.update_header(
            video_id,
            "SET #stages.#stage.started_at = :at",
            condition=f"{_OPEN_STAGE} AND (attribute_not_exists(#stages.#stage.started_at) "
            "OR #stages.#stage.started_at > :at)",
            names={**_STAGE_NAMES, "#stage": stage.value},
            values={**_TERMINAL_VALUES, ":at": s(ts(at))},
        )

    async def finish_stage(
        self,
        video_id: str,
        stage: Stage,
        status: StageStatus,
        *,
        started_at: datetime | None,
        finished_at: datetime,
        backend: str | None,
        error: str | None = None,
        model: str | None = None,
        features: Sequence[str] | None = None,
    ) -> bool:
        """See :meth:`DocumentStore.finish_stage
        <videosense_shared.store.DocumentStore.finish_stage>`.

        Raises:
            ValueError: ``status`` is not terminal.
        """
        if not status.terminal:
            raise ValueError(f"{status} is not a terminal stage status")
        if started_at is not None:
            # Before the terminal write: a start is only recorded on an open stage.
            await self.record_stage_start(video_id, stage, started_at)
        names = {**_STAGE_NAMES, "#stage": stage.value}
        values: dict[str, Any] = {
            **_TERMINAL_VALUES,
            ":status": s(status.value),
            ":finished": s(ts(finished_at)),
        }
        sets = ["#stages.#stage.#status = :status", "#stages.#stage.finished_at = :finished"]
        if backend:
            sets.append("#stages.#stage.backend = :backend")
            values[":backend"] = s(backend)
        if model:
            sets.append("#stages.#stage.#model = :model")
            names["#model"] = "model"
            values[":model"] = s(model)
        if features is not None:
            sets.append("#stages.#stage.features = :features")
            values[":features"] = s(json.dumps(list(features)))
        if error:
            sets.append("#stages.#stage.#error = :error")
            names["#error"] = "error"
            values[":error"] = s(error)
        return await self._table.update_header(
            video_id, "SET " + ", ".join(sets), condition=_OPEN_STAGE, names=names, values=values
        )

    async def record_chunk(
        self, video_id: str, stage: Stage, chunk_index: int, chunk_count: int
    ) -> bool:
        """See :meth:`DocumentStore.record_chunk
        <videosense_shared.store.DocumentStore.record_chunk>`.

        The chunk marker and the counter move together in one transaction, so a crash can never
        count a chunk without marking it (or the reverse).

        Raises:
            DocumentNotFoundError: no such video.
            botocore.exceptions.ClientError: DynamoDB refused for another reason.
        """
        table = self._table.name
        try:
            await self._table.db.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": table,
                            "Item": {
                                **item_key(video_id, chunk_key(stage, chunk_index)),
                                "at": s(ts(utc_now())),
                            },
                            "ConditionExpression": "attribute_not_exists(#sk)",
                            "ExpressionAttributeNames": {"#sk": SORT_KEY},
                        }
                    },
                    {
                        "Update": {
                            "TableName": table,
                            "Key": header_key(video_id),
                            "UpdateExpression": "SET #count = :count ADD #done :one",
                            "ConditionExpression": "attribute_exists(#pk)",
                            "ExpressionAttributeNames": {
                                "#count": f"chunk_count_{stage.value}",
                                "#done": f"chunks_done_{stage.value}",
                                "#pk": PARTITION_KEY,
                            },
                            "ExpressionAttributeValues": {":count": n(chunk_count), ":one": n(1)},
                        }
                    },
                ]
            )
        except ClientError as err:
            if err.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = err.response.get("CancellationReasons", [])
            codes = [r.get("Code") for r in reasons]
            if codes and codes[0] == "ConditionalCheckFailed":
                return False  # the marker exists: this chunk was counted before
            if len(codes) > 1 and codes[1] == "ConditionalCheckFailed":
                raise DocumentNotFoundError(video_id) from err
            raise
        return True
