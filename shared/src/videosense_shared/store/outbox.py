"""The completion outbox on the header: who may publish ``VideoCompleted``, and that it went
out (docs/architecture.md, "Completion")."""

from __future__ import annotations

from datetime import timedelta

from videosense_shared.messages import utc_now
from videosense_shared.store.codec import s, ts
from videosense_shared.store.table import DynamoTable
from videosense_shared.topology import DUE_PARTITION_KEY, DUE_SORT_KEY, PARTITION_KEY


class CompletionOutbox:
    """Lease and published flags of the completion event (part of
    :class:`~videosense_shared.store.dynamo.DynamoDocumentStore`)."""

    _table: DynamoTable

    async def claim_completion(self, video_id: str, lease: timedelta) -> bool:
        """See :meth:`DocumentStore.claim_completion
        <videosense_shared.store.DocumentStore.claim_completion>`."""
        return await self._claim(video_id, "completion_published", "completion_lease_until", lease)

    async def mark_published(self, video_id: str) -> None:
        """Record that the completion event went out, and take the video out of the "due"
        index in the same write: nothing is left for the deadline sweep to do."""
        await self._table.update_header(
            video_id,
            "SET completion_published = :true REMOVE completion_lease_until, #shard, #due",
            names={"#shard": DUE_PARTITION_KEY, "#due": DUE_SORT_KEY},
            values={":true": {"BOOL": True}},
        )

    async def claim_ingest(self, video_id: str, lease: timedelta) -> bool:
        """See :meth:`DocumentStore.claim_ingest
        <videosense_shared.store.DocumentStore.claim_ingest>`."""
        return await self._claim(video_id, "ingest_published", "ingest_lease_until", lease)

    async def mark_ingest_published(self, video_id: str) -> None:
        """Record that ``VideoIngested`` went out, so a duplicate notification starts nothing."""
        await self._table.update_header(
            video_id, "SET ingest_published = :true", values={":true": {"BOOL": True}}
        )

    async def _claim(
        self, video_id: str, published: str, lease_until: str, lease: timedelta
    ) -> bool:
        """One outbox lease (completion or ingest), in one conditional write: taken unless the
        header is missing, the event went out, or an unexpired lease is held."""
        now = utc_now()
        return await self._table.update_header(
            video_id,
            "SET #lease = :until",
            condition="attribute_exists(#pk) AND "
            "(attribute_not_exists(#published) OR #published = :false) AND "
            "(attribute_not_exists(#lease) OR #lease < :now)",
            names={"#pk": PARTITION_KEY, "#published": published, "#lease": lease_until},
            values={
                ":false": {"BOOL": False},
                ":now": s(ts(now)),
                ":until": s(ts(now + lease)),
            },
        )
