"""The AWS backend: Amazon Rekognition's image APIs on the keyframe bytes.

Per keyframe, the enabled features map to DetectLabels (with instance boxes), DetectFaces,
RecognizeCelebrities, DetectText (lines and words) and SearchFacesByImage. SearchFacesByImage
only ever searches the *largest* face of the image it gets, so each face DetectFaces found is
cropped and searched on its own. Calls go out concurrently but through one gate per worker
(Rekognition's per-account TPS limits are low); botocore's retry mode retries throttling
first, and what is still throttled after that becomes a :class:`RetryableError` so the whole
chunk comes back later with backoff.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence, Set
from typing import TYPE_CHECKING, Any, TypeVar

import cv2
import numpy as np
from botocore.exceptions import ClientError, NoCredentialsError, PartialCredentialsError

from recognizer.backend import ImageRecognition, RecognitionError, decisive
from recognizer.features import Feature
from recognizer.images import decode_image, encode_jpeg, fit_bytes
from recognizer.settings import RecognizerSettings
from videosense_shared.backends import BackendUnavailableError
from videosense_shared.bus import RetryableError, is_transient_aws_error
from videosense_shared.messages import Box, Face, Label, TextDetection
from videosense_shared.vision.boxes import overlap, relative_box

if TYPE_CHECKING:
    from types_aiobotocore_rekognition import RekognitionClient

T = TypeVar("T")

# Rekognition's throttling codes; the second and third are not in the shared transient list
# because they are Rekognition's own names for "too many requests right now".
_THROTTLED = frozenset(
    {"ThrottlingException", "ProvisionedThroughputExceededException", "LimitExceededException"}
)
# A face crop is searched with this much of its box added on every side (Rekognition needs
# some context around a face to detect it again in the crop).
_CROP_MARGIN = 0.25
# A celebrity and a detected face are the same face when their boxes overlap this much.
_SAME_FACE_IOU = 0.5
_SUPPORTED = frozenset(
    {Feature.LABELS, Feature.FACES, Feature.CELEBRITIES, Feature.TEXT, Feature.FACE_SEARCH}
)


#: Gives the Rekognition client when first needed (``AwsClients.rekognition`` in production),
#: so a worker that never runs this backend never builds the client.
ClientProvider = Callable[[], Awaitable["RekognitionClient"]]


class RekognitionBackend:
    """Recognition with Amazon Rekognition.

    Args:
        client: provides the aiobotocore Rekognition client, on first use.
        settings: min confidence, collection, image size limit, concurrency.
    """

    def __init__(self, client: ClientProvider, settings: RecognizerSettings) -> None:
        self._provide = client
        self._client: RekognitionClient | None = None
        self._settings = settings
        self._gate = asyncio.Semaphore(settings.max_concurrent_calls)
        self._collection_checked = False

    @property
    def name(self) -> str:
        """``rekognition``."""
        return "rekognition"

    async def prepare(self, features: Set[Feature]) -> None:
        """Make sure every feature is offered and, for face search, that the collection exists.

        Raises:
            BackendUnavailableError: an unsupported feature, no or no such collection, no
                credentials.
            RetryableError: DescribeCollection was throttled or failed transiently.
        """
        client = await self._get_client()
        unsupported = sorted(f.value for f in features if f not in _SUPPORTED)
        if unsupported:
            raise BackendUnavailableError(
                f"the rekognition backend does not offer {', '.join(unsupported)} "
                "(people are found by 'labels' as Person)"
            )
        if Feature.FACE_SEARCH in features and not self._collection_checked:
            collection = self._settings.collection
            if not collection:
                raise BackendUnavailableError(
                    "face_search needs a face collection: set VIDEOSENSE_RECOGNIZER_COLLECTION"
                )
            try:
                await self._call(
                    "DescribeCollection",
                    lambda: client.describe_collection(CollectionId=collection),
                )
            except RecognitionError as err:
                raise BackendUnavailableError(
                    f"face collection {collection!r}: {err.reason}"
                ) from err
            self._collection_checked = True

    async def recognize(self, image: bytes, features: Set[Feature]) -> ImageRecognition:
        """Run the enabled APIs on one image (shrunk under the size limit first).

        Raises:
            BackendUnavailableError: :meth:`prepare` (which this calls) fails for these
                features, or the credentials are gone.
            RecognitionError: Rekognition refused a request (bad image, access denied...).
            RetryableError: throttled or transient failure after botocore's own retries.
        """
        await self.prepare(features)
        data = await asyncio.to_thread(fit_bytes, image, self._settings.max_image_bytes)
        want_faces = Feature.FACES in features or Feature.FACE_SEARCH in features
        try:
            async with asyncio.TaskGroup() as group:
                labels_task = group.create_task(
                    self._labels(data) if Feature.LABELS in features else _nothing(Label)
                )
                faces_task = group.create_task(self._faces(data) if want_faces else _nothing(Face))
                celebrities_task = group.create_task(
                    self._celebrities(data) if Feature.CELEBRITIES in features else _nothing(Face)
                )
                text_task = group.create_task(
                    self._text(data) if Feature.TEXT in features else _nothing(TextDetection)
                )
        except ExceptionGroup as errors:
            raise decisive(errors) from errors
        labels, detected = labels_task.result(), faces_task.result()
        celebrities, text = celebrities_task.result(), text_task.result()
        faces = [*detected] if Feature.FACES in features else []
        faces = _name_celebrities(faces, celebrities)
        if Feature.FACE_SEARCH in features:
            faces = await self._search(data, faces, detected)
        return ImageRecognition(labels=tuple(labels), faces=tuple(faces), text=tuple(text))

    # ------------------------------------------------------------------------------ API calls

    async def _call(self, operation: str, make: Callable[[], Awaitable[T]]) -> T:
        async with self._gate:
            try:
                return await make()
            except Exception as err:
                raise _translate(operation, err) from err

    async def _get_client(self) -> RekognitionClient:
        if self._client is None:
            self._client = await self._provide()
        return self._client

    async def _labels(self, data: bytes) -> list[Label]:
        client = await self._get_client()
        minimum = self._settings.min_confidence
        resp = await self._call(
            "DetectLabels",
            lambda: client.detect_labels(
                Image={"Bytes": data}, MaxLabels=self._settings.max_labels, MinConfidence=minimum
            ),
        )
        return parse_labels(resp, minimum)

    async def _faces(self, data: bytes) -> list[Face]:
        client = await self._get_client()
        resp = await self._call(
            "DetectFaces",
            lambda: client.detect_faces(Image={"Bytes": data}, Attributes=["DEFAULT"]),
        )
        return parse_faces(resp, self._settings.min_confidence)

    async def _celebrities(self, data: bytes) -> list[Face]:
        client = await self._get_client()
        resp = await self._call(
            "RecognizeCelebrities", lambda: client.recognize_celebrities(Image={"Bytes": data})
        )
        return parse_celebrities(resp, self._settings.min_confidence)

    async def _text(self, data: bytes) -> list[TextDetection]:
        client = await self._get_client()
        minimum = self._settings.min_confidence
        resp = await self._call(
            "DetectText",
            lambda: client.detect_text(
                Image={"Bytes": data}, Filters={"WordFilter": {"MinConfidence": minimum}}
            ),
        )
        return parse_text(resp, minimum)

    async def _search(self, data: bytes, faces: list[Face], detected: list[Face]) -> list[Face]:
        """Look every detected face up in the collection; name the ones that match."""
        client = await self._get_client()
        collection = self._settings.collection or ""
        threshold = self._settings.face_match_threshold
        crops = await asyncio.to_thread(_crops, data, [f.box for f in detected])

        async def search(crop: bytes) -> tuple[str, str] | None:
            try:
                resp = await self._call(
                    "SearchFacesByImage",
                    lambda: client.search_faces_by_image(
                        CollectionId=collection,
                        Image={"Bytes": crop},
                        FaceMatchThreshold=threshold,
                        MaxFaces=1,
                    ),
                )
            except RecognitionError as err:
                if "no faces" in err.reason.lower():
                    return None  # the crop alone no longer shows a detectable face
                raise
            return best_match(resp)

        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(search(crop)) for crop in crops]
        except ExceptionGroup as errors:
            raise decisive(errors) from errors
        matches = [task.result() for task in tasks]
        out = list(faces)
        for face, match in zip(detected, matches, strict=True):
            if match is None:
                continue
            name, face_id = match
            index = _same_face(out, face.box)
            if index is None:
                out.append(face.model_copy(update={"name": name, "match_id": face_id}))
            elif out[index].name is None:
                out[index] = out[index].model_copy(update={"name": name, "match_id": face_id})
        return out


# ------------------------------------------------------------------------- response parsing


def _box(raw: Mapping[str, Any] | None) -> Box | None:
    if not raw:
        return None
    return relative_box(
        float(raw.get("Left", 0.0)),
        float(raw.get("Top", 0.0)),
        float(raw.get("Width", 0.0)),
        float(raw.get("Height", 0.0)),
    )


def _confidence(value: object) -> float:
    return min(100.0, max(0.0, float(value))) if isinstance(value, int | float) else 0.0


def parse_labels(resp: Mapping[str, Any], minimum: float) -> list[Label]:
    """DetectLabels -> one label per instance box (``Person`` twice for two people), or one
    unboxed label for a concept without instances (``Outdoors``)."""
    out: list[Label] = []
    for label in resp.get("Labels", []):
        name = str(label.get("Name", ""))
        if not name:
            continue
        instances = [
            i for i in label.get("Instances", []) if _confidence(i.get("Confidence")) >= minimum
        ]
        if instances:
            for instance in instances:
                out.append(
                    Label(
                        name=name,
                        confidence=_confidence(instance.get("Confidence")),
                        box=_box(instance.get("BoundingBox")),
                    )
                )
        elif _confidence(label.get("Confidence")) >= minimum:
            out.append(Label(name=name, confidence=_confidence(label.get("Confidence"))))
    return out


def parse_faces(resp: Mapping[str, Any], minimum: float) -> list[Face]:
    """DetectFaces -> faces with boxes."""
    out: list[Face] = []
    for detail in resp.get("FaceDetails", []):
        box = _box(detail.get("BoundingBox"))
        confidence = _confidence(detail.get("Confidence"))
        if box is not None and confidence >= minimum:
            out.append(Face(box=box, confidence=confidence))
    return out


def parse_celebrities(resp: Mapping[str, Any], minimum: float) -> list[Face]:
    """RecognizeCelebrities -> named faces (``match_id`` is the celebrity id) whose match
    confidence reaches ``minimum``; unrecognized faces are DetectFaces' business."""
    out: list[Face] = []
    for celebrity in resp.get("CelebrityFaces", []):
        face = celebrity.get("Face", {})
        box = _box(face.get("BoundingBox"))
        if box is None or _confidence(celebrity.get("MatchConfidence")) < minimum:
            continue
        out.append(
            Face(
                box=box,
                confidence=_confidence(face.get("Confidence")),
                name=str(celebrity.get("Name")) or None,
                match_id=str(celebrity.get("Id")) or None,
            )
        )
    return out


def parse_text(resp: Mapping[str, Any], minimum: float) -> list[TextDetection]:
    """DetectText -> lines, then words (both are searchable)."""
    lines: list[TextDetection] = []
    words: list[TextDetection] = []
    for found in resp.get("TextDetections", []):
        text = str(found.get("DetectedText", "")).strip()
        confidence = _confidence(found.get("Confidence"))
        if not text or confidence < minimum:
            continue
        detection = TextDetection(
            text=text,
            confidence=confidence,
            box=_box(found.get("Geometry", {}).get("BoundingBox")),
        )
        (lines if found.get("Type") == "LINE" else words).append(detection)
    return [*lines, *words]


def best_match(resp: Mapping[str, Any]) -> tuple[str, str] | None:
    """SearchFacesByImage -> (name, face id) of the most similar face, if any.

    The name is the ``ExternalImageId`` the face was indexed with (the face id when absent).
    """
    matches = sorted(resp.get("FaceMatches", []), key=lambda m: -float(m.get("Similarity", 0)))
    for match in matches:
        face = match.get("Face", {})
        face_id = face.get("FaceId")
        if face_id:
            return str(face.get("ExternalImageId") or face_id), str(face_id)
    return None


# ------------------------------------------------------------------------------ helpers


def _translate(operation: str, err: Exception) -> Exception:
    """An AWS error as the consumer's policy sees it."""
    if isinstance(err, ClientError):
        error = err.response.get("Error", {})
        code = str(error.get("Code", ""))
        if code in _THROTTLED or is_transient_aws_error(err):
            return RetryableError(f"rekognition:{operation} throttled or failing ({code})")
        return RecognitionError(
            f"rekognition:{operation} refused the request: {code}: {error.get('Message', '')}"
        )
    if isinstance(err, NoCredentialsError | PartialCredentialsError):
        # Retrying cannot conjure credentials: the stage fails and says what is missing.
        return BackendUnavailableError(
            f"rekognition:{operation} cannot be called: no AWS credentials ({err})"
        )
    if is_transient_aws_error(err):
        return RetryableError(f"rekognition:{operation} failed: {err}")
    return err


def _name_celebrities(faces: list[Face], celebrities: Sequence[Face]) -> list[Face]:
    out = list(faces)
    for celebrity in celebrities:
        index = _same_face(out, celebrity.box)
        if index is None:
            out.append(celebrity)
        else:
            out[index] = out[index].model_copy(
                update={"name": celebrity.name, "match_id": celebrity.match_id}
            )
    return out


def _same_face(faces: Sequence[Face], box: Box) -> int | None:
    best, best_iou = None, _SAME_FACE_IOU
    for index, face in enumerate(faces):
        iou = overlap(face.box, box)
        if iou >= best_iou:
            best, best_iou = index, iou
    return best


def _crops(data: bytes, boxes: Sequence[Box]) -> list[bytes]:
    """JPEG crops of each box with a margin (blocking: run in a worker thread)."""
    if not boxes:
        return []
    image = decode_image(data)
    h, w = image.shape[:2]
    out: list[bytes] = []
    for box in boxes:
        mx, my = box.width * _CROP_MARGIN, box.height * _CROP_MARGIN
        x0 = max(0, int((box.left - mx) * w))
        y0 = max(0, int((box.top - my) * h))
        x1 = min(w, int((box.left + box.width + mx) * w) + 1)
        y1 = min(h, int((box.top + box.height + my) * h) + 1)
        crop = image[y0:y1, x0:x1]
        if crop.shape[0] < 80 or crop.shape[1] < 80:
            # Rekognition needs faces of some 40+ px; enlarge tiny crops rather than skip them.
            factor = 80 / min(crop.shape[0], crop.shape[1])
            crop = np.asarray(
                cv2.resize(crop, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC),
                np.uint8,
            )
        out.append(encode_jpeg(crop))
    return out


async def _nothing(kind: type[T]) -> list[T]:
    """No call: the feature is off (``kind`` only types the empty list)."""
    return []
