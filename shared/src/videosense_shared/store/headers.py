"""The header in DynamoDB: creating it, reading it, its final status and its place in the
"due" index."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from videosense_shared.document import decide_final_status
from videosense_shared.messages import MediaFacts, SourceRef, Stage, VideoStatus, utc_now
from videosense_shared.store.codec import decode_header, encode_new_stages, header_key, s, ts
from videosense_shared.store.keys import DUE_SHARD
from videosense_shared.store.protocol import DocumentNotFoundError, Header
from videosense_shared.store.table import DynamoTable, is_condition_failure
from videosense_shared.topology import DUE_INDEX, DUE_PARTITION_KEY, DUE_SORT_KEY, PARTITION_KEY


class HeaderRepository:
    """Creates, reads and finalises headers (part of
    :class:`~videosense_shared.store.dynamo.DynamoDocumentStore`)."""

    _table: DynamoTable

    async def create(
        self,
        *,
        video_id: str,
        trace_id: str,
        source: SourceRef,
        media: MediaFacts | None,
        stages: Sequence[Stage],
        error: str | None = None,
    ) -> bool:
        """See :meth:`DocumentStore.create <videosense_shared.store.DocumentStore.create>`.

        Raises:
            botocore.exceptions.ClientError: DynamoDB refused the write for another reason.
        """
        now = ts(utc_now())
        item: dict[str, Any] = {
            **header_key(video_id),
            "trace_id": s(trace_id),
            "status": s((VideoStatus.FAILED if error else VideoStatus.PROCESSING).value),
            "source": s(source.model_dump_json()),
            "created_at": s(now),
            "stages": encode_new_stages(stages),
            "completion_published": {"BOOL": False},
            DUE_PARTITION_KEY: s(DUE_SHARD),
            DUE_SORT_KEY: s(now),
        }
        if media is not None:
            item["media"] = s(media.model_dump_json())
        if error is not None:
            item["error"] = s(error)
            item["completed_at"] = s(now)
        try:
            await self._table.db.put_item(
                TableName=self._table.name,
                Item=item,
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": PARTITION_KEY},
            )
        except ClientError as err:
            if is_condition_failure(err):
                return False
            raise
        return True

    async def header(self, video_id: str) -> Header:
        """Read the header (strongly consistent).

        Raises:
            DocumentNotFoundError: no such video.
        """
        resp = await self._table.db.get_item(
            TableName=self._table.name, Key=header_key(video_id), ConsistentRead=True
        )
        item = resp.get("Item")
        if item is None:
            raise DocumentNotFoundError(video_id)
        return decode_header(item)

    async def finalize(self, video_id: str) -> Header | None:
        """See :meth:`DocumentStore.finalize <videosense_shared.store.DocumentStore.finalize>`.

        Raises:
            DocumentNotFoundError: no such video.
        """
        header = await self.header(video_id)
        if header.status != VideoStatus.PROCESSING:
            return header
        status = decide_final_status(header.stage_statuses)
        if status is None:
            return None
        await self._table.update_header(
            video_id,
            "SET #status = :final, completed_at = :now",
            condition="#status = :processing",
            names={"#status": "status"},
            values={
                ":final": s(status.value),
                ":processing": s(VideoStatus.PROCESSING.value),
                ":now": s(ts(utc_now())),
            },
        )
        # Whoever won the race, the status is final now: read back the winner's header.
        return await self.header(video_id)

    async def due_videos(self, until: datetime, limit: int) -> list[str]:
        """See :meth:`DocumentStore.due_videos
        <videosense_shared.store.DocumentStore.due_videos>`."""
        ids: list[str] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table.name,
            "IndexName": DUE_INDEX,
            "KeyConditionExpression": "#shard = :shard AND #due <= :until",
            "ExpressionAttributeNames": {"#shard": DUE_PARTITION_KEY, "#due": DUE_SORT_KEY},
            "ExpressionAttributeValues": {":shard": s(DUE_SHARD), ":until": s(ts(until))},
        }
        while len(ids) < limit:
            resp = await self._table.db.query(**kwargs, Limit=limit - len(ids))
            ids.extend(item[PARTITION_KEY]["S"] for item in resp.get("Items", []))
            last = resp.get("LastEvaluatedKey")
            if not last:
                break
            kwargs["ExclusiveStartKey"] = last
        return ids

    async def reschedule(self, video_id: str, at: datetime) -> bool:
        """See :meth:`DocumentStore.reschedule
        <videosense_shared.store.DocumentStore.reschedule>`."""
        return await self._table.update_header(
            video_id,
            "SET #due = :at",
            condition="attribute_exists(#shard)",
            names={"#due": DUE_SORT_KEY, "#shard": DUE_PARTITION_KEY},
            values={":at": s(ts(at))},
        )
