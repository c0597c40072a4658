"""The service table: what each service publishes and touches, and how it runs.

Who a service is (name, package, queue, stage) comes from the shared registry,
:mod:`videosense_shared.services`, which the services' own specs use too; this table adds what
only the deployment needs. docker compose and the CDK stack are both generated from it plus
:data:`videosense_shared.topology.TOPOLOGY`, so deploying a registered service is one entry here
(and its ``services/<package>/Dockerfile``). Only services whose Dockerfile exists are deployed,
so a service that is still being written is never half-deployed.

The permissions listed here are what the code calls (see the ``Raises``/calls of the shared
store, completion, claim check and publisher): the CDK stack turns them into one task role per
service and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType

from videosense_shared.layout import (
    CLIPS_PREFIX,
    DOCUMENTS_PREFIX,
    FRAMES_PREFIX,
    MESSAGES_PREFIX,
    REDACTED_PREFIX,
    TRANSCRIPTS_PREFIX,
)
from videosense_shared.messages import Stage
from videosense_shared.services import (
    AGGREGATOR_SERVICE,
    CAPTIONER_SERVICE,
    CLIPPER_SERVICE,
    FRAME_EXTRACTOR_SERVICE,
    INDEXER_SERVICE,
    INGEST_SERVICE,
    RECOGNIZER_SERVICE,
    REDACTOR_SERVICE,
    TRANSCRIBER_SERVICE,
    ServiceInfo,
)
from videosense_shared.topology import (
    CAPTIONS_READY,
    CLIPS_READY,
    FRAMES_EXTRACTED,
    RECOGNITION_READY,
    REDACTION_READY,
    TOPOLOGY,
    TRANSCRIPT_READY,
    VIDEO_COMPLETED,
    VIDEO_INGESTED,
)

# Areas of the media bucket. UPLOADS stands for the configured uploads prefix.
UPLOADS = "<uploads>"
FRAMES = FRAMES_PREFIX  # keyframe JPEGs (videosense_shared.layout.keyframe_key)
MESSAGES = MESSAGES_PREFIX  # claim-checked payloads (videosense_shared.layout.payload_key)
DOCUMENTS = DOCUMENTS_PREFIX  # finished documents (videosense_shared.layout.document_key)
TRANSCRIPTS = TRANSCRIPTS_PREFIX  # Transcribe's result JSON (videosense_shared.layout)
CLIPS = CLIPS_PREFIX  # clips cut on request and their results (videosense_shared.layout)
REDACTED = REDACTED_PREFIX  # redacted copies (videosense_shared.layout.redacted_key)

# DynamoDB actions of the document store. TransactWriteItems is authorised per contained
# action, so the store's transactions need Put/Update/ConditionCheck, not a transact action.
_STORE_READ = ("dynamodb:GetItem", "dynamodb:Query")
_STORE_WRITE = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem")


class SearchAccess(StrEnum):
    """What a service does with the library search index (docs/architecture.md)."""

    READ = "read"  # searches it (the web app): _search and reads only
    WRITE = "write"  # indexes into it (the indexer): creates the index, bulk writes, deletes


@dataclass(frozen=True)
class AiGrant:
    """Permission for an AWS AI API a backend calls.

    ``resources`` are ARN templates with ``{partition}``, ``{region}``, ``{account}`` and
    ``{prefix}`` (the deployment's resource prefix); ``*``
    stands alone only for APIs that have no resource type in IAM (e.g. Rekognition's Detect*).
    """

    actions: tuple[str, ...]
    resources: tuple[str, ...]


@dataclass(frozen=True)
class Backend:
    """One way a service does its work, and the AI permissions that needs."""

    name: str
    grants: tuple[AiGrant, ...] = ()
    # The AWS service (its principal, e.g. "rekognition.amazonaws.com") whose asynchronous
    # jobs this backend starts with an SNS NotificationChannel. The CDK stack then creates the
    # topic and a role only that service may assume to publish on it, lets the task role pass
    # that role (and no other), and sets <PREFIX>NOTIFICATION_TOPIC_ARN / _ROLE_ARN.
    job_notifications: str | None = None
    # Messages one task handles at once with this backend, where it differs from the service's:
    # a backend whose work runs as a job on AWS's side hands each message back to the queue
    # while its job runs, so the task only starts and checks jobs. The backlog scaling divides
    # by it too: those waiting messages count as in flight, and at the service's concurrency of
    # 1 a burst would start one idle task per video.
    concurrency: int | None = None


@dataclass(frozen=True)
class ServiceDef:
    """One deployed service: its registry entry, what it publishes and touches, how it runs."""

    info: ServiceInfo  # name, package, queue and stage, from the shared registry
    publishes: tuple[str, ...]  # topics
    reads: tuple[str, ...] = ()  # bucket areas it reads
    writes: tuple[str, ...] = ()  # bucket areas it writes
    deletes: tuple[str, ...] = ()  # bucket areas it removes its own leftovers from
    table_actions: tuple[str, ...] = ()
    backends: tuple[Backend, ...] = ()  # empty: no backend setting
    local_backend: str | None = None  # docker compose (offline)
    cloud_backend: str | None = None  # the CDK stack's default
    cpu: int = 256  # Fargate CPU units
    memory_mib: int = 512
    concurrency: int = 4  # messages one task handles at once
    stop_grace_s: int = 60  # SIGTERM to SIGKILL; the consumer drains in between
    extra_env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # The search index: compose mounts the SQLite volume, the CDK stack grants the OpenSearch
    # domain (read or write) and both set the VIDEOSENSE_SEARCH_ settings.
    search_access: SearchAccess | None = None

    @property
    def name(self) -> str:
        """Its compose service and ECS service name."""
        return self.info.name

    @property
    def package(self) -> str:
        """Its package (``python -m <package>``), in ``services/<package>/``."""
        return self.info.package

    @property
    def queue(self) -> str:
        """The one TOPOLOGY queue it consumes."""
        return self.info.queue

    @property
    def stage(self) -> Stage | None:
        """The analysis stage it provides (ingest accepts it), if any."""
        return self.info.stage

    @property
    def directory(self) -> str:
        """The service's directory, relative to the repository root."""
        return f"services/{self.package}"

    @property
    def dockerfile(self) -> str:
        """Its Dockerfile, relative to the repository root (the build context)."""
        return f"{self.directory}/Dockerfile"

    @property
    def env_prefix(self) -> str:
        """Prefix of its own settings, e.g. ``VIDEOSENSE_FRAME_EXTRACTOR_``."""
        return f"VIDEOSENSE_{self.package.upper()}_"

    @property
    def command(self) -> tuple[str, ...]:
        """Its entry point."""
        return ("python", "-m", self.package)

    @property
    def visibility_timeout_s(self) -> int:
        """Its queue's visibility timeout, as the topology declares it."""
        return TOPOLOGY.queue(self.queue).visibility_timeout_s

    @property
    def drain_timeout_s(self) -> int:
        """How long the consumer drains on SIGTERM: inside the grace period, with a margin."""
        return max(self.stop_grace_s - 10, 1)

    def backend(self, name: str) -> Backend:
        """The backend called ``name``.

        Raises:
            KeyError: the service has no such backend.
        """
        for backend in self.backends:
            if backend.name == name:
                return backend
        raise KeyError(f"{self.name} has no backend {name!r}")

    def concurrency_with(self, backend: str | None) -> int:
        """Messages one task handles at once when it runs ``backend`` (None: a service
        without backends).

        Raises:
            KeyError: the service has no such backend.
        """
        if backend is None:
            return self.concurrency
        chosen = self.backend(backend).concurrency
        return self.concurrency if chosen is None else chosen


_REKOGNITION_DETECT = AiGrant(
    # The Detect*/RecognizeCelebrities APIs have no resource type: IAM only accepts "*".
    actions=(
        "rekognition:DetectLabels",
        "rekognition:DetectFaces",
        "rekognition:RecognizeCelebrities",
        "rekognition:DetectText",
    ),
    resources=("*",),
)
_REKOGNITION_SEARCH = AiGrant(
    actions=("rekognition:SearchFacesByImage",),
    resources=("arn:{partition}:rekognition:{region}:{account}:collection/*",),
)

#: Videos one transcriber task holds on the ``transcribe`` backend (their jobs run on AWS).
TRANSCRIBE_JOBS_PER_TASK = 16

# Containers run with a read-only root file system on ECS: model downloads go to /tmp.
_WRITABLE_MODEL_CACHE = {"HF_HOME": "/tmp/huggingface"}

SERVICES: tuple[ServiceDef, ...] = (
    ServiceDef(
        INGEST_SERVICE,
        # A rejected upload completes at once, so ingest also writes the document and
        # publishes VideoCompleted (videosense_shared.completion).
        publishes=(VIDEO_INGESTED, VIDEO_COMPLETED),
        reads=(UPLOADS,),
        writes=(DOCUMENTS,),
        table_actions=(*_STORE_READ, *_STORE_WRITE),
    ),
    ServiceDef(
        FRAME_EXTRACTOR_SERVICE,
        publishes=(FRAMES_EXTRACTED,),
        reads=(UPLOADS,),
        writes=(FRAMES,),
        # Decoding is CPU-bound: one video per task, and more tasks for more videos.
        cpu=1024,
        memory_mib=2048,
        concurrency=1,
        stop_grace_s=120,
    ),
    ServiceDef(
        TRANSCRIBER_SERVICE,
        publishes=(TRANSCRIPT_READY,),
        # Transcribe reads the media and writes its result with the caller's permissions.
        reads=(UPLOADS, TRANSCRIPTS),
        writes=(MESSAGES, TRANSCRIPTS),
        backends=(
            Backend("pocketsphinx"),
            Backend("whisper"),
            Backend(
                "transcribe",
                (
                    AiGrant(
                        actions=(
                            "transcribe:StartTranscriptionJob",
                            "transcribe:GetTranscriptionJob",
                            "transcribe:DeleteTranscriptionJob",
                        ),
                        resources=(
                            # Job names are "<prefix>-<video_id>".
                            "arn:{partition}:transcribe:{region}:{account}"
                            ":transcription-job/{prefix}-*",
                        ),
                    ),
                ),
                # The task starts jobs and checks them when their messages return
                # (transcriber/amazon.py): a few API calls per video, no decoding.
                concurrency=TRANSCRIBE_JOBS_PER_TASK,
            ),
        ),
        local_backend="whisper",
        extra_env=MappingProxyType(_WRITABLE_MODEL_CACHE),
        cloud_backend="transcribe",
        cpu=1024,
        memory_mib=2048,
        concurrency=1,
        stop_grace_s=120,
    ),
    ServiceDef(
        CAPTIONER_SERVICE,
        publishes=(CAPTIONS_READY,),
        reads=(FRAMES, MESSAGES),
        writes=(MESSAGES,),
        backends=(
            Backend("local"),
            Backend("openai"),
            Backend(
                "bedrock",
                (
                    AiGrant(
                        # The Converse API is authorised as InvokeModel.
                        actions=("bedrock:InvokeModel",),
                        resources=(
                            "arn:{partition}:bedrock:{region}::foundation-model/*",
                            "arn:{partition}:bedrock:{region}:{account}:inference-profile/*",
                        ),
                    ),
                ),
            ),
            Backend(
                "sagemaker",
                (
                    AiGrant(
                        actions=("sagemaker:InvokeEndpoint",),
                        resources=("arn:{partition}:sagemaker:{region}:{account}:endpoint/*",),
                    ),
                ),
            ),
        ),
        local_backend="local",
        cloud_backend="bedrock",
        extra_env=MappingProxyType(_WRITABLE_MODEL_CACHE),
        cpu=1024,
        memory_mib=4096,
        concurrency=2,
        stop_grace_s=120,
    ),
    ServiceDef(
        RECOGNIZER_SERVICE,
        publishes=(RECOGNITION_READY,),
        reads=(FRAMES, MESSAGES),
        writes=(MESSAGES,),
        backends=(
            Backend("local"),
            Backend("rekognition", (_REKOGNITION_DETECT, _REKOGNITION_SEARCH)),
        ),
        local_backend="local",
        cloud_backend="rekognition",
        cpu=512,
        memory_mib=1024,
        concurrency=2,
        stop_grace_s=120,
    ),
    ServiceDef(
        AGGREGATOR_SERVICE,
        publishes=(VIDEO_COMPLETED,),
        reads=(MESSAGES,),  # claim-checked results
        writes=(DOCUMENTS,),
        table_actions=(
            *_STORE_READ,
            *_STORE_WRITE,
            "dynamodb:BatchWriteItem",
        ),
    ),
    ServiceDef(
        CLIPPER_SERVICE,
        publishes=(CLIPS_READY,),
        # The finished document says where the moments are; the upload is what is cut; a
        # request's recorded result (under clips/) answers its repeats.
        reads=(DOCUMENTS, UPLOADS, CLIPS),
        writes=(CLIPS,),
        # A cut that failed, or was finished after its request's deadline, is removed: no
        # partial or unannounced clip is left under clips/.
        deletes=(CLIPS,),
        cpu=1024,
        memory_mib=2048,
        concurrency=1,
        stop_grace_s=120,
    ),
    ServiceDef(
        REDACTOR_SERVICE,
        publishes=(REDACTION_READY,),
        reads=(UPLOADS,),
        writes=(REDACTED,),
        backends=(
            Backend("local"),
            Backend(
                "rekognition",
                (
                    AiGrant(
                        # Rekognition Video's jobs have no resource type except the collection.
                        actions=(
                            "rekognition:StartFaceDetection",
                            "rekognition:GetFaceDetection",
                            "rekognition:GetFaceSearch",
                        ),
                        resources=("*",),
                    ),
                    AiGrant(
                        actions=("rekognition:StartFaceSearch",),
                        resources=("arn:{partition}:rekognition:{region}:{account}:collection/*",),
                    ),
                ),
                # Rekognition reads the upload with the task role's own s3:GetObject (above)
                # and announces the job's end on the topic the stack creates for it.
                job_notifications="rekognition.amazonaws.com",
            ),
        ),
        local_backend="local",
        # The in-process detector by default: on Fargate it costs under a hundredth of
        # Rekognition Video's per-minute price (docs/scaling.md). backend.redactor=rekognition
        # deploys the notification topic and role that backend needs.
        cloud_backend="local",
        # Decoding, detection and encoding are CPU-bound: one video per task.
        cpu=2048,
        memory_mib=4096,
        concurrency=1,
        stop_grace_s=120,
    ),
    ServiceDef(
        INDEXER_SERVICE,
        publishes=(),
        reads=(DOCUMENTS,),  # the finished document a VideoCompleted names
        search_access=SearchAccess.WRITE,
        # The text-embedding model (torch) embeds transcript segments and captions.
        cpu=1024,
        memory_mib=2048,
        concurrency=2,
        extra_env=MappingProxyType(_WRITABLE_MODEL_CACHE),
    ),
)


def deployable(
    repo_root: Path, services: tuple[ServiceDef, ...] = SERVICES
) -> tuple[ServiceDef, ...]:
    """The services of ``services`` whose Dockerfile exists under ``repo_root``."""
    return tuple(s for s in services if (repo_root / s.dockerfile).is_file())


def repo_root() -> Path:
    """The repository root (this package lives in ``<root>/deploy/videosense_deploy``)."""
    return Path(__file__).resolve().parents[2]
