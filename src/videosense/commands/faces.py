"""``videosense faces index|list|delete``: manage the collection the recognizer searches.

The backend and its collection come from the recognizer's own settings
(``VIDEOSENSE_RECOGNIZER_BACKEND``, ``..._COLLECTION``, ``..._FACE_GALLERY``), so what this
command manages is what the recognizer service uses.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError
from pydantic import ValidationError

from recognizer.settings import RecognizerSettings
from videosense.commands import EXIT_FAILED, EXIT_OK, EXIT_USAGE, error
from videosense.commands.endpoint import point_at
from videosense.face_collections import (
    FacesError,
    IndexedFace,
    LocalGallery,
    Person,
    RekognitionCollection,
    check_name,
)
from videosense_shared.aws import AwsClients


class _UsageError(Exception):
    """Bad input or configuration for this command: exit code 2."""


def add_parser(sub: Any) -> None:
    """Add ``faces`` and its actions to the sub-command parsers."""
    faces = sub.add_parser(
        "faces",
        help="manage the face collection the recognizer's face search uses",
        description=(
            "With VIDEOSENSE_RECOGNIZER_BACKEND=rekognition: a Rekognition collection "
            "(--collection or VIDEOSENSE_RECOGNIZER_COLLECTION). With the local backend: the "
            "gallery directory VIDEOSENSE_RECOGNIZER_FACE_GALLERY (<name>/<photo>; default "
            "~/.local/share/videosense/faces), searched with dlib's packaged face models."
        ),
    )
    actions = faces.add_subparsers(dest="faces_command", required=True)

    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--collection", help="Rekognition collection id (default: the recognizer's)"
        )
        parser.add_argument("--json", action="store_true", help="print the result as JSON")
        parser.add_argument("--endpoint", help="AWS endpoint (AWS_ENDPOINT_URL)")

    index = actions.add_parser("index", help="add photos of a person")
    common(index)
    index.add_argument("--name", required=True, help="the person's name, e.g. Jane_Doe")
    index.add_argument("images", nargs="+", type=Path, metavar="IMAGE", help="photo files")

    listing = actions.add_parser("list", help="the names in the collection and their faces")
    common(listing)

    delete = actions.add_parser("delete", help="remove a person or one face")
    common(delete)
    which = delete.add_mutually_exclusive_group(required=True)
    which.add_argument("--name", help="remove every face of this person")
    which.add_argument("--face-id", help="remove this face (an id `faces list` shows)")


def run(args: argparse.Namespace) -> int:
    """Run ``videosense faces ...``; returns the exit code."""
    try:
        settings = RecognizerSettings()
        if args.faces_command in ("index", "delete") and args.name is not None:
            check_name(args.name)
        if args.faces_command == "index":
            for image in args.images:
                if not image.is_file():
                    raise _UsageError(f"no such file: {image}")
        if settings.backend == "local":
            result = _local(args, settings)
        else:
            point_at(args.endpoint)
            result = asyncio.run(_rekognition(args, settings))
    except (_UsageError, ValueError, ValidationError) as err:
        error(str(err))
        return EXIT_USAGE
    except (FacesError, BotoCoreError, OSError) as err:
        error(str(err))
        return EXIT_FAILED
    _print(args, result)
    return EXIT_OK


Result = list[IndexedFace] | list[Person] | list[str]


def _local(args: argparse.Namespace, settings: RecognizerSettings) -> Result:
    if args.collection:
        # Not an error: scripts can pass the same arguments whichever backend is configured.
        print(
            f"videosense: the local backend has one collection, {settings.face_gallery}; "
            f"--collection {args.collection} is not used",
            file=sys.stderr,
        )
    gallery = LocalGallery(settings.face_gallery)
    if args.faces_command == "index":
        return gallery.index(args.name, args.images)
    if args.faces_command == "list":
        return gallery.people()
    if args.name is not None:
        return gallery.delete_name(args.name)
    return [gallery.delete_face(args.face_id)]


async def _rekognition(args: argparse.Namespace, settings: RecognizerSettings) -> Result:
    collection = args.collection or settings.collection
    if not collection:
        raise _UsageError("--collection is required (or set VIDEOSENSE_RECOGNIZER_COLLECTION)")
    images = [(str(path), path.read_bytes()) for path in getattr(args, "images", None) or []]
    async with AwsClients(settings.common.region) as aws:
        client = await aws.rekognition()
        faces = RekognitionCollection(client, collection, max_image_bytes=settings.max_image_bytes)
        if args.faces_command == "index":
            return await faces.index(args.name, images)
        if args.faces_command == "list":
            return await faces.people()
        if args.name is not None:
            return await faces.delete_name(args.name)
        return [await faces.delete_face(args.face_id)]


def _print(args: argparse.Namespace, result: Result) -> None:
    if args.faces_command == "index":
        indexed = [r for r in result if isinstance(r, IndexedFace)]
        if args.json:
            print(json.dumps([vars(r) for r in indexed], indent=2))
            return
        for face in indexed:
            note = "" if face.new else "  (already indexed)"
            print(f"{face.name}  {face.face_id}  from {face.image}{note}")
    elif args.faces_command == "list":
        people = [r for r in result if isinstance(r, Person)]
        if args.json:
            print(json.dumps([{"name": p.name, "face_ids": list(p.face_ids)} for p in people]))
            return
        for person in people:
            print(f"{person.name}  {len(person.face_ids)} face(s)")
            for face_id in person.face_ids:
                print(f"  {face_id}")
        if not people:
            print("videosense: the collection is empty", file=sys.stderr)
    else:
        deleted = [r for r in result if isinstance(r, str)]
        if args.json:
            print(json.dumps({"deleted": deleted}))
            return
        for face_id in deleted:
            print(f"deleted {face_id}")
