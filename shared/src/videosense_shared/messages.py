"""The message contracts between services (schema version 1).

Every message is an immutable Pydantic model that rejects unknown fields. ``message_id`` is
derived from lineage (see :mod:`videosense_shared.ids`), so a redelivered input produces the very
same output ids and downstream consumers can deduplicate on them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

SCHEMA_VERSION: Literal[1] = 1


class Stage(StrEnum):
    """Analysis stages a video can request."""

    FRAMES = "frames"
    CAPTIONS = "captions"
    RECOGNITION = "recognition"
    TRANSCRIPT = "transcript"
    REDACTION = "redaction"


class StageStatus(StrEnum):
    """Lifecycle of one stage inside a video document."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"
    SKIPPED = "skipped"

    @property
    def terminal(self) -> bool:
        """True when the stage will not change any more."""
        return self in (StageStatus.COMPLETE, StageStatus.FAILED, StageStatus.SKIPPED)


class VideoStatus(StrEnum):
    """Overall status of a video document."""

    PROCESSING = "processing"
    COMPLETE = "complete"
    PARTIAL = "partial"
    FAILED = "failed"


def utc_now() -> datetime:
    """Return the current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class Model(BaseModel):
    """Base for every contract model: immutable, strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class SourceRef(Model):
    """The uploaded object a video document describes: one version of one key.

    Every read of the upload is pinned to it (``version_id`` when the bucket has versioning,
    ``If-Match: etag`` otherwise): see :mod:`videosense_shared.objects`.
    """

    bucket: str
    key: str
    etag: str
    size_bytes: int = Field(ge=0)
    # Added within schema v1: absent in older messages, and None for unversioned buckets.
    version_id: str | None = None


class MediaFacts(Model):
    """What probing the container told us.

    Audio alone (no video stream) has ``video_codec == ""`` and ``fps``, ``width``,
    ``height`` and ``frame_count`` all 0: see :attr:`has_video`.
    """

    duration_s: float = Field(ge=0)
    fps: float = Field(ge=0)
    width: int = Field(ge=0)
    height: int = Field(ge=0)
    frame_count: int = Field(ge=0)
    video_codec: str
    has_audio: bool

    @property
    def has_video(self) -> bool:
        """Whether the media has a video stream (false for an audio-only upload)."""
        return bool(self.video_codec)


class Box(Model):
    """A box in relative image coordinates (0..1)."""

    left: float = Field(ge=0, le=1)
    top: float = Field(ge=0, le=1)
    width: float = Field(ge=0, le=1)
    height: float = Field(ge=0, le=1)


class ImageRef(Model):
    """A JPEG stored in S3."""

    bucket: str
    key: str
    width: int = Field(gt=0)
    height: int = Field(gt=0)


class ObjectRef(Model):
    """An S3 object holding a payload too large for a message (claim check)."""

    bucket: str
    key: str


class Label(Model):
    """An object or concept seen in a keyframe."""

    name: str
    confidence: float = Field(ge=0, le=100)
    box: Box | None = None


class Face(Model):
    """A face in a keyframe; ``name``/``match_id`` when recognized (celebrity or collection)."""

    box: Box
    confidence: float = Field(ge=0, le=100)
    name: str | None = None
    match_id: str | None = None


class TextDetection(Model):
    """Text read from a keyframe (a line or a word)."""

    text: str
    confidence: float = Field(ge=0, le=100)
    box: Box | None = None


class Word(Model):
    """One transcribed word."""

    word: str
    start_s: float = Field(ge=0)
    end_s: float = Field(ge=0)
    confidence: float | None = Field(default=None, ge=0, le=1)


class Segment(Model):
    """A time-coded stretch of the transcript."""

    start_s: float = Field(ge=0)
    end_s: float = Field(ge=0)
    text: str
    speaker: str | None = None
    words: tuple[Word, ...] = ()


class Transcript(Model):
    """The time-coded transcript (``language`` is a code such as ``en`` or ``en-US``)."""

    language: str | None
    text: str
    segments: tuple[Segment, ...] = ()


class Scene(Model):
    """A shot: frames ``[start_frame, end_frame)`` and seconds ``[start_s, end_s)``."""

    index: int = Field(ge=0)
    start_frame: int = Field(ge=0)
    end_frame: int = Field(ge=0)
    start_s: float = Field(ge=0)
    end_s: float = Field(ge=0)


class Keyframe(Model):
    """One keyframe picked by the frame extractor."""

    id: str
    frame: int = Field(ge=0)
    t_s: float = Field(ge=0)
    scene_index: int = Field(ge=0)
    image: ImageRef


# Ids are short hex digests (see ids.py); a bound makes a message with absurd ids poison at
# once instead of an error deep inside a stage (an S3 key too long, a log line of 64 KB).
_Id = Annotated[str, Field(min_length=1, max_length=128)]


class _Envelope(Model):
    schema_version: Literal[1] = SCHEMA_VERSION
    message_id: _Id
    video_id: _Id
    trace_id: _Id
    occurred_at: datetime = Field(default_factory=utc_now)


class VideoIngested(_Envelope):
    """A new video was accepted; lists the stages to run."""

    type: Literal["VideoIngested"] = "VideoIngested"
    source: SourceRef
    media: MediaFacts
    stages: tuple[Stage, ...] = Field(min_length=1)


class FramesExtracted(_Envelope):
    """One chunk of the frame stage's output.

    A video's scenes and keyframes are split over ``chunk_count`` chunks so that every message
    stays far below SNS's 256 KB and downstream work can spread over several workers. ``stages``
    repeats what the video requested, so keyframe consumers know whether their stage runs.
    """

    type: Literal["FramesExtracted"] = "FramesExtracted"
    stages: tuple[Stage, ...] = Field(min_length=1)
    chunk_index: int = Field(ge=0)
    chunk_count: int = Field(ge=1)
    scene_count: int = Field(ge=0)
    keyframe_count: int = Field(ge=0)
    scenes: tuple[Scene, ...]
    keyframes: tuple[Keyframe, ...]
    backend: str
    started_at: datetime
    finished_at: datetime


class KeyframeCaption(Model):
    """The caption of one keyframe."""

    keyframe_id: str
    frame: int = Field(ge=0)
    caption: str


class CaptionsReady(_Envelope):
    """Captions for the keyframes of one ``FramesExtracted`` chunk (same index and count).

    ``captions`` is empty and ``captions_ref`` set when the list was too large for a message.
    """

    type: Literal["CaptionsReady"] = "CaptionsReady"
    chunk_index: int = Field(ge=0)
    chunk_count: int = Field(ge=1)
    backend: str
    model: str | None = None
    captions: tuple[KeyframeCaption, ...] = ()
    captions_ref: ObjectRef | None = None
    started_at: datetime
    finished_at: datetime


class KeyframeRecognition(Model):
    """What recognition found in one keyframe."""

    keyframe_id: str
    frame: int = Field(ge=0)
    labels: tuple[Label, ...] = ()
    faces: tuple[Face, ...] = ()
    text: tuple[TextDetection, ...] = ()


class RecognitionReady(_Envelope):
    """Recognition results for the keyframes of one ``FramesExtracted`` chunk.

    ``features`` says which features ran (so an empty ``labels`` is honest, not missing).
    ``results`` is empty and ``results_ref`` set when the list was too large for a message.
    """

    type: Literal["RecognitionReady"] = "RecognitionReady"
    chunk_index: int = Field(ge=0)
    chunk_count: int = Field(ge=1)
    backend: str
    features: tuple[str, ...]
    results: tuple[KeyframeRecognition, ...] = ()
    results_ref: ObjectRef | None = None
    started_at: datetime
    finished_at: datetime


class TranscriptReady(_Envelope):
    """The whole transcript of a video (``transcript_ref`` when too large for a message)."""

    type: Literal["TranscriptReady"] = "TranscriptReady"
    backend: str
    model: str | None = None
    transcript: Transcript | None = None
    transcript_ref: ObjectRef | None = None
    started_at: datetime
    finished_at: datetime


class StageFailed(_Envelope):
    """A stage could not produce its result for this video; ``error`` is readable."""

    type: Literal["StageFailed"] = "StageFailed"
    stage: Stage
    error: str
    backend: str | None = None
    skipped: bool = False


class DocumentRef(Model):
    """Where the assembled JSON document was written."""

    bucket: str
    key: str


class VideoCompleted(_Envelope):
    """Every requested stage is terminal (or the video was rejected)."""

    type: Literal["VideoCompleted"] = "VideoCompleted"
    status: Literal[VideoStatus.COMPLETE, VideoStatus.PARTIAL, VideoStatus.FAILED]
    source: SourceRef
    stages: dict[Stage, StageStatus]
    error: str | None = None
    document: DocumentRef | None = None


# --- clipper (services/clipper): cutting moments of a finished video into clips -------------


#: Most explicit ranges one selector may carry (a query's hits, resolved by the client).
MAX_CLIP_SPANS = 100


class ClipSpan(Model):
    """One explicit time range of a selector, in the source's seconds (``from_s < to_s``)."""

    from_s: float = Field(ge=0)
    to_s: float = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> ClipSpan:
        if self.to_s <= self.from_s:
            raise ValueError(f"a range must end after it starts ({self.from_s} to {self.to_s})")
        return self


class ClipSelector(Model):
    """Which moments of a video to cut: exactly one of ``person``, ``label``, ``text`` (the
    whole scene of each matching keyframe), ``say`` (each transcript segment holding the
    words), ``from_s`` with ``to_s`` (one explicit range), or ``ranges`` (explicit ranges a
    client resolved, e.g. the hits of a natural-language search, at most
    :data:`MAX_CLIP_SPANS`)."""

    person: str | None = Field(default=None, min_length=1, max_length=200)
    label: str | None = Field(default=None, min_length=1, max_length=200)
    text: str | None = Field(default=None, min_length=1, max_length=200)
    say: str | None = Field(default=None, min_length=1, max_length=200)
    from_s: float | None = Field(default=None, ge=0)
    to_s: float | None = Field(default=None, gt=0)
    ranges: tuple[ClipSpan, ...] | None = Field(
        default=None, min_length=1, max_length=MAX_CLIP_SPANS
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> ClipSelector:
        named = [self.person, self.label, self.text, self.say, self.ranges]
        explicit = self.from_s is not None or self.to_s is not None
        if sum(v is not None for v in named) + explicit != 1:
            raise ValueError("give exactly one of person, label, text, say, from_s/to_s or ranges")
        if explicit and (self.from_s is None or self.to_s is None or self.to_s <= self.from_s):
            raise ValueError("from_s and to_s go together, with from_s < to_s")
        return self


class ClipRequested(_Envelope):
    """Cut the moments ``selector`` finds in a finished video; ``request_id`` names the request
    (its files live under ``clips/{video_id}/{request_id}/``, and a repeat is answered with the
    same result). ``deadline_at`` (added within schema v1) is when an unanswered request has
    failed (see :mod:`videosense_shared.clip_answers`)."""

    type: Literal["ClipRequested"] = "ClipRequested"
    request_id: _Id
    selector: ClipSelector
    pad_s: float = Field(default=0.0, ge=0, le=600)
    merge_gap_s: float = Field(default=0.0, ge=0, le=3600)
    supercut: bool = False
    deadline_at: datetime | None = None


#: Where a request's moments came from: the redaction's face tracks (a person's own time on
#: screen), the scenes of matching keyframes, transcript segments, or explicit ranges.
ClipSource = Literal["face_tracks", "scenes", "transcript", "explicit"]


class ClipStatus(StrEnum):
    """How a clip request ended."""

    COMPLETE = "complete"  # every range was cut
    EMPTY = "empty"  # nothing in the video matched: no files
    FAILED = "failed"  # see ``reason``: no files


class ClipRange(Model):
    """One range in a clip file: asked for, actually cut (first frame to the end of the last,
    in the source's seconds), where it starts in the file, and how its video was made
    (``smart``: whole GOPs copied, edges re-encoded; ``reencode``: every frame encoded)."""

    requested_start_s: float = Field(ge=0)
    requested_end_s: float = Field(ge=0)
    start_s: float = Field(ge=0)
    end_s: float = Field(ge=0)
    output_start_s: float = Field(ge=0)
    frames: int = Field(ge=1)
    method: Literal["smart", "reencode"]
    clamped: bool = False
    reason: str | None = None


class ClipFile(Model):
    """An MP4 the clipper wrote to the bucket and the ranges it holds (a supercut holds all,
    one chapter each)."""

    bucket: str
    key: str
    size_bytes: int = Field(ge=0)
    ranges: tuple[ClipRange, ...] = Field(min_length=1)


class ClipsReady(_Envelope):
    """The answer to one ``ClipRequested``: the clip files, or why there are none."""

    type: Literal["ClipsReady"] = "ClipsReady"
    request_id: _Id
    status: ClipStatus
    reason: str | None = None
    # Added within schema v1: where the moments came from (None when none were looked for).
    source: ClipSource | None = None
    clips: tuple[ClipFile, ...] = ()
    supercut: ClipFile | None = None
    started_at: datetime
    finished_at: datetime


# -- redactor (services/redactor): the privacy-safe copy of a video -------------------------


#: Most face tracks a redaction records, and the longest name one carries (at most about 350
#: bytes a track, four-byte characters included): the result stays inline on SNS (below the
#: claim-check limit) and within one DynamoDB item.
MAX_FACE_TRACKS = 500
MAX_FACE_TRACK_NAME = 64
MAX_FACE_NAMES_ERROR = 500


class FaceTrack(Model):
    """One face followed through one shot: from the first frame it was detected on to the end
    of the last (seconds from the first frame, like scenes), who it is when the face gallery
    or the Rekognition collection knows the face, and whether the policy hid it."""

    start_s: float = Field(ge=0)
    end_s: float = Field(ge=0)
    name: str | None = Field(default=None, max_length=MAX_FACE_TRACK_NAME)
    redacted: bool = True

    @model_validator(mode="after")
    def _ordered(self) -> FaceTrack:
        if self.end_s <= self.start_s:
            raise ValueError(
                f"a face track must end after it starts ({self.start_s}, {self.end_s})"
            )
        return self


class Redaction(Model):
    """The redacted copy of a video: every frame with the chosen faces (and, when asked, the
    on-screen text) pixelated or blurred, the sound stream copied untouched.

    ``faces_redacted`` counts face tracks (a person seen through one shot is one face);
    ``frames_with_faces`` the frames where at least one box was redacted. ``text_regions``
    counts text tracks when text redaction was asked for, ``None`` otherwise.

    ``face_tracks`` (added within schema v1; document schema v3) lists every face track seen,
    hidden or not, in time order: ranges and a name, never boxes. ``None`` when the redaction
    predates it. At most :data:`MAX_FACE_TRACKS` are listed (named tracks first, then the
    longest); ``face_tracks_omitted`` counts the others. ``face_names_error`` (added within
    schema v1) says why the tracks are unnamed when the configured face gallery or Rekognition
    collection could not be used (under ``all`` the faces are hidden all the same).
    """

    image: ObjectRef
    policy: str
    style: str
    faces_redacted: int = Field(ge=0)
    frames_with_faces: int = Field(ge=0)
    frame_count: int = Field(ge=0)
    backend: str
    text_regions: int | None = Field(default=None, ge=0)
    face_tracks: tuple[FaceTrack, ...] | None = Field(default=None, max_length=MAX_FACE_TRACKS)
    face_tracks_omitted: int = Field(default=0, ge=0)
    face_names_error: str | None = Field(default=None, max_length=MAX_FACE_NAMES_ERROR)


class RedactionReady(_Envelope):
    """The redaction stage wrote ``redaction.image`` (``redacted/{video_id}.mp4``)."""

    type: Literal["RedactionReady"] = "RedactionReady"
    redaction: Redaction
    started_at: datetime
    finished_at: datetime


AnyMessage = Annotated[
    VideoIngested
    | FramesExtracted
    | CaptionsReady
    | RecognitionReady
    | TranscriptReady
    | StageFailed
    | VideoCompleted
    | ClipRequested
    | ClipsReady
    | RedactionReady,
    Field(discriminator="type"),
]
_ANY: TypeAdapter[AnyMessage] = TypeAdapter(AnyMessage)


def parse_message(payload: str | bytes | dict[str, Any]) -> AnyMessage:
    """Parse any contract message from JSON text or a decoded dict.

    Raises:
        pydantic.ValidationError: the payload is not a valid message of a known type.
    """
    if isinstance(payload, dict):
        return _ANY.validate_python(payload)
    return _ANY.validate_json(payload)
