"""The Rekognition Video backend against the real API's request and response shapes.

A real aiobotocore Rekognition client is stubbed at the botocore level (``AioStubber``): every
request is checked against the parameters we expect, and every canned response (shaped like the
service's documented ``GetFaceDetection``/``GetFaceSearch`` output, with its ``NextToken``
pagination) is validated against botocore's service model before it is returned. The video is
the real two-people clip: its frame times and cuts come from the local pass.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from aiobotocore.stub import AioStubber

from redactor.backend import RedactionError, RedactionRequest
from redactor.face_tracks import findings_tracks
from redactor.policy import parse_policy
from redactor.rekognition import PAGE, RekognitionVideoBackend
from redactor.settings import RedactorSettings
from tests.redactor.collect import CollectedBoxes
from tests.redactor.composite import Rect, two_people
from videosense_shared.backends import BackendUnavailableError
from videosense_shared.messages import SourceRef

if TYPE_CHECKING:
    from types_aiobotocore_rekognition import RekognitionClient

TOPIC = "arn:aws:sns:us-east-1:123456789012:AmazonRekognitionRedaction"
ROLE = "arn:aws:iam::123456789012:role/RekognitionPublish"
SOURCE = SourceRef(bucket="media", key="uploads/two.mp4", etag="e", size_bytes=1, version_id="v1")
SIZE = (640, 360)
METADATA = {
    "Codec": "h264",
    "DurationMillis": 2000,
    "Format": "QuickTime / MOV",
    "FrameRate": 25.0,
    "FrameHeight": 360,
    "FrameWidth": 640,
    "ColorRange": "LIMITED",
}


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Rect]]]:
    return two_people(tmp_path_factory.mktemp("rekognition") / "two.mp4", seconds=2.0)


@pytest.fixture
async def client() -> AsyncIterator[RekognitionClient]:
    async with AioSession().create_client(
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


def backend(client: RekognitionClient, **cfg: Any) -> RekognitionVideoBackend:
    async def provide() -> RekognitionClient:
        return client

    settings = RedactorSettings(
        backend="rekognition",
        notification_topic_arn=TOPIC,
        notification_role_arn=ROLE,
        poll_s=0.01,
        **cfg,
    )
    return RekognitionVideoBackend(provide, settings)


def relative(rect: Rect) -> dict[str, float]:
    x0, y0, x1, y1 = rect
    w, h = SIZE
    return {"Width": (x1 - x0) / w, "Height": (y1 - y0) / h, "Left": x0 / w, "Top": y0 / h}


def face(rect: Rect) -> dict[str, Any]:
    """A face as GetFaceDetection reports it (FaceAttributes DEFAULT)."""
    box = relative(rect)
    eye_y = box["Top"] + 0.4 * box["Height"]
    return {
        "BoundingBox": box,
        "Landmarks": [
            {"Type": "eyeLeft", "X": box["Left"] + 0.3 * box["Width"], "Y": eye_y},
            {"Type": "eyeRight", "X": box["Left"] + 0.7 * box["Width"], "Y": eye_y},
        ],
        "Pose": {"Roll": 1.5, "Yaw": -3.2, "Pitch": 4.1},
        "Quality": {"Brightness": 61.2, "Sharpness": 83.1},
        "Confidence": 99.98,
    }  # fmt: skip


def request(path: Path, policy: str) -> RedactionRequest:
    return RedactionRequest(
        video_id="0123abcd", source=SOURCE, path=path, policy=parse_policy(policy)
    )


def common(kind: str) -> dict[str, Any]:
    return {
        "Video": {"S3Object": {"Bucket": "media", "Name": "uploads/two.mp4", "Version": "v1"}},
        "ClientRequestToken": f"{kind}-0123abcd",
        "NotificationChannel": {"SNSTopicArn": TOPIC, "RoleArn": ROLE},
        "JobTag": "videosense-redaction",
    }


def detection_pages(truth: list[dict[str, Rect]]) -> list[dict[str, Any]]:
    """Both faces every 200 ms, on two pages."""
    faces = [
        {"Timestamp": i * 40, "Face": face(rect)}
        for i in range(0, len(truth), 5)
        for rect in truth[i].values()
    ]
    half = len(faces) // 2
    job = {"JobId": "job-faces", "VideoMetadata": METADATA, "JobTag": "videosense-redaction"}
    return [
        {**job, "JobStatus": "SUCCEEDED", "Faces": faces[:half], "NextToken": "page-2"},
        {**job, "JobStatus": "SUCCEEDED", "Faces": faces[half:]},
    ]


def stub_detection_start(stubber: AioStubber) -> None:
    """Rekognition starts the face detection job ``job-faces`` on the clip."""
    stubber.add_response(
        "start_face_detection",
        {"JobId": "job-faces"},
        {**common("faces"), "FaceAttributes": "DEFAULT"},
    )


def stub_detection_pages(stubber: AioStubber, truth: list[dict[str, Rect]]) -> None:
    """``job-faces`` has finished: its faces in two pages."""
    first, second = detection_pages(truth)
    stubber.add_response("get_face_detection", first, {"JobId": "job-faces", "MaxResults": PAGE})
    stubber.add_response(
        "get_face_detection",
        second,
        {"JobId": "job-faces", "MaxResults": PAGE, "NextToken": "page-2"},
    )


def stub_search_start(stubber: AioStubber) -> None:
    """Rekognition starts the face search job ``job-search`` in the ``people`` collection."""
    stubber.add_response(
        "start_face_search",
        {"JobId": "job-search"},
        {**common("search"), "CollectionId": "people", "FaceMatchThreshold": 80.0},
    )


def search_persons(truth: list[dict[str, Rect]], matched: set[str]) -> list[dict[str, Any]]:
    """Every face every 200 ms as GetFaceSearch reports it: the people in ``matched`` with a
    collection match (their ``ExternalImageId`` is the name), the others without."""
    persons = []
    for i in range(0, len(truth), 5):
        for index, (name, rect) in enumerate(truth[i].items()):
            match = (
                [
                    {
                        "Similarity": 99.1,
                        "Face": {
                            "FaceId": "11111111-2222-3333-4444-555555555555",
                            "BoundingBox": relative((10, 10, 100, 100)),
                            "ImageId": "66666666-7777-8888-9999-000000000000",
                            "ExternalImageId": name,
                            "Confidence": 99.9,
                            "IndexFacesModelVersion": "7.0",
                        },
                    }
                ]
                if name in matched
                else []
            )
            persons.append(
                {
                    "Timestamp": i * 40,
                    "Person": {"Index": index, "BoundingBox": relative(rect), "Face": face(rect)},
                    "FaceMatches": match,
                }
            )
    return persons


def covered(
    boxes: dict[int, list[tuple[float, float, float, float]]], frame: int, rect: Rect
) -> bool:
    x0, y0, x1, y1 = rect
    return any(
        b[0] <= x0 + 2 and b[1] <= y0 + 2 and b[2] >= x1 - 2 and b[3] >= y1 - 2
        for b in boxes.get(frame, [])
    )


async def test_all_faces_are_paged_in_and_cover_every_frame(
    client: RekognitionClient, stubber: AioStubber, clip: tuple[Path, list[dict[str, Rect]]]
) -> None:
    # GIVEN a face detection job that is running at the first poll, then has two pages
    path, truth = clip
    stub_detection_start(stubber)
    running = {"JobStatus": "IN_PROGRESS", "VideoMetadata": METADATA, "Faces": []}
    stubber.add_response("get_face_detection", running, {"JobId": "job-faces", "MaxResults": PAGE})
    stub_detection_pages(stubber, truth)
    # WHEN the backend finds the faces to hide under "all"
    redactor = backend(client)
    sink = CollectedBoxes()
    findings = await redactor.find(request(path, "all"), sink)
    # THEN both people are tracked, and every frame has their faces covered
    assert len(findings.faces) == findings.faces_seen == 2
    assert len(sink.frames) == findings.scan.frame_count
    boxes = sink.plan()
    for i, people in enumerate(truth):
        for name, rect in people.items():
            assert covered(boxes, i, rect), f"frame {i}: {name} uncovered"


async def test_except_hides_every_face_the_search_did_not_name(
    client: RekognitionClient, stubber: AioStubber, clip: tuple[Path, list[dict[str, Rect]]]
) -> None:
    # GIVEN detection of both faces, and a search that matched Eileen only
    path, truth = clip
    stub_detection_start(stubber)
    stub_detection_pages(stubber, truth)
    stub_search_start(stubber)
    persons = search_persons(truth, matched={"eileen"})
    stubber.add_response(
        "get_face_search",
        {"JobStatus": "SUCCEEDED", "VideoMetadata": METADATA, "Persons": persons},
        {"JobId": "job-search", "MaxResults": PAGE, "SortBy": "TIMESTAMP"},
    )
    # WHEN the backend applies "except:eileen"
    redactor = backend(client, collection="people")
    sink = CollectedBoxes()
    findings = await redactor.find(request(path, "except:eileen"), sink)
    # THEN only Grace is hidden, on every frame
    assert len(sink.frames) == findings.scan.frame_count
    boxes = sink.plan()
    assert len(findings.faces) == 1
    for i, people in enumerate(truth):
        assert covered(boxes, i, people["grace"])
        assert not covered(boxes, i, people["eileen"])


async def test_a_failed_job_fails_the_redaction_with_its_message(
    client: RekognitionClient, stubber: AioStubber, clip: tuple[Path, list[dict[str, Rect]]]
) -> None:
    stub_detection_start(stubber)
    stubber.add_response(
        "get_face_detection",
        {"JobStatus": "FAILED", "StatusMessage": "Unsupported codec/format.", "Faces": []},
        {"JobId": "job-faces", "MaxResults": PAGE},
    )
    with pytest.raises(RedactionError, match="Unsupported codec/format"):
        await backend(client).find(request(clip[0], "all"), CollectedBoxes())


async def test_a_video_rekognition_refuses_fails_the_redaction(
    client: RekognitionClient, stubber: AioStubber, clip: tuple[Path, list[dict[str, Rect]]]
) -> None:
    stubber.add_client_error(
        "start_face_detection",
        service_error_code="InvalidS3ObjectException",
        service_message="Unable to get object metadata from S3.",
        http_status_code=400,
    )
    with pytest.raises(RedactionError, match="InvalidS3ObjectException"):
        await backend(client).find(request(clip[0], "all"), CollectedBoxes())


async def test_missing_settings_make_the_backend_unavailable(
    client: RekognitionClient, clip: tuple[Path, list[dict[str, Rect]]]
) -> None:
    async def provide() -> RekognitionClient:
        return client

    # no notification channel: every video would fail the same way
    with pytest.raises(BackendUnavailableError, match="NOTIFICATION_TOPIC_ARN"):
        RekognitionVideoBackend(provide, RedactorSettings(backend="rekognition"))
    # a policy naming people without a collection to search
    with pytest.raises(BackendUnavailableError, match="VIDEOSENSE_REDACTOR_COLLECTION"):
        await backend(client, collection=None).find(
            request(clip[0], "only:eileen"), CollectedBoxes()
        )


async def test_under_all_a_collection_names_the_recorded_tracks(
    client: RekognitionClient, stubber: AioStubber, clip: tuple[Path, list[dict[str, Rect]]]
) -> None:
    # GIVEN a collection is configured: under "all" the detection job finds the faces and one
    # search job (not a search per frame) names the ones the collection knows (Grace only)
    path, truth = clip
    stub_detection_start(stubber)
    stub_detection_pages(stubber, truth)
    stub_search_start(stubber)
    persons = search_persons(truth, matched={"grace"})
    half = len(persons) // 2
    search = {"JobStatus": "SUCCEEDED", "VideoMetadata": METADATA}
    stubber.add_response(
        "get_face_search",
        {**search, "Persons": persons[:half], "NextToken": "search-2"},
        {"JobId": "job-search", "MaxResults": PAGE, "SortBy": "TIMESTAMP"},
    )
    stubber.add_response(
        "get_face_search",
        {**search, "Persons": persons[half:]},
        {"JobId": "job-search", "MaxResults": PAGE, "SortBy": "TIMESTAMP", "NextToken": "search-2"},
    )
    # WHEN the backend applies "all"
    findings = await backend(client, collection="people").find(
        request(path, "all"), CollectedBoxes()
    )
    tracks, omitted = findings_tracks(findings, parse_policy("all"))
    # THEN both faces are hidden, and their tracks recorded: Grace's named, Eileen's not, each
    # from the first report (0 ms) to the end of the frame of the last (1.8 s)
    assert len(findings.faces) == 2
    assert omitted == 0
    assert sorted((t.name or "", t.redacted) for t in tracks) == [("", True), ("grace", True)]
    for track in tracks:
        assert track.start_s == 0.0
        assert track.end_s == pytest.approx(1.84)


async def test_under_all_a_missing_collection_leaves_the_tracks_unnamed(
    client: RekognitionClient, stubber: AioStubber, clip: tuple[Path, list[dict[str, Rect]]]
) -> None:
    # GIVEN the configured collection does not exist
    path, truth = clip
    stub_detection_start(stubber)
    stub_detection_pages(stubber, truth)
    stubber.add_client_error(
        "start_face_search",
        service_error_code="ResourceNotFoundException",
        service_message="The collection id: people does not exist",
        http_status_code=400,
    )
    # WHEN "all" is applied / THEN every face is still hidden, the tracks recorded unnamed
    findings = await backend(client, collection="people").find(
        request(path, "all"), CollectedBoxes()
    )
    tracks, _ = findings_tracks(findings, parse_policy("all"))
    assert len(findings.faces) == 2
    assert [t.name for t in tracks] == [None, None]
    # AND the findings say why, for the document
    assert findings.names_error == "the Rekognition collection 'people' does not exist"
