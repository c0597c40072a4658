"""Reading a video's whole item collection back as the schema-v3 document."""

from __future__ import annotations

from typing import Any

from videosense_shared.document import DocumentKeyframe, VideoDocument
from videosense_shared.messages import Redaction, Scene, Segment
from videosense_shared.store.codec import assemble_transcript, decode_header, decode_keyframe, s
from videosense_shared.store.keys import (
    HEADER,
    KEYFRAME_PREFIX,
    REDACTION,
    SCENE_PREFIX,
    SEGMENT_PREFIX,
    TRANSCRIPT,
)
from videosense_shared.store.protocol import DocumentNotFoundError, Header
from videosense_shared.store.table import DynamoTable
from videosense_shared.topology import PARTITION_KEY, SORT_KEY


class DocumentReader:
    """Assembles documents (part of
    :class:`~videosense_shared.store.dynamo.DynamoDocumentStore`)."""

    _table: DynamoTable

    async def read(self, video_id: str) -> VideoDocument:
        """Assemble the item collection into the schema-v3 document (strongly consistent).

        Raises:
            DocumentNotFoundError: no such video.
        """
        header: Header | None = None
        scenes: list[Scene] = []
        keyframes: list[DocumentKeyframe] = []
        segments: list[tuple[str, Segment]] = []
        language: str | None = None
        has_transcript = False
        redaction: Redaction | None = None
        kwargs: dict[str, Any] = {
            "TableName": self._table.name,
            "KeyConditionExpression": "#pk = :id",
            "ExpressionAttributeNames": {"#pk": PARTITION_KEY},
            "ExpressionAttributeValues": {":id": s(video_id)},
            "ConsistentRead": True,
        }
        while True:
            resp = await self._table.db.query(**kwargs)
            for item in resp.get("Items", []):
                sk = item[SORT_KEY]["S"]
                if sk == HEADER:
                    header = decode_header(item)
                elif sk.startswith(SCENE_PREFIX):
                    scenes.append(Scene.model_validate_json(item["data"]["S"]))
                elif sk.startswith(KEYFRAME_PREFIX) and "data" in item:
                    # A keyframe another stage described before the frame stage's own write
                    # landed is not part of the document yet.
                    keyframes.append(decode_keyframe(item))
                elif sk == TRANSCRIPT:
                    has_transcript = True
                    language = item["language"]["S"] or None
                elif sk.startswith(SEGMENT_PREFIX):
                    segments.append((sk, Segment.model_validate_json(item["data"]["S"])))
                elif sk == REDACTION:
                    redaction = Redaction.model_validate_json(item["data"]["S"])
            last = resp.get("LastEvaluatedKey")
            if not last:
                break
            kwargs["ExclusiveStartKey"] = last
        if header is None:
            raise DocumentNotFoundError(video_id)
        return VideoDocument(
            video_id=video_id,
            status=header.status,
            error=header.error,
            source=header.source,
            media=header.media,
            created_at=header.created_at,
            completed_at=header.completed_at,
            stages=header.stages,
            scenes=tuple(sorted(scenes, key=lambda sc: sc.index)),
            keyframes=tuple(sorted(keyframes, key=lambda k: k.frame)),
            transcript=assemble_transcript(language, segments) if has_transcript else None,
            redaction=redaction,
        )
