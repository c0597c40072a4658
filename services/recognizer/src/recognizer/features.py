"""The recognition features a deployment can switch on, and how a comma list names them."""

from __future__ import annotations

from enum import StrEnum


class Feature(StrEnum):
    """One kind of finding. ``RecognitionReady.features`` lists the ones that ran.

    ``people`` is the local backend's person detector (HOG): it yields ``Person`` labels without
    being a general label model, so a document can tell "no labels looked for" from "nobody in
    the frame".
    """

    LABELS = "labels"
    PEOPLE = "people"
    FACES = "faces"
    CELEBRITIES = "celebrities"
    TEXT = "text"
    FACE_SEARCH = "face_search"


def parse_features(value: str) -> tuple[Feature, ...]:
    """Parse a comma list of feature names (order kept, duplicates dropped, case ignored).

    Raises:
        ValueError: an unknown name.
    """
    seen: list[Feature] = []
    for raw in value.split(","):
        name = raw.strip().lower().replace("-", "_")
        if not name:
            continue
        try:
            feature = Feature(name)
        except ValueError:
            known = ", ".join(f.value for f in Feature)
            raise ValueError(f"unknown recognition feature {name!r} (known: {known})") from None
        if feature not in seen:
            seen.append(feature)
    return tuple(seen)
