"""The clips API on the real emulator without a clipper running: a request is checked (422,
404, 409), sent to the clipper's queue and recorded, and reads back as pending; answers are read
from the clipper's record, and only the request's own files are ever signed; ids that name no
request (path tricks included) are 404."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest

from tests.web.library_seed import seed_video
from videosense_shared.aws import AwsClients
from videosense_shared.bus import queue_url
from videosense_shared.layout import clip_key, clips_result_key, document_key
from videosense_shared.messages import (
    ClipFile,
    ClipRange,
    ClipRequested,
    ClipSelector,
    ClipsReady,
    ClipStatus,
    utc_now,
)
from videosense_shared.settings import CommonSettings
from videosense_shared.topology import CLIPPER

pytestmark = pytest.mark.integration


@pytest.fixture
def common(aws_env: dict[str, str]) -> CommonSettings:
    return CommonSettings()


async def _queued(aws: AwsClients, common: CommonSettings) -> list[ClipRequested]:
    url = await queue_url(aws.sqs, common, CLIPPER)
    resp = await aws.sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"]
    )
    messages = resp.get("Messages", [])
    for message in messages:
        assert message["MessageAttributes"]["type"]["StringValue"] == "ClipRequested"
    return [ClipRequested.model_validate_json(m["Body"]) for m in messages]


async def _record(aws: AwsClients, common: CommonSettings, result: ClipsReady) -> None:
    await aws.s3.put_object(
        Bucket=common.bucket,
        Key=clips_result_key(result.video_id, result.request_id),
        Body=result.model_dump_json().encode(),
    )


def _answer(video_id: str, request_id: str, **fields: object) -> ClipsReady:
    now = utc_now()
    return ClipsReady.model_validate(
        {
            "message_id": f"m-{request_id}",
            "video_id": video_id,
            "trace_id": request_id,
            "request_id": request_id,
            "started_at": now - timedelta(seconds=2),
            "finished_at": now,
            **fields,
        }
    )


def _file(bucket: str, key: str) -> ClipFile:
    cut = ClipRange(
        requested_start_s=1.0, requested_end_s=2.0, start_s=1.0, end_s=2.0,
        output_start_s=0.0, frames=25, method="smart",
    )  # fmt: skip
    return ClipFile(bucket=bucket, key=key, size_bytes=1234, ranges=(cut,))


async def test_a_request_is_sent_recorded_and_pending(
    http: httpx.AsyncClient, aws: AwsClients, common: CommonSettings
) -> None:
    # GIVEN a finished video
    await seed_video(aws, common, "vclip1", "clip1.mp4")
    # WHEN clips of a person are asked for, padded, as a supercut
    body = {
        "video_id": "vclip1",
        "selector": {"person": "Eileen Collins"},
        "pad_s": 0.5,
        "merge_gap_s": 1,
        "supercut": True,
    }
    resp = await http.post("/api/clips", json=body)
    # THEN it is accepted with its request id and where to read its status
    assert resp.status_code == 202, resp.text
    accepted = resp.json()
    request_id = accepted["request_id"]
    assert accepted["status"] == "pending"
    assert accepted["status_url"] == f"/api/videos/vclip1/clips/{request_id}"
    assert resp.headers["location"] == accepted["status_url"]
    # AND exactly that request waits on the clipper's queue
    [sent] = await _queued(aws, common)
    assert (sent.video_id, sent.request_id) == ("vclip1", request_id)
    assert sent.selector == ClipSelector(person="Eileen Collins")
    assert (sent.pad_s, sent.merge_gap_s, sent.supercut) == (0.5, 1.0, True)
    # AND its status reads pending, with what was asked
    status = (await http.get(accepted["status_url"])).json()
    assert status["status"] == "pending"
    assert status["selector"]["person"] == "Eileen Collins"
    assert status["clips"] == []
    assert status["requested_at"]


async def test_answers_are_read_from_the_clippers_record(
    http: httpx.AsyncClient, aws: AwsClients, common: CommonSettings
) -> None:
    # GIVEN a sent request
    await seed_video(aws, common, "vclip2", "clip2.mp4")
    resp = await http.post(
        "/api/clips", json={"video_id": "vclip2", "selector": {"from_s": 1, "to_s": 2}}
    )
    request_id = resp.json()["request_id"]
    own = clip_key("vclip2", request_id, "clip-001_1.000-2.000.mp4")
    await aws.s3.put_object(Bucket=common.bucket, Key=own, Body=b"\0\0\0\x18ftypisom")
    # WHEN the clipper records its answer: one file of the request's, one key elsewhere
    foreign = document_key("vclip2")
    answer = _answer(
        "vclip2", request_id, status=ClipStatus.COMPLETE,
        clips=(_file(common.bucket, own), _file(common.bucket, foreign)),
    )  # fmt: skip
    await _record(aws, common, answer)
    # THEN the status is complete with the ranges and method of the request's own file
    status = (await http.get(f"/api/videos/vclip2/clips/{request_id}")).json()
    assert status["status"] == "complete"
    [clip] = status["clips"]
    assert clip["name"] == "clip-001_1.000-2.000.mp4"
    assert clip["ranges"][0]["method"] == "smart"
    assert clip["size_bytes"] == 1234
    # AND its URLs are presigned GETs of that key alone (the foreign key is never signed)
    assert f"/{own}?" in clip["url"]
    lifetime = datetime.fromisoformat(clip["expires_at"]) - utc_now()
    assert timedelta(seconds=800) < lifetime <= timedelta(seconds=900)
    assert "response-content-disposition=attachment" in clip["download_url"]
    assert "documents" not in str(status)


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (ClipStatus.EMPTY, "no moments found for --label 'Dog'"),
        (ClipStatus.FAILED, "gave up after 2 deliveries: the worker crashed"),
    ],
)
async def test_empty_and_failed_answers_carry_their_reason(
    http: httpx.AsyncClient,
    aws: AwsClients,
    common: CommonSettings,
    status: ClipStatus,
    reason: str,
) -> None:
    # GIVEN an answer without files, recorded for a request the app did not send
    await seed_video(aws, common, "vclip3", "clip3.mp4")
    await _record(aws, common, _answer("vclip3", "cli-req", status=status, reason=reason))
    # WHEN its status is read / THEN it says how it ended, and why
    got = (await http.get("/api/videos/vclip3/clips/cli-req")).json()
    assert (got["status"], got["reason"], got["clips"]) == (status.value, reason, [])
    assert got["selector"] is None
    # AND the video's listing has it
    listed = (await http.get("/api/videos/vclip3/clips")).json()
    assert [r["request_id"] for r in listed["requests"]] == ["cli-req"]


async def test_history_lists_the_latest_requests_newest_first(
    http: httpx.AsyncClient, aws: AwsClients, common: CommonSettings
) -> None:
    # GIVEN two requests of one video
    await seed_video(aws, common, "vclip4", "clip4.mp4")
    first = await http.post(
        "/api/clips", json={"video_id": "vclip4", "selector": {"label": "Person"}}
    )
    second = await http.post(
        "/api/clips", json={"video_id": "vclip4", "selector": {"say": "good morning"}}
    )
    # WHEN the video's clips are listed / THEN both, newest first
    listed = (await http.get("/api/videos/vclip4/clips")).json()["requests"]
    assert [r["request_id"] for r in listed] == [
        second.json()["request_id"],
        first.json()["request_id"],
    ]
    assert [r["status"] for r in listed] == ["pending", "pending"]
    # AND a limit keeps the newest only
    limited = (await http.get("/api/videos/vclip4/clips", params={"limit": 1})).json()
    assert [r["request_id"] for r in limited["requests"]] == [second.json()["request_id"]]


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"video_id": "vbad", "selector": {}}, "selector"),
        ({"video_id": "vbad", "selector": {"person": "A", "label": "B"}}, "selector"),
        ({"video_id": "vbad", "selector": {"from_s": 3, "to_s": 1}}, "selector"),
        ({"video_id": "vbad", "selector": {"from_s": 3}}, "selector"),
        ({"video_id": "vbad", "selector": {"say": ""}}, "say"),
        ({"video_id": "vbad", "selector": {"label": "x"}, "pad_s": -1}, "pad_s"),
        ({"video_id": "vbad", "selector": {"label": "x"}, "merge_gap_s": 1e9}, "merge_gap_s"),
        ({"video_id": "../documents/v", "selector": {"label": "x"}}, "video_id"),
        ({"video_id": "vbad", "selector": {"label": "x"}, "bucket": "other"}, "bucket"),
        ({"selector": {"label": "x"}}, "video_id"),
    ],
)
async def test_invalid_requests_are_422(
    http: httpx.AsyncClient, aws: AwsClients, common: CommonSettings, body: object, where: str
) -> None:
    # WHEN a malformed request is posted / THEN 422, saying where, and nothing is sent
    resp = await http.post("/api/clips", json=body)
    assert resp.status_code == 422
    assert where in resp.text
    assert await _queued(aws, common) == []


async def test_unknown_and_unfinished_videos_are_refused(
    http: httpx.AsyncClient, aws: AwsClients, common: CommonSettings
) -> None:
    selector = {"from_s": 0, "to_s": 1}
    # WHEN the video does not exist / THEN 404
    resp = await http.post("/api/clips", json={"video_id": "vnone", "selector": selector})
    assert resp.status_code == 404
    assert "no video 'vnone'" in resp.json()["detail"]
    # WHEN the video is still being analysed / THEN 409, saying so
    await seed_video(aws, common, "vbusy", "busy.mp4", finished=False)
    resp = await http.post("/api/clips", json={"video_id": "vbusy", "selector": selector})
    assert resp.status_code == 409
    assert resp.json()["detail"] == (
        "video vbusy is still being analysed (processing): clips can be cut once it is finished"
    )
    # WHEN the table says finished but the document is not published yet / THEN 409 too
    await seed_video(aws, common, "vunpub", "unpub.mp4")
    await aws.s3.delete_object(Bucket=common.bucket, Key=document_key("vunpub"))
    resp = await http.post("/api/clips", json={"video_id": "vunpub", "selector": selector})
    assert resp.status_code == 409
    assert "vunpub is still being analysed (complete)" in resp.json()["detail"]
    # AND nothing was sent or recorded
    assert await _queued(aws, common) == []
    listed = await aws.s3.list_objects_v2(Bucket=common.bucket, Prefix="clips/")
    assert listed.get("KeyCount", 0) == 0


@pytest.mark.parametrize(
    "path",
    [
        "/api/videos/vclip5/clips/nope",  # well formed, unknown
        "/api/videos/vclip5/clips/..%2F..%2Fdocuments%2Fvclip5",
        "/api/videos/vclip5/clips/req.json",
        "/api/videos/vclip5/clips/%2E%2E",
        "/api/videos/..%2Fvclip5/clips/known",
        "/api/videos/vclip5%2Fknown/clips/known",
        f"/api/videos/vclip5/clips/{'a' * 129}",
    ],
)
async def test_ids_that_name_no_request_are_404(
    http: httpx.AsyncClient, aws: AwsClients, common: CommonSettings, path: str
) -> None:
    # GIVEN a video with one answered request ("known")
    await seed_video(aws, common, "vclip5", "clip5.mp4")
    answer = _answer("vclip5", "known", status=ClipStatus.EMPTY, reason="none")
    await _record(aws, common, answer)
    assert (await http.get("/api/videos/vclip5/clips/known")).status_code == 200
    # WHEN anything else is asked for / THEN 404, and no object is served
    resp = await http.get(path)
    assert resp.status_code == 404
    assert "complete" not in resp.text


async def test_the_listing_of_an_unknown_video_is_404(http: httpx.AsyncClient) -> None:
    for path in ("/api/videos/vnone/clips", "/api/videos/..%2Fx/clips"):
        assert (await http.get(path)).status_code == 404


async def test_the_clips_api_is_described_in_the_openapi_schema(http: httpx.AsyncClient) -> None:
    schema = (await http.get("/api/openapi.json")).json()
    assert set(schema["paths"]["/api/clips"]) == {"post"}
    assert {"404", "409", "422", "202"} <= set(schema["paths"]["/api/clips"]["post"]["responses"])
    assert "/api/videos/{video_id}/clips/{request_id}" in schema["paths"]
    assert "ClipSelector" in schema["components"]["schemas"]
