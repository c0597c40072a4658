"""The bedrock backend against the Converse wire protocol (botocore Stubber on a real client)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest
from aiobotocore.session import get_session
from aiobotocore.stub import AioStubber

from captioner.backend import CaptioningError, TransientCaptioningError
from captioner.bedrock import BedrockBackend
from captioner.remote import RemoteOptions
from tests.fixtures.captioner.tiny_blip import jpeg

if TYPE_CHECKING:
    from types_aiobotocore_bedrock_runtime import BedrockRuntimeClient

MODEL = "amazon.nova-lite-v1:0"
PROMPT = "Describe this frame in one factual sentence."
IMAGE = jpeg((200, 30, 30))


@pytest.fixture
async def client() -> AsyncIterator[BedrockRuntimeClient]:
    session = get_session()
    async with session.create_client(
        "bedrock-runtime",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ) as real_client:
        yield real_client


def _backend(client: BedrockRuntimeClient, *, attempts: int = 3) -> BedrockBackend:
    options = RemoteOptions(
        prompt=PROMPT,
        max_tokens=50,
        max_side=1568,
        concurrency=1,  # the stubber answers in order
        attempts=attempts,
        retry_base_s=0.001,
    )
    return BedrockBackend(client, model=MODEL, options=options)


def _converse_response(text: str) -> dict[str, Any]:
    """A Converse response as Bedrock returns it."""
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 1290, "outputTokens": 14, "totalTokens": 1304},
        "metrics": {"latencyMs": 812},
    }


def _expected_request(image: bytes) -> dict[str, Any]:
    return {
        "modelId": MODEL,
        "messages": [
            {
                "role": "user",
                "content": [
                    {"image": {"format": "jpeg", "source": {"bytes": image}}},
                    {"text": PROMPT},
                ],
            }
        ],
        "inferenceConfig": {"maxTokens": 50, "temperature": 0.0},
    }


def _throttled(stub: AioStubber) -> None:
    stub.add_client_error(
        "converse",
        service_error_code="ThrottlingException",
        service_message="Too many requests, please wait before trying again.",
        http_status_code=429,
    )


async def test_converse_captions_each_image(client: BedrockRuntimeClient) -> None:
    # GIVEN Bedrock answering two Converse calls
    second = jpeg((30, 30, 200))
    with AioStubber(client) as stub:
        stub.add_response(
            "converse",
            _converse_response(" A red square on a white wall. "),
            _expected_request(IMAGE),
        )
        stub.add_response(
            "converse", _converse_response("A blue square."), _expected_request(second)
        )
        # WHEN the backend captions two keyframes
        captions = await _backend(client).caption([IMAGE, second])
        # THEN each call carried the JPEG and the prompt, and the text came back in order
        stub.assert_no_pending_responses()
    assert captions == ["A red square on a white wall.", "A blue square."]


async def test_throttling_is_retried_until_it_passes(client: BedrockRuntimeClient) -> None:
    # GIVEN Bedrock throttling twice, then answering
    with AioStubber(client) as stub:
        _throttled(stub)
        _throttled(stub)
        stub.add_response("converse", _converse_response("A red square."))
        # WHEN the backend captions with three attempts per image
        captions = await _backend(client, attempts=3).caption([IMAGE])
        # THEN the third call's caption is returned
        stub.assert_no_pending_responses()
    assert captions == ["A red square."]


async def test_throttling_beyond_the_attempts_is_transient(client: BedrockRuntimeClient) -> None:
    # GIVEN Bedrock throttling every call
    with AioStubber(client) as stub:
        for _ in range(2):
            _throttled(stub)
        # WHEN the backend captions with two attempts per image
        # THEN it gives up with a transient error naming the throttling
        with pytest.raises(TransientCaptioningError, match=r"ThrottlingException.*2 attempts"):
            await _backend(client, attempts=2).caption([IMAGE])
        stub.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("code", "status", "message"),
    [
        pytest.param(
            "ValidationException",
            400,
            "The provided model identifier is invalid.",
            id="invalid-model",
        ),
        pytest.param(
            "AccessDeniedException",
            403,
            "You don't have access to the model with the specified model ID.",
            id="no-model-access",
        ),
        pytest.param(
            "ResourceNotFoundException", 404, "Model not found in this region.", id="not-found"
        ),
        pytest.param(
            "ModelErrorException", 424, "The model failed to process the request.", id="model"
        ),
    ],
)
async def test_a_refusal_fails_at_once_with_the_reason(
    client: BedrockRuntimeClient, code: str, status: int, message: str
) -> None:
    # GIVEN Bedrock refusing the call for good
    with AioStubber(client) as stub:
        stub.add_client_error(
            "converse", service_error_code=code, service_message=message, http_status_code=status
        )
        # WHEN the backend captions
        # THEN it fails on the first call (no retry), naming model, code and message
        with pytest.raises(CaptioningError) as caught:
            await _backend(client, attempts=5).caption([IMAGE])
        stub.assert_no_pending_responses()
    assert MODEL in caught.value.reason
    assert code in caught.value.reason
    assert message in caught.value.reason


def test_images_are_bounded_by_what_converse_accepts(client: BedrockRuntimeClient) -> None:
    # GIVEN a backend configured for sides up to 10000 px
    options = RemoteOptions(
        prompt=PROMPT, max_tokens=50, max_side=10_000, concurrency=1, attempts=1, retry_base_s=0
    )
    backend = BedrockBackend(client, model=MODEL, options=options)
    # THEN its limits stay within Converse's (3.75 MB, 8000 px)
    assert backend.limits.max_side == 8000
    assert backend.limits.max_bytes == 3_750_000
