"""One video's frame results as ``FramesExtracted`` messages: scenes and keyframes split into
chunks small enough for SNS, each chunk naming its place (index, count) and the totals."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from videosense_shared.ids import message_id_for
from videosense_shared.messages import FramesExtracted, Keyframe, Scene, VideoIngested


def chunk(
    scenes: Sequence[Scene], keyframes: Sequence[Keyframe], size: int
) -> list[tuple[tuple[Scene, ...], tuple[Keyframe, ...]]]:
    """Split scenes and keyframes into ``size``-bounded chunks (at least one chunk)."""
    count = max(1, math.ceil(len(scenes) / size), math.ceil(len(keyframes) / size))
    return [
        (tuple(scenes[i * size : (i + 1) * size]), tuple(keyframes[i * size : (i + 1) * size]))
        for i in range(count)
    ]


def frames_extracted(
    message: VideoIngested,
    scenes: Sequence[Scene],
    keyframes: Sequence[Keyframe],
    *,
    size: int,
    backend: str,
    started: datetime,
    finished: datetime,
) -> list[FramesExtracted]:
    """The ``FramesExtracted`` chunks of one video (deterministic ids: a redelivery repeats
    them exactly)."""
    parts = chunk(scenes, keyframes, size)
    return [
        FramesExtracted(
            message_id=message_id_for(message.message_id, "FramesExtracted", str(index)),
            video_id=message.video_id,
            trace_id=message.trace_id,
            stages=message.stages,
            chunk_index=index,
            chunk_count=len(parts),
            scene_count=len(scenes),
            keyframe_count=len(keyframes),
            scenes=part_scenes,
            keyframes=part_keyframes,
            backend=backend,
            started_at=started,
            finished_at=finished,
        )
        for index, (part_scenes, part_keyframes) in enumerate(parts)
    ]
