"""Whisper through faster-whisper (CTranslate2): int8 on the CPU, Silero VAD (speech decoded
in groups of at most one decode, :mod:`transcriber.speech_groups`), word times, language
identification.

The model is, by default, the multilingual ``base`` model installed as packages
(``packaged:base``, :mod:`transcriber.packaged_model`: no configuration, no network), or a
directory holding a CTranslate2-converted Whisper model, or a name/hub id that faster-whisper
downloads once into its cache. It is loaded once and kept (the service loads it
before the first video: :mod:`transcriber.backends`); when it cannot be loaded (a missing
directory, a name with no network) every video fails the stage with that reason instead of the
service crash-looping.

faster-whisper holds all the audio it is given as float32 (64 KB per second: about 460 MB for
two hours), so the WAV is read and transcribed in windows of ``window_s`` seconds cut at quiet
points (:mod:`transcriber.audio_windows`): memory is bounded by the window, not the video.
Times are shifted by each window's start.

Language: with ``language='auto'`` faster-whisper identifies it from the first 30 s of speech of
a window. It is identified once, on the first window that has speech, and held for the windows
after it: the document has one ``language``, and a later window is decoded in that language
rather than re-guessed on a stretch of music or a single foreign name (a per-window majority
vote would cost an identification per window and could still flip the document on a tie).
"""

from __future__ import annotations

import io
import logging
import threading
import wave
from pathlib import Path
from typing import Any

from transcriber.audio import ExtractedAudio
from transcriber.audio_windows import AudioWindow, read_windows
from transcriber.backend import TranscriptionError
from transcriber.packaged_model import PACKAGED_PREFIX, packaged_model
from transcriber.speech_groups import VAD, Region, SpeechCutter, speech_groups
from transcriber.timeline import RawSegment, RawWord, build_transcript
from videosense_shared.backends import BackendUnavailableError
from videosense_shared.messages import Transcript

NAME = "whisper"
# Whisper decodes 30 s at a time anyway; what a window costs is its spectrogram, computed for
# the whole window at once (about 1 MB per second of speech): 120 s keeps that near 120 MB.
DEFAULT_WINDOW_S = 120.0

_log = logging.getLogger(__name__)


class WhisperSpeechModel:
    """Transcribes with a faster-whisper model loaded once, shared by every call.

    ``window_s`` is the longest stretch of audio given to the model at once.

    Raises:
        ValueError: ``window_s`` is not positive (at construction).
    """

    def __init__(
        self,
        model: str,
        *,
        language: str = "auto",
        compute_type: str = "int8",
        cpu_threads: int = 0,
        beam_size: int = 1,
        vad: bool = True,
        temperature_fallback: bool = True,
        loop_ratio: float = 0.0,
        download_root: str = "",
        local_files_only: bool = False,
        window_s: float = DEFAULT_WINDOW_S,
    ) -> None:
        if window_s <= 0:
            raise ValueError(f"window_s must be positive, got {window_s}")
        self._window_s = window_s
        self._model_name = model
        # Whisper knows two-letter codes: 'en-US' asks for English.
        self._language = None if language == "auto" else language.split("-")[0]
        self._compute_type = compute_type
        self._cpu_threads = cpu_threads
        self._beam_size = beam_size
        self._vad = vad
        # faster-whisper's default: decode again, hotter, when a window looks like a loop.
        self._temperatures = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0) if temperature_fallback else (0.0,)
        # 0 turns the compression-ratio trigger off (see TranscriberSettings.whisper_loop_ratio).
        self._loop_ratio = loop_ratio or None
        self._download_root = download_root or None
        self._local_files_only = local_files_only
        self._lock = threading.Lock()
        self._loaded: Any = None

    @property
    def name(self) -> str:
        """Backend name recorded in the document."""
        return NAME

    @property
    def model(self) -> str | None:
        """The model directory or name."""
        return self._model_name

    def load(self) -> Any:
        """Load the model once (later calls return it; concurrent callers wait for one load).

        A failure is not remembered here: the service's loader remembers it
        (:mod:`transcriber.backends`), so a backlog of videos does not retry a slow, doomed
        download.

        Raises:
            BackendUnavailableError: the weights cannot be loaded.
        """
        with self._lock:
            if self._loaded is None:
                self._loaded = self._load()
            return self._loaded

    def _load(self) -> Any:
        try:
            from faster_whisper import WhisperModel
        except ImportError as err:  # pragma: no cover - a broken install
            raise BackendUnavailableError(f"faster-whisper is not installed: {err}") from err
        name = self._model_name
        if name.startswith(PACKAGED_PREFIX):
            return self._load_packaged(WhisperModel, name)
        looks_like_path = name.startswith(("/", "./", "../", "~")) or Path(name).is_dir()
        if looks_like_path and not Path(name).expanduser().is_dir():
            raise BackendUnavailableError(f"whisper model directory {name!r} does not exist")
        try:
            return WhisperModel(
                str(Path(name).expanduser()) if looks_like_path else name,
                device="cpu",
                compute_type=self._compute_type,
                cpu_threads=self._cpu_threads,
                download_root=self._download_root,
                local_files_only=self._local_files_only,
            )
        except Exception as err:
            # faster-whisper surfaces hub/network errors (no internet, unknown repo, not in the
            # cache) and CTranslate2 errors (bad model.bin) with many types; all mean the same
            # for the stage: these weights are not available here.
            detail = " ".join(f"{type(err).__name__}: {err}".split())[:300]
            hint = (
                ""
                if looks_like_path
                else " (a model name is downloaded from the Hugging Face Hub; offline, leave "
                "VIDEOSENSE_TRANSCRIBER_MODEL empty for the packaged model or set it to a "
                "converted model directory)"
            )
            raise BackendUnavailableError(
                f"whisper model {name!r} cannot be loaded: {detail}{hint}"
            ) from err

    def _load_packaged(self, whisper_model: Any, name: str) -> Any:
        files = packaged_model(name).open_files()
        try:
            # With ``files`` the name is only an identifier: nothing is looked up or fetched.
            return whisper_model(
                name,
                device="cpu",
                compute_type=self._compute_type,
                cpu_threads=self._cpu_threads,
                files=files,
            )
        except Exception as err:
            detail = " ".join(f"{type(err).__name__}: {err}".split())[:300]
            raise BackendUnavailableError(
                f"packaged whisper model {name!r} cannot be loaded: {detail}"
            ) from err
        finally:
            weights = files.get("model.bin")
            if isinstance(weights, io.BufferedReader):
                weights.close()

    def recognize(self, audio: ExtractedAudio) -> Transcript:
        """Transcribe the WAV file window by window (language identified unless configured).

        Raises:
            BackendUnavailableError: the model cannot be loaded.
            TranscriptionError: the model failed on this audio, or the WAV cannot be read.
        """
        model = self.load()
        language = self._language
        raw: list[RawSegment] = []
        windows = 0
        try:
            # With VAD the windows end in the pause before speech that would run over the
            # edge (speech_groups.speech_cut), so no word is split between two decodes.
            cutter = SpeechCutter() if self._vad else None
            for window in read_windows(audio.path, self._window_s, cut=cutter):
                segments: list[RawSegment] = []
                regions = cutter.take() if cutter is not None else None
                for start, end in self._spans(window, regions):
                    decoded, detected = self._decode(model, window, start, end, language)
                    segments.extend(decoded)
                    # Identification on audio with no speech is a guess on noise: keep asking
                    # until a span has something to say, then hold that language.
                    if language is None and decoded:
                        language = detected
                windows += 1
                raw.extend(segments)
                _log.info(
                    "whisper window %d: %.1f-%.1f s, %d segment(s)",
                    window.index,
                    window.start_s,
                    window.start_s + window.duration_s,
                    len(segments),
                    extra={
                        "window": window.index,
                        "start_s": window.start_s,
                        "end_s": window.start_s + window.duration_s,
                        "segments": len(segments),
                    },
                )
                # This window's samples are released before the next one is read.
                del window
        except (RuntimeError, ValueError, EOFError, wave.Error) as err:
            raise TranscriptionError(f"whisper failed on the audio: {err}") from err
        # No window had speech: the language stays None (build_transcript drops it anyway).
        _log.info("whisper: %d window(s) of at most %g s", windows, self._window_s)
        return build_transcript(language, raw, audio.duration_s)

    def _spans(self, window: AudioWindow, regions: list[Region] | None) -> list[tuple[int, int]]:
        """The sample ranges of ``window`` to decode: its speech groups with VAD (none when
        nothing is spoken: no decode, no language guessed from noise), else all of it.
        ``regions``: the window's speech as its cut found it (else found here)."""
        if not self._vad:
            return [(0, window.samples.shape[0])]
        return [(group.start, group.end) for group in speech_groups(window.samples, regions)]

    def _decode(
        self,
        model: Any,
        window: AudioWindow,
        start: int,
        end: int,
        language: str | None,
    ) -> tuple[list[RawSegment], str]:
        """Decode ``window.samples[start:end]``; times come back in the file's seconds."""
        segments, info = model.transcribe(
            window.samples[start:end],
            language=language,
            beam_size=self._beam_size,
            vad_filter=self._vad,
            vad_parameters=VAD if self._vad else None,
            temperature=list(self._temperatures),
            compression_ratio_threshold=self._loop_ratio,
            word_timestamps=True,
            condition_on_previous_text=False,
        )
        offset = window.start_s + start / window.sample_rate
        low, high = window.start_s, window.start_s + window.duration_s

        def shift(t: float) -> float:
            # Timestamp tokens can overshoot the audio; clamping to the window keeps windows
            # disjoint, so segments of a later window never start before an earlier one ends.
            return min(max(offset + float(t), low), high)

        raw = [
            RawSegment(
                start_s=shift(seg.start),
                end_s=shift(seg.end),
                text=seg.text,
                words=[
                    RawWord(
                        word=w.word,
                        start_s=shift(w.start),
                        end_s=shift(w.end),
                        confidence=float(w.probability),
                    )
                    for w in seg.words or ()
                ],
            )
            # ``segments`` is a generator: decoding happens while iterating.
            for seg in segments
        ]
        return raw, str(info.language)
