"""The video document in DynamoDB: one item collection per video.

Items under partition key ``video_id``:

- ``HEADER``: source, media, status, error, requested stages and their status/timings, chunk
  counters, and the completion outbox (``completion_published``, ``completion_lease_until``);
- ``SCENE#000042`` and ``KEYFRAME#000123``: one per scene / keyframe (``data`` holds its JSON;
  later stages add their own attributes, e.g. ``caption``, so stages never overwrite each other);
- ``CHUNK#frames#000003``: a marker per folded chunk, so every chunk is counted exactly once;
- ``TRANSCRIPT`` (language) and ``SEGMENT#000007``: the transcript, one item per segment.

Every write is either idempotent (same key, same content) or guarded by a condition expression,
so duplicates and any delivery order are harmless. No item grows with the video's length.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from videosense_shared.document import (
    DocumentKeyframe,
    StageInfo,
    VideoDocument,
    final_status,
)
from videosense_shared.messages import (
    Keyframe,
    KeyframeCaption,
    KeyframeRecognition,
    MediaFacts,
    Scene,
    Segment,
    SourceRef,
    Stage,
    StageStatus,
    Transcript,
    VideoStatus,
    utc_now,
)
from videosense_shared.topology import PARTITION_KEY, SORT_KEY

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient

HEADER = "HEADER"
TRANSCRIPT = "TRANSCRIPT"
_BATCH = 25  # BatchWriteItem's limit


class DocumentNotFoundError(LookupError):
    """No document exists for this video id."""


@dataclass(frozen=True)
class Header:
    """The header item, decoded."""

    video_id: str
    trace_id: str
    status: VideoStatus
    error: str | None
    source: SourceRef
    media: MediaFacts | None
    created_at: datetime
    completed_at: datetime | None
    stages: dict[Stage, StageInfo]
    chunks_done: dict[Stage, int]
    chunk_count: dict[Stage, int]
    completion_published: bool
    completion_lease_until: datetime | None
    ingest_published: bool

    @property
    def stage_statuses(self) -> dict[Stage, StageStatus]:
        """Status of each requested stage."""
        return {stage: info.status for stage, info in self.stages.items()}


def _s(value: str) -> dict[str, Any]:
    return {"S": value}


def _n(value: int) -> dict[str, Any]:
    return {"N": str(value)}


def _key(video_id: str, sk: str) -> dict[str, Any]:
    return {PARTITION_KEY: _s(video_id), SORT_KEY: _s(sk)}


def _is_condition_failure(err: ClientError) -> bool:
    return err.response["Error"]["Code"] == "ConditionalCheckFailedException"


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


class DocumentStore:
    """Reads and writes video documents. The DynamoDB client is injected."""

    def __init__(self, dynamodb: DynamoDBClient, table: str) -> None:
        self._db = dynamodb
        self._table = table

    # -- header ---------------------------------------------------------------------------

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
        """Create the header; ``False`` when this video already has one (a duplicate upload
        notification), in which case nothing is changed.

        A non-``None`` ``error`` creates the document already ``failed`` (a rejected video).

        Raises:
            botocore.exceptions.ClientError: DynamoDB refused the write for another reason.
        """
        now = _ts(utc_now())
        stage_map = {
            stage.value: {"M": {"status": _s(StageStatus.PENDING.value)}} for stage in stages
        }
        item: dict[str, Any] = {
            **_key(video_id, HEADER),
            "trace_id": _s(trace_id),
            "status": _s((VideoStatus.FAILED if error else VideoStatus.PROCESSING).value),
            "source": _s(source.model_dump_json()),
            "created_at": _s(now),
            "stages": {"M": stage_map},
            "completion_published": {"BOOL": False},
        }
        if media is not None:
            item["media"] = _s(media.model_dump_json())
        if error is not None:
            item["error"] = _s(error)
            item["completed_at"] = _s(now)
        try:
            await self._db.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": PARTITION_KEY},
            )
        except ClientError as err:
            if _is_condition_failure(err):
                return False
            raise
        return True

    async def header(self, video_id: str) -> Header:
        """Read the header (strongly consistent).

        Raises:
            DocumentNotFoundError: no such video.
        """
        resp = await self._db.get_item(
            TableName=self._table, Key=_key(video_id, HEADER), ConsistentRead=True
        )
        item = resp.get("Item")
        if item is None:
            raise DocumentNotFoundError(video_id)
        return _decode_header(item)

    async def mark_stage_started(
        self, video_id: str, stage: Stage, *, at: datetime, backend: str | None = None
    ) -> bool:
        """Move a stage from ``pending`` to ``running``; ``False`` if it was not pending."""
        names = {"#stages": "stages", "#stage": stage.value, "#status": "status"}
        values: dict[str, Any] = {
            ":running": _s(StageStatus.RUNNING.value),
            ":pending": _s(StageStatus.PENDING.value),
            ":at": _s(_ts(at)),
        }
        expr = "SET #stages.#stage.#status = :running, #stages.#stage.started_at = :at"
        if backend:
            expr += ", #stages.#stage.backend = :backend"
            values[":backend"] = _s(backend)
        return await self._conditional_update(
            video_id, expr, "#stages.#stage.#status = :pending", names, values
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
        """Set a stage's terminal status once; ``False`` if it was already terminal.

        Raises:
            ValueError: ``status`` is not terminal.
        """
        if not status.terminal:
            raise ValueError(f"{status} is not a terminal stage status")
        names = {"#stages": "stages", "#stage": stage.value, "#status": "status"}
        values: dict[str, Any] = {
            ":status": _s(status.value),
            ":finished": _s(_ts(finished_at)),
            ":complete": _s(StageStatus.COMPLETE.value),
            ":failed": _s(StageStatus.FAILED.value),
            ":skipped": _s(StageStatus.SKIPPED.value),
        }
        sets = ["#stages.#stage.#status = :status", "#stages.#stage.finished_at = :finished"]
        if started_at is not None:
            # Keep the earliest start if a start was already recorded.
            sets.append(
                "#stages.#stage.started_at = if_not_exists(#stages.#stage.started_at, :started)"
            )
            values[":started"] = _s(_ts(started_at))
        if backend:
            sets.append("#stages.#stage.backend = :backend")
            values[":backend"] = _s(backend)
        if model:
            sets.append("#stages.#stage.#model = :model")
            names["#model"] = "model"
            values[":model"] = _s(model)
        if features is not None:
            sets.append("#stages.#stage.features = :features")
            values[":features"] = _s(json.dumps(list(features)))
        if error:
            sets.append("#stages.#stage.#error = :error")
            names["#error"] = "error"
            values[":error"] = _s(error)
        condition = (
            "attribute_exists(#stages.#stage) AND "
            "NOT #stages.#stage.#status IN (:complete, :failed, :skipped)"
        )
        return await self._conditional_update(
            video_id, "SET " + ", ".join(sets), condition, names, values
        )

    async def record_chunk(
        self, video_id: str, stage: Stage, chunk_index: int, chunk_count: int
    ) -> bool:
        """Count one chunk of a stage's output exactly once; ``False`` for a duplicate.

        The chunk marker and the counter move together in one transaction, so a crash can never
        count a chunk without marking it (or the reverse).

        Raises:
            botocore.exceptions.ClientError: DynamoDB refused for another reason.
        """
        marker = f"CHUNK#{stage.value}#{chunk_index:06d}"
        try:
            await self._db.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {**_key(video_id, marker), "at": _s(_ts(utc_now()))},
                            "ConditionExpression": "attribute_not_exists(#sk)",
                            "ExpressionAttributeNames": {"#sk": SORT_KEY},
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": _key(video_id, HEADER),
                            "UpdateExpression": "SET #count = :count ADD #done :one",
                            "ConditionExpression": "attribute_exists(#pk)",
                            "ExpressionAttributeNames": {
                                "#count": f"chunk_count_{stage.value}",
                                "#done": f"chunks_done_{stage.value}",
                                "#pk": PARTITION_KEY,
                            },
                            "ExpressionAttributeValues": {
                                ":count": _n(chunk_count),
                                ":one": _n(1),
                            },
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

    # -- completion outbox ----------------------------------------------------------------

    async def finalize(self, video_id: str) -> Header | None:
        """Set the final status if every requested stage is terminal.

        Returns the header once its status is final (whether this call or an earlier one set
        it), or ``None`` while stages are still running.

        Raises:
            DocumentNotFoundError: no such video.
        """
        header = await self.header(video_id)
        if header.status != VideoStatus.PROCESSING:
            return header
        statuses = header.stage_statuses
        if not all(s.terminal for s in statuses.values()):
            return None
        status = final_status(statuses)
        names = {"#status": "status"}
        values = {
            ":final": _s(status.value),
            ":processing": _s(VideoStatus.PROCESSING.value),
            ":now": _s(_ts(utc_now())),
        }
        await self._conditional_update(
            video_id,
            "SET #status = :final, completed_at = :now",
            "#status = :processing",
            names,
            values,
        )
        # Whoever won the race, the status is final now: read back the winner's header.
        return await self.header(video_id)

    async def claim_completion(self, video_id: str, lease: timedelta) -> bool:
        """Claim the right to publish the completion event for ``lease``.

        ``False`` when it was already published or another worker holds an unexpired claim.
        A worker that crashes after claiming leaves a lease that expires, so the event is never
        lost; a live worker's claim keeps concurrent workers from publishing twice.
        """
        now = utc_now()
        values = {
            ":false": {"BOOL": False},
            ":now": _s(_ts(now)),
            ":until": _s(_ts(now + lease)),
        }
        return await self._conditional_update(
            video_id,
            "SET completion_lease_until = :until",
            "completion_published = :false AND "
            "(attribute_not_exists(completion_lease_until) OR completion_lease_until < :now)",
            {},
            values,
        )

    async def mark_published(self, video_id: str) -> None:
        """Record that the completion event went out."""
        await self._db.update_item(
            TableName=self._table,
            Key=_key(video_id, HEADER),
            UpdateExpression="SET completion_published = :true REMOVE completion_lease_until",
            ExpressionAttributeValues={":true": {"BOOL": True}},
        )

    async def mark_ingest_published(self, video_id: str) -> None:
        """Record that ``VideoIngested`` went out, so a duplicate notification starts nothing."""
        await self._db.update_item(
            TableName=self._table,
            Key=_key(video_id, HEADER),
            UpdateExpression="SET ingest_published = :true",
            ExpressionAttributeValues={":true": {"BOOL": True}},
        )

    # -- collection items -----------------------------------------------------------------

    async def put_scenes(self, video_id: str, scenes: Iterable[Scene]) -> None:
        """Write scene items (idempotent: same scene, same item)."""
        await self._put_all(
            {**_key(video_id, f"SCENE#{scene.index:06d}"), "data": _s(scene.model_dump_json())}
            for scene in scenes
        )

    async def put_keyframes(self, video_id: str, keyframes: Iterable[Keyframe]) -> None:
        """Write keyframe items (idempotent). Only the frame stage's own attribute is written,
        so results other stages already stored on the item survive."""
        for keyframe in keyframes:
            await self._db.update_item(
                TableName=self._table,
                Key=_key(video_id, f"KEYFRAME#{keyframe.frame:09d}"),
                UpdateExpression="SET #data = :data",
                ExpressionAttributeNames={"#data": "data"},
                ExpressionAttributeValues={":data": _s(keyframe.model_dump_json())},
            )

    async def put_captions(self, video_id: str, captions: Iterable[KeyframeCaption]) -> None:
        """Store each keyframe's caption on its item (idempotent; order-independent with the
        frame stage's own write)."""
        for item in captions:
            await self._db.update_item(
                TableName=self._table,
                Key=_key(video_id, f"KEYFRAME#{item.frame:09d}"),
                UpdateExpression="SET caption = :caption",
                ExpressionAttributeValues={":caption": _s(json.dumps(item.caption))},
            )

    async def put_recognition(self, video_id: str, results: Iterable[KeyframeRecognition]) -> None:
        """Store each keyframe's labels, faces and text on its item (idempotent)."""
        for item in results:
            dumped = item.model_dump(mode="json")
            await self._db.update_item(
                TableName=self._table,
                Key=_key(video_id, f"KEYFRAME#{item.frame:09d}"),
                UpdateExpression="SET labels = :labels, faces = :faces, #text = :text",
                ExpressionAttributeNames={"#text": "text"},
                ExpressionAttributeValues={
                    ":labels": _s(json.dumps(dumped["labels"])),
                    ":faces": _s(json.dumps(dumped["faces"])),
                    ":text": _s(json.dumps(dumped["text"])),
                },
            )

    async def put_transcript(self, video_id: str, transcript: Transcript) -> None:
        """Store the transcript as one small item plus one item per segment (idempotent)."""
        await self._put_all(
            [
                {
                    **_key(video_id, TRANSCRIPT),
                    "language": _s(transcript.language or ""),
                    "segment_count": _n(len(transcript.segments)),
                },
                *(
                    {**_key(video_id, f"SEGMENT#{i:06d}"), "data": _s(seg.model_dump_json())}
                    for i, seg in enumerate(transcript.segments)
                ),
            ]
        )

    async def _put_all(self, items: Iterable[dict[str, Any]]) -> None:
        batch: list[dict[str, Any]] = []
        for item in items:
            batch.append({"PutRequest": {"Item": item}})
            if len(batch) == _BATCH:
                await self._write_batch(batch)
                batch = []
        if batch:
            await self._write_batch(batch)

    async def _write_batch(self, requests: list[dict[str, Any]]) -> None:
        pending = {self._table: requests}
        for attempt in range(8):
            resp = await self._db.batch_write_item(RequestItems=pending)  # type: ignore[arg-type]
            unprocessed = resp.get("UnprocessedItems") or {}
            if not unprocessed:
                return
            pending = unprocessed  # type: ignore[assignment]
            await asyncio.sleep(min(2.0, 0.05 * 2**attempt))
        raise RuntimeError("DynamoDB left items unprocessed after 8 attempts")

    # -- reading --------------------------------------------------------------------------

    async def read(self, video_id: str) -> VideoDocument:
        """Assemble the item collection into the schema-v1 document.

        Raises:
            DocumentNotFoundError: no such video.
        """
        header: Header | None = None
        scenes: list[Scene] = []
        keyframes: list[DocumentKeyframe] = []
        segments: list[tuple[str, Segment]] = []
        language: str | None = None
        has_transcript = False
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#pk = :id",
            "ExpressionAttributeNames": {"#pk": PARTITION_KEY},
            "ExpressionAttributeValues": {":id": _s(video_id)},
            "ConsistentRead": True,
        }
        while True:
            resp = await self._db.query(**kwargs)
            for item in resp.get("Items", []):
                sk = item[SORT_KEY]["S"]
                if sk == HEADER:
                    header = _decode_header(item)
                elif sk.startswith("SCENE#"):
                    scenes.append(Scene.model_validate_json(item["data"]["S"]))
                elif sk.startswith("KEYFRAME#") and "data" in item:
                    keyframes.append(_decode_keyframe(item))
                elif sk == TRANSCRIPT:
                    has_transcript = True
                    language = item["language"]["S"] or None
                elif sk.startswith("SEGMENT#"):
                    segments.append((sk, Segment.model_validate_json(item["data"]["S"])))
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
            scenes=tuple(sorted(scenes, key=lambda s: s.index)),
            keyframes=tuple(sorted(keyframes, key=lambda k: k.frame)),
            transcript=_assemble_transcript(language, segments) if has_transcript else None,
        )

    async def _conditional_update(
        self,
        video_id: str,
        update: str,
        condition: str,
        names: dict[str, str],
        values: dict[str, Any],
    ) -> bool:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "Key": _key(video_id, HEADER),
            "UpdateExpression": update,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }
        if names:
            kwargs["ExpressionAttributeNames"] = names
        try:
            await self._db.update_item(**kwargs)
        except ClientError as err:
            if _is_condition_failure(err):
                return False
            raise
        return True


def _assemble_transcript(language: str | None, segments: list[tuple[str, Segment]]) -> Transcript:
    ordered = tuple(seg for _, seg in sorted(segments, key=lambda pair: pair[0]))
    text = " ".join(seg.text.strip() for seg in ordered if seg.text.strip())
    return Transcript(language=language, text=text, segments=ordered)


def _decode_keyframe(item: dict[str, Any]) -> DocumentKeyframe:
    base = Keyframe.model_validate_json(item["data"]["S"])
    extra: dict[str, Any] = {}
    # Later stages store their results as JSON attributes named for the document field.
    for field in ("caption", "labels", "faces", "text"):
        if field in item:
            extra[field] = json.loads(item[field]["S"])
    return DocumentKeyframe.model_validate({**base.model_dump(), **extra})


def _opt(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name)
    return None if value is None else str(value["S"])


def _decode_header(item: dict[str, Any]) -> Header:
    stages: dict[Stage, StageInfo] = {}
    for name, value in item.get("stages", {}).get("M", {}).items():
        fields: dict[str, Any] = {k: v.get("S") for k, v in value["M"].items()}
        if fields.get("features") is not None:
            fields["features"] = json.loads(fields["features"])
        stages[Stage(name)] = StageInfo.model_validate(fields)
    done = {s: int(item.get(f"chunks_done_{s.value}", {"N": "0"})["N"]) for s in stages}
    count = {
        s: int(item[f"chunk_count_{s.value}"]["N"])
        for s in stages
        if f"chunk_count_{s.value}" in item
    }
    media = _opt(item, "media")
    completed = _opt(item, "completed_at")
    lease = _opt(item, "completion_lease_until")
    return Header(
        video_id=item[PARTITION_KEY]["S"],
        trace_id=item["trace_id"]["S"],
        status=VideoStatus(item["status"]["S"]),
        error=_opt(item, "error"),
        source=SourceRef.model_validate_json(item["source"]["S"]),
        media=MediaFacts.model_validate_json(media) if media else None,
        created_at=datetime.fromisoformat(item["created_at"]["S"]),
        completed_at=datetime.fromisoformat(completed) if completed else None,
        stages=stages,
        chunks_done=done,
        chunk_count=count,
        completion_published=bool(item.get("completion_published", {}).get("BOOL", False)),
        completion_lease_until=datetime.fromisoformat(lease) if lease else None,
        ingest_published=bool(item.get("ingest_published", {}).get("BOOL", False)),
    )
