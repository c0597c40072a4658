"""The Rekognition backend against the real API's request and response shapes.

A real aiobotocore Rekognition client is stubbed at the botocore level (``AioStubber``): every
request is checked against the parameters we expect, and every canned response (JSON fixtures
in tests/fixtures/rekognition, shaped like the service's documented responses) is validated
against botocore's service model before it is returned.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from aiobotocore.stub import AioStubber
from botocore.stub import ANY

from recognizer.backend import RecognitionError
from recognizer.features import Feature
from recognizer.images import encode_jpeg
from recognizer.rekognition import ClientProvider, RekognitionBackend
from recognizer.settings import RecognizerSettings
from videosense_shared.backends import BackendUnavailableError
from videosense_shared.bus import RetryableError

if TYPE_CHECKING:
    from types_aiobotocore_rekognition import RekognitionClient

FIXTURES = Path(__file__).parent.parent / "fixtures" / "rekognition"
# A small real JPEG: the crops made for face search must decode.
IMAGE = encode_jpeg(np.full((200, 300, 3), 120, np.uint8))


def fixture(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return loaded


@pytest.fixture
async def client() -> AsyncIterator[RekognitionClient]:
    session = AioSession()
    async with session.create_client(
        "rekognition",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=AioConfig(retries={"mode": "standard", "total_max_attempts": 1}),
    ) as made:
        yield made


@pytest.fixture
def stubber(client: RekognitionClient) -> Iterator[AioStubber]:
    with AioStubber(client) as stub:
        yield stub
        stub.assert_no_pending_responses()


def provider(client: RekognitionClient) -> ClientProvider:
    async def provide() -> RekognitionClient:
        return client

    return provide


def backend(client: RekognitionClient, **cfg: Any) -> RekognitionBackend:
    # One call at a time, so the stubbed responses are consumed in a known order.
    return RekognitionBackend(
        provider(client), RecognizerSettings(backend="rekognition", max_concurrent_calls=1, **cfg)
    )


ALL = frozenset({Feature.LABELS, Feature.FACES, Feature.CELEBRITIES, Feature.TEXT})


async def test_all_features_parse_into_relative_boxes_and_names(
    client: RekognitionClient, stubber: AioStubber
) -> None:
    # GIVEN Rekognition answers for labels, faces, celebrities and text
    image = {"Bytes": IMAGE}
    stubber.add_response(
        "detect_labels",
        fixture("detect_labels"),
        {"Image": image, "MaxLabels": 50, "MinConfidence": 80.0},
    )
    stubber.add_response(
        "detect_faces", fixture("detect_faces"), {"Image": image, "Attributes": ["DEFAULT"]}
    )
    stubber.add_response(
        "recognize_celebrities", fixture("recognize_celebrities"), {"Image": image}
    )
    stubber.add_response(
        "detect_text",
        fixture("detect_text"),
        {"Image": image, "Filters": {"WordFilter": {"MinConfidence": 80.0}}},
    )
    # WHEN one keyframe is recognized
    found = await backend(client).recognize(IMAGE, ALL)
    # THEN labels are one per confident instance, concepts without instances unboxed
    assert [(label.name, label.box is not None) for label in found.labels] == [
        ("Person", True),
        ("Person", True),
        ("Outdoors", False),
    ]
    first = found.labels[0].box
    assert first is not None
    assert (first.left, first.top) == (0.12, 0.2)
    # AND faces are the confident ones, the celebrity named on the face it overlaps
    assert len(found.faces) == 2
    star, edge = found.faces
    assert (star.name, star.match_id) == ("Eileen Collins", "3Ir0du6")
    assert star.confidence == pytest.approx(99.98)
    # AND a weak celebrity match names nobody; a box sticking out of the image is clipped
    assert edge.name is None
    assert edge.box.left == 0.0
    assert edge.box.width == pytest.approx(0.09)
    # AND text has the line first, then its words; the unsure line is dropped
    assert [t.text for t in found.text] == ["OPEN 24 HOURS", "OPEN", "24", "HOURS"]


async def test_min_confidence_is_sent_and_applied(
    client: RekognitionClient, stubber: AioStubber
) -> None:
    # GIVEN a lower threshold: the 71.5% car and the 62% person instance now count
    stubber.add_response(
        "detect_labels",
        fixture("detect_labels"),
        {"Image": {"Bytes": IMAGE}, "MaxLabels": 50, "MinConfidence": 60.0},
    )
    found = await backend(client, min_confidence=60).recognize(IMAGE, {Feature.LABELS})
    assert [label.name for label in found.labels] == [
        "Person",
        "Person",
        "Person",
        "Outdoors",
        "Car",
    ]


async def test_empty_results_are_empty_findings(
    client: RekognitionClient, stubber: AioStubber
) -> None:
    empty = fixture("empty_results")
    for method in ("detect_labels", "detect_faces", "recognize_celebrities", "detect_text"):
        stubber.add_response(method, empty[method])
    found = await backend(client).recognize(IMAGE, ALL)
    assert (found.labels, found.faces, found.text) == ((), (), ())


async def test_face_search_names_each_face_from_its_own_crop(
    client: RekognitionClient, stubber: AioStubber
) -> None:
    # GIVEN a collection, two confident faces, and a match for the first face's crop only
    stubber.add_response(
        "describe_collection", fixture("describe_collection"), {"CollectionId": "my-people"}
    )
    stubber.add_response("detect_faces", fixture("detect_faces"))
    search = {
        "CollectionId": "my-people",
        "Image": {"Bytes": ANY},
        "FaceMatchThreshold": 90.0,
        "MaxFaces": 1,
    }
    stubber.add_response("search_faces_by_image", fixture("search_faces_by_image"), search)
    # Rekognition's answer when the crop shows no face it can detect again.
    stubber.add_client_error(
        "search_faces_by_image",
        "InvalidParameterException",
        "There are no faces in the image. Should be at least 1.",
        expected_params=search,
    )
    rekognition = backend(client, collection="my-people", face_match_threshold=90)
    # WHEN faces are detected and searched
    found = await rekognition.recognize(IMAGE, {Feature.FACES, Feature.FACE_SEARCH})
    # THEN the first face carries the most similar match's external id and face id
    assert [(f.name, f.match_id) for f in found.faces] == [
        ("alice_2024", "99999999-8888-7777-6666-555555555555"),
        (None, None),
    ]


async def test_face_search_without_match_leaves_faces_unnamed(
    client: RekognitionClient, stubber: AioStubber
) -> None:
    stubber.add_response("describe_collection", fixture("describe_collection"))
    stubber.add_response("detect_faces", fixture("detect_faces"))
    stubber.add_response("search_faces_by_image", fixture("search_faces_by_image_no_match"))
    stubber.add_response("search_faces_by_image", fixture("search_faces_by_image_no_match"))
    rekognition = backend(client, collection="my-people")
    found = await rekognition.recognize(IMAGE, {Feature.FACES, Feature.FACE_SEARCH})
    assert [f.name for f in found.faces] == [None, None]


@pytest.mark.parametrize(
    ("code", "status"),
    [
        pytest.param("ThrottlingException", 400, id="throttling"),
        pytest.param("ProvisionedThroughputExceededException", 400, id="throughput-exceeded"),
        pytest.param("InternalServerError", 500, id="server-error-5xx"),
    ],
)
async def test_throttling_and_server_errors_are_retryable(
    client: RekognitionClient, stubber: AioStubber, code: str, status: int
) -> None:
    stubber.add_client_error("detect_labels", code, "Slow down", http_status_code=status)
    with pytest.raises(RetryableError, match=f"DetectLabels throttled or failing \\({code}\\)"):
        await backend(client).recognize(IMAGE, {Feature.LABELS})


@pytest.mark.parametrize(
    ("code", "message"),
    [
        pytest.param("InvalidImageFormatException", "Request has invalid image format", id="bad"),
        pytest.param("ImageTooLargeException", "Image size is too large", id="too-large"),
        pytest.param("AccessDeniedException", "User is not authorized", id="access-denied"),
    ],
)
async def test_refused_requests_fail_recognition_with_the_reason(
    client: RekognitionClient, stubber: AioStubber, code: str, message: str
) -> None:
    stubber.add_client_error("detect_text", code, message)
    with pytest.raises(RecognitionError) as caught:
        await backend(client).recognize(IMAGE, {Feature.TEXT})
    assert caught.value.reason == f"rekognition:DetectText refused the request: {code}: {message}"


async def test_missing_collection_makes_face_search_unavailable(
    client: RekognitionClient, stubber: AioStubber
) -> None:
    stubber.add_client_error(
        "describe_collection",
        "ResourceNotFoundException",
        "The collection id: my-people does not exist",
    )
    with pytest.raises(
        BackendUnavailableError, match=r"face collection 'my-people'.*does not exist"
    ):
        await backend(client, collection="my-people").prepare({Feature.FACE_SEARCH})


@pytest.mark.parametrize(
    ("features", "cfg", "says"),
    [
        pytest.param({Feature.FACE_SEARCH}, {}, "VIDEOSENSE_RECOGNIZER_COLLECTION", id="no-coll"),
        pytest.param({Feature.PEOPLE}, {}, "does not offer people", id="people-is-local-only"),
    ],
)
async def test_unsupported_requests_are_refused_before_any_call(
    client: RekognitionClient,
    stubber: AioStubber,
    features: set[Feature],
    cfg: dict[str, Any],
    says: str,
) -> None:
    with pytest.raises(BackendUnavailableError, match=says):
        await backend(client, **cfg).prepare(features)


async def test_images_over_the_size_limit_are_shrunk_before_sending(
    client: RekognitionClient, stubber: AioStubber
) -> None:
    # GIVEN a keyframe JPEG far above the (lowered) limit
    noisy = np.random.default_rng(1).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    big = encode_jpeg(noisy, 95)
    limit = 20_000
    assert len(big) > 10 * limit
    sent: list[bytes] = []

    def capture(params: dict[str, Any], **_: Any) -> None:
        sent.append(params["Image"]["Bytes"])

    client.meta.events.register("provide-client-params.rekognition.DetectText", capture)
    stubber.add_response("detect_text", fixture("empty_results")["detect_text"])
    # WHEN it is recognized
    await backend(client, max_image_bytes=limit).recognize(big, {Feature.TEXT})
    # THEN a smaller JPEG of the same picture went out
    assert len(sent) == 1
    assert len(sent[0]) <= limit
    decoded = cv2.imdecode(np.frombuffer(sent[0], np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None
    assert decoded.shape[1] / decoded.shape[0] == pytest.approx(640 / 480, rel=0.02)
