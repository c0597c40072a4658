"""On-screen text with Tesseract (the ``tesseract`` OCR option; RapidOCR is the default, see
:mod:`recognizer.rapid_ocr`): the CLI's TSV output turned into text lines with boxes.

The CLI (Debian's ``tesseract-ocr``) is called directly rather than through a wrapper library:
TSV is its stable, documented output and a subprocess keeps Tesseract's own threads and memory
out of our process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass

import cv2

from recognizer.backend import RecognitionError
from recognizer.images import Bgr
from videosense_shared.backends import BackendUnavailableError
from videosense_shared.messages import TextDetection
from videosense_shared.vision.boxes import pixel_box

# Tesseract reads glyphs best at 20-40 px cap height; video frames often carry smaller text, so
# frames below this height are enlarged before OCR (boxes are scaled back).
_MIN_OCR_HEIGHT = 960
_MAX_UPSCALE = 3.0
_WORD_LEVEL = "5"


@dataclass(frozen=True)
class OcrWord:
    """One word from Tesseract's TSV, in pixels of the image it read."""

    text: str
    confidence: float
    left: int
    top: int
    width: int
    height: int
    line: tuple[int, int, int, int]  # page, block, paragraph, line


def parse_tsv(tsv: str) -> list[OcrWord]:
    """Words (level 5 rows with text and a confidence) from Tesseract's TSV output.

    Raises:
        RecognitionError: the output does not have Tesseract's TSV header.
    """
    rows = tsv.splitlines()
    if not rows:
        return []
    header = rows[0].split("\t")
    try:
        col = {name: header.index(name) for name in _COLUMNS}
    except ValueError:
        raise RecognitionError(f"tesseract printed no TSV header: {rows[0][:80]!r}") from None
    words: list[OcrWord] = []
    for row in rows[1:]:
        cells = row.split("\t")
        if len(cells) < len(header) or cells[col["level"]] != _WORD_LEVEL:
            continue
        text = cells[col["text"]].strip()
        confidence = float(cells[col["conf"]])
        if not text or confidence < 0:
            continue
        words.append(
            OcrWord(
                text=text,
                confidence=min(100.0, confidence),
                left=int(cells[col["left"]]),
                top=int(cells[col["top"]]),
                width=int(cells[col["width"]]),
                height=int(cells[col["height"]]),
                line=(
                    int(cells[col["page_num"]]),
                    int(cells[col["block_num"]]),
                    int(cells[col["par_num"]]),
                    int(cells[col["line_num"]]),
                ),
            )
        )
    return words


_LINE_KEYS = ("page_num", "block_num", "par_num", "line_num")
_COLUMNS = ("level", *_LINE_KEYS, "left", "top", "width", "height", "conf", "text")


def detections(
    words: Iterable[OcrWord], image_w: int, image_h: int, min_confidence: float
) -> list[TextDetection]:
    """One detection per text line, made of the line's confident words.

    Words without a letter or digit are dropped: on textured backgrounds Tesseract reads
    edges as confident punctuation (``\\``, ``|``), which is never what a user searches for.

    A line's text joins its confident words; its confidence is theirs averaged and its box
    covers them. Boxes are relative to an ``image_w`` x ``image_h`` image. Words are not
    repeated as entries of their own: search matches words inside lines.
    """
    kept = [
        w for w in words if w.confidence >= min_confidence and any(ch.isalnum() for ch in w.text)
    ]
    lines: dict[tuple[int, int, int, int], list[OcrWord]] = {}
    for word in kept:
        lines.setdefault(word.line, []).append(word)
    out: list[TextDetection] = []
    for members in lines.values():
        x0 = min(w.left for w in members)
        y0 = min(w.top for w in members)
        x1 = max(w.left + w.width for w in members)
        y1 = max(w.top + w.height for w in members)
        out.append(
            TextDetection(
                text=" ".join(w.text for w in members),
                confidence=sum(w.confidence for w in members) / len(members),
                box=pixel_box(x0, y0, x1 - x0, y1 - y0, image_w, image_h),
            )
        )
    return out


def _single_threaded() -> dict[str, str]:
    # Tesseract's OpenMP threads only oversubscribe the CPU when several keyframes are read at
    # once (the recognizer's own parallelism); one thread each is faster overall.
    return {**os.environ, "OMP_THREAD_LIMIT": "1"}


class TesseractOcr:
    """Runs the Tesseract CLI on images.

    Args:
        command: the executable (name on ``PATH`` or a path).
        languages: Tesseract language codes joined with ``+``.
        timeout_s: time limit per image.
    """

    def __init__(self, command: str, languages: str, timeout_s: float) -> None:
        self._command = command
        self._languages = languages
        self._timeout_s = timeout_s

    def check(self) -> None:
        """Make sure the executable and the language data are there.

        Raises:
            BackendUnavailableError: Tesseract is not installed, or a language is missing.
        """
        path = shutil.which(self._command)
        if path is None:
            raise BackendUnavailableError(
                f"text recognition needs Tesseract: {self._command!r} was not found "
                "(install tesseract-ocr or set VIDEOSENSE_RECOGNIZER_TESSERACT_CMD)"
            )
        try:
            listed = subprocess.run(
                [path, "--list-langs"], capture_output=True, text=True, timeout=30, check=True
            )
        except (OSError, subprocess.SubprocessError) as err:
            raise BackendUnavailableError(f"tesseract does not run: {err}") from err
        have = {line.strip() for line in (listed.stdout + listed.stderr).splitlines()}
        missing = [lang for lang in self._languages.split("+") if lang not in have]
        if missing:
            raise BackendUnavailableError(
                f"tesseract has no data for language(s) {', '.join(missing)} "
                f"(install tesseract-ocr-{missing[0]})"
            )

    def read(self, image: Bgr, min_confidence: float) -> list[TextDetection]:
        """Lines of text in a BGR image (blocking: run it in a worker thread).

        Raises:
            RecognitionError: Tesseract failed or timed out on this image.
        """
        h = image.shape[0]
        scale = min(_MAX_UPSCALE, _MIN_OCR_HEIGHT / h) if h < _MIN_OCR_HEIGHT else 1.0
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        if scale > 1.0:
            gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        ok, png = cv2.imencode(".png", gray)
        if not ok:
            raise RecognitionError("could not encode the image for tesseract")
        try:
            done = subprocess.run(
                [self._command, "stdin", "stdout", "-l", self._languages, "--psm", "11", "tsv"],
                input=png.tobytes(),
                capture_output=True,
                env=_single_threaded(),
                timeout=self._timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired as err:
            raise RecognitionError(f"tesseract took longer than {self._timeout_s:g} s") from err
        except OSError as err:
            raise RecognitionError(f"tesseract could not start: {err}") from err
        if done.returncode != 0:
            detail = done.stderr.decode(errors="replace").strip()[-300:]
            raise RecognitionError(f"tesseract failed (exit {done.returncode}): {detail}")
        words = parse_tsv(done.stdout.decode("utf-8", errors="replace"))
        scaled_w, scaled_h = gray.shape[1], gray.shape[0]
        return detections(words, scaled_w, scaled_h, min_confidence)
