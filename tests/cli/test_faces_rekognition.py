"""``videosense faces`` with the Rekognition backend, against the real API's shapes.

A real aiobotocore Rekognition client is stubbed at the botocore level (``AioStubber``): each
request is checked against the parameters expected, and each canned response (shaped like the
documented IndexFaces / ListFaces / DeleteFaces responses) is validated against botocore's
service model before it is returned.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from aiobotocore.stub import AioStubber

from recognizer.images import encode_jpeg
from videosense.cli import main
from videosense.commands import faces as faces_command
from videosense.face_collections import FacesError, RekognitionCollection

if TYPE_CHECKING:
    from types_aiobotocore_rekognition import RekognitionClient

COLLECTION = "family"
PHOTO = encode_jpeg(np.full((120, 160, 3), 90, np.uint8))
BOX = {"Width": 0.3, "Height": 0.4, "Left": 0.3, "Top": 0.2}
ALICE_1 = "11111111-2222-3333-4444-555555555555"
ALICE_2 = "22222222-2222-3333-4444-555555555555"
BOB = "33333333-2222-3333-4444-555555555555"


def face(face_id: str, name: str | None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "FaceId": face_id,
        "BoundingBox": BOX,
        "ImageId": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "Confidence": 99.9,
        "IndexFacesModelVersion": "7.0",
    }
    if name is not None:
        record["ExternalImageId"] = name
    return record


def indexed(face_id: str, name: str) -> dict[str, Any]:
    """An IndexFaces response: one face indexed, a smaller one left out by MaxFaces=1."""
    return {
        "FaceRecords": [
            {
                "Face": face(face_id, name),
                "FaceDetail": {"BoundingBox": BOX, "Confidence": 99.9},
            }
        ],
        "FaceModelVersion": "7.0",
        "UnindexedFaces": [
            {
                "Reasons": ["EXCEEDS_MAX_FACES"],
                "FaceDetail": {"BoundingBox": BOX, "Confidence": 97.0},
            }
        ],
    }


def index_params(name: str, data: bytes = PHOTO) -> dict[str, Any]:
    return {
        "CollectionId": COLLECTION,
        "Image": {"Bytes": data},
        "ExternalImageId": name,
        "MaxFaces": 1,
        "QualityFilter": "AUTO",
        "DetectionAttributes": ["DEFAULT"],
    }


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


def collection(client: RekognitionClient, max_image_bytes: int = 5 * 1024 * 1024) -> Any:
    return RekognitionCollection(client, COLLECTION, max_image_bytes=max_image_bytes)


async def test_index_creates_a_missing_collection_then_indexes_the_largest_face(
    client: RekognitionClient, stubber: AioStubber
) -> None:
    # GIVEN a collection that does not exist yet
    stubber.add_client_error(
        "index_faces",
        "ResourceNotFoundException",
        "The collection id: family does not exist",
        400,
        expected_params=index_params("alice"),
    )
    stubber.add_response(
        "create_collection",
        {
            "StatusCode": 200,
            "CollectionArn": f"aws:rekognition:us-east-1:123456789012:collection/{COLLECTION}",
            "FaceModelVersion": "7.0",
        },
        {"CollectionId": COLLECTION},
    )
    stubber.add_response("index_faces", indexed(ALICE_1, "alice"), index_params("alice"))
    # WHEN a photo of alice is indexed
    result = await collection(client).index("alice", [("alice.jpg", PHOTO)])
    # THEN the collection was created and her face indexed under her name
    assert [(f.name, f.image, f.face_id) for f in result] == [("alice", "alice.jpg", ALICE_1)]


async def test_index_shrinks_an_image_over_the_size_limit(
    client: RekognitionClient, stubber: AioStubber
) -> None:
    # GIVEN a photo larger than the configured limit
    rng = np.random.default_rng(1)
    noisy = encode_jpeg(rng.integers(0, 255, (600, 800, 3), dtype=np.uint8), 95)
    limit = len(noisy) // 3

    class SmallJpeg:
        """Matches the request's bytes: a decodable JPEG under the limit."""

        def __eq__(self, other: object) -> bool:
            if not isinstance(other, bytes) or len(other) > limit:
                return False
            return cv2.imdecode(np.frombuffer(other, np.uint8), cv2.IMREAD_COLOR) is not None

    stubber.add_response(
        "index_faces", indexed(BOB, "bob"), {**index_params("bob"), "Image": {"Bytes": SmallJpeg()}}
    )
    # WHEN it is indexed / THEN a smaller JPEG of it is sent
    result = await collection(client, max_image_bytes=limit).index("bob", [("big.jpg", noisy)])
    assert [f.face_id for f in result] == [BOB]


async def test_a_photo_without_an_indexable_face_fails_with_rekognitions_reasons(
    client: RekognitionClient, stubber: AioStubber
) -> None:
    # GIVEN Rekognition finds a face but refuses to index it
    stubber.add_response(
        "index_faces",
        {
            "FaceRecords": [],
            "FaceModelVersion": "7.0",
            "UnindexedFaces": [
                {
                    "Reasons": ["LOW_SHARPNESS", "SMALL_BOUNDING_BOX"],
                    "FaceDetail": {"BoundingBox": BOX, "Confidence": 61.0},
                }
            ],
        },
        index_params("alice"),
    )
    # WHEN the photo is indexed / THEN the error names the photo and the reasons
    with pytest.raises(FacesError, match=r"blurry.jpg: no face was indexed \(rejected: LOW_SH"):
        await collection(client).index("alice", [("blurry.jpg", PHOTO)])


async def test_a_refused_call_is_reported_with_code_and_message(
    client: RekognitionClient, stubber: AioStubber
) -> None:
    stubber.add_client_error(
        "index_faces",
        "AccessDeniedException",
        "User is not authorized to perform: rekognition:IndexFaces",
        400,
    )
    with pytest.raises(FacesError, match="IndexFaces failed: AccessDeniedException: User is not"):
        await collection(client).index("alice", [("alice.jpg", PHOTO)])


async def test_list_groups_every_page_of_faces_by_name(
    client: RekognitionClient, stubber: AioStubber
) -> None:
    # GIVEN a collection whose faces come in two pages, one face indexed without a name
    stubber.add_response(
        "list_faces",
        {
            "Faces": [face(ALICE_1, "alice"), face(BOB, "bob")],
            "NextToken": "page-2",
            "FaceModelVersion": "7.0",
        },
        {"CollectionId": COLLECTION, "MaxResults": 4096},
    )
    stubber.add_response(
        "list_faces",
        {"Faces": [face(ALICE_2, "alice"), face("44444444-0000", None)], "FaceModelVersion": "7.0"},
        {"CollectionId": COLLECTION, "MaxResults": 4096, "NextToken": "page-2"},
    )
    # WHEN the names are listed
    people = await collection(client).people()
    # THEN each name has all its faces; the unnamed face is listed under its id
    assert [(p.name, p.face_ids) for p in people] == [
        ("44444444-0000", ("44444444-0000",)),
        ("alice", (ALICE_1, ALICE_2)),
        ("bob", (BOB,)),
    ]


async def test_listing_a_missing_collection_says_so(
    client: RekognitionClient, stubber: AioStubber
) -> None:
    stubber.add_client_error(
        "list_faces", "ResourceNotFoundException", "The collection id: family does not exist", 400
    )
    with pytest.raises(FacesError, match="no Rekognition collection 'family'"):
        await collection(client).people()


async def test_delete_by_name_deletes_exactly_that_persons_faces(
    client: RekognitionClient, stubber: AioStubber
) -> None:
    # GIVEN alice has two faces and bob one
    stubber.add_response(
        "list_faces",
        {"Faces": [face(ALICE_1, "alice"), face(BOB, "bob"), face(ALICE_2, "alice")]},
        {"CollectionId": COLLECTION, "MaxResults": 4096},
    )
    stubber.add_response(
        "delete_faces",
        {"DeletedFaces": [ALICE_1, ALICE_2]},
        {"CollectionId": COLLECTION, "FaceIds": [ALICE_1, ALICE_2]},
    )
    # WHEN alice is deleted / THEN her two faces, and only those, are deleted
    assert await collection(client).delete_name("alice") == [ALICE_1, ALICE_2]


async def test_delete_of_an_unknown_name_calls_no_delete(
    client: RekognitionClient, stubber: AioStubber
) -> None:
    stubber.add_response(
        "list_faces",
        {"Faces": [face(BOB, "bob")]},
        {"CollectionId": COLLECTION, "MaxResults": 4096},
    )
    with pytest.raises(FacesError, match="no one named 'alice' in the collection 'family'"):
        await collection(client).delete_name("alice")


@pytest.mark.parametrize(
    ("response", "message"),
    [
        pytest.param(
            {
                "UnsuccessfulFaceDeletions": [
                    {
                        "FaceId": BOB,
                        "UserId": "user-1",
                        "Reasons": ["ASSOCIATED_TO_AN_EXISTING_USER"],
                    }
                ],
            },
            "ASSOCIATED_TO_AN_EXISTING_USER",
            id="refused-face",
        ),
        pytest.param({}, "not in the collection", id="unknown-face"),
    ],
)
async def test_a_face_that_was_not_deleted_is_an_error(
    client: RekognitionClient, stubber: AioStubber, response: dict[str, Any], message: str
) -> None:
    stubber.add_response("delete_faces", response, {"CollectionId": COLLECTION, "FaceIds": [BOB]})
    with pytest.raises(FacesError, match=message):
        await collection(client).delete_face(BOB)


class _StubbedClients:
    """Stands in for AwsClients in the command: hands out the stubbed Rekognition client."""

    def __init__(self, client: RekognitionClient) -> None:
        self._client = client

    def __call__(self, region: str) -> _StubbedClients:
        return self

    async def __aenter__(self) -> _StubbedClients:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    async def rekognition(self) -> RekognitionClient:
        return self._client


def test_command_line_indexes_into_the_configured_collection(
    client: RekognitionClient,
    stubber: AioStubber,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN the recognizer configured for Rekognition with a collection, and a photo on disk
    monkeypatch.setenv("VIDEOSENSE_RECOGNIZER_BACKEND", "rekognition")
    monkeypatch.setenv("VIDEOSENSE_RECOGNIZER_COLLECTION", COLLECTION)
    monkeypatch.setattr(faces_command, "AwsClients", _StubbedClients(client))
    photo = tmp_path / "alice.jpg"
    photo.write_bytes(PHOTO)
    stubber.add_response("index_faces", indexed(ALICE_1, "alice"), index_params("alice"))
    # WHEN `faces index` runs without --collection
    code = main(["faces", "index", "--name", "alice", "--json", str(photo)])
    # THEN it indexes into the recognizer's collection and prints the new face id
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out) == [
        {"name": "alice", "image": str(photo), "face_id": ALICE_1, "new": True}
    ]


def test_command_line_without_a_collection_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VIDEOSENSE_RECOGNIZER_BACKEND", "rekognition")
    monkeypatch.delenv("VIDEOSENSE_RECOGNIZER_COLLECTION", raising=False)
    assert main(["faces", "list"]) == 2
    assert "--collection is required" in capsys.readouterr().err
