"""Web app settings, read from ``VIDEOSENSE_WEB_*`` when constructed."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from videosense_shared.settings import CommonSettings


class WebSettings(BaseSettings):
    """Where the web app listens and how it hands out media."""

    model_config = SettingsConfigDict(env_prefix="VIDEOSENSE_WEB_", extra="ignore")

    common: CommonSettings = Field(default_factory=CommonSettings)
    host: str = Field(default="127.0.0.1", description="Address to listen on.")
    port: int = Field(default=8080, ge=0, le=65535, description="Port; 0 picks a free one.")
    media_url_ttl_s: int = Field(
        default=900,
        ge=60,
        le=43_200,
        description="Lifetime of the presigned URL the player streams the video from.",
    )
    media_endpoint_url: str = Field(
        default="",
        description=(
            "S3 endpoint the browser can reach, for presigned media URLs. Empty: the endpoint "
            "the app itself uses (AWS, or the embedded emulator). Set it in docker compose, "
            "where the app reaches the emulator by a name the browser does not know."
        ),
    )
    max_upload_bytes: int = Field(
        default=20 * 1024**3, ge=1, description="Largest upload accepted from the page."
    )
    poll_interval_s: float = Field(
        default=3.0, gt=0, le=60, description="How often pages refresh videos still processing."
    )
    clip_deadline_s: float = Field(
        default=1800.0,
        ge=1,
        le=86_400,
        description="A clip request nobody answered this long after it was sent has failed "
        "('no clipper answered'): its status stops being pending.",
    )
