"""Settings, read from the environment when constructed (never at import time).

Convention, the same in ``videosense run``, docker compose and ECS: shared settings use the
``VIDEOSENSE_`` prefix (bucket, table, resource name prefix); each service reads its own with
``VIDEOSENSE_<SERVICE>_`` (e.g. ``VIDEOSENSE_FRAME_EXTRACTOR_MAX_KEYFRAMES``).
"""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from videosense_shared.layout import UPLOADS_PREFIX
from videosense_shared.messages import Stage

#: Logical name of the document table; its physical name is ``<prefix>-videos``.
DOCUMENT_TABLE = "videos"


def physical_name(prefix: str, logical: str) -> str:
    """The one naming rule of the deployed resources: ``<prefix>-<logical>``.

    Topics, queues, dead-letter queues and the table are all named so, by the local provisioner,
    the services (which find their queue and topics by name) and the CDK stack alike.
    """
    return f"{prefix}-{logical}"


class CommonSettings(BaseSettings):
    """Settings every service shares."""

    model_config = SettingsConfigDict(env_prefix="VIDEOSENSE_", extra="ignore")

    prefix: str = Field(
        default="videosense",
        pattern=r"^[a-z0-9][a-z0-9-]{0,30}$",
        description="Prefix of every topic, queue and table name.",
    )
    bucket: str = Field(default="videosense-media", description="Media bucket name.")
    table: str = Field(default="", description="DynamoDB table; defaults to '<prefix>-videos'.")
    region: str = Field(
        default="us-east-1",
        validation_alias=AliasChoices("VIDEOSENSE_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"),
    )
    uploads_prefix: str = Field(
        default=UPLOADS_PREFIX, description="Key prefix that starts a video."
    )
    log_level: str = Field(default="INFO")
    log_format: str = Field(default="json", pattern="^(json|console)$")

    @property
    def table_name(self) -> str:
        """The DynamoDB table name: ``table``, or ``<prefix>-videos`` when it is empty."""
        return self.table or physical_name(self.prefix, DOCUMENT_TABLE)

    def topic_name(self, logical: str) -> str:
        """Physical name of a topic, e.g. ``video-ingested`` -> ``videosense-video-ingested``."""
        return physical_name(self.prefix, logical)

    def queue_name(self, logical: str) -> str:
        """Physical name of a queue, e.g. ``ingest`` -> ``videosense-ingest``."""
        return physical_name(self.prefix, logical)


class ConsumerSettings(BaseSettings):
    """How a service consumes its queue. Subclasses set the ``VIDEOSENSE_<SERVICE>_`` prefix."""

    model_config = SettingsConfigDict(env_prefix="VIDEOSENSE_CONSUMER_", extra="ignore")

    common: CommonSettings = Field(default_factory=CommonSettings)
    concurrency: int = Field(default=4, ge=1, le=100, description="Messages handled at once.")
    batch_size: int = Field(default=10, ge=1, le=10, description="Messages per ReceiveMessage.")
    wait_time_s: int = Field(default=20, ge=0, le=20, description="Long-poll wait.")
    visibility_timeout_s: int = Field(
        default=60, ge=5, le=43_200, description="Visibility window, extended by the heartbeat."
    )
    max_retry_delay_s: int = Field(default=300, ge=0, le=43_200)
    drain_timeout_s: float = Field(default=30.0, ge=0, description="Grace period on SIGTERM.")


def parse_stages(value: str) -> tuple[Stage, ...]:
    """Parse a comma list of stage names (order kept, duplicates dropped).

    Raises:
        ValueError: an unknown stage name, or an empty list.
    """
    seen: list[Stage] = []
    for raw in value.split(","):
        name = raw.strip().lower()
        if not name:
            continue
        try:
            stage = Stage(name)
        except ValueError:
            known = ", ".join(s.value for s in Stage)
            raise ValueError(f"unknown stage {name!r} (known: {known})") from None
        if stage not in seen:
            seen.append(stage)
    if not seen:
        raise ValueError("no stage requested")
    return tuple(seen)
