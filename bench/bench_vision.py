"""Benchmark the local recognizer's faces and on-screen text against other projects' truth.

Reads ``--media`` (default ``../shared/media`` from the repository root: other projects' test
images with their truth in ``MANIFEST.json`` and ``truth/``, never copied into this
repository) and prints five tables:

1. **Face detection**: every box the face_recognition project's tests assert (``face_locations``
   in the manifest, ``(top, right, bottom, left)`` pixels) must be found with IoU >= 0.5, and
   each photo must have its asserted number of faces; dlib's HOG detector (the default) and
   OpenCV's Haar cascade (the option).
2. **Face search**: a gallery made with the same code as ``videosense faces index`` holding
   ``facerec_obama.jpg`` as Barack_Obama and ``facerec_biden.jpg`` as Joe_Biden; Obama's other
   photos must be named Barack_Obama, and Biden never. The embedding distance to the Obama
   photo is printed (dlib's threshold: 0.6).
3. **No faces on test patterns**: frames 0, 40 and 80 of ffmpeg's testsrc, testsrc2,
   smptebars, mandelbrot, cellauto, rgbtestsrc and life at 1280x720.
4. **On-screen text**: character accuracy (1 - edit distance / truth length, whitespace
   collapsed) of RapidOCR (the default) and Tesseract (the option) at the recognizer's default
   confidence floor (80), with seconds per image.

5. **Labels** (the packaged EfficientNet-Lite0 ImageNet classifier): top-1 and top-5 accuracy on
   photos whose subject has an ImageNet class (scikit-image's coffee, camera, chelsea,
   motorcycle, rocket and clock photos, the face_recognition photos of men in suits, OpenCV's
   Messi photo; the accepted classes are listed in ``LABELLED``, chosen here by what the photo
   shows, not anyone's published truth), how many get a label at or above the default threshold,
   and that photos with no fitting class and ffmpeg's test patterns get none.

Everything runs through the recognizer's own classes (``LocalBackend`` for search and text).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from skimage import data as skimage_data

from recognizer.detectors import FaceDetector
from recognizer.features import Feature
from recognizer.images import Bgr
from recognizer.local_backend import LocalBackend
from recognizer.packaged_labels import PackagedLabels
from recognizer.settings import RecognizerSettings
from videosense_shared.vision.face_search import FaceFinder, FaceGallery
from videosense_shared.vision.faces import FaceEmbedder, HogFaceDetector
from videosense_shared.vision.gallery import GalleryDirectory

ROOT = Path(__file__).resolve().parents[1]
PATTERNS = ("testsrc", "testsrc2", "smptebars", "mandelbrot", "cellauto", "rgbtestsrc", "life")
PATTERN_FRAMES = (0, 40, 80)
MIN_IOU = 0.5
MIN_CONFIDENCE = 80.0
GALLERY = {"Barack_Obama": "faces/facerec_obama.jpg", "Joe_Biden": "faces/facerec_biden.jpg"}
SEARCHED = {
    "faces/facerec_obama2.jpg": {"Barack_Obama"},
    "faces/facerec_obama3.jpg": {"Barack_Obama"},
    "faces/facerec_obama_partial_face.jpg": {"Barack_Obama"},
    "faces/facerec_two_people.jpg": {"Barack_Obama", "Joe_Biden"},
}
# The EasyOCR unit test's crop (PIL left, upper, right, lower) and what it asserts there.
EASYOCR_CROP = ((540, 420, 690, 470), "World Health")


def _read(path: Path) -> Bgr:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise SystemExit(f"cannot read {path}")
    return np.asarray(image, np.uint8)


def _iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """IoU of two (x0, y0, x1, y1) boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for n, row in enumerate(cells):
        print("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            print("  " + "  ".join("-" * w for w in widths))


# --- 1. face detection -----------------------------------------------------------------------


def _truth_boxes(truth: dict[str, Any]) -> list[tuple[str, list[int]]]:
    return [(key, box) for key, boxes in truth.items() if "face_locations" in key for box in boxes]


def face_detection(media: Path, items: list[dict[str, Any]]) -> bool:
    print("\n1. Face detection: boxes asserted by face_recognition's tests (IoU >= 0.5)")
    detectors: dict[str, FaceFinder] = {"hog": HogFaceDetector(), "haar": FaceDetector()}
    rows: list[list[object]] = []
    ok = True
    for item in items:
        truth = item["truth"]
        image = _read(media / item["path"])
        h, w = image.shape[:2]
        for name, detector in detectors.items():
            start = time.perf_counter()
            faces = detector.detect(image, MIN_CONFIDENCE)
            took = time.perf_counter() - start
            found = [
                (f.box.left * w, f.box.top * h, (f.box.left + f.box.width) * w,
                 (f.box.top + f.box.height) * h)
                for f in faces
            ]  # fmt: skip
            ious = []
            for _key, (top, right, bottom, left) in _truth_boxes(truth):
                # The truth may stick out of the image (a face cut by its edge): clip it as
                # the document's boxes are clipped.
                box = (max(0, left), max(0, top), min(w, right), min(h, bottom))
                ious.append(max((_iou(box, f) for f in found), default=0.0))
            count = truth.get("face_count")
            boxes_ok = all(i >= MIN_IOU for i in ious)
            count_ok = count is None or len(faces) == count
            if name == "hog":
                ok = ok and boxes_ok and count_ok
            rows.append(
                [
                    Path(item["path"]).name,
                    name,
                    f"{sum(i >= MIN_IOU for i in ious)}/{len(ious)}" if ious else "-",
                    " ".join(f"{i:.2f}" for i in ious) or "-",
                    f"{len(faces)}/{count}" if count is not None else len(faces),
                    f"{took:.2f}",
                    "ok" if boxes_ok and count_ok else "FAIL",
                ]
            )
    _table(["photo", "detector", "boxes found", "IoU", "faces/truth", "s", ""], rows)
    return ok


# --- 2. face search --------------------------------------------------------------------------


def face_search(media: Path) -> bool:
    print("\n2. Face search: gallery Barack_Obama (obama.jpg) + Joe_Biden (biden.jpg)")
    ok = True
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory() as folder:
        gallery = GalleryDirectory(Path(folder))
        for person, path in GALLERY.items():
            photo = media / path
            gallery.add(person, photo.stem, photo.read_bytes(), photo.suffix)
        settings = RecognizerSettings(face_gallery=Path(folder))
        backend = LocalBackend(settings)
        asyncio.run(backend.prepare({Feature.FACES, Feature.FACE_SEARCH}))
        # Distances to the Obama gallery photo alone, to show the margin to the threshold.
        obama_only = Path(folder) / "obama-only"
        GalleryDirectory(obama_only).add(
            "Barack_Obama", "obama", (media / GALLERY["Barack_Obama"]).read_bytes(), ".jpg"
        )
        detector = HogFaceDetector()
        reference = FaceGallery(
            obama_only, FaceEmbedder(), detector, max_distance=2.0, min_confidence=MIN_CONFIDENCE
        )
        for path, expected in {**SEARCHED, GALLERY["Joe_Biden"]: {"Joe_Biden"}}.items():
            data = (media / path).read_bytes()
            start = time.perf_counter()
            found = asyncio.run(backend.recognize(data, {Feature.FACES, Feature.FACE_SEARCH}))
            took = time.perf_counter() - start
            names = sorted(f.name or "-" for f in found.faces)
            image = _read(media / path)
            distances = []
            for face in found.faces:
                match = reference.match(image, face.box)
                distances.append(f"{match[1]:.3f}" if match else "?")
            good = set(names) - {"-"} == expected
            ok = ok and good
            rows.append(
                [Path(path).name, ", ".join(names), " ".join(distances), f"{took:.2f}",
                 "ok" if good else "FAIL"]
            )  # fmt: skip
    _table(["photo", "named", "distance to obama.jpg", "s", ""], rows)
    return ok


# --- 3. test patterns ------------------------------------------------------------------------


def _pattern_frames(source: str, folder: Path) -> list[Bgr]:
    pick = "+".join(f"eq(n\\,{n})" for n in PATTERN_FRAMES)
    subprocess.run(
        [
            "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"{source}=size=1280x720:rate=25",
            "-vf", f"select='{pick}'", "-fps_mode", "passthrough",
            "-frames:v", str(len(PATTERN_FRAMES)), str(folder / f"{source}-%d.png"),
        ],
        check=True,
    )  # fmt: skip
    return [_read(p) for p in sorted(folder.glob(f"{source}-*.png"))]


def test_patterns() -> bool:
    print(f"\n3. Faces on ffmpeg test patterns (frames {PATTERN_FRAMES}, 1280x720)")
    detectors: dict[str, FaceFinder] = {"hog": HogFaceDetector(), "haar": FaceDetector()}
    rows: list[list[object]] = []
    ok = True
    with tempfile.TemporaryDirectory() as folder:
        for source in PATTERNS:
            frames = _pattern_frames(source, Path(folder))
            counts = {
                name: sum(len(d.detect(f, MIN_CONFIDENCE)) for f in frames)
                for name, d in detectors.items()
            }
            ok = ok and counts["hog"] == 0
            rows.append([source, len(frames), counts["hog"], counts["haar"]])
    _table(["pattern", "frames", "faces (hog)", "faces (haar)"], rows)
    return ok


# --- 5. labels ------------------------------------------------------------------------------

SKIMAGE = Path(skimage_data.__file__).parent
SUIT = {"suit", "Windsor tie"}
#: Photo -> the ImageNet classes (clean names) that name its subject.
LABELLED: dict[str, set[str]] = {
    "skimage:coffee.png": {"espresso", "coffee mug", "tea cup"},
    "skimage:camera.png": {"tripod", "reflex camera"},
    "skimage:chelsea.png": {"tabby cat", "a cat having a striped coat", "Egyptian Mau"},
    "skimage:motorcycle_left.png": {"moped", "motor scooter"},
    "skimage:rocket.jpg": {"missile", "space shuttle"},
    "skimage:clock_motion.png": {"wall clock", "analog clock"},
    "faces/opencv_messi5.jpg": {"soccer ball"},
    "faces/facerec_obama.jpg": SUIT,
    "faces/facerec_obama2.jpg": SUIT,
    "faces/facerec_obama3.jpg": SUIT,
    "faces/facerec_obama_partial_face.jpg": SUIT,
    "faces/facerec_biden.jpg": SUIT,
    "faces/facerec_two_people.jpg": SUIT,
}
#: Photos no ImageNet class describes (a portrait in a space suit, coins, galaxies, a
#: silhouette, textures): any label above the threshold is a wrong one.
NO_CLASS = (
    "skimage:astronaut.png",
    "skimage:coins.png",
    "skimage:hubble_deep_field.jpg",
    "skimage:horse.png",
    "skimage:brick.png",
    "skimage:grass.png",
)
LABEL_PATTERNS = (*PATTERNS, "smptehdbars", "yuvtestsrc", "pal75bars", "colorspectrum")


def _photo(media: Path, ref: str) -> Bgr:
    return _read(
        SKIMAGE / ref.removeprefix("skimage:") if ref.startswith("skimage:") else media / ref
    )


def labels(media: Path) -> bool:
    threshold = RecognizerSettings().label_min_confidence
    print(f"\n5. Labels (packaged EfficientNet-Lite0; default threshold {threshold:.0f}%)")
    model = PackagedLabels(top_k=5, min_confidence=0)
    model.load()
    rows: list[list[object]] = []
    top1 = top5 = confident = confident_right = 0
    spent: list[float] = []
    for ref, accepted in LABELLED.items():
        started = time.process_time()
        found = model.classify(_photo(media, ref))
        spent.append(time.process_time() - started)
        names = [label.name for label in found]
        top1 += names[0] in accepted
        top5 += bool(accepted & set(names))
        above = [label for label in found if label.confidence >= threshold]
        confident += bool(above)
        confident_right += bool(above) and above[0].name in accepted
        best = found[0]
        rows.append([ref, f"{best.name} {best.confidence:.0f}%", "yes" if above else "-"])
    _table(["labelled photo", "top-1", f">= {threshold:.0f}%"], rows)
    n = len(LABELLED)
    print(
        f"top-1 {top1}/{n}, top-5 {top5}/{n}; a label >= {threshold:.0f}% on {confident}/{n}, "
        f"right on {confident_right}/{confident}; {1000 * float(np.median(spent)):.0f} ms CPU "
        "per image (median)"
    )
    rows = []
    wrong = 0
    for ref in NO_CLASS:
        best = model.classify(_photo(media, ref))[0]
        wrong += best.confidence >= threshold
        rows.append([ref, f"{best.name} {best.confidence:.0f}%"])
    _table(["photo with no ImageNet class", "top-1"], rows)
    rows = []
    colour_wrong = 0
    with tempfile.TemporaryDirectory() as folder:
        for source in LABEL_PATTERNS:
            tops = [model.classify(f)[0] for f in _pattern_frames(source, Path(folder))]
            worst = max(tops, key=lambda label: label.confidence)
            high = sum(label.confidence >= threshold for label in tops)
            # cellauto is black and white; its texture reads as "shower curtain" (see README).
            colour_wrong += high if source != "cellauto" else 0
            rows.append([source, len(tops), f"{worst.name} {worst.confidence:.0f}%", high])
    _table(["pattern", "frames", "highest top-1", f">= {threshold:.0f}%"], rows)
    print(
        f"labels >= {threshold:.0f}%: {wrong} on photos with no class, "
        f"{colour_wrong} on colour patterns"
    )
    # A confident wrong label on a labelled photo is printed above (motion-blurred clock read as
    # "bubble"), not failed on: the bar is no label where nothing fits, and the subject in
    # the top five.
    return wrong == 0 and colour_wrong == 0 and top5 >= 0.9 * n


# --- 4. on-screen text -----------------------------------------------------------------------


def _edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _accuracy(read: str, truth: str) -> float:
    got, want = " ".join(read.split()), " ".join(truth.split())
    return max(0.0, 1.0 - _edit_distance(got, want) / max(1, len(want)))


def _ocr_cases(media: Path, items: list[dict[str, Any]]) -> list[tuple[str, Bgr, str, str]]:
    cases: list[tuple[str, Bgr, str, str]] = []
    for item in items:
        truth = item["truth"]
        image = _read(media / item["path"])
        name = Path(item["path"]).name
        if "text" in truth:
            cases.append((name, image, truth["text"], "peer test"))
        if "helper_visual_transcription (not from the project)" in truth:
            text = "\n".join(truth["helper_visual_transcription (not from the project)"])
            cases.append((name, image, text, "helper transcription"))
            (x0, y0, x1, y1), phrase = EASYOCR_CROP
            cases.append((f"{name} crop", image[y0:y1, x0:x1], phrase, "peer test"))
    return cases


def ocr(media: Path, items: list[dict[str, Any]]) -> bool:
    print("\n4. On-screen text: character accuracy (min confidence 80)")
    engines = {
        name: LocalBackend(RecognizerSettings(ocr=name)) for name in ("rapidocr", "tesseract")
    }
    rows: list[list[object]] = []
    totals = {name: [0, 0] for name in engines}  # edit distance, truth characters
    for name, image, truth, kind in _ocr_cases(media, items):
        row: list[object] = [name, kind, len(" ".join(truth.split()))]
        ok, png = cv2.imencode(".png", image)
        assert ok
        for engine, backend in engines.items():
            start = time.perf_counter()
            found = asyncio.run(backend.recognize(png.tobytes(), {Feature.TEXT}))
            took = time.perf_counter() - start
            read = "\n".join(t.text for t in found.text)
            want = " ".join(truth.split())
            distance = _edit_distance(" ".join(read.split()), want)
            totals[engine][0] += distance
            totals[engine][1] += len(want)
            row += [f"{_accuracy(read, truth):.1%}", f"{took:.1f}"]
        rows.append(row)
    rows.append(
        [
            "all",
            "",
            sum(t[1] for t in totals.values()) // len(totals),
            *[c for e in engines for c in (f"{1 - totals[e][0] / max(1, totals[e][1]):.1%}", "")],
        ]
    )
    _table(["image", "truth", "chars", "rapidocr", "s", "tesseract", "s"], rows)
    return totals["rapidocr"][0] <= totals["tesseract"][0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--media",
        type=Path,
        default=ROOT.parent / "shared" / "media",
        help="directory with MANIFEST.json, faces/ and ocr/ (default ../shared/media)",
    )
    parser.add_argument(
        "--only", choices=("faces", "text", "labels"), help="run one part of the benchmark"
    )
    args = parser.parse_args()
    media: Path = args.media
    manifest = media / "MANIFEST.json"
    if not manifest.is_file():
        print(f"skipped: {manifest} does not exist (pass --media DIR)")
        return
    items = json.loads(manifest.read_text())["items"]
    faces = [i for i in items if i["category"] == "faces" and Path(i["path"]).name.startswith(
        "facerec_")]  # fmt: skip
    texts = [i for i in items if i["category"] == "ocr"]
    parts: dict[str, tuple[str, Callable[[], bool]]] = {
        "face detection": ("faces", lambda: face_detection(media, faces)),
        "face search": ("faces", lambda: face_search(media)),
        "test patterns": ("faces", test_patterns),
        "rapidocr >= tesseract": ("text", lambda: ocr(media, texts)),
        "labels": ("labels", lambda: labels(media)),
    }
    results = {what: run() for what, (part, run) in parts.items() if args.only in (None, part)}
    print()
    for what, good in results.items():
        print(f"{what}: {'ok' if good else 'FAILED'}")
    sys.exit(0 if all(results.values()) else 1)


if __name__ == "__main__":
    main()
