"""The ``openai`` backend: any server speaking the OpenAI chat completions protocol with image
input (vLLM, Ollama, llama.cpp server, LM Studio...), the keyframe as a base64 data URI."""

from __future__ import annotations

import base64
from typing import Any

import httpx

from captioner.backend import CaptioningError, ImageLimits
from captioner.remote import RemoteBackend, RemoteOptions, RetryCall
from videosense_shared.backends import BackendUnavailableError

#: OpenAI documents 20 MB per request; base64 inflates an image by 4/3.
OPENAI_MAX_IMAGE_BYTES = 15_000_000
_TRANSIENT_STATUS = frozenset({408, 409, 425, 429})
_MAX_ERROR_CHARS = 300


def _retry_after_s(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None  # an HTTP date: rare from these servers; our own backoff is fine


def _error_text(response: httpx.Response) -> str:
    try:
        body: Any = response.json()
    except ValueError:
        return response.text[:_MAX_ERROR_CHARS]
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])[:_MAX_ERROR_CHARS]
        if isinstance(error, str):
            return error[:_MAX_ERROR_CHARS]
    return response.text[:_MAX_ERROR_CHARS]


def parse_completion(body: Any) -> str:
    """Read the assistant's text from a chat completion (string or list-of-parts content).

    Raises:
        CaptioningError: the body is not a chat completion.
    """
    try:
        content = body["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError) as err:
        raise CaptioningError(f"not a chat completion: {str(body)[:_MAX_ERROR_CHARS]}") from err
    if isinstance(content, list):
        content = " ".join(
            part.get("text", "") for part in content if isinstance(part, dict)
        ).strip()
    if not isinstance(content, str):
        raise CaptioningError("chat completion has no text content")
    return content.strip()


class OpenAICompatibleBackend(RemoteBackend):
    """One ``POST {base_url}/chat/completions`` per keyframe."""

    name = "openai"

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        model: str,
        options: RemoteOptions,
    ) -> None:
        super().__init__(
            model=model,
            limits=ImageLimits(max_side=options.max_side, max_bytes=OPENAI_MAX_IMAGE_BYTES),
            options=options,
        )
        self._client = client

    @classmethod
    def connect(
        cls,
        base_url: str,
        *,
        api_key: str | None,
        timeout_s: float,
        model: str,
        options: RemoteOptions,
    ) -> OpenAICompatibleBackend:
        """Build the backend with its own HTTP client for ``base_url``.

        Raises:
            BackendUnavailableError: ``base_url`` is not an http(s) URL.
        """
        if not base_url.startswith(("http://", "https://")):
            raise BackendUnavailableError(
                f"the openai backend needs VIDEOSENSE_CAPTIONER_BASE_URL (http(s)://...), "
                f"got {base_url!r}"
            )
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        client = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/",
            headers=headers,
            timeout=timeout_s,
            limits=httpx.Limits(max_connections=options.concurrency),
        )
        return cls(client, model=model, options=options)

    def request_body(self, image: bytes) -> dict[str, Any]:
        """The chat completion request for one image."""
        data_uri = "data:image/jpeg;base64," + base64.b64encode(image).decode("ascii")
        return {
            "model": self._model,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": self._options.prompt},
                        {"type": "image_url", "image_url": {"url": data_uri}},
                    ],
                }
            ],
            "max_tokens": self._options.max_tokens,
            "temperature": 0,
            "stream": False,
        }

    async def _caption_one(self, image: bytes) -> str:
        what = f"{self._client.base_url}chat/completions (model {self._model})"
        try:
            response = await self._client.post("chat/completions", json=self.request_body(image))
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as err:
            # A server still starting refuses connections: worth a retry like a 503.
            raise RetryCall(f"{what}: {type(err).__name__}: {err}") from err
        status = response.status_code
        if status in _TRANSIENT_STATUS or status >= 500:
            raise RetryCall(
                f"{what}: HTTP {status}: {_error_text(response)}",
                retry_after_s=_retry_after_s(response),
            )
        if status >= 400:
            raise CaptioningError(f"{what}: HTTP {status}: {_error_text(response)}")
        try:
            body = response.json()
        except ValueError as err:
            raise CaptioningError(f"{what}: response is not JSON") from err
        return parse_completion(body)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()
