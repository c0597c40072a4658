"""Captioner settings, read from ``VIDEOSENSE_CAPTIONER_*`` when constructed."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from videosense_shared.settings import ConsumerSettings

BackendName = Literal["local", "bedrock", "sagemaker", "openai"]

#: The prompt of the remote backends when none is configured.
DEFAULT_PROMPT = (
    "Describe this video frame in one factual sentence: who or what is visible and what is "
    "happening. Do not guess names, do not speculate."
)

#: What ``model`` means when it is empty, per backend (``None``: it must be configured).
DEFAULT_MODELS: dict[str, str | None] = {
    "local": "Salesforce/blip-image-captioning-base",
    "bedrock": "amazon.nova-lite-v1:0",
    "sagemaker": None,  # an endpoint name: nothing sensible to default to
    "openai": None,  # whatever the server serves (e.g. "llava" on Ollama)
}


class CaptionerSettings(ConsumerSettings):
    """Which backend captions, with what model, prompt and limits."""

    model_config = SettingsConfigDict(
        env_prefix="VIDEOSENSE_CAPTIONER_", extra="ignore", populate_by_name=True
    )

    backend: BackendName = Field(default="local", description="Who writes the captions.")
    model: str = Field(
        default="",
        description=(
            "local: a model directory or Hugging Face hub id; bedrock: a model id or inference "
            "profile; sagemaker: the endpoint name; openai: the served model name. Empty: the "
            "backend's default (see DEFAULT_MODELS)."
        ),
    )
    prompt: str | None = Field(
        default=None,
        description=(
            "Instruction sent with each image (remote backends: DEFAULT_PROMPT when unset). For "
            "a local BLIP model it is the caption's opening words (e.g. 'a photograph of'); "
            "unset, BLIP captions unconditionally."
        ),
    )
    max_tokens: int = Field(default=40, ge=1, le=1024, description="Most tokens per caption.")
    base_url: str = Field(
        default="",
        description="openai: the server's OpenAI-compatible base URL, e.g. http://host:8000/v1.",
    )
    api_key: SecretStr | None = Field(default=None, description="openai: bearer token, if any.")
    keyframe_concurrency: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Remote captioning calls in flight at once per worker (all chunks together).",
    )
    local_batch_size: int = Field(
        default=8, ge=1, le=256, description="local: images per generate() call."
    )
    device: str = Field(
        default="cpu",
        pattern=r"^(cpu|auto|cuda(:\d+)?|mps)$",
        description="local: torch device ('auto': CUDA when available, else CPU).",
    )
    offline: bool = Field(
        default=False,
        validation_alias=AliasChoices("VIDEOSENSE_CAPTIONER_OFFLINE", "HF_HUB_OFFLINE"),
        description="local: never try to download a hub model (also set by HF_HUB_OFFLINE=1).",
    )
    hub_probe_timeout_s: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description=(
            "local: a model missing from the cache is downloaded only if the hub answers a TCP "
            "connect within this time (huggingface_hub itself retries for minutes)."
        ),
    )
    load_timeout_s: float = Field(
        default=900.0, gt=0, description="local: longest time to download and load a model."
    )
    max_image_side: int = Field(
        default=1568,
        ge=64,
        le=8000,
        description="Images are downscaled to fit this many pixels (aspect kept) first.",
    )
    request_timeout_s: float = Field(
        default=60.0, gt=0, le=900, description="Remote backends: timeout of one call."
    )
    request_attempts: int = Field(
        default=4,
        ge=1,
        le=20,
        description="Remote backends: tries per image on throttling and server errors.",
    )
    retry_base_s: float = Field(
        default=0.5, ge=0, le=60, description="Remote backends: first backoff delay (doubles)."
    )

    def resolved_model(self) -> str | None:
        """The configured model, or the backend's default (None if the backend has none)."""
        return self.model or DEFAULT_MODELS[self.backend]
