"""Videos written into the real document table and bucket the way the pipeline leaves them,
without running the analysis: a finished video (its ``documents/`` object published) or one
still processing, with scenes, keyframe JPEGs, recognition results and a transcript."""

from __future__ import annotations

from datetime import timedelta

from tests.support.pictures import astronaut_keyframe
from videosense_shared.aws import AwsClients
from videosense_shared.layout import document_key, keyframe_key
from videosense_shared.messages import (
    Box,
    Face,
    ImageRef,
    Keyframe,
    KeyframeRecognition,
    Label,
    MediaFacts,
    Scene,
    Segment,
    SourceRef,
    Stage,
    StageStatus,
    TextDetection,
    Transcript,
    utc_now,
)
from videosense_shared.settings import CommonSettings
from videosense_shared.store import DynamoDocumentStore

MEDIA = MediaFacts(
    duration_s=4.0, fps=25.0, width=400, height=400, frame_count=100, video_codec="h264",
    has_audio=True,
)  # fmt: skip
STAGES = (Stage.FRAMES, Stage.RECOGNITION, Stage.TRANSCRIPT)


async def seed_video(
    aws: AwsClients, common: CommonSettings, video_id: str, name: str, *, finished: bool = True
) -> list[Keyframe]:
    """Write one video; returns its keyframes (frames 0 and 50, one per scene).

    The upload itself is a few bytes of a fake MP4 under the uploads prefix: enough to presign.
    """
    store = DynamoDocumentStore(aws.dynamodb, common.table_name)
    key = f"{common.uploads_prefix}{name}"
    put = await aws.s3.put_object(Bucket=common.bucket, Key=key, Body=b"\0\0\0\x18ftypisom")
    source = SourceRef(bucket=common.bucket, key=key, etag=put["ETag"].strip('"'), size_bytes=16)
    await store.create(
        video_id=video_id, trace_id=f"trace-{video_id}", source=source, media=MEDIA, stages=STAGES
    )
    started = utc_now()
    for stage in STAGES:
        await store.mark_stage_queued(video_id, stage, at=started)
    scenes = [
        Scene(index=0, start_frame=0, end_frame=50, start_s=0.0, end_s=2.0),
        Scene(index=1, start_frame=50, end_frame=100, start_s=2.0, end_s=4.0),
    ]
    jpeg = astronaut_keyframe()
    keyframes = []
    for scene in scenes:
        image_key = keyframe_key(video_id, scene.start_frame)
        await aws.s3.put_object(Bucket=common.bucket, Key=image_key, Body=jpeg)
        keyframes.append(
            Keyframe(
                id=f"kf{scene.start_frame:09d}",
                frame=scene.start_frame,
                t_s=scene.start_s,
                scene_index=scene.index,
                image=ImageRef(bucket=common.bucket, key=image_key, width=400, height=400),
            )
        )
    await store.put_scenes(video_id, scenes)
    await store.put_keyframes(video_id, keyframes)
    await store.put_recognition(
        video_id,
        [
            KeyframeRecognition(
                keyframe_id=keyframes[0].id,
                frame=keyframes[0].frame,
                labels=(Label(name="Person", confidence=91.0),),
                faces=(
                    Face(
                        box=Box(left=0.35, top=0.13, width=0.18, height=0.18),
                        confidence=99.0,
                        name="Eileen Collins",
                    ),
                ),
                text=(
                    TextDetection(
                        text="Mission briefing",
                        confidence=97.0,
                        box=Box(left=0.1, top=0.8, width=0.5, height=0.1),
                    ),
                ),
            )
        ],
    )
    await store.finish_stage(
        video_id, Stage.FRAMES, StageStatus.COMPLETE, started_at=started,
        finished_at=started + timedelta(seconds=1), backend="pyav",
    )  # fmt: skip
    if not finished:
        return keyframes
    await store.put_transcript(
        video_id,
        Transcript(
            language="en",
            text="Good morning. The weather is fine.",
            segments=(
                Segment(start_s=0.2, end_s=1.8, text="Good morning."),
                Segment(start_s=2.1, end_s=3.9, text="The weather is fine."),
            ),
        ),
    )
    for stage in (Stage.RECOGNITION, Stage.TRANSCRIPT):
        await store.finish_stage(
            video_id, stage, StageStatus.COMPLETE, started_at=started,
            finished_at=started + timedelta(seconds=2), backend="local",
        )  # fmt: skip
    await store.finalize(video_id)
    document = await store.read(video_id)
    await aws.s3.put_object(
        Bucket=common.bucket, Key=document_key(video_id), Body=document.model_dump_json().encode()
    )
    await store.mark_published(video_id)
    return keyframes
