"""The local face gallery's directory layout, written and read in this one place.

The gallery is the directory ``VIDEOSENSE_RECOGNIZER_FACE_GALLERY``; the local backend's face
search reads it (:mod:`videosense_shared.vision.face_search`; the redactor's
``only:``/``except:`` policies read it too) and ``videosense faces`` writes it. A person
is a sub-directory of photos, ``<gallery>/<name>/<photo>``, or a single top-level photo,
``<gallery>/<name>.<ext>``. A photo's id is its path inside the gallery (``Jane_Doe/a.jpg``):
the ``match_id`` the recognizer reports when it names a face, stable across runs. Only
:data:`PHOTO_SUFFIXES` count as photos; anything else in the directory is ignored.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

#: What counts as a photo in the gallery (what OpenCV reads; other formats are stored as PNG).
PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})


def default_gallery_root() -> Path:
    """``$XDG_DATA_HOME/videosense/faces`` (``~/.local/share/videosense/faces`` by default)."""
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "videosense" / "faces"


@dataclass(frozen=True)
class GalleryPhoto:
    """One photo of the gallery: whose face it shows, its id, where it is."""

    name: str
    photo_id: str
    path: Path


def _check_person(name: str) -> None:
    # A person is one directory right under the gallery: never a path that leaves it.
    if name in ("", ".", "..") or Path(name).name != name or "\\" in name:
        raise ValueError(f"{name!r} is not a plain directory name")


class GalleryDirectory:
    """A face gallery directory (created by the first :meth:`add`)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def exists(self) -> bool:
        """True if the gallery directory exists."""
        return self.root.is_dir()

    def photos(self) -> list[GalleryPhoto]:
        """Every photo, sorted by id (empty when the directory does not exist)."""
        if not self.exists():
            return []
        photos: list[GalleryPhoto] = []
        for path in sorted(self.root.rglob("*")):
            if not path.is_file() or path.suffix.lower() not in PHOTO_SUFFIXES:
                continue
            relative = path.relative_to(self.root)
            name = relative.parts[0] if len(relative.parts) > 1 else path.stem
            photos.append(GalleryPhoto(name, relative.as_posix(), path))
        return photos

    def add(self, name: str, stem: str, data: bytes, suffix: str) -> tuple[str, bool]:
        """Store one photo of ``name`` (``suffix``: one of :data:`PHOTO_SUFFIXES`); return its
        id and whether it is new.

        The file is named by content (``<stem>-<digest><suffix>``), so the same photo added
        twice is stored once, and written whole under another name first, so a recognizer
        loading the gallery meanwhile never reads half a photo.

        Raises:
            ValueError: ``name`` is not a plain directory name, or ``suffix`` is not a photo
                suffix.
            OSError: the directory or the file cannot be written.
        """
        _check_person(name)
        if suffix not in PHOTO_SUFFIXES:
            raise ValueError(f"{suffix!r} is not one of the gallery's photo suffixes")
        person = self.root / name
        person.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(data).hexdigest()[:12]
        target = person / f"{stem}-{digest}{suffix}"
        new = not target.exists()
        if new:
            partial = target.with_name(target.name + ".part")
            partial.write_bytes(data)
            partial.replace(target)
        return target.relative_to(self.root).as_posix(), new

    def remove_person(self, name: str) -> list[str]:
        """Remove every photo of ``name`` (their directory and a top-level ``<name>.<ext>``);
        return the ids removed (empty: no such person).

        Raises:
            ValueError: ``name`` is not a plain directory name.
        """
        _check_person(name)
        ids = [photo.photo_id for photo in self.photos() if photo.name == name]
        if ids:
            shutil.rmtree(self.root / name, ignore_errors=True)
            for photo_id in ids:
                (self.root / photo_id).unlink(missing_ok=True)
        return ids

    def remove_photo(self, photo_id: str) -> bool:
        """Remove one photo by id (and its person's directory once empty); False if the gallery
        has no such photo."""
        found = next((p for p in self.photos() if p.photo_id == photo_id), None)
        if found is None:
            return False
        found.path.unlink()
        if found.path.parent != self.root and not any(found.path.parent.iterdir()):
            found.path.parent.rmdir()
        return True
