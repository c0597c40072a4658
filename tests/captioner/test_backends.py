"""Choosing the backend from settings, and what happens when it cannot open."""

from __future__ import annotations

import pytest

from captioner.backends import make_backend, open_backend
from captioner.openai_compat import OpenAICompatibleBackend
from captioner.remote import RemoteOptions
from captioner.settings import DEFAULT_PROMPT, CaptionerSettings
from videosense_shared.aws import AwsClients
from videosense_shared.backends import BackendUnavailableError


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HF_HUB_OFFLINE", "VIDEOSENSE_CAPTIONER_OFFLINE", "VIDEOSENSE_CAPTIONER_MODEL"):
        monkeypatch.delenv(name, raising=False)


def test_settings_come_from_the_environment(
    clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the documented variables
    monkeypatch.setenv("VIDEOSENSE_CAPTIONER_BACKEND", "bedrock")
    monkeypatch.setenv("VIDEOSENSE_CAPTIONER_MODEL", "anthropic.claude-3-haiku-20240307-v1:0")
    monkeypatch.setenv("VIDEOSENSE_CAPTIONER_PROMPT", "What is shown?")
    monkeypatch.setenv("VIDEOSENSE_CAPTIONER_MAX_TOKENS", "25")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # WHEN settings are read
    settings = CaptionerSettings()
    # THEN they carry them
    assert settings.backend == "bedrock"
    assert settings.resolved_model() == "anthropic.claude-3-haiku-20240307-v1:0"
    assert settings.prompt == "What is shown?"
    assert settings.max_tokens == 25
    assert settings.offline is True


def test_defaults_are_local_blip(clean_env: None) -> None:
    settings = CaptionerSettings()
    assert settings.backend == "local"
    assert settings.resolved_model() == "Salesforce/blip-image-captioning-base"


@pytest.mark.parametrize(
    ("backend", "needs"),
    [
        pytest.param("sagemaker", "the endpoint name", id="sagemaker-without-endpoint"),
        pytest.param("openai", "the served model name", id="openai-without-model"),
    ],
)
async def test_a_backend_without_its_model_is_unavailable(
    clean_env: None, backend: str, needs: str
) -> None:
    # GIVEN a remote backend chosen without saying which model or endpoint
    settings = CaptionerSettings(backend=backend)
    # WHEN it is opened
    # THEN the reason names the missing setting
    async with AwsClients("us-east-1") as clients:
        with pytest.raises(
            BackendUnavailableError, match=f"VIDEOSENSE_CAPTIONER_MODEL \\({needs}\\)"
        ):
            await open_backend(settings, clients)


async def test_the_openai_backend_gets_the_default_prompt(clean_env: None) -> None:
    # GIVEN the openai backend with no prompt configured
    settings = CaptionerSettings(backend="openai", model="llava", base_url="http://127.0.0.1:1/v1")
    # WHEN it opens
    async with AwsClients("us-east-1") as clients:
        backend = await open_backend(settings, clients)
    # THEN it is the openai backend asking the default one-sentence question
    assert isinstance(backend, OpenAICompatibleBackend)
    assert backend.request_body(b"x")["messages"][0]["content"][0]["text"] == DEFAULT_PROMPT
    await backend.aclose()


async def test_a_backend_that_cannot_open_fails_every_chunk_with_the_first_reason(
    clean_env: None,
) -> None:
    # GIVEN the service's backend: sagemaker, without an endpoint
    async with AwsClients("us-east-1") as clients:
        loader = make_backend(CaptionerSettings(backend="sagemaker"), clients)
        # WHEN two chunks ask for it
        with pytest.raises(BackendUnavailableError) as first:
            await loader.get()
        with pytest.raises(BackendUnavailableError) as again:
            await loader.get()
    # THEN the second gets the remembered failure (no second attempt), under the configured name
    assert again.value is first.value
    assert loader.name == "sagemaker"


def test_remote_options_come_from_the_settings(clean_env: None) -> None:
    # GIVEN settings tuned for a remote backend, without a prompt
    settings = CaptionerSettings(
        backend="bedrock",
        max_tokens=25,
        max_image_side=1024,
        keyframe_concurrency=3,
        request_attempts=6,
        retry_base_s=0.25,
    )
    # WHEN the remote backends' options are derived
    options = RemoteOptions.from_settings(settings)
    # THEN they carry every tuning value and the default prompt
    assert options == RemoteOptions(
        prompt=DEFAULT_PROMPT,
        max_tokens=25,
        max_side=1024,
        concurrency=3,
        attempts=6,
        retry_base_s=0.25,
    )
