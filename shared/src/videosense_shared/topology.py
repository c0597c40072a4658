"""The one declarative topology: topics, queues, subscriptions, bucket notification, table.

The local provisioner (tests, ``videosense run``, the compose init step) and the AWS deployment
are both generated from this data, so local and cloud cannot drift. Names here are logical;
:class:`~videosense_shared.settings.CommonSettings` turns them into physical names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Topics every service publishes on. A service publishes its results *and* its StageFailed on its
# own topic, with a ``type`` message attribute that subscriptions filter on.
VIDEO_INGESTED = "video-ingested"
FRAMES_EXTRACTED = "frames-extracted"
CAPTIONS_READY = "captions-ready"
RECOGNITION_READY = "recognition-ready"
TRANSCRIPT_READY = "transcript-ready"
VIDEO_COMPLETED = "video-completed"
CLIPS_READY = "clips-ready"  # the clipper's results (ClipsReady)
REDACTION_READY = "redaction-ready"

# Queues, one per consuming service.
INGEST = "ingest"
FRAME_EXTRACTOR = "frame-extractor"
CAPTIONER = "captioner"
RECOGNIZER = "recognizer"
TRANSCRIBER = "transcriber"
AGGREGATOR = "aggregator"
CLIPPER = "clipper"  # ClipRequested is sent to it directly (a command, not an event)
REDACTOR = "redactor"
INDEXER = "indexer"

# DynamoDB key names of the document table (an item collection per video).
PARTITION_KEY = "video_id"
SORT_KEY = "sk"

# The table's one global secondary index: "due", sparse. A video's header carries its key
# attributes until the video's completion is published, so the aggregator's deadline sweep finds
# the videos to look at with a query, never a scan (docs/architecture.md, "Deadlines"). Keys only:
# the sweep reads the header itself, strongly consistent, before acting.
DUE_INDEX = "due"
DUE_PARTITION_KEY = "due_shard"  # one constant value: see videosense_shared.store.keys.DUE_SHARD
DUE_SORT_KEY = "due_at"  # ISO-8601 UTC, fixed width, so string order is time order


@dataclass(frozen=True)
class Subscription:
    """An SNS topic feeding a queue with raw message delivery."""

    topic: str
    message_types: tuple[str, ...] = ()  # empty: every message on the topic

    def filter_policy(self) -> dict[str, Any] | None:
        """The SNS filter policy on the ``type`` message attribute, if any."""
        return {"type": list(self.message_types)} if self.message_types else None


@dataclass(frozen=True)
class Queue:
    """A service's work queue and its dead-letter queue."""

    name: str
    visibility_timeout_s: int
    max_receive_count: int = 5
    subscriptions: tuple[Subscription, ...] = ()
    receives_uploads: bool = False  # target of the bucket's ObjectCreated notification
    retention_s: int = 14 * 24 * 3600

    @property
    def dlq_name(self) -> str:
        """Logical name of the dead-letter queue."""
        return f"{self.name}-dlq"


@dataclass(frozen=True)
class Topology:
    """Everything that must exist for the pipeline to run."""

    topics: tuple[str, ...]
    queues: tuple[Queue, ...]
    uploads_suffixes: tuple[str, ...] = field(default=())

    def queue(self, name: str) -> Queue:
        """Return the queue called ``name``.

        Raises:
            KeyError: no such queue.
        """
        for queue in self.queues:
            if queue.name == name:
                return queue
        raise KeyError(name)


TOPOLOGY = Topology(
    topics=(
        VIDEO_INGESTED,
        FRAMES_EXTRACTED,
        CAPTIONS_READY,
        RECOGNITION_READY,
        TRANSCRIPT_READY,
        VIDEO_COMPLETED,
        CLIPS_READY,
        REDACTION_READY,
    ),
    queues=(
        Queue(name=INGEST, visibility_timeout_s=120, receives_uploads=True),
        Queue(
            name=FRAME_EXTRACTOR,
            visibility_timeout_s=300,
            subscriptions=(Subscription(VIDEO_INGESTED, ("VideoIngested",)),),
        ),
        Queue(
            name=TRANSCRIBER,
            visibility_timeout_s=300,
            subscriptions=(Subscription(VIDEO_INGESTED, ("VideoIngested",)),),
        ),
        # Keyframe consumers see every chunk and skip videos that did not request their stage
        # (FramesExtracted carries the requested stages).
        Queue(
            name=CAPTIONER,
            visibility_timeout_s=300,
            subscriptions=(Subscription(FRAMES_EXTRACTED, ("FramesExtracted",)),),
        ),
        Queue(
            name=RECOGNIZER,
            visibility_timeout_s=300,
            subscriptions=(Subscription(FRAMES_EXTRACTED, ("FramesExtracted",)),),
        ),
        Queue(
            name=AGGREGATOR,
            visibility_timeout_s=60,
            subscriptions=(
                Subscription(VIDEO_INGESTED, ("VideoIngested",)),
                Subscription(FRAMES_EXTRACTED, ("FramesExtracted", "StageFailed")),
                Subscription(CAPTIONS_READY, ("CaptionsReady", "StageFailed")),
                Subscription(RECOGNITION_READY, ("RecognitionReady", "StageFailed")),
                Subscription(TRANSCRIPT_READY, ("TranscriptReady", "StageFailed")),
                Subscription(REDACTION_READY, ("RedactionReady", "StageFailed")),
            ),
        ),
        # Clip requests arrive straight on the queue; cutting a long clip takes minutes, and
        # the consumer's heartbeat keeps the message invisible meanwhile.
        Queue(name=CLIPPER, visibility_timeout_s=600, max_receive_count=3),
        # The redactor works on the whole video (every frame), not on keyframes.
        Queue(
            name=REDACTOR,
            visibility_timeout_s=300,
            subscriptions=(Subscription(VIDEO_INGESTED, ("VideoIngested",)),),
        ),
        # The search index: every finished video (complete, partial or failed).
        Queue(
            name=INDEXER,
            visibility_timeout_s=120,
            subscriptions=(Subscription(VIDEO_COMPLETED, ("VideoCompleted",)),),
        ),
    ),
)

#: The topic each stage publishes its results and its StageFailed on.
STAGE_TOPICS = {
    "frames": FRAMES_EXTRACTED,
    "captions": CAPTIONS_READY,
    "recognition": RECOGNITION_READY,
    "transcript": TRANSCRIPT_READY,
    "redaction": REDACTION_READY,
}
