"""The per-scene, per-keyframe and per-segment items: what the stages found."""

from __future__ import annotations

import json
from collections.abc import Iterable

from videosense_shared.messages import (
    Keyframe,
    KeyframeCaption,
    KeyframeRecognition,
    Redaction,
    Scene,
    Transcript,
)
from videosense_shared.store.codec import item_key, n, recognition_values, s
from videosense_shared.store.keys import (
    REDACTION,
    TRANSCRIPT,
    keyframe_key,
    scene_key,
    segment_key,
)
from videosense_shared.store.table import DynamoTable


class ResultWriter:
    """Writes the collection items (part of
    :class:`~videosense_shared.store.dynamo.DynamoDocumentStore`).

    Each stage writes only its own attributes of a keyframe item, with an update, so stages
    never overwrite each other whatever order their results arrive in. No item grows with the
    video's length.
    """

    _table: DynamoTable

    async def put_scenes(self, video_id: str, scenes: Iterable[Scene]) -> None:
        """Write scene items (idempotent: same scene, same item)."""
        await self._table.put_all(
            {**item_key(video_id, scene_key(scene.index)), "data": s(scene.model_dump_json())}
            for scene in scenes
        )

    async def put_keyframes(self, video_id: str, keyframes: Iterable[Keyframe]) -> None:
        """Write keyframe items' ``data`` (idempotent; later stages' attributes survive)."""
        for keyframe in keyframes:
            await self._table.db.update_item(
                TableName=self._table.name,
                Key=item_key(video_id, keyframe_key(keyframe.frame)),
                UpdateExpression="SET #data = :data",
                ExpressionAttributeNames={"#data": "data"},
                ExpressionAttributeValues={":data": s(keyframe.model_dump_json())},
            )

    async def put_captions(self, video_id: str, captions: Iterable[KeyframeCaption]) -> None:
        """Store each keyframe's caption on its item (idempotent)."""
        for item in captions:
            await self._table.db.update_item(
                TableName=self._table.name,
                Key=item_key(video_id, keyframe_key(item.frame)),
                UpdateExpression="SET caption = :caption",
                ExpressionAttributeValues={":caption": s(json.dumps(item.caption))},
            )

    async def put_recognition(self, video_id: str, results: Iterable[KeyframeRecognition]) -> None:
        """Store each keyframe's labels, faces and text on its item (idempotent)."""
        for item in results:
            await self._table.db.update_item(
                TableName=self._table.name,
                Key=item_key(video_id, keyframe_key(item.frame)),
                UpdateExpression="SET labels = :labels, faces = :faces, #text = :text",
                ExpressionAttributeNames={"#text": "text"},
                ExpressionAttributeValues=recognition_values(item),
            )

    async def put_transcript(self, video_id: str, transcript: Transcript) -> None:
        """Store the transcript as one small item plus one item per segment (idempotent)."""
        await self._table.put_all(
            [
                {
                    **item_key(video_id, TRANSCRIPT),
                    "language": s(transcript.language or ""),
                    "segment_count": n(len(transcript.segments)),
                },
                *(
                    {**item_key(video_id, segment_key(i)), "data": s(seg.model_dump_json())}
                    for i, seg in enumerate(transcript.segments)
                ),
            ]
        )

    async def put_redaction(self, video_id: str, redaction: Redaction) -> None:
        """Store the redaction result as one small item (idempotent)."""
        await self._table.put_all(
            [{**item_key(video_id, REDACTION), "data": s(redaction.model_dump_json())}]
        )
