"""The frame stage's one-pass pipeline: decode once, find scenes, pick and encode keyframes.

::

    PyAV decode (threaded) -> thumbnail -> cut detector -----------+
                 |                                                 v
                 +-----> delay line (detector look-ahead) -> keyframe selector -> JPEG -> callback

Each decoded frame is reduced to small Y/Cb/Cr planes for the cut detector. The detector decides
about a frame a few frames later (its look-ahead), so frames wait in a short delay line; when a
frame leaves it, its scene is known and the keyframe selector may keep a reference to it as a
candidate. When the selector settles on a keyframe it goes to a JPEG worker thread (scaling in
swscale and encoding in OpenCV release the GIL, so encoding runs beside decoding); finished
JPEGs are handed to ``on_keyframe`` on the calling thread, in frame order, as the pass goes, so
uploads overlap the rest of the decode too. Nothing seeks, nothing decodes twice, and at most
``cut_window + keyframe_candidates`` decoded frames plus the few keyframes waiting for the
encoder are alive at any time.
"""

from __future__ import annotations

import itertools
import logging
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import av
import av.error

from frame_extractor.detection import ContentCutDetector, CutDetector, FadeTest
from frame_extractor.jpeg import Jpeg, display_rotation, encode
from frame_extractor.keyframes import (
    Candidate,
    Fingerprint,
    KeyframePolicy,
    KeyframeSelector,
    Pick,
    Similarity,
    sharpness,
)
from frame_extractor.settings import FrameExtractorSettings
from frame_extractor.thumbnails import FrameSampler, Thumb
from videosense_shared.media import declared_frame_size, decoder_max_pixels, frame_size_error
from videosense_shared.messages import Scene

log = logging.getLogger(__name__)

# Named in the reason a frame over the limit gives, so that whoever reads it knows what to change.
_MAX_FRAME_PIXELS_SETTING = (
    f"{FrameExtractorSettings.model_config.get('env_prefix', '')}MAX_FRAME_PIXELS"
)


@dataclass(frozen=True)
class ExtractedKeyframe:
    """A keyframe and its JPEG.

    ``frame`` is the 0-based index of the decoded frame, ``t_s`` its presentation time in
    seconds from the start of the video stream; ``width``/``height`` are the JPEG's (upright,
    downscaled to fit ``max_image_side``).
    """

    frame: int
    t_s: float
    scene_index: int
    width: int
    height: int
    jpeg: bytes


@dataclass(frozen=True)
class ExtractionResult:
    """Scenes (contiguous, end exclusive, covering every decoded frame) and keyframes.

    ``width``/``height`` are the upright display size (swapped for 90/270-degree rotation
    metadata); ``frame_count`` counts decoded frames; ``duration_s`` is the end of the last
    frame.
    """

    scenes: tuple[Scene, ...]
    keyframes: tuple[ExtractedKeyframe, ...]
    fps: float
    frame_count: int
    width: int
    height: int
    duration_s: float


class ExtractionError(Exception):
    """The file is not a decodable video; the message says why, readably."""


def extract(
    path: Path,
    settings: FrameExtractorSettings,
    on_keyframe: Callable[[ExtractedKeyframe], None] | None = None,
) -> ExtractionResult:
    """Find the scenes of the video at ``path`` and extract its keyframes, in one decode pass.

    Synchronous and CPU-bound (run it in a worker thread). ``on_keyframe`` is called, in frame
    order and on the calling thread, as soon as each keyframe is final (its JPEG is ready and
    the cap cannot drop it any more), while decoding goes on; an exception it raises stops the
    pass and propagates. With a callback, the result's keyframes carry no JPEG bytes (``b""``):
    each was handed over once, so memory does not grow with the number of keyframes. A file
    that ends early yields the scenes and keyframes of the frames that could be decoded.

    Raises:
        ExtractionError: the file is missing or empty, not a media container, has no video
            stream, no frame of it can be decoded, or a frame is larger than
            ``settings.max_frame_pixels`` (checked on the header before decoding, and again as
            frames are decoded, since the header can lie).
    """
    try:
        size = path.stat().st_size
    except OSError as err:
        raise ExtractionError(f"cannot read the file: {err.strerror or err}") from err
    if size == 0:
        raise ExtractionError("the file is empty (0 bytes)")
    limit = settings.max_frame_pixels
    try:
        # max_pixels reaches the decoders that stream discovery opens: a frame over the limit
        # is refused before it is allocated.
        container = av.open(
            str(path), mode="r", options={"max_pixels": str(decoder_max_pixels(limit))}
        )
    except av.error.FFmpegError as err:
        raise ExtractionError(
            f"not a readable video: the file is truncated, corrupt or not a video ({_reason(err)})"
        ) from err
    except (OSError, UnicodeDecodeError) as err:
        raise ExtractionError(f"cannot read the file: {err}") from err
    with container:
        stream = _video_stream(container)
        # What the header declares, checked before anything is decoded. No dimensions means a
        # decoder refused the frame size during stream discovery: ask the header alone.
        width, height = stream.codec_context.width, stream.codec_context.height
        if width <= 0 or height <= 0:
            width, height = declared_frame_size(str(path), stream.index) or (0, 0)
        _check_frame_size(width, height, limit)
        stream.thread_type = "AUTO"  # frame + slice threads: decoding is the bottleneck
        stream.thread_count = settings.decode_threads
        # Applied when the decoder opens (on the first packet). max_pixels: the header can lie
        # (or the size change mid-stream), so the decoder itself refuses a frame far larger
        # before allocating it; _decode checks the exact limit and gives the readable reason.
        options = {"max_pixels": str(decoder_max_pixels(limit))}
        if settings.skip_loop_filter:
            options["skip_loop_filter"] = "all"
        stream.codec_context.options = options
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="jpeg") as encoder:
            run = _Run(
                settings, _expected_duration(container, stream), stream, on_keyframe, encoder
            )
            try:
                for frame in _decode(container, stream, settings.max_bad_packets, limit):
                    run.push(frame)
                return run.finish()
            except BaseException:
                encoder.shutdown(wait=True, cancel_futures=True)
                raise


def _video_stream(container: av.container.InputContainer) -> av.VideoStream:
    # Skip cover art (a single attached picture in audio files and some mp4s).
    attached = av.stream.Disposition.attached_pic
    streams = [s for s in container.streams.video if not s.disposition & attached]
    if not streams:
        raise ExtractionError("the file has no video stream")
    return streams[0]


def _decode(
    container: av.container.InputContainer,
    stream: av.VideoStream,
    max_bad_packets: int,
    max_pixels: int,
) -> Iterator[av.VideoFrame]:
    """Decoded frames in presentation order; tolerate a few corrupt packets, stop at a cut-off end.

    Raises:
        ExtractionError: more than ``max_bad_packets`` packets could not be decoded, or a frame
            is larger than ``max_pixels``.
    """
    bad = 0
    packets = container.demux(stream)
    context = stream.codec_context
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return  # the last (empty) packet has flushed the decoder
        except av.error.FFmpegError as err:
            # Demuxing failed: typically a truncated file. Keep what the decoder still holds.
            log.warning("video ends early: %s", _reason(err))
            break
        try:
            frames = packet.decode()
        except av.error.FFmpegError as err:
            # A decoder that refused a frame over max_pixels has taken the new size from the
            # bitstream (H.264/HEVC parameter sets): that is the reason, not a corrupt packet.
            _check_frame_size(context.width, context.height, max_pixels)
            bad += 1
            if bad > max_bad_packets:
                raise ExtractionError(f"too many undecodable packets ({_reason(err)})") from err
            continue
        for frame in frames:
            # For a decoder that does not honour max_pixels: no larger frame goes further.
            _check_frame_size(frame.width, frame.height, max_pixels)
            yield frame
    try:
        for frame in stream.decode(None):
            _check_frame_size(frame.width, frame.height, max_pixels)
            yield frame
    except av.error.FFmpegError as err:
        log.warning("could not flush the decoder: %s", _reason(err))


def _check_frame_size(width: int, height: int, max_pixels: int) -> None:
    """Raise the readable reason if a ``width`` x ``height`` frame is over ``max_pixels``.

    Raises:
        ExtractionError: the frame is larger than the limit.
    """
    if width * height > max_pixels:
        raise ExtractionError(
            frame_size_error(width, height, max_pixels, _MAX_FRAME_PIXELS_SETTING)
        )


def _expected_duration(
    container: av.container.InputContainer, stream: av.VideoStream
) -> float | None:
    """The duration the container announces (for spreading the keyframe cap), if any."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def _cut_detector(settings: FrameExtractorSettings, fps: float) -> CutDetector:
    """The scene-cut detector the settings ask for."""
    if settings.detector == "pyscenedetect":
        # Imported here: only this choice needs PySceneDetect loaded.
        from frame_extractor.pyscenedetect_detector import PySceneDetectCutDetector

        return PySceneDetectCutDetector(
            fps=fps or 25.0,  # PySceneDetect needs a rate; it only scales its timecodes
            kind=settings.pyscenedetect_kind,
            min_scene_frames=settings.min_scene_frames,
        )
    return ContentCutDetector(
        threshold=settings.cut_threshold,
        ratio=settings.cut_ratio,
        window=settings.cut_window,
        min_scene_frames=settings.min_scene_frames,
        weights=(settings.luma_weight, 1.0, 1.0),
        fade=(
            FadeTest(threshold=settings.fade_threshold, max_frames=settings.fade_max_frames)
            if settings.fade_threshold > 0
            else None
        ),
        suppress_flashes=settings.suppress_flashes,
    )


def _reason(err: BaseException) -> str:
    # FFmpegError's str() repeats errno and filename; its strerror is the readable part.
    text = getattr(err, "strerror", None) or str(err)
    return str(text).rstrip(".")


@dataclass(frozen=True)
class _Waiting:
    """A frame in the delay line, until the detector has decided about it."""

    index: int
    t_s: float
    frame: av.VideoFrame
    thumb: Thumb


class _Run:
    """State of one extraction pass."""

    def __init__(
        self,
        settings: FrameExtractorSettings,
        duration_s: float | None,
        stream: av.VideoStream,
        on_keyframe: Callable[[ExtractedKeyframe], None] | None,
        encoder: Executor,
    ) -> None:
        self._settings = settings
        self._on_keyframe = on_keyframe
        self._encoder = encoder
        self._encoding: deque[tuple[Pick[av.VideoFrame], Future[Jpeg]]] = deque()
        self._sampler = FrameSampler(settings.analysis_width, settings.sharpness_width)
        rate = stream.average_rate or stream.guessed_rate
        self._rate: float = float(rate) if rate else 0.0
        self._detector = _cut_detector(settings, self._rate)
        policy = KeyframePolicy(
            max_keyframes=settings.max_keyframes,
            max_interval_s=settings.max_interval_s,
            duration_s=duration_s,
            candidates=settings.keyframe_candidates,
            similarity=Similarity(
                hash_distance=settings.duplicate_hash_distance,
                colour_distance=settings.duplicate_colour_distance,
                flat_contrast=settings.flat_contrast,
            ),
        )
        self._selector: KeyframeSelector[av.VideoFrame] = KeyframeSelector(
            policy, lambda frame: sharpness(self._sampler.luma(frame))
        )
        self._time_base: Fraction | None = stream.time_base
        self._origin: int | None = stream.start_time
        self._waiting: deque[_Waiting] = deque()
        self._cuts: set[int] = set()
        self._starts: list[tuple[int, float]] = []  # (frame, t_s) of every scene start
        self._keyframes: list[ExtractedKeyframe] = []
        self._count = 0
        self._last_t = 0.0
        self._last_duration = 0.0
        self._size = (0, 0)

    def push(self, frame: av.VideoFrame) -> None:
        index = self._count
        self._count += 1
        t_s = self._time(frame)
        if index == 0:
            rotated = display_rotation(frame) in (90, 270)
            self._size = (frame.height, frame.width) if rotated else (frame.width, frame.height)
        thumb = self._sampler.thumb(frame)
        self._cuts.update(self._detector.push(thumb))
        self._waiting.append(_Waiting(index, t_s, frame, thumb))
        decided = index - self._detector.delay
        while self._waiting and self._waiting[0].index <= decided:
            self._release(self._waiting.popleft())
        self._deliver(wait=False)

    def finish(self) -> ExtractionResult:
        """Flush the detector and selector; build the result.

        Raises:
            ExtractionError: no frame was decoded.
        """
        if self._count == 0:
            raise ExtractionError("no video frame could be decoded")
        self._cuts.update(self._detector.flush())
        while self._waiting:
            self._release(self._waiting.popleft())
        self._emit(self._selector.finish(self._count))
        self._deliver(wait=True)
        duration = self._last_t + (self._last_duration or self._frame_period())
        bounds = [*self._starts, (self._count, duration)]
        scenes = tuple(
            Scene(index=i, start_frame=f0, end_frame=f1, start_s=t0, end_s=t1)
            for i, ((f0, t0), (f1, t1)) in enumerate(itertools.pairwise(bounds))
        )
        fps = self._rate or (self._count / duration if duration > 0 else 0.0)
        return ExtractionResult(
            scenes=scenes,
            keyframes=tuple(self._keyframes),
            fps=fps,
            frame_count=self._count,
            width=self._size[0],
            height=self._size[1],
            duration_s=duration,
        )

    def _release(self, item: _Waiting) -> None:
        picks: list[Pick[av.VideoFrame]] = []
        if item.index == 0 or item.index in self._cuts:
            self._cuts.discard(item.index)
            self._starts.append((item.index, item.t_s))
            picks += self._selector.start_scene(item.index)
        if self._selector.wants(item.index):
            candidate = Candidate(item.index, item.t_s, Fingerprint.of(item.thumb), item.frame)
            picks += self._selector.offer(candidate)
        self._emit(picks)

    def _emit(self, picks: list[Pick[av.VideoFrame]]) -> None:
        settings = self._settings
        for pick in picks:
            job = self._encoder.submit(
                encode,
                pick.payload,
                max_side=settings.max_image_side,
                quality=settings.jpeg_quality,
            )
            self._encoding.append((pick, job))
        self._deliver(wait=False)

    def _deliver(self, *, wait: bool) -> None:
        """Hand finished JPEGs to ``on_keyframe`` in frame order (all of them if ``wait``).

        Raises:
            ValueError: a keyframe could not be encoded.
        """
        while self._encoding and (wait or self._encoding[0][1].done()):
            pick, job = self._encoding.popleft()
            image = job.result()
            keyframe = ExtractedKeyframe(
                frame=pick.index,
                t_s=pick.t_s,
                scene_index=pick.scene_index,
                width=image.width,
                height=image.height,
                jpeg=image.data,
            )
            if self._on_keyframe is None:
                self._keyframes.append(keyframe)
                continue
            self._on_keyframe(keyframe)
            # The JPEG is the callback's now: a two-hour film's keyframes would otherwise sit
            # in memory until the pass ends (hundreds of MB at 1080p).
            self._keyframes.append(replace(keyframe, jpeg=b""))

    def _frame_period(self) -> float:
        return 1.0 / self._rate if self._rate > 0 else 0.0

    def _time(self, frame: av.VideoFrame) -> float:
        """Presentation time from the start of the stream, never going backwards."""
        time_base = frame.time_base or self._time_base
        if frame.pts is None or time_base is None:
            t_s = self._last_t + self._frame_period() if self._count > 1 else 0.0
        else:
            if self._origin is None:
                self._origin = frame.pts
            t_s = float((frame.pts - self._origin) * time_base)
        if frame.duration and time_base is not None:
            self._last_duration = float(frame.duration * time_base)
        t_s = max(t_s, self._last_t if self._count > 1 else 0.0, 0.0)
        self._last_t = t_s
        return t_s
