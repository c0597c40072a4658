"""The service table: what each service runs, consumes, publishes and touches.

docker compose and the CDK stack are both generated from this table plus
:data:`videosense_shared.topology.TOPOLOGY`, so adding a service is one entry here (and its
``services/<package>/Dockerfile``). Only services whose Dockerfile exists are deployed, so a
service that is still being written is never half-deployed.

The permissions listed here are what the code calls (see the ``Raises``/calls of the shared
store, completion, claim check and publisher): the CDK stack turns them into one task role per
service and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from videosense_shared.layout import (
    DOCUMENTS_PREFIX,
    FRAMES_PREFIX,
    MESSAGES_PREFIX,
    TRANSCRIPTS_PREFIX,
)
from videosense_shared.messages import Stage
from videosense_shared.topology import (
    AGGREGATOR,
    CAPTIONER,
    CAPTIONS_READY,
    FRAME_EXTRACTOR,
    FRAMES_EXTRACTED,
    INGEST,
    RECOGNITION_READY,
    RECOGNIZER,
    TOPOLOGY,
    TRANSCRIBER,
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

# DynamoDB actions of the document store. TransactWriteItems is authorised per contained
# action, so the store's transactions need Put/Update/ConditionCheck, not a transact action.
_STORE_READ = ("dynamodb:GetItem", "dynamodb:Query")
_STORE_WRITE = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem")


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


@dataclass(frozen=True)
class ServiceDef:
    """One service: its package, its queue, what it publishes and touches, how it runs."""

    name: str  # compose service and ECS service name
    package: str  # `python -m <package>`; lives in services/<package>/
    queue: str  # the one queue it consumes (a TOPOLOGY queue)
    publishes: tuple[str, ...]  # topics
    reads: tuple[str, ...] = ()  # bucket areas it reads
    writes: tuple[str, ...] = ()  # bucket areas it writes
    table_actions: tuple[str, ...] = ()
    stage: Stage | None = None  # the analysis stage it provides (ingest accepts it)
    backends: tuple[Backend, ...] = ()  # empty: no backend setting
    local_backend: str | None = None  # docker compose (offline)
    cloud_backend: str | None = None  # the CDK stack's default
    cpu: int = 256  # Fargate CPU units
    memory_mib: int = 512
    concurrency: int = 4  # messages one task handles at once
    stop_grace_s: int = 60  # SIGTERM to SIGKILL; the consumer drains in between
    extra_env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

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

# Containers run with a read-only root file system on ECS: model downloads go to /tmp.
_WRITABLE_MODEL_CACHE = {"HF_HOME": "/tmp/huggingface"}

SERVICES: tuple[ServiceDef, ...] = (
    ServiceDef(
        name="ingest",
        package="ingest",
        queue=INGEST,
        # A rejected upload completes at once, so ingest also writes the document and
        # publishes VideoCompleted (videosense_shared.completion).
        publishes=(VIDEO_INGESTED, VIDEO_COMPLETED),
        reads=(UPLOADS,),
        writes=(DOCUMENTS,),
        table_actions=(*_STORE_READ, *_STORE_WRITE),
    ),
    ServiceDef(
        name="frame-extractor",
        package="frame_extractor",
        queue=FRAME_EXTRACTOR,
        publishes=(FRAMES_EXTRACTED,),
        reads=(UPLOADS,),
        writes=(FRAMES,),
        stage=Stage.FRAMES,
        # Decoding is CPU-bound: one video per task, and more tasks for more videos.
        cpu=1024,
        memory_mib=2048,
        concurrency=1,
        stop_grace_s=120,
    ),
    ServiceDef(
        name="transcriber",
        package="transcriber",
        queue=TRANSCRIBER,
        publishes=(TRANSCRIPT_READY,),
        # Transcribe reads the media and writes its result with the caller's permissions.
        reads=(UPLOADS, TRANSCRIPTS),
        writes=(MESSAGES, TRANSCRIPTS),
        stage=Stage.TRANSCRIPT,
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
            ),
        ),
        local_backend="pocketsphinx",
        extra_env=MappingProxyType(_WRITABLE_MODEL_CACHE),
        cloud_backend="transcribe",
        cpu=1024,
        memory_mib=2048,
        concurrency=1,
        stop_grace_s=120,
    ),
    ServiceDef(
        name="captioner",
        package="captioner",
        queue=CAPTIONER,
        publishes=(CAPTIONS_READY,),
        reads=(FRAMES, MESSAGES),
        writes=(MESSAGES,),
        stage=Stage.CAPTIONS,
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
        name="recognizer",
        package="recognizer",
        queue=RECOGNIZER,
        publishes=(RECOGNITION_READY,),
        reads=(FRAMES, MESSAGES),
        writes=(MESSAGES,),
        stage=Stage.RECOGNITION,
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
        name="aggregator",
        package="aggregator",
        queue=AGGREGATOR,
        publishes=(VIDEO_COMPLETED,),
        reads=(MESSAGES,),  # claim-checked results
        writes=(DOCUMENTS,),
        table_actions=(
            *_STORE_READ,
            *_STORE_WRITE,
            "dynamodb:BatchWriteItem",
        ),
    ),
)


def deployable(
    repo_root: Path, services: tuple[ServiceDef, ...] = SERVICES
) -> tuple[ServiceDef, ...]:
    """The services of ``services`` whose Dockerfile exists under ``repo_root``."""
    return tuple(s for s in services if (repo_root / s.dockerfile).is_file())


def available_stages(services: tuple[ServiceDef, ...]) -> tuple[Stage, ...]:
    """Stages provided by ``services``, in the order of :class:`Stage`."""
    provided = {s.stage for s in services if s.stage is not None}
    return tuple(stage for stage in Stage if stage in provided)


def repo_root() -> Path:
    """The repository root (this package lives in ``<root>/deploy/videosense_deploy``)."""
    return Path(__file__).resolve().parents[2]
