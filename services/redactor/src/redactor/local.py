"""The offline backend: dlib's face detector and 128-d embedding, in-process (the same models
the recognizer uses, from :mod:`videosense_shared.vision`).

One decode of the video (:func:`redactor.scan.scan`) samples faces and links them into tracks,
and hands every frame's boxes to the render as soon as they are final (:mod:`redactor.frontier`);
when the policy names people, or under ``all`` when a face gallery exists, a few faces of every
track are embedded and matched against the local face gallery
(:class:`~videosense_shared.vision.face_search.FaceGallery`, filled by ``videosense faces
index``), and the track takes the majority name (recorded with the track in the document).
``--redact text`` also reads on-screen text with RapidOCR's packaged models.
"""

from __future__ import annotations

import asyncio
import math

from redactor.backend import Findings, RedactionError, RedactionRequest
from redactor.boxes import face_reach, text_reach
from redactor.feed import BoxSink
from redactor.frontier import Frontier, Lane
from redactor.policy import Policy
from redactor.scan import TEXT_MAX_MISSED, Namer, Scan, ScanError, ScanSettings, scan
from redactor.settings import RedactorSettings
from redactor.tracking import FIT, Track
from videosense_shared.backends import BackendUnavailableError
from videosense_shared.logs import get_logger
from videosense_shared.messages import Box
from videosense_shared.vision.face_search import FaceGallery
from videosense_shared.vision.faces import FaceEmbedder, HogFaceDetector
from videosense_shared.vision.gallery import GalleryDirectory
from videosense_shared.vision.images import Bgr
from videosense_shared.vision.text import RapidOcr

log = get_logger(__name__)

NAME = "local"


def scan_settings(settings: RedactorSettings) -> ScanSettings:
    """The scan's part of the redactor's settings."""
    return ScanSettings(
        sample_interval_s=settings.sample_interval_s,
        full_frame_every=settings.full_frame_every,
        text_interval_s=settings.text_interval_s,
        detect_width=settings.detect_width,
        min_confidence=settings.min_confidence,
        cut_threshold=settings.cut_threshold,
        max_missed_samples=settings.max_missed_samples,
        embeddings_per_track=settings.embeddings_per_track,
    )


def extend_frames(interval_frames: int, settings: RedactorSettings) -> int:
    """Frames a track is carried beyond its detections: ``extend_samples`` intervals."""
    return math.ceil(interval_frames * settings.extend_samples)


class LocalBackend:
    """Faces (and text) found with the packaged offline models.

    Raises:
        BackendUnavailableError: dlib or its packaged weights are missing.
    """

    def __init__(self, settings: RedactorSettings) -> None:
        self._settings = settings
        self._detector = HogFaceDetector()
        self._embedder: FaceEmbedder | None = None
        self._ocr: RapidOcr | None = None

    @property
    def name(self) -> str:
        """Backend name recorded in the document."""
        return NAME

    def _namer(self) -> Namer:
        # The gallery is opened per video: photos added while the service runs count at once
        # (embeddings of photos already seen are cached by content).
        if not self._settings.face_gallery.is_dir():
            raise BackendUnavailableError(
                f"a policy that names people needs the face gallery {self._settings.face_gallery}"
                " (add photos with `videosense faces index`)"
            )
        if self._embedder is None:
            self._embedder = FaceEmbedder()
        gallery = FaceGallery(
            self._settings.face_gallery,
            self._embedder,
            self._detector,
            max_distance=self._settings.face_match_distance,
            min_confidence=self._settings.min_confidence,
        )

        def name(image: Bgr, box: Box) -> str | None:
            found = gallery.match(image, box)
            return found[0].name if found is not None else None

        return name

    def _namer_if_gallery(self) -> tuple[Namer | None, str | None]:
        """The namer when a readable gallery exists, else ``None``: under ``all`` names only
        label the recorded face tracks (a few embeddings per track), they hide nothing. With
        no gallery, or an empty one, there is nobody to name; a gallery that cannot be used
        (no photo readable, the face models do not load) leaves the tracks unnamed and its
        reason is returned for the document."""
        if not GalleryDirectory(self._settings.face_gallery).photos():
            return None, None
        try:
            return self._namer(), None
        except BackendUnavailableError as err:
            log.warning("face tracks left unnamed", reason=err.reason)
            return None, err.reason

    def _text_reader(self) -> RapidOcr:
        if self._ocr is None:
            ocr = RapidOcr()
            ocr.check()
            self._ocr = ocr
        return self._ocr

    async def find(self, request: RedactionRequest, sink: BoxSink) -> Findings:
        """Scan the video, publishing every frame's boxes to ``sink`` as soon as they are
        final; return the tracks the policy hides.

        Raises:
            RedactionError: the video cannot be decoded.
            BackendUnavailableError: the policy names people and there is no readable gallery,
                or text is asked for and RapidOCR does not load.
            redactor.feed.ReaderStoppedError: the render failed (the scan stops).
        """
        return await asyncio.to_thread(self._find, request, sink)

    def _find(self, request: RedactionRequest, sink: BoxSink) -> Findings:
        names_error: str | None = None
        if request.policy.needs_names:
            namer: Namer | None = self._namer()
        else:
            namer, names_error = self._namer_if_gallery()
        texts = self._text_reader() if request.redact_text else None
        follow = _Follower(self._settings, request.policy, sink, texts=texts is not None)
        try:
            found = scan(
                request.path,
                scan_settings(self._settings),
                faces=self._detector,
                namer=namer,
                texts=texts,
                progress=follow,
            )
        except ScanError as err:
            raise RedactionError(str(err)) from err
        follow.finish(found)
        hidden = [track for track in found.faces if request.policy.hides(track.name)]
        return Findings(
            scan=found,
            faces=hidden,
            extend_frames=face_extend_frames(found, self._settings),
            extend_before=face_extend_before(found, self._settings),
            texts=found.texts,
            faces_seen=len(found.faces),
            seen=list(found.faces),
            names_error=names_error,
        )


def face_extend_frames(found: Scan, settings: RedactorSettings) -> int:
    """How far face tracks are carried after their last detection: ``extend_samples``
    sampling intervals."""
    return extend_frames(found.sample_frames, settings)


def face_extend_before(found: Scan, settings: RedactorSettings) -> int:
    """How far face tracks are carried before their first detection: a new face is first seen
    by a whole-frame search, which comes every ``full_frame_every`` samples."""
    return extend_frames(found.sample_frames * settings.full_frame_every, settings)


def lanes(found: Scan, settings: RedactorSettings, policy: Policy, *, texts: bool) -> list[Lane]:
    """What the frontier follows in a scan of the local backend: the faces the policy hides
    and, when read, the text."""

    def hides(track: Track) -> bool:
        return policy.hides(track.name)

    face_lane = Lane(
        tracks=found.faces,
        reach=face_reach(
            found,
            settings,
            face_extend_frames(found, settings),
            face_extend_before(found, settings),
        ),
        sample_frames=found.sample_frames,
        max_missed=settings.max_missed_samples,
        hides=hides,
        # A track's name is the vote of its first ``embeddings_per_track`` faces.
        settled_after=max(FIT, settings.embeddings_per_track if policy.needs_names else 0),
    )
    if not texts:
        return [face_lane]
    text_lane = Lane(
        tracks=found.texts,
        reach=text_reach(found, settings),
        sample_frames=found.text_frames,
        max_missed=TEXT_MAX_MISSED,
    )
    return [face_lane, text_lane]


class _Follower:
    """Called after every scanned frame: publishes the boxes that have become final."""

    def __init__(
        self, settings: RedactorSettings, policy: Policy, sink: BoxSink, *, texts: bool
    ) -> None:
        self._settings = settings
        self._policy = policy
        self._sink = sink
        self._texts = texts
        self._frontier: Frontier | None = None

    def _follow(self, found: Scan) -> Frontier:
        if self._frontier is None:  # the sampling is known once the stream is open
            self._frontier = Frontier(lanes(found, self._settings, self._policy, texts=self._texts))
        return self._frontier

    def __call__(self, found: Scan, index: int) -> None:
        frontier = self._follow(found)
        first = frontier.next_frame
        boxes = frontier.advance(index, found.cuts, found.width, found.height)
        if boxes:
            self._sink.publish(first, boxes)

    def finish(self, found: Scan) -> None:
        frontier = self._follow(found)
        first = frontier.next_frame
        boxes = frontier.finish(found.frame_count, found.cuts, found.width, found.height)
        if boxes:
            self._sink.publish(first, boxes)
