"""pocketsphinx: fully offline speech recognition with the en-US model shipped in the package.

The low-accuracy fallback for machines with no model weights at all. Audio is cut into
utterances by pocketsphinx's voice activity endpointer; each utterance becomes a segment and
the decoder's word alignment gives word times (frames of 10 ms, relative to the utterance).
"""

from __future__ import annotations

import re
import wave
from typing import Any

from transcriber.audio import SAMPLE_RATE, ExtractedAudio
from transcriber.backend import TranscriptionError
from transcriber.timeline import RawSegment, RawWord, build_transcript
from videosense_shared.backends import BackendUnavailableError
from videosense_shared.messages import Transcript

NAME = "pocketsphinx"
MODEL = "en-us"
LANGUAGE = "en"

# Pronunciation variants are spelled "word(2)"; the word is what comes before.
_VARIANT = re.compile(r"\(\d+\)$")
# Longest stretch decoded at once when speech never pauses (bounds memory and latency).
_MAX_UTTERANCE_S = 30.0


def _is_filler(word: str) -> bool:
    # <s>, </s>, <sil> and [NOISE]-style fillers are not words.
    return word.startswith(("<", "[")) or word.endswith(("]", ">"))


class PocketSphinxSpeechModel:
    """Recognises English speech with pocketsphinx's bundled model."""

    def __init__(self, *, vad_mode: int = 1, language: str = "auto") -> None:
        """Raises:
        BackendUnavailableError: a language other than English (or ``auto``) is asked for.
        """
        if language != "auto" and language.split("-")[0] != LANGUAGE:
            raise BackendUnavailableError(
                f"pocketsphinx ships an English model only; language {language!r} is not "
                "available (use the whisper or transcribe backend)"
            )
        self._vad_mode = vad_mode

    @property
    def name(self) -> str:
        """Backend name recorded in the document."""
        return NAME

    @property
    def model(self) -> str | None:
        """The bundled acoustic model."""
        return MODEL

    def recognize(self, audio: ExtractedAudio) -> Transcript:
        """Transcribe a 16 kHz mono WAV, one segment per utterance.

        Raises:
            BackendUnavailableError: pocketsphinx or its bundled model cannot be loaded.
            TranscriptionError: the WAV is not 16 kHz mono 16-bit.
        """
        try:
            from pocketsphinx import Decoder, Endpointer
        except ImportError as err:  # pragma: no cover - a broken install
            raise BackendUnavailableError(f"pocketsphinx is not installed: {err}") from err
        try:
            # One decoder per call: decoders are not thread-safe, and loading the bundled
            # model takes a fraction of a second next to decoding any real audio.
            endpointer = Endpointer(vad_mode=self._vad_mode, sample_rate=SAMPLE_RATE)
            decoder = Decoder(samprate=SAMPLE_RATE)
        except (RuntimeError, ValueError) as err:
            raise BackendUnavailableError(f"pocketsphinx cannot load its model: {err}") from err
        frame_rate = int(decoder.config["frate"])
        frame_bytes = int(endpointer.frame_bytes)
        segments: list[RawSegment] = []
        utterance = _Utterance()
        with wave.open(str(audio.path), "rb") as wav:
            if (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) != (SAMPLE_RATE, 1, 2):
                raise TranscriptionError("pocketsphinx needs 16 kHz mono 16-bit audio")
            while block := wav.readframes(frame_bytes // 2):
                was_in_speech = endpointer.in_speech
                if len(block) < frame_bytes:
                    speech = endpointer.end_stream(block)
                else:
                    speech = endpointer.process(block)
                if speech is None:
                    continue
                if not was_in_speech:
                    utterance.begin(float(endpointer.speech_start))
                utterance.add(speech)
                if not endpointer.in_speech:
                    segments.extend(utterance.decode(decoder, frame_rate))
                elif utterance.duration_s >= _MAX_UTTERANCE_S:
                    # Speech with no pause: cut it so that memory stays bounded.
                    segments.extend(utterance.decode(decoder, frame_rate))
                    utterance.begin(utterance.end_s)
            # The stream ended inside an utterance (end_stream already returned its audio).
            segments.extend(utterance.decode(decoder, frame_rate))
        return build_transcript(LANGUAGE, segments, audio.duration_s)


class _Utterance:
    """The audio of one utterance, decoded as a whole when it ends.

    Whole-utterance decoding (``full_utt``) normalises the cepstra over the utterance itself;
    live normalisation starts from a prior and garbles the first words after every silence.
    """

    def __init__(self) -> None:
        self.start_s = 0.0
        self._chunks: list[bytes] = []
        self._bytes = 0

    def begin(self, start_s: float) -> None:
        self.start_s = start_s
        self._chunks = []
        self._bytes = 0

    def add(self, speech: bytes) -> None:
        self._chunks.append(speech)
        self._bytes += len(speech)

    @property
    def duration_s(self) -> float:
        return self._bytes / (2 * SAMPLE_RATE)

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s

    def decode(self, decoder: Any, frame_rate: int) -> list[RawSegment]:
        """Decode the utterance (and empty it); returns no segment when nothing was said."""
        if not self._chunks:
            return []
        decoder.start_utt()
        decoder.process_raw(b"".join(self._chunks), full_utt=True)
        decoder.end_utt()
        offset, end = self.start_s, self.end_s
        self.begin(end)
        words = [
            RawWord(
                word=_VARIANT.sub("", seg.word),
                start_s=offset + seg.start_frame / frame_rate,
                # end_frame is inclusive: the word lasts until the end of that frame.
                end_s=offset + (seg.end_frame + 1) / frame_rate,
                confidence=float(seg.prob),
            )
            for seg in decoder.seg()
            if not _is_filler(seg.word)
        ]
        if not words:
            return []
        text = " ".join(w.word for w in words)
        return [RawSegment(start_s=offset, end_s=max(end, words[-1].end_s), text=text, words=words)]
