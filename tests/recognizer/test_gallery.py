"""The face gallery's directory layout: what ``videosense faces`` writes is what the recognizer
reads, on a real temporary directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from videosense_shared.vision.gallery import GalleryDirectory, GalleryPhoto


def test_the_layout_round_trips(tmp_path: Path) -> None:
    # GIVEN a gallery that does not exist yet
    gallery = GalleryDirectory(tmp_path / "gallery")
    assert not gallery.exists()
    assert gallery.photos() == []
    # WHEN two photos of one person are added, one twice, and a top-level photo is dropped in
    first, new = gallery.add("Jane_Doe", "portrait", b"one", ".jpg")
    again, new_again = gallery.add("Jane_Doe", "portrait", b"one", ".jpg")
    second, _ = gallery.add("Jane_Doe", "profile", b"two", ".png")
    (gallery.root / "John.webp").write_bytes(b"three")
    (gallery.root / "notes.txt").write_text("not a photo")
    (gallery.root / "Jane_Doe" / "half.jpg.part").write_bytes(b"half")
    # THEN the same content is stored once, ids are paths inside the gallery, and the reader
    # sees exactly the photos with the person each belongs to
    assert (new, new_again, again) == (True, False, first)
    assert first.startswith("Jane_Doe/portrait-")
    assert first.endswith(".jpg")
    assert gallery.photos() == [
        GalleryPhoto("Jane_Doe", first, gallery.root / first),
        GalleryPhoto("Jane_Doe", second, gallery.root / second),
        GalleryPhoto("John", "John.webp", gallery.root / "John.webp"),
    ]


def test_removing_a_person_or_a_photo(tmp_path: Path) -> None:
    # GIVEN a gallery of two people
    gallery = GalleryDirectory(tmp_path)
    jane, _ = gallery.add("Jane", "a", b"1", ".jpg")
    john, _ = gallery.add("John", "b", b"2", ".jpg")
    # WHEN one person and the other's only photo are removed
    removed = gallery.remove_person("Jane")
    # THEN their ids are reported, and the emptied person directory goes too
    assert removed == [jane]
    assert gallery.remove_photo(john) is True
    assert gallery.photos() == []
    assert list(tmp_path.iterdir()) == []
    # AND removing what is not there says so
    assert gallery.remove_person("Jane") == []
    assert gallery.remove_photo(john) is False


@pytest.mark.parametrize("name", ["..", "a/b", "", "a\\b"])
def test_a_person_is_never_a_path_out_of_the_gallery(tmp_path: Path, name: str) -> None:
    gallery = GalleryDirectory(tmp_path / "gallery")
    with pytest.raises(ValueError, match="plain directory name"):
        gallery.add(name, "x", b"1", ".jpg")
    with pytest.raises(ValueError, match="plain directory name"):
        gallery.remove_person(name)
    assert not (tmp_path / "gallery").exists()


def test_only_photo_suffixes_are_stored(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="photo suffixes"):
        GalleryDirectory(tmp_path).add("Jane", "x", b"1", ".gif")
