"""The library API on the real emulator: listing, documents, media URLs, keyframe images, and
the 4xx answers for ids and paths that name nothing."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest

from tests.web.library_seed import seed_video
from videosense_shared.aws import AwsClients
from videosense_shared.settings import CommonSettings

pytestmark = pytest.mark.integration


@pytest.fixture
def common(aws_env: dict[str, str]) -> CommonSettings:
    return CommonSettings()


async def test_library_lists_processing_then_finished_videos_with_stages(
    http: httpx.AsyncClient, aws: AwsClients, common: CommonSettings
) -> None:
    # GIVEN one finished video and one still processing
    await seed_video(aws, common, "vdone1", "done.mp4")
    await seed_video(aws, common, "vbusy1", "busy.mp4", finished=False)
    # WHEN the library is listed
    resp = await http.get("/api/videos")
    # THEN both are there, the processing one first, with names, status, duration and stages
    assert resp.status_code == 200
    videos = resp.json()["videos"]
    assert [(v["video_id"], v["name"], v["status"]) for v in videos] == [
        ("vbusy1", "busy.mp4", "processing"),
        ("vdone1", "done.mp4", "complete"),
    ]
    assert videos[1]["duration_s"] == 4.0
    assert videos[1]["stages"]["recognition"]["status"] == "complete"
    assert videos[0]["stages"]["frames"]["status"] == "complete"
    assert videos[0]["stages"]["transcript"]["status"] == "running"
    assert videos[1]["thumbnail_url"] == "/api/videos/vdone1/thumbnail"
    # AND asking for processing videos only gives the busy one
    busy = (await http.get("/api/videos", params={"processing": "true"})).json()["videos"]
    assert [v["video_id"] for v in busy] == ["vbusy1"]


async def test_library_pages_through_finished_videos(
    http: httpx.AsyncClient, aws: AwsClients, common: CommonSettings
) -> None:
    # GIVEN three finished videos
    for n in range(3):
        await seed_video(aws, common, f"vpage{n}", f"clip {n}.mp4")
    # WHEN listed two at a time
    first = (await http.get("/api/videos", params={"limit": 2})).json()
    second = await http.get("/api/videos", params={"limit": 2, "cursor": first["next_cursor"]})
    # THEN the two pages hold every video once, and the last page ends the listing
    ids = [v["video_id"] for v in first["videos"] + second.json()["videos"]]
    assert sorted(ids) == ["vpage0", "vpage1", "vpage2"]
    assert second.json()["next_cursor"] is None


async def test_document_of_a_finished_and_of_a_processing_video(
    http: httpx.AsyncClient, aws: AwsClients, common: CommonSettings
) -> None:
    # GIVEN a finished video and one still processing
    await seed_video(aws, common, "vdoc1", "doc.mp4")
    await seed_video(aws, common, "vdoc2", "doc2.mp4", finished=False)
    # WHEN their documents are read
    done = (await http.get("/api/videos/vdoc1")).json()
    busy = (await http.get("/api/videos/vdoc2")).json()
    # THEN the finished one is whole: scenes, keyframes with findings, the transcript
    assert done["status"] == "complete"
    assert [s["index"] for s in done["scenes"]] == [0, 1]
    first = done["keyframes"][0]
    assert first["faces"][0]["name"] == "Eileen Collins"
    assert first["text"][0]["text"] == "Mission briefing"
    assert [s["text"] for s in done["transcript"]["segments"]] == [
        "Good morning.",
        "The weather is fine.",
    ]
    # AND the processing one shows what is there so far
    assert busy["status"] == "processing"
    assert len(busy["keyframes"]) == 2
    assert busy["transcript"] is None
    # AND the summary of one video matches the library entry
    summary = (await http.get("/api/videos/vdoc1/summary")).json()
    assert (summary["status"], summary["name"]) == ("complete", "doc.mp4")


async def test_media_url_is_presigned_short_lived_and_plays_the_upload(
    http: httpx.AsyncClient, aws: AwsClients, common: CommonSettings
) -> None:
    # GIVEN a finished video
    await seed_video(aws, common, "vmedia", "media clip.mp4")
    # WHEN the player asks for its media URL
    resp = await http.get("/api/videos/vmedia/media")
    # THEN it is a presigned GET of the upload that expires within the configured lifetime
    assert resp.status_code == 200
    url = resp.json()["url"]
    query = urlsplit(url).query
    assert "X-Amz-Expires=900" in query or "Expires=" in query
    assert urlsplit(url).path.endswith("/uploads/media%20clip.mp4")
    # AND the URL reads the upload's bytes without any other credentials
    async with httpx.AsyncClient() as browser:
        got = await browser.get(url)
    assert got.status_code == 200
    assert got.content == b"\0\0\0\x18ftypisom"


async def test_keyframe_images_and_thumbnail_are_served(
    http: httpx.AsyncClient, aws: AwsClients, common: CommonSettings
) -> None:
    # GIVEN a video with two keyframes
    keyframes = await seed_video(aws, common, "vimg", "img.mp4")
    # WHEN a keyframe image and the thumbnail are read
    image = await http.get(f"/api/videos/vimg/keyframes/{keyframes[1].id}.jpg")
    thumb = await http.get("/api/videos/vimg/thumbnail")
    # THEN both are JPEGs, the thumbnail being the first keyframe
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/jpeg"
    assert image.content[:2] == b"\xff\xd8"
    assert thumb.status_code == 200
    assert thumb.content == image.content  # the seed uses one picture for every keyframe


@pytest.mark.parametrize(
    "path",
    [
        "/api/videos/vnope",
        "/api/videos/vnope/summary",
        "/api/videos/vnope/media",
        "/api/videos/vnope/thumbnail",
        "/api/videos/vnope/keyframes/kf000000000.jpg",
        "/api/videos/not.an.id",
        "/api/videos/" + "v" * 200,
    ],
)
async def test_unknown_videos_are_404(http: httpx.AsyncClient, aws: AwsClients, path: str) -> None:
    # GIVEN no such video / WHEN any of its resources is asked for / THEN 404 with a reason
    resp = await http.get(path)
    assert resp.status_code == 404
    assert resp.json()["detail"]


@pytest.mark.parametrize(
    ("keyframe", "expected"),
    [
        ("kf000000007", 404),  # well formed, but not a keyframe of this video
        ("..%2F..%2Fdocuments%2Fvimg2", 404),  # a path in an id: no route has that shape
        ("..%5C..%5Cdocuments", 400),
        ("kf000000000%00", 400),
    ],
)
async def test_image_requests_serve_only_the_videos_own_keyframes(
    http: httpx.AsyncClient, aws: AwsClients, common: CommonSettings, keyframe: str, expected: int
) -> None:
    # GIVEN a video, and another object in the bucket a trick could aim at
    await seed_video(aws, common, "vimg2", "img2.mp4")
    await aws.s3.put_object(Bucket=common.bucket, Key="frames/secret.jpg", Body=b"\xff\xd8secret")
    # WHEN an image is asked for by something that is not one of its keyframes' ids
    resp = await http.get(f"/api/videos/vimg2/keyframes/{keyframe}.jpg")
    # THEN the answer is a 4xx and no object's bytes
    assert resp.status_code == expected
    assert b"secret" not in resp.content


async def test_traversal_in_the_path_reaches_no_object(
    http: httpx.AsyncClient, aws: AwsClients, common: CommonSettings
) -> None:
    # GIVEN a video and its finished document
    await seed_video(aws, common, "vtrav", "t.mp4")
    # WHEN a raw "../" path is sent to the image route
    resp = await http.get("/api/videos/vtrav/keyframes/../../../documents/vtrav.json")
    # THEN no route serves it
    assert resp.status_code == 404


async def test_openapi_describes_the_api(http: httpx.AsyncClient, aws: AwsClients) -> None:
    # WHEN the schema is read / THEN every API route is described
    paths = (await http.get("/api/openapi.json")).json()["paths"]
    for path in (
        "/api/videos",
        "/api/videos/{video_id}",
        "/api/videos/{video_id}/media",
        "/api/videos/{video_id}/keyframes/{keyframe_id}.jpg",
        "/api/search",
        "/api/uploads",
    ):
        assert path in paths
    assert "post" in paths["/api/uploads"]
