"""Generate small video clips with known ground truth, using the ffmpeg binary.

Every generator renders a list of *shots* (a lavfi source and an exact number of frames) joined
by ffmpeg's concat filter, so a scene boundary lies exactly on the frame the caller asked for.
Encoder settings are chosen so that cuts are NOT conveniently I-frames: a long GOP and x264's
own scene-cut detection switched off (otherwise a detector could "find" cuts by looking at
picture types, which real footage does not allow - x264 placed I-frames at only 5 of 8 cuts on
the benchmark clip). B-frames stay on, so decode order differs from presentation order.

The clips are tiny by default (320x240, a few seconds) so tests stay fast; the benchmark asks
for 1080p. Nothing here is imported by production code.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

FPS = 25
SIZE = (320, 240)

# Moving lavfi sources (``scroll``, since ffmpeg 5.1's drawbox ignores ``t``), chosen so that
# any two neighbours in this cycle differ a lot in both luma and chroma (a content-aware detector
# must see a hard cut between them). Placeholders: ``{w}``/``{h}``, an even size at least as large
# as the requested one; ``{cw}``/``{ch}``, an eighth of it (the cellular automaton is pure
# high-frequency noise at full size, which no camera produces and which would make 1080p clips
# absurdly heavy to decode); ``{fps}``, the frame rate. Every shot is then scaled to the exact
# (possibly odd) size.
SCENE_SOURCES: tuple[str, ...] = (
    "testsrc2=size={w}x{h}:rate={fps}",
    "mandelbrot=size={w}x{h}:rate={fps}:maxiter=256",
    "smptebars=size={w}x{h}:rate={fps},scroll=horizontal=0.004",
    "life=size={cw}x{ch}:rate={fps}:mold=10:ratio=0.15:seed=7"
    ":death_color=#1d2f6f:life_color=#f0d040:mold_color=#702020",
    "colorspectrum=size={w}x{h}:rate={fps}:type=all,scroll=vertical=0.006",
    "rgbtestsrc=size={w}x{h}:rate={fps},hue=H=t*2",
    "gradients=size={w}x{h}:rate={fps}:speed=0.03:seed=11"
    ":c0=#ff8000:c1=#0040ff:c2=#00ff60:nb_colors=3",
)


@dataclass(frozen=True)
class Shot:
    """One continuous shot: a lavfi source (see :data:`SCENE_SOURCES`) and its length in frames."""

    source: str
    frames: int


def ffmpeg_binary() -> str:
    """Path of the ffmpeg binary.

    Raises:
        RuntimeError: ffmpeg is not installed.
    """
    found = shutil.which("ffmpeg")
    if found is None:
        raise RuntimeError("the ffmpeg binary is needed to generate test clips")
    return found


def solid(colour: str) -> str:
    """A lavfi source of one flat colour (any ffmpeg colour name or ``#rrggbb``)."""
    return f"color=c={colour}:size={{w}}x{{h}}:rate={{fps}}"


def shots_for_cuts(cut_frames: Sequence[int], total_frames: int) -> list[Shot]:
    """Split ``total_frames`` at ``cut_frames``, cycling through :data:`SCENE_SOURCES`.

    Raises:
        ValueError: cuts not strictly increasing inside ``(0, total_frames)``.
    """
    bounds = [0, *cut_frames, total_frames]
    if total_frames < 1 or any(b >= a for b, a in itertools.pairwise(bounds)):
        raise ValueError(f"cuts {list(cut_frames)} must increase strictly in (0, {total_frames})")
    return [
        Shot(SCENE_SOURCES[i % len(SCENE_SOURCES)], end - start)
        for i, (start, end) in enumerate(itertools.pairwise(bounds))
    ]


def render(
    path: Path,
    shots: Sequence[Shot],
    *,
    fps: int = FPS,
    size: tuple[int, int] = SIZE,
    audio: bool = True,
    codec: str = "libx264",
    pix_fmt: str | None = None,
    gop: int = 250,
    crf: int = 23,
    preset: str = "veryfast",
    faststart: bool = False,
    noise: int = 0,
    transitions: Sequence[tuple[str, int]] | None = None,
) -> Path:
    """Render ``shots`` back to back into ``path`` (container from the suffix).

    Args:
        transitions: optional ``(xfade transition name, frames)`` between shot ``i`` and
            ``i + 1`` (e.g. ``("fade", 10)`` for a dissolve, ``("fadeblack", 20)`` for a fade
            through black); the transition overlaps the end of shot ``i`` and the start of shot
            ``i + 1``, so the clip gets shorter by the transition lengths. Frame counts of zero
            mean a hard cut.
        noise: strength of temporal noise added to every frame (0 = none); makes the content
            look more like camera footage and the stream heavier to decode.
        faststart: put the mp4 index first, so a truncated file still opens.

    Raises:
        RuntimeError: ffmpeg failed (its stderr is in the message).
        ValueError: no shots, or transitions that do not fit the shots.
    """
    if not shots:
        raise ValueError("at least one shot is needed")
    width, height = size
    even_w, even_h = width + width % 2, height + height % 2
    if pix_fmt is None:
        # libx264 refuses odd sizes in 4:2:0; 4:4:4 keeps odd-size clips encodable.
        pix_fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
    graph: list[str] = []
    for i, shot in enumerate(shots):
        coarse_w, coarse_h = max(2, even_w // 16 * 2), max(2, even_h // 16 * 2)
        source = shot.source.format(w=even_w, h=even_h, cw=coarse_w, ch=coarse_h, fps=fps)
        graph.append(
            f"{source},trim=end_frame={shot.frames},setpts=PTS-STARTPTS,"
            f"scale={width}:{height},setsar=1,format=yuv444p[s{i}]"
        )
    tail = _join(graph, len(shots), transitions, shots, fps)
    post = f",noise=alls={noise}:allf=t" if noise else ""
    graph.append(f"[{tail}]format={pix_fmt}{post}[v]")
    total_frames = sum(s.frames for s in shots) - sum(n for _, n in transitions or ())
    command = [ffmpeg_binary(), "-v", "error", "-nostdin", "-y"]
    audio_codec = "libopus" if path.suffix == ".webm" else "aac"
    if audio:
        # Audio frames of the size the encoder wants (opus: 20 ms; aac: 1024 samples).
        samples = 960 if audio_codec == "libopus" else 1024
        graph.append(
            f"sine=frequency=440:sample_rate=48000:samples_per_frame={samples}"
            f":duration={total_frames / fps}[a]"
        )
    command += ["-filter_complex", ";".join(graph), "-map", "[v]"]
    if audio:
        # Explicit codecs: some containers' defaults (vorbis in mkv) reject the sine frames.
        command += ["-map", "[a]", "-c:a", audio_codec]
    command += ["-c:v", codec, "-g", str(gop), "-pix_fmt", pix_fmt]
    if codec == "libx264":
        command += ["-preset", preset, "-crf", str(crf), "-sc_threshold", "0"]
    if faststart:
        command += ["-movflags", "+faststart"]
    path.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([*command, str(path)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg failed to render {path.name}: {done.stderr.strip()}")
    return path


def _join(
    graph: list[str],
    count: int,
    transitions: Sequence[tuple[str, int]] | None,
    shots: Sequence[Shot],
    fps: int,
) -> str:
    """Append the filters that join shots ``s0..s{count-1}``; return the output label."""
    if not transitions or all(n == 0 for _, n in transitions):
        inputs = "".join(f"[s{i}]" for i in range(count))
        graph.append(f"{inputs}concat=n={count}:v=1:a=0[joined]")
        return "joined"
    if len(transitions) != count - 1:
        raise ValueError(f"{count} shots need {count - 1} transitions, got {len(transitions)}")
    # xfade needs an offset (seconds, from the start of its first input) at which to begin.
    label, length = "s0", shots[0].frames
    for i, (kind, frames) in enumerate(transitions, start=1):
        if frames > min(shots[i - 1].frames, shots[i].frames):
            raise ValueError(f"transition {i} ({frames} frames) is longer than a shot")
        out = f"x{i}"
        if frames == 0:
            graph.append(f"[{label}][s{i}]concat=n=2:v=1:a=0[{out}]")
        else:
            offset = (length - frames) / fps
            graph.append(
                f"[{label}][s{i}]xfade=transition={kind}:duration={frames / fps}"
                f":offset={offset}[{out}]"
            )
        label, length = out, length + shots[i].frames - frames
    return label


def make_cut_clip(
    path: Path,
    *,
    cut_frames: Sequence[int],
    total_frames: int,
    fps: int = FPS,
    size: tuple[int, int] = SIZE,
    audio: bool = True,
    codec: str = "libx264",
    pix_fmt: str | None = None,
    gop: int = 250,
    crf: int = 23,
    preset: str = "veryfast",
    faststart: bool = False,
    noise: int = 0,
) -> Path:
    """Render a clip whose visually distinct scenes change exactly at ``cut_frames``.

    Scenes cycle through :data:`SCENE_SOURCES` (moving test patterns, fractals, cellular
    automata, scrolling bars and colour spectra), so every cut is a hard, content-visible cut; with
    ``audio`` the clip carries a 440 Hz sine tone.

    Raises:
        ValueError: cuts not strictly increasing inside ``(0, total_frames)``.
        RuntimeError: ffmpeg failed.
    """
    return render(
        path,
        shots_for_cuts(cut_frames, total_frames),
        fps=fps,
        size=size,
        audio=audio,
        codec=codec,
        pix_fmt=pix_fmt,
        gop=gop,
        crf=crf,
        preset=preset,
        faststart=faststart,
        noise=noise,
    )


def make_colour_clip(
    path: Path,
    *,
    colours: Sequence[tuple[str, int]],
    fps: int = FPS,
    size: tuple[int, int] = SIZE,
    audio: bool = False,
) -> Path:
    """Render flat-colour scenes: ``colours`` is ``(ffmpeg colour, frames)`` per scene.

    Raises:
        RuntimeError: ffmpeg failed.
    """
    shots = [Shot(solid(colour), frames) for colour, frames in colours]
    return render(path, shots, fps=fps, size=size, audio=audio)


def make_hue_sweep_clip(
    path: Path,
    *,
    seconds: float,
    degrees_per_s: float,
    fps: int = FPS,
    size: tuple[int, int] = SIZE,
) -> Path:
    """Render ONE scene of a flat colour whose hue turns slowly (no cut anywhere).

    Starts at pure red and rotates the hue by ``degrees_per_s``: every frame is flat, and frames
    far apart have clearly different colours while neighbours are nearly equal.

    Raises:
        RuntimeError: ffmpeg failed.
    """
    source = f"color=c=#ff2020:size={{w}}x{{h}}:rate={{fps}},hue=h=t*{degrees_per_s}"
    return render(path, [Shot(source, round(seconds * fps))], fps=fps, size=size, audio=False)


def make_pan_clip(
    path: Path,
    *,
    seconds: float,
    stops: Sequence[float],
    fps: int = FPS,
    size: tuple[int, int] = SIZE,
) -> Path:
    """Render ONE continuous shot: a camera panning smoothly over a wide still picture.

    The picture is five frame-widths wide (SMPTE bars, a test card, a fractal, a gradient, bars
    again, laid side by side). ``stops`` are horizontal positions in frame widths (0..4); the
    camera rests at each stop for an equal share of the time and moves between stops at
    constant speed, slowly enough that no frame-to-frame change looks like a cut. Returning to a
    stop shows the very same picture again (a near-duplicate of an earlier view).

    Raises:
        ValueError: fewer than one stop, or a stop outside 0..4.
        RuntimeError: ffmpeg failed.
    """
    if not stops or any(not 0 <= s <= 4 for s in stops):
        raise ValueError("stops must be frame-width positions in 0..4")
    width, height = size
    # Piecewise-linear x(t): rest at each stop for `rest` s, travel to the next for `travel` s.
    legs = len(stops)
    share = seconds / legs
    rest, travel = share * 0.6, share * 0.4
    expr = f"{stops[-1]}"
    for i in range(legs - 1, -1, -1):
        start = i * share
        here, nxt = stops[i], stops[min(i + 1, legs - 1)]
        moving = f"({here}+({nxt}-{here})*(t-{start + rest})/{travel})"
        expr = f"if(lt(t,{start + rest}),{here},if(lt(t,{start + share}),{moving},{expr}))"
    panels = [
        "smptebars",
        "testsrc2",
        "mandelbrot=maxiter=64:end_scale=0.3:start_scale=0.3",
        "rgbtestsrc",
        "pal100bars",
    ]
    still = [
        f"{p}{'=' if '=' not in p else ':'}size={width}x{height}:rate={fps},trim=end_frame=1,"
        f"loop=loop=-1:size=1,setpts=N/{fps}/TB[p{i}]"
        for i, p in enumerate(panels)
    ]
    wide = "".join(f"[p{i}]" for i in range(len(panels)))
    source = (
        ";".join(still)
        + f";{wide}hstack=inputs={len(panels)},"
        + f"crop=w={width}:h={height}:x='({expr})*{width}':y=0"
    )
    # The source above is a complete graph, not a single chain: render it directly.
    graph = (
        f"{source},trim=end_frame={round(seconds * fps)},setpts=PTS-STARTPTS,setsar=1,"
        f"format=yuv420p[v]"
    )
    command = [ffmpeg_binary(), "-v", "error", "-nostdin", "-y", "-filter_complex", graph]
    command += ["-map", "[v]", "-c:v", "libx264", "-preset", "veryfast", "-g", "250"]
    command += ["-sc_threshold", "0", str(path)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg failed to render {path.name}: {done.stderr.strip()}")
    return path


def truncate(source: Path, target: Path, *, keep: float) -> Path:
    """Copy the first ``keep`` fraction (0..1) of ``source``'s bytes to ``target``.

    Raises:
        ValueError: ``keep`` outside 0..1.
    """
    if not 0 <= keep <= 1:
        raise ValueError("keep must be a fraction in 0..1")
    data = source.read_bytes()
    target.write_bytes(data[: int(len(data) * keep)])
    return target


def with_rotation(source: Path, target: Path, *, degrees: int) -> Path:
    """Copy ``source``'s video stream to ``target`` with display-rotation metadata (no re-encode).

    Phones store portrait video as landscape frames plus a display matrix; ffmpeg 5.1 cannot
    write one from the command line, PyAV can.
    """
    import av  # only this helper needs PyAV

    with av.open(str(source)) as src, av.open(str(target), "w") as dst:
        video = src.streams.video[0]
        out = dst.add_stream_from_template(video)
        out.set_display_rotation(degrees)
        for packet in src.demux(video):
            if packet.dts is None:  # the demuxer's final flush packet
                continue
            packet.stream = out
            dst.mux(packet)
    return target


def drop_leading_packets(source: Path, target: Path, *, count: int) -> Path:
    """Copy ``source``'s video stream to ``target`` without its first ``count`` packets.

    Packets are dropped in decode order, without re-encoding, so ``target`` starts in the middle
    of a GOP: its first frames reference pictures that are gone, as in a stream recorded from
    the middle of a broadcast or a file cut with stream copy at a non-keyframe.

    Raises:
        ValueError: ``count`` is negative.
    """
    if count < 0:
        raise ValueError("count must be >= 0")
    import av  # only the stream-copy helpers need PyAV

    with av.open(str(source)) as src, av.open(str(target), "w") as dst:
        video = src.streams.video[0]
        out = dst.add_stream_from_template(video)
        kept = 0
        for packet in src.demux(video):
            if packet.dts is None:  # the demuxer's final flush packet
                continue
            kept += 1
            if kept <= count:
                continue
            packet.stream = out
            dst.mux(packet)
    return target


def retime(source: Path, target: Path, *, pts_expr: str) -> Path:
    """Re-encode ``source``'s video with presentation times from ``pts_expr`` (variable rate).

    ``pts_expr`` is an ffmpeg expression in ``N`` (the frame number) giving seconds, e.g.
    ``if(lt(N,50),N/25,2+(N-50)/10)``: every frame is kept, only its timestamp changes, and the
    container stores the timestamps as they are (``-fps_mode passthrough``).

    Raises:
        RuntimeError: ffmpeg failed.
    """
    command = [ffmpeg_binary(), "-v", "error", "-nostdin", "-y", "-i", str(source), "-an"]
    command += ["-vf", f"settb=1/1000,setpts='({pts_expr})/TB'", "-fps_mode", "passthrough"]
    command += ["-c:v", "libx264", "-preset", "veryfast", "-g", "250", "-sc_threshold", "0"]
    # Millisecond time bases in the encoder and the container: x264 would otherwise round the
    # times to 1/frame-rate.
    command += ["-enc_time_base", "1/1000", "-video_track_timescale", "1000", str(target)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg failed to retime {source.name}: {done.stderr.strip()}")
    return target
