"""Frame extractor settings, read from ``VIDEOSENSE_FRAME_EXTRACTOR_*`` when constructed."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from videosense_shared.media import DEFAULT_MAX_FRAME_PIXELS
from videosense_shared.settings import ConsumerSettings


class FrameExtractorSettings(ConsumerSettings):
    """What the frame stage keeps, and how it finds scenes.

    Detection thresholds are on a 0-255 scale: the mean absolute difference of the downscaled
    Y, Cb and Cr planes of two frames, averaged with weights ``luma_weight``, 1 and 1.
    """

    model_config = SettingsConfigDict(env_prefix="VIDEOSENSE_FRAME_EXTRACTOR_", extra="ignore")

    # What is kept.
    max_keyframes: int = Field(
        default=200,
        ge=1,
        description="Hard cap of keyframes per video; when it binds they are spread evenly.",
    )
    max_interval_s: float = Field(
        default=10.0,
        gt=0,
        description=(
            "A long scene gets another keyframe only if its content changed, and at most one "
            "per this many seconds."
        ),
    )
    chunk_size: int = Field(
        default=50, ge=1, le=500, description="Keyframes per FramesExtracted message."
    )
    jpeg_quality: int = Field(default=85, ge=1, le=100, description="JPEG quality of keyframes.")
    max_image_side: int = Field(
        default=1280,
        ge=16,
        description="Keyframe JPEGs are downscaled to fit this many pixels (aspect kept).",
    )

    # Scene detection.
    detector: Literal["content", "pyscenedetect"] = Field(
        default="content",
        description=(
            "content: our one-pass adaptive Y/Cb/Cr detector with fade and flash handling; "
            "pyscenedetect: PySceneDetect's detector fed from the same pass (for comparison)."
        ),
    )
    pyscenedetect_kind: Literal["adaptive", "content"] = Field(
        default="adaptive",
        description="Which PySceneDetect detector, when detector is pyscenedetect.",
    )
    cut_threshold: float = Field(
        default=10.0,
        gt=0,
        description="Least frame-to-frame change (0-255) that can be a cut; noise stays below.",
    )
    cut_ratio: float = Field(
        default=3.0,
        ge=1,
        description=(
            "A cut's change must be this many times the median change of the frames around "
            "it; steady fast motion changes every frame alike and never cuts."
        ),
    )
    cut_window: int = Field(
        default=2,
        ge=1,
        le=30,
        description="Frames either side that the cut ratio compares with (also the look-ahead).",
    )
    min_scene_frames: int = Field(
        default=1,
        ge=1,
        description="Cuts closer than this to the previous one are ignored (the earlier wins).",
    )
    fade_threshold: float = Field(
        default=20.0,
        ge=0,
        description=(
            "Least luma change (0-255) across a gradual transition (dissolve, fade) for it to "
            "be a cut; 0 turns gradual-transition detection off."
        ),
    )
    fade_max_frames: int = Field(
        default=50,
        ge=5,
        le=500,
        description="Longest transition, in frames, that the fade test measures as one.",
    )
    suppress_flashes: bool = Field(
        default=True,
        description=(
            "A change that returns to the previous picture within the look-ahead (a flash) is "
            "not a cut."
        ),
    )
    luma_weight: float = Field(
        default=2.0,
        ge=0,
        le=10,
        description="Weight of luma against each chroma plane in the frame difference.",
    )
    analysis_width: int = Field(
        default=256,
        ge=16,
        le=1920,
        description="Detection compares frames subsampled to about this width.",
    )

    # Keyframe choice.
    sharpness_width: int = Field(
        default=480,
        ge=32,
        le=3840,
        description="Candidate keyframes are compared for sharpness at about this width.",
    )
    keyframe_candidates: int = Field(
        default=12,
        ge=2,
        le=100,
        description=(
            "Candidate frames held per open scene segment; bounds memory (this many decoded "
            "frames) whatever the video's length."
        ),
    )
    duplicate_hash_distance: int = Field(
        default=10,
        ge=0,
        le=64,
        description="Two frames are near-duplicates if at most this many of 64 pHash bits differ.",
    )
    duplicate_colour_distance: float = Field(
        default=10.0,
        ge=0,
        description="... and their mean Y, Cb, Cr each differ by at most this much (0-255).",
    )
    flat_contrast: float = Field(
        default=4.0,
        ge=0,
        description=(
            "Frames whose luma standard deviation is below this are flat: compared by colour "
            "only, since flat frames all share one perceptual hash."
        ),
    )

    # Decoding.
    decode_threads: int = Field(
        default=0, ge=0, le=64, description="Decoder threads (0: one per core)."
    )
    skip_loop_filter: bool = Field(
        default=False,
        description=(
            "Skip the decoder's in-loop deblocking filter (H.264/HEVC): ~15% less decode CPU "
            "with cuts still exact on the benchmark clip, but keyframe JPEGs keep the codec's "
            "block edges, so it is off by default."
        ),
    )
    max_frame_pixels: int = Field(
        default=DEFAULT_MAX_FRAME_PIXELS,
        ge=1,
        description=(
            "Largest frame decoded, in pixels (default 8192x4320): a larger one fails the "
            "stage, whatever the container header claimed, before it is allocated."
        ),
    )
    max_bad_packets: int = Field(
        default=100,
        ge=0,
        description=(
            "Undecodable packets skipped before the video is declared broken (frames decoded "
            "until then are kept)."
        ),
    )
