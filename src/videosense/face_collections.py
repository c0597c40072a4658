"""Face collections users manage: who the recognizer's face search can name.

Two kinds, matching the recognizer's two backends (and read from the same settings):

- :class:`LocalGallery`: the directory ``VIDEOSENSE_RECOGNIZER_FACE_GALLERY`` that the local
  backend embeds, one sub-directory of photos per person; its layout (and the photo ids, the
  same ``match_id`` the recognizer reports when it names a face) belongs to
  :mod:`videosense_shared.vision.gallery`;
- :class:`RekognitionCollection`: an Amazon Rekognition face collection, the person's name
  stored as each face's ``ExternalImageId`` (what the recognizer reports as the face's name).

Names follow Rekognition's ``ExternalImageId`` rule (letters, digits, ``_ . - :``) for both, so a
person indexed in one kind of collection can be indexed in the other under the same name.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from botocore.exceptions import ClientError

from recognizer.backend import RecognitionError
from recognizer.images import Bgr, fit_bytes
from videosense_shared.vision.gallery import PHOTO_SUFFIXES, GalleryDirectory

if TYPE_CHECKING:
    from types_aiobotocore_rekognition import RekognitionClient

_NAME = re.compile(r"[A-Za-z0-9_.\-:]{1,255}")
_DELETE_BATCH = 4096  # DeleteFaces' FaceIds limit


class FacesError(Exception):
    """A face collection operation failed; the message says why, for the user."""


def check_name(name: str) -> str:
    """The name, if usable as a person's name in both kinds of collection.

    Raises:
        ValueError: empty, too long, a character Rekognition's ExternalImageId refuses, or a
            name that is not a plain directory name (``.``, ``..``, a leading dot).
    """
    if not _NAME.fullmatch(name) or name.startswith("."):
        raise ValueError(
            f"invalid name {name!r}: use 1-255 letters, digits, '_', '-', '.', ':' "
            "(not starting with '.'), e.g. 'Jane_Doe'"
        )
    return name


@dataclass(frozen=True)
class IndexedFace:
    """A face added to a collection from one image."""

    name: str
    image: str
    face_id: str
    new: bool = True


@dataclass(frozen=True)
class Person:
    """A name in a collection and the ids of its faces."""

    name: str
    face_ids: tuple[str, ...]


def _decode(data: bytes) -> Bgr | None:
    buffer = np.frombuffer(data, np.uint8)
    image = cv2.imdecode(buffer, cv2.IMREAD_COLOR) if buffer.size else None
    return None if image is None else np.asarray(image, np.uint8)


class LocalGallery:
    """The local backend's face gallery directory (created on the first index)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._gallery = GalleryDirectory(root)

    def index(self, name: str, images: Sequence[Path]) -> list[IndexedFace]:
        """Copy each photo to ``<gallery>/<name>/``; the same photo again is not duplicated.

        Every image is checked before any is copied, so a bad one leaves the gallery unchanged.

        Raises:
            ValueError: an invalid name.
            FacesError: an image cannot be read or is not a picture OpenCV decodes.
        """
        check_name(name)
        loaded: list[tuple[Path, bytes, Bgr]] = []
        for image in images:
            try:
                data = image.read_bytes()
            except OSError as err:
                raise FacesError(f"cannot read {image}: {err.strerror or err}") from err
            pixels = _decode(data)
            if pixels is None:
                raise FacesError(f"{image} is not a readable image")
            loaded.append((image, data, pixels))
        indexed: list[IndexedFace] = []
        for image, data, pixels in loaded:
            suffix = image.suffix.lower()
            if suffix not in PHOTO_SUFFIXES:
                # Anything else OpenCV decodes is stored as PNG, which the recognizer reads.
                ok, png = cv2.imencode(".png", pixels)
                if not ok:
                    raise FacesError(f"cannot convert {image} to PNG")
                data, suffix = png.tobytes(), ".png"
            face_id, new = self._gallery.add(name, image.stem, data, suffix)
            indexed.append(IndexedFace(name, str(image), face_id, new))
        return indexed

    def people(self) -> list[Person]:
        """Every name and its photos (``<name>/<photo>`` and top-level ``<name>.<ext>``).

        Raises:
            FacesError: the gallery directory does not exist.
        """
        if not self._gallery.exists():
            raise FacesError(f"the face gallery {self.root} does not exist")
        photos: dict[str, list[str]] = {}
        for photo in self._gallery.photos():
            photos.setdefault(photo.name, []).append(photo.photo_id)
        return [Person(name, tuple(ids)) for name, ids in sorted(photos.items())]

    def delete_name(self, name: str) -> list[str]:
        """Remove a person (their directory and any top-level ``<name>.<ext>`` photo).

        Returns the ids of the photos removed.

        Raises:
            ValueError: an invalid name.
            FacesError: no such name in the gallery.
        """
        check_name(name)
        if not self._gallery.exists():
            raise FacesError(f"the face gallery {self.root} does not exist")
        removed = self._gallery.remove_person(name)
        if not removed:
            raise FacesError(f"no one named {name!r} in the face gallery {self.root}")
        return removed

    def delete_face(self, face_id: str) -> str:
        """Remove one photo by its id (its path inside the gallery, as ``faces list`` shows).

        Raises:
            FacesError: no such photo in the gallery.
        """
        if not self._gallery.exists():
            raise FacesError(f"the face gallery {self.root} does not exist")
        if not self._gallery.remove_photo(face_id):
            raise FacesError(f"no face {face_id!r} in the face gallery {self.root}")
        return face_id


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def _message(operation: str, err: ClientError) -> str:
    error = err.response.get("Error", {})
    return f"Rekognition {operation} failed: {error.get('Code')}: {error.get('Message')}"


class RekognitionCollection:
    """An Amazon Rekognition face collection. The client is injected."""

    def __init__(self, client: RekognitionClient, collection: str, *, max_image_bytes: int) -> None:
        self._client = client
        self.collection = collection
        self._max_bytes = max_image_bytes

    async def index(self, name: str, images: Sequence[tuple[str, bytes]]) -> list[IndexedFace]:
        """Index the largest face of each image under ``name`` (creating the collection if
        missing). Images over the API's size limit are shrunk first.

        Raises:
            ValueError: an invalid name.
            FacesError: an image is not a picture, holds no indexable face, or Rekognition
                refused a call.
        """
        check_name(name)
        prepared: list[tuple[str, bytes]] = []
        for label, data in images:
            try:
                prepared.append((label, fit_bytes(data, self._max_bytes)))
            except RecognitionError as err:
                raise FacesError(f"{label}: {err.reason}") from err
        indexed: list[IndexedFace] = []
        for label, data in prepared:
            resp = await self._index_one(name, data)
            records = resp.get("FaceRecords", [])
            if not records:
                reasons = sorted(
                    {r for face in resp.get("UnindexedFaces", []) for r in face.get("Reasons", [])}
                )
                why = f" (rejected: {', '.join(reasons)})" if reasons else " (no face detected)"
                raise FacesError(f"{label}: no face was indexed{why}")
            indexed.extend(IndexedFace(name, label, r["Face"]["FaceId"]) for r in records)
        return indexed

    async def _index_one(self, name: str, data: bytes) -> dict[str, Any]:
        async def call() -> dict[str, Any]:
            resp = await self._client.index_faces(
                CollectionId=self.collection,
                Image={"Bytes": data},
                ExternalImageId=name,
                MaxFaces=1,  # one person per photo: the largest face
                QualityFilter="AUTO",
                DetectionAttributes=["DEFAULT"],
            )
            return dict(resp)

        try:
            return await call()
        except ClientError as err:
            if _code(err) != "ResourceNotFoundException":
                raise FacesError(_message("IndexFaces", err)) from err
        await self._create()
        try:
            return await call()
        except ClientError as err:
            raise FacesError(_message("IndexFaces", err)) from err

    async def _create(self) -> None:
        try:
            await self._client.create_collection(CollectionId=self.collection)
        except ClientError as err:
            if _code(err) != "ResourceAlreadyExistsException":  # created meanwhile: fine
                raise FacesError(_message("CreateCollection", err)) from err

    async def people(self) -> list[Person]:
        """Every name (``ExternalImageId``; faces indexed without one under their face id).

        Raises:
            FacesError: no such collection, or Rekognition refused a call.
        """
        faces: dict[str, list[str]] = {}
        paginator = self._client.get_paginator("list_faces")
        try:
            async for page in paginator.paginate(
                CollectionId=self.collection, PaginationConfig={"PageSize": 4096}
            ):
                for face in page.get("Faces", []):
                    face_id = face["FaceId"]
                    faces.setdefault(face.get("ExternalImageId") or face_id, []).append(face_id)
        except ClientError as err:
            if _code(err) == "ResourceNotFoundException":
                raise FacesError(f"no Rekognition collection {self.collection!r}") from err
            raise FacesError(_message("ListFaces", err)) from err
        return [Person(name, tuple(ids)) for name, ids in sorted(faces.items())]

    async def delete_name(self, name: str) -> list[str]:
        """Delete every face indexed under ``name``; returns their ids.

        Raises:
            ValueError: an invalid name.
            FacesError: no such collection or name, or a face was not deleted.
        """
        check_name(name)
        ids = next((p.face_ids for p in await self.people() if p.name == name), ())
        if not ids:
            raise FacesError(f"no one named {name!r} in the collection {self.collection!r}")
        deleted: list[str] = []
        for start in range(0, len(ids), _DELETE_BATCH):
            deleted.extend(await self._delete(list(ids[start : start + _DELETE_BATCH])))
        return deleted

    async def delete_face(self, face_id: str) -> str:
        """Delete one face by id.

        Raises:
            FacesError: no such collection or face, or Rekognition refused the call.
        """
        return (await self._delete([face_id]))[0]

    async def _delete(self, face_ids: list[str]) -> list[str]:
        try:
            resp = await self._client.delete_faces(CollectionId=self.collection, FaceIds=face_ids)
        except ClientError as err:
            if _code(err) == "ResourceNotFoundException":
                raise FacesError(f"no Rekognition collection {self.collection!r}") from err
            raise FacesError(_message("DeleteFaces", err)) from err
        deleted = list(resp.get("DeletedFaces", []))
        failed = [
            f"{f.get('FaceId')}: {', '.join(f.get('Reasons', []))}"
            for f in resp.get("UnsuccessfulFaceDeletions", [])
        ]
        missing = [i for i in face_ids if i not in deleted]
        if failed or missing:
            detail = "; ".join(failed) or f"not in the collection: {', '.join(missing)}"
            raise FacesError(f"faces not deleted from {self.collection!r}: {detail}")
        return deleted
