"""Rekognition Video: face detection and face search jobs on the uploaded S3 object.

As in the system this stage descends from, Rekognition looks at the S3 object itself
(``StartFaceDetection`` / ``StartFaceSearch`` with the object's version when the bucket has
one), announces completion on an SNS topic (``NotificationChannel``: the topic and the role it
publishes with are settings), and the results are read back page by page
(``GetFaceDetection`` / ``GetFaceSearch`` with ``NextToken``). The worker waits by polling the
job's status (the consumer's heartbeat keeps the message invisible meanwhile): the video has to
be rendered by this worker anyway, and the notification tells other subscribers.

Policies: ``all`` needs only face detection; ``only:`` needs only the search (the faces that
match a named person of the collection); ``except:`` needs both: every detected face is hidden
unless the search put one of the named people at the same place at the same time. Under ``all``
a configured collection is searched too (one job), only to name the face tracks the document
records, the same way ``except:`` names them.

Idempotency: every start carries a ``ClientRequestToken`` derived from the video id, so a
redelivered message gets the job it started before, never a second one.

Rekognition reports faces on its own sampled frames, relative to the picture it decoded; the
local pass (:func:`redactor.scan.scan`, without a detector) supplies the frame times and the
cuts that the reported faces are placed on and tracked through, so the same interpolation
covers every frame.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from bisect import bisect_left
from collections.abc import Awaitable, Callable
from statistics import median
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError, NoCredentialsError

from redactor.backend import Findings, RedactionError, RedactionRequest
from redactor.boxes import boxes_per_frame
from redactor.feed import BoxSink
from redactor.local import extend_frames, scan_settings
from redactor.policy import Policy
from redactor.scan import Scan, ScanError, scan, to_coded
from redactor.settings import RedactorSettings
from redactor.tracking import PixelBox, Tracker, iou
from videosense_shared.backends import BackendUnavailableError
from videosense_shared.bus import RetryableError
from videosense_shared.logs import get_logger
from videosense_shared.messages import Box

if TYPE_CHECKING:
    from types_aiobotocore_rekognition import RekognitionClient

log = get_logger(__name__)

NAME = "rekognition"
ClientProvider = Callable[[], Awaitable["RekognitionClient"]]

#: Results per page (the API's maximum).
PAGE = 1000
_UNAVAILABLE = frozenset(
    {
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
    }
)
_BAD_VIDEO = frozenset(
    {"InvalidS3ObjectException", "VideoTooLargeException", "InvalidParameterException"}
)
_BUSY = frozenset(
    {"LimitExceededException", "ProvisionedThroughputExceededException", "ThrottlingException"}
)
# A face the search placed within this overlap of a detected face is that face.
_SAME_FACE_IOU = 0.3


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def _box(raw: dict[str, Any]) -> Box | None:
    try:
        left, top = float(raw["Left"]), float(raw["Top"])
        width, height = float(raw["Width"]), float(raw["Height"])
    except (KeyError, TypeError, ValueError):
        return None
    # Faces cut by the picture's edge stick out of it: keep the visible part.
    x0, y0 = min(1.0, max(0.0, left)), min(1.0, max(0.0, top))
    x1, y1 = min(1.0, max(0.0, left + width)), min(1.0, max(0.0, top + height))
    if x1 <= x0 or y1 <= y0:
        return None
    return Box(left=x0, top=y0, width=x1 - x0, height=y1 - y0)


class RekognitionVideoBackend:
    """Faces found by Rekognition Video jobs.

    Raises:
        BackendUnavailableError: the notification topic or role is not configured, or a policy
            names people and no collection is.
    """

    def __init__(self, client: ClientProvider, settings: RedactorSettings) -> None:
        if not settings.notification_topic_arn or not settings.notification_role_arn:
            raise BackendUnavailableError(
                "the rekognition backend needs VIDEOSENSE_REDACTOR_NOTIFICATION_TOPIC_ARN and "
                "VIDEOSENSE_REDACTOR_NOTIFICATION_ROLE_ARN (the SNS topic Rekognition Video "
                "announces job completion on, and the role it publishes with)"
            )
        self._client = client
        self._settings = settings
        self._sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    @property
    def name(self) -> str:
        """Backend name recorded in the document."""
        return NAME

    async def find(self, request: RedactionRequest, sink: BoxSink) -> Findings:
        """Run the jobs the policy needs, place their faces on the video's frames and publish
        every frame's boxes to ``sink`` (at once: the jobs report on the whole video).

        Raises:
            redactor.feed.ReaderStoppedError: the render failed meanwhile.
            RedactionError: the video cannot be decoded, Rekognition refused it or a job failed.
            BackendUnavailableError: no credentials, access denied, no collection for a policy
                that names people.
            RetryableError: Rekognition's job limit is reached; try again later.
            botocore.exceptions.ClientError: a transient AWS failure.
        """
        policy = request.policy
        if policy.needs_names and not self._settings.collection:
            raise BackendUnavailableError(
                f"the policy {policy} names people: set VIDEOSENSE_REDACTOR_COLLECTION to the "
                "Rekognition collection they are indexed in"
            )
        try:
            found = await asyncio.to_thread(
                scan, request.path, scan_settings(self._settings), faces=None
            )
        except ScanError as err:
            raise RedactionError(str(err)) from err
        try:
            detected: list[tuple[int, Box]] = []
            searched: list[tuple[int, Box, str | None]] = []
            names_error: str | None = None
            if policy.mode in ("all", "except"):
                detected = await self._detect(request)
            if policy.needs_names:
                searched = await self._search(request)
            elif self._settings.collection:
                searched, names_error = await self._search_for_names(request)
        except NoCredentialsError as err:
            raise BackendUnavailableError(f"no AWS credentials for Rekognition: {err}") from err
        except ClientError as err:
            code = _code(err)
            if code in _UNAVAILABLE:
                raise BackendUnavailableError(f"Rekognition is not available: {code}") from err
            if code == "ResourceNotFoundException":
                raise BackendUnavailableError(
                    f"the Rekognition collection {self._settings.collection!r} does not exist"
                ) from err
            if code in _BAD_VIDEO:
                message = err.response.get("Error", {}).get("Message", "")
                raise RedactionError(f"Rekognition refused the video: {code}: {message}") from err
            if code in _BUSY:
                raise RetryableError(f"Rekognition is busy: {code}", retry_after_s=60) from err
            raise
        findings = self._findings(found, policy, detected, searched)
        findings.names_error = names_error
        boxes = boxes_per_frame(findings, self._settings)
        sink.publish(0, [boxes.get(frame, []) for frame in range(found.frame_count)])
        return findings

    # -- jobs ------------------------------------------------------------------------------

    def _video(self, request: RedactionRequest) -> dict[str, Any]:
        s3_object: dict[str, str] = {"Bucket": request.source.bucket, "Name": request.source.key}
        if request.source.version_id:
            s3_object["Version"] = request.source.version_id
        return {"S3Object": s3_object}

    def _common(self, request: RedactionRequest, kind: str) -> dict[str, Any]:
        return {
            "Video": self._video(request),
            "ClientRequestToken": f"{kind}-{request.video_id}"[:64],
            "NotificationChannel": {
                "SNSTopicArn": self._settings.notification_topic_arn,
                "RoleArn": self._settings.notification_role_arn,
            },
            "JobTag": "videosense-redaction",
        }

    async def _detect(self, request: RedactionRequest) -> list[tuple[int, Box]]:
        client = await self._client()
        started = await client.start_face_detection(
            **self._common(request, "faces"), FaceAttributes="DEFAULT"
        )
        job = started["JobId"]
        log.info("rekognition face detection started", job=job)
        pages = await self._pages(lambda **kw: client.get_face_detection(JobId=job, **kw))
        out: list[tuple[int, Box]] = []
        for page in pages:
            for item in page.get("Faces", []):
                box = _box(item.get("Face", {}).get("BoundingBox", {}))
                if box is not None:
                    out.append((int(item["Timestamp"]), box))
        return out

    async def _search(self, request: RedactionRequest) -> list[tuple[int, Box, str | None]]:
        client = await self._client()
        started = await client.start_face_search(
            **self._common(request, "search"),
            CollectionId=self._settings.collection or "",
            FaceMatchThreshold=self._settings.face_match_threshold,
        )
        job = started["JobId"]
        log.info("rekognition face search started", job=job)
        pages = await self._pages(
            lambda **kw: client.get_face_search(JobId=job, SortBy="TIMESTAMP", **kw)
        )
        out: list[tuple[int, Box, str | None]] = []
        for page in pages:
            for item in page.get("Persons", []):
                person = item.get("Person", {})
                face = person.get("Face", {})
                box = _box(face.get("BoundingBox") or person.get("BoundingBox", {}))
                if box is None:
                    continue
                matches = sorted(
                    item.get("FaceMatches", []), key=lambda m: -float(m.get("Similarity", 0))
                )
                name = matches[0].get("Face", {}).get("ExternalImageId") if matches else None
                out.append((int(item["Timestamp"]), box, name))
        return out

    async def _search_for_names(
        self, request: RedactionRequest
    ) -> tuple[list[tuple[int, Box, str | None]], str | None]:
        """Under ``all``, the search only names the recorded face tracks (one job for the whole
        video, not a search per frame): a collection that is missing or out of reach leaves
        them unnamed rather than failing a redaction that needs no names, and the reason is
        returned for the document."""
        try:
            return await self._search(request), None
        except ClientError as err:
            code = _code(err)
            if code == "ResourceNotFoundException":
                reason = f"the Rekognition collection {self._settings.collection!r} does not exist"
            elif code in _UNAVAILABLE:
                reason = f"the Rekognition face search is not available: {code}"
            else:
                raise
            log.warning("face tracks left unnamed", reason=reason)
            return [], reason

    async def _pages(self, get: Callable[..., Awaitable[Any]]) -> list[dict[str, Any]]:
        """Wait for the job to end, then read every page of its results."""
        deadline = time.monotonic() + self._settings.job_timeout_s
        while True:
            page = await get(MaxResults=PAGE)
            status = page.get("JobStatus")
            if status == "SUCCEEDED":
                break
            if status == "FAILED":
                reason = page.get("StatusMessage") or "no reason given"
                raise RedactionError(f"the Rekognition Video job failed: {reason}")
            if time.monotonic() > deadline:
                raise RedactionError(
                    f"the Rekognition Video job is still {status} after "
                    f"{self._settings.job_timeout_s:g} s"
                )
            await self._sleep(self._settings.poll_s)
        pages = [page]
        while token := pages[-1].get("NextToken"):
            pages.append(await get(MaxResults=PAGE, NextToken=token))
        return pages

    # -- placing the faces on frames -------------------------------------------------------

    def _findings(
        self,
        found: Scan,
        policy: Policy,
        detected: list[tuple[int, Box]],
        searched: list[tuple[int, Box, str | None]],
    ) -> Findings:
        w, h, rotation = found.width, found.height, found.rotation

        def pixels(box: Box) -> PixelBox:
            left, top, bw, bh = to_coded(box, rotation)
            return (left * w, top * h, (left + bw) * w, (top + bh) * h)

        named = [(self._frame(found, ts), pixels(box), name) for ts, box, name in searched]
        if policy.mode == "only":
            faces = named
        else:
            faces = []
            for ts, box in detected:
                frame, px = self._frame(found, ts), pixels(box)
                same = [n for f, b, n in named if f == frame and iou(b, px) >= _SAME_FACE_IOU]
                faces.append((frame, px, same[0] if same else None))
        timestamps = sorted({ts for ts, *_ in detected} | {ts for ts, *_ in searched})
        gaps = [b - a for a, b in itertools.pairwise(timestamps) if b > a]
        interval_s = median(gaps) / 1000 if gaps else self._settings.sample_interval_s
        rate = found.frame_count / found.duration_s if found.duration_s else 25.0
        interval = max(1, round(interval_s * rate))
        tracker = Tracker(
            max_missed=self._settings.max_missed_samples,
            max_gap_frames=interval * (self._settings.max_missed_samples + 1),
        )
        cuts = list(found.cuts)
        by_frame: dict[int, list[tuple[PixelBox, str | None]]] = {}
        for frame, px, name in faces:
            by_frame.setdefault(frame, []).append((px, name))
        for frame in sorted(by_frame):
            while cuts and cuts[0] <= frame:
                tracker.cut(cuts.pop(0))
            entries = by_frame[frame]
            tracks = tracker.observe(frame, [px for px, _ in entries])
            for track, (_, name) in zip(tracks, entries, strict=True):
                track.votes.append(name)
        hidden = [t for t in tracker.tracks if policy.hides(t.name)]
        return Findings(
            scan=found,
            faces=hidden,
            extend_frames=extend_frames(interval, self._settings),
            faces_seen=len(tracker.tracks),
            seen=list(tracker.tracks),
        )

    @staticmethod
    def _frame(found: Scan, timestamp_ms: int) -> int:
        """The frame shown at ``timestamp_ms`` after the first frame."""
        if not found.times:
            return 0
        t = found.times[0] + timestamp_ms / 1000
        i = bisect_left(found.times, t)
        if i >= len(found.times):
            return len(found.times) - 1
        if i > 0 and t - found.times[i - 1] < found.times[i] - t:
            return i - 1
        return i
