"""The sagemaker backend against the InvokeEndpoint wire protocol (botocore Stubber on a real
client), with the response shapes BLIP-2 style containers return."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest
from aiobotocore.session import get_session
from aiobotocore.stub import AioStubber
from botocore.stub import ANY

from captioner.backend import CaptioningError, TransientCaptioningError
from captioner.remote import RemoteOptions
from captioner.sagemaker import SageMakerBackend, parse_generated_text
from tests.fixtures.captioner.tiny_blip import jpeg

if TYPE_CHECKING:
    from types_aiobotocore_sagemaker_runtime import SageMakerRuntimeClient

ENDPOINT = "blip2-captioner"
PROMPT = "Question: what is in this frame? Answer:"
IMAGE = jpeg((30, 200, 30))


class _Body:
    """The streaming body of an InvokeEndpoint response, as aiobotocore hands it out."""

    def __init__(self, payload: bytes) -> None:
        self._payload = payload

    async def read(self) -> bytes:
        return self._payload


@pytest.fixture
async def client() -> AsyncIterator[SageMakerRuntimeClient]:
    async with get_session().create_client(
        "sagemaker-runtime",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ) as real_client:
        yield real_client


def _backend(client: SageMakerRuntimeClient, *, attempts: int = 3) -> SageMakerBackend:
    options = RemoteOptions(
        prompt=PROMPT,
        max_tokens=30,
        max_side=1568,
        concurrency=1,
        attempts=attempts,
        retry_base_s=0.001,
    )
    return SageMakerBackend(client, endpoint=ENDPOINT, options=options)


def _response(payload: Any) -> dict[str, Any]:
    return {
        "Body": _Body(json.dumps(payload).encode()),
        "ContentType": "application/json",
        "InvokedProductionVariant": "AllTraffic",
    }


def _expected_call() -> dict[str, Any]:
    return {
        "EndpointName": ENDPOINT,
        "ContentType": "application/json",
        "Accept": "application/json",
        "Body": ANY,
    }


def test_the_request_is_base64_image_and_prompt_json(client: SageMakerRuntimeClient) -> None:
    # WHEN the backend builds the request for a JPEG
    body = json.loads(_backend(client).request_body(IMAGE))
    # THEN the image round-trips through base64, beside the prompt and the token budget
    assert base64.b64decode(body["image"]) == IMAGE
    assert body["prompt"] == PROMPT
    assert body["parameters"] == {"max_new_tokens": 30}


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param([{"generated_text": " a green square "}], id="list-of-generated-text"),
        pytest.param({"generated_text": "a green square"}, id="generated-text"),
        pytest.param({"caption": "a green square"}, id="caption"),
        pytest.param([{"caption": "a green square"}], id="list-of-caption"),
        pytest.param(["a green square"], id="list-of-strings"),
        pytest.param({"generated_text": ["a green square"]}, id="generated-text-list"),
    ],
)
async def test_common_response_shapes_give_the_caption(
    client: SageMakerRuntimeClient, payload: Any
) -> None:
    # GIVEN an endpoint answering in one of the common shapes
    with AioStubber(client) as stub:
        stub.add_response("invoke_endpoint", _response(payload), _expected_call())
        # WHEN the backend captions
        captions = await _backend(client).caption([IMAGE])
        stub.assert_no_pending_responses()
    # THEN the generated text is the caption
    assert captions == ["a green square"]


def test_a_response_without_text_is_an_error() -> None:
    # WHEN a response carries no generated text
    # THEN it is refused with the payload in the reason, never turned into a caption
    with pytest.raises(CaptioningError, match="no generated text"):
        parse_generated_text(b'{"scores": [0.3]}')
    with pytest.raises(CaptioningError, match="non-JSON"):
        parse_generated_text(b"<html>oops</html>")


async def test_throttling_is_retried(client: SageMakerRuntimeClient) -> None:
    # GIVEN an endpoint that throttles once, then answers
    with AioStubber(client) as stub:
        stub.add_client_error(
            "invoke_endpoint",
            service_error_code="ThrottlingException",
            service_message="Rate exceeded",
            http_status_code=400,
        )
        stub.add_response("invoke_endpoint", _response([{"generated_text": "a square"}]))
        # WHEN the backend captions
        captions = await _backend(client).caption([IMAGE])
        stub.assert_no_pending_responses()
    # THEN the retry's caption comes back
    assert captions == ["a square"]


async def test_an_endpoint_that_stays_unavailable_is_transient(
    client: SageMakerRuntimeClient,
) -> None:
    # GIVEN an endpoint answering 503 every time
    with AioStubber(client) as stub:
        for _ in range(2):
            stub.add_client_error(
                "invoke_endpoint",
                service_error_code="ServiceUnavailable",
                service_message="Service is unavailable.",
                http_status_code=503,
            )
        # WHEN the backend captions with two attempts
        # THEN it gives up with a transient error
        with pytest.raises(TransientCaptioningError, match="ServiceUnavailable"):
            await _backend(client, attempts=2).caption([IMAGE])
        stub.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("code", "status", "message"),
    [
        pytest.param(
            "ModelError",
            424,
            "Received client error (400) from primary with message "
            '"{"code": 400, "type": "InternalServerException", "message": "bad image"}".',
            id="model-error",
        ),
        pytest.param(
            "ValidationError",
            400,
            f"Endpoint {ENDPOINT} of account 123456789012 not found.",
            id="no-such-endpoint",
        ),
    ],
)
async def test_a_model_or_validation_error_fails_at_once(
    client: SageMakerRuntimeClient, code: str, status: int, message: str
) -> None:
    # GIVEN the endpoint refusing for good
    with AioStubber(client) as stub:
        stub.add_client_error(
            "invoke_endpoint",
            service_error_code=code,
            service_message=message,
            http_status_code=status,
        )
        # WHEN the backend captions
        # THEN it fails on the first call with the endpoint, code and message
        with pytest.raises(CaptioningError) as caught:
            await _backend(client, attempts=4).caption([IMAGE])
        stub.assert_no_pending_responses()
    assert ENDPOINT in caught.value.reason
    assert code in caught.value.reason
    assert message in caught.value.reason
