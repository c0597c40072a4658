"""The openai backend against a real local HTTP server speaking the chat completions protocol."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from captioner.backend import CaptioningError, TransientCaptioningError
from captioner.openai_compat import OpenAICompatibleBackend
from captioner.remote import RemoteOptions
from tests.fixtures.captioner.tiny_blip import jpeg
from videosense_shared.backends import BackendUnavailableError

MODEL = "llava:7b"
PROMPT = "One factual sentence about this frame."
IMAGE = jpeg((240, 240, 20))


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


def completion(text: Any) -> dict[str, Any]:
    """A chat completion as OpenAI-compatible servers return it."""
    return {
        "id": "chatcmpl-123",
        "object": "chat.completion",
        "created": 1_790_000_000,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 600, "completion_tokens": 9, "total_tokens": 609},
    }


class ChatServer:
    """Answers POST /v1/chat/completions from a script of replies (then with ``default``),
    recording every request and how many were in flight at once."""

    def __init__(self, *, hold_s: float = 0.0) -> None:
        self.script: list[Reply] = []
        self.default = Reply(200, completion("A yellow square on a white background."))
        self.requests: list[dict[str, Any]] = []
        self.hold_s = hold_s
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                with server._lock:
                    server.requests.append(
                        {"path": self.path, "headers": dict(self.headers), "json": body}
                    )
                    reply = server.script.pop(0) if server.script else server.default
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                if server.hold_s:
                    time.sleep(server.hold_s)  # simulated inference latency, server side
                with server._lock:
                    server.in_flight -= 1
                if self.path != "/v1/chat/completions":
                    reply = Reply(404, {"error": {"message": f"no route {self.path}"}})
                payload = json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> ChatServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def server() -> Iterator[ChatServer]:
    with ChatServer() as running:
        yield running


def _backend(
    base_url: str, *, attempts: int = 3, concurrency: int = 2, api_key: str | None = None
) -> OpenAICompatibleBackend:
    return OpenAICompatibleBackend.connect(
        base_url,
        api_key=api_key,
        timeout_s=5,
        model=MODEL,
        options=RemoteOptions(
            prompt=PROMPT,
            max_tokens=40,
            max_side=1568,
            concurrency=concurrency,
            attempts=attempts,
            retry_base_s=0.001,
        ),
    )


async def test_a_chat_completion_per_image_with_the_image_as_data_uri(
    server: ChatServer,
) -> None:
    # GIVEN a backend with an API key
    backend = _backend(server.base_url, api_key="sk-local")
    # WHEN it captions one keyframe
    captions = await backend.caption([IMAGE])
    await backend.aclose()
    # THEN one chat completion carried the prompt and the JPEG, and its answer is the caption
    assert captions == ["A yellow square on a white background."]
    (request,) = server.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == "Bearer sk-local"
    body = request["json"]
    assert body["model"] == MODEL
    assert body["max_tokens"] == 40
    (message,) = body["messages"]
    assert message["role"] == "user"
    text, image = message["content"]
    assert text == {"type": "text", "text": PROMPT}
    assert image["type"] == "image_url"
    prefix = "data:image/jpeg;base64,"
    assert image["image_url"]["url"].startswith(prefix)
    assert base64.b64decode(image["image_url"]["url"][len(prefix) :]) == IMAGE


async def test_content_as_a_list_of_parts_is_joined(server: ChatServer) -> None:
    # GIVEN a server answering with content parts
    server.default = Reply(
        200, completion([{"type": "text", "text": "A yellow"}, {"type": "text", "text": "square."}])
    )
    backend = _backend(server.base_url)
    # WHEN it captions
    # THEN the parts make one caption
    assert await backend.caption([IMAGE]) == ["A yellow square."]
    await backend.aclose()


async def test_429_is_retried_after_the_servers_delay(server: ChatServer) -> None:
    # GIVEN a rate-limited server that answers on the second try
    server.script = [
        Reply(429, {"error": {"message": "Rate limit reached"}}, {"Retry-After": "0"}),
    ]
    backend = _backend(server.base_url)
    # WHEN it captions
    captions = await backend.caption([IMAGE])
    await backend.aclose()
    # THEN the second request's answer is the caption
    assert captions == ["A yellow square on a white background."]
    assert len(server.requests) == 2


async def test_persistent_500_is_transient_after_the_attempts(server: ChatServer) -> None:
    # GIVEN a server failing every request
    server.default = Reply(500, {"error": {"message": "CUDA out of memory"}})
    backend = _backend(server.base_url, attempts=3)
    # WHEN it captions
    # THEN it gives up after three requests with a transient error carrying the server's words
    with pytest.raises(TransientCaptioningError, match=r"HTTP 500: CUDA out of memory"):
        await backend.caption([IMAGE])
    await backend.aclose()
    assert len(server.requests) == 3


async def test_an_unknown_model_fails_at_once(server: ChatServer) -> None:
    # GIVEN a server that does not serve the model
    server.default = Reply(404, {"error": {"message": f"model '{MODEL}' not found"}})
    backend = _backend(server.base_url, attempts=5)
    # WHEN it captions
    # THEN the first 404 ends it, with the server's message
    with pytest.raises(CaptioningError, match="HTTP 404: model 'llava:7b' not found"):
        await backend.caption([IMAGE])
    await backend.aclose()
    assert len(server.requests) == 1


async def test_no_more_than_concurrency_requests_are_in_flight() -> None:
    # GIVEN a server that takes a moment per request
    with ChatServer(hold_s=0.05) as server:
        backend = _backend(server.base_url, concurrency=2)
        # WHEN six keyframes are captioned
        captions = await backend.caption([IMAGE] * 6)
        await backend.aclose()
    # THEN all six are captioned, never more than two at a time (and two did overlap)
    assert len(captions) == 6
    assert server.max_in_flight == 2


async def test_a_server_that_is_not_there_is_transient() -> None:
    # GIVEN a base URL where nothing listens
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    backend = _backend(f"http://127.0.0.1:{port}/v1", attempts=2)
    # WHEN it captions
    # THEN the refused connection is a transient failure (a server may be starting)
    with pytest.raises(TransientCaptioningError, match="ConnectError"):
        await backend.caption([IMAGE])
    await backend.aclose()


def test_a_base_url_is_required() -> None:
    # WHEN the backend is built without a base URL
    # THEN it is unavailable, saying which setting is missing
    with pytest.raises(BackendUnavailableError, match="VIDEOSENSE_CAPTIONER_BASE_URL"):
        _backend("")
