"""Whisper through faster-whisper's real loading and inference path, on a tiny randomly
initialised model the test builds with transformers and converts with CTranslate2.

The model's output is gibberish (random weights): the tests assert the structure, the times
and that the directory given is the model that ran, not what it says.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.support.speech import make_speech_clip
from transcriber.audio import ExtractedAudio, extract_audio
from transcriber.audio_windows import read_windows
from transcriber.backends import make_backend
from transcriber.settings import TranscriberSettings
from transcriber.whisper import WhisperSpeechModel
from videosense_shared.aws import AwsClients
from videosense_shared.backends import BackendUnavailableError
from videosense_shared.messages import Transcript

# Whisper large-v3's multilingual layout: 50257 byte-level BPE tokens, <|endoftext|> (50257),
# <|startoftranscript|>, 100 language tokens, 6 task tokens, 1501 timestamps: 51866 in all.
# CTranslate2 tells a multilingual model from an English-only one by this size.
_TEXT_TOKENS = 50257
_FILLER = re.compile(r"^(tok\d+)+$")


def _token_id(tokenizer: Any, token: str) -> int:
    value = tokenizer.convert_tokens_to_ids(token)
    assert isinstance(value, int), token
    return value


def build_tiny_whisper(root: Path) -> Path:
    """Build, save and convert a randomly initialised 1-layer Whisper; return the CT2 dir."""
    import torch
    from ctranslate2.converters import TransformersConverter
    from faster_whisper.tokenizer import _LANGUAGE_CODES
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import (
        WhisperConfig,
        WhisperFeatureExtractor,
        WhisperForConditionalGeneration,
        WhisperTokenizer,
    )

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {ch: i for i, ch in enumerate(alphabet)}
    for i in range(len(vocab), _TEXT_TOKENS):
        vocab[f"tok{i}"] = i
    bpe = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    languages = [f"<|{code}|>" for code in _LANGUAGE_CODES]
    specials = [
        "<|startoftranscript|>",
        *languages,
        "<|translate|>",
        "<|transcribe|>",
        "<|startoflm|>",
        "<|startofprev|>",
        "<|nospeech|>",
        "<|notimestamps|>",
    ]
    eot = "<|endoftext|>"
    tokenizer = WhisperTokenizer(
        tokenizer_object=bpe, bos_token=eot, eos_token=eot, unk_token=eot, pad_token=eot
    )
    tokenizer.add_special_tokens({"additional_special_tokens": specials})
    tokenizer.add_tokens([f"<|{i * 0.02:.2f}|>" for i in range(1501)])
    eot_id = _token_id(tokenizer, eot)
    config = WhisperConfig(
        vocab_size=len(tokenizer),
        num_mel_bins=80,
        d_model=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_source_positions=1500,
        max_target_positions=448,
        decoder_start_token_id=_token_id(tokenizer, "<|startoftranscript|>"),
        bos_token_id=eot_id,
        eos_token_id=eot_id,
        pad_token_id=eot_id,
        suppress_tokens=[],
        begin_suppress_tokens=[220, eot_id],
    )
    torch.manual_seed(0)
    hf = root / "hf"
    WhisperForConditionalGeneration(config).save_pretrained(hf)
    tokenizer.save_pretrained(hf)
    # Untyped in transformers 5.
    WhisperFeatureExtractor(feature_size=80).save_pretrained(hf)  # type: ignore[no-untyped-call]
    out = root / "ct2"
    TransformersConverter(
        str(hf), copy_files=["tokenizer.json", "preprocessor_config.json"]
    ).convert(str(out), quantization="int8")
    # transformers 5 drops the generation config's lang_to_id and the tokenizer's
    # additional_special_tokens, from which CTranslate2 reads the language token ids: write
    # them as the converter does for a real multilingual checkpoint.
    ct2_config = json.loads((out / "config.json").read_text())
    ct2_config["lang_ids"] = sorted(_token_id(tokenizer, lang) for lang in languages)
    (out / "config.json").write_text(json.dumps(ct2_config))
    return out


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_whisper(tmp_path_factory.mktemp("whisper"))


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> ExtractedAudio:
    tmp = tmp_path_factory.mktemp("whisper-audio")
    # One short sentence: a random model writes gibberish up to its length limit per window.
    clip = make_speech_clip(tmp / "speech.mp4", ("the weather is nice today",), pause_s=0.3)
    return extract_audio(clip, tmp / "speech.wav")


@pytest.fixture(scope="module")
def transcript(tiny_model: Path, speech: ExtractedAudio) -> Transcript:
    return WhisperSpeechModel(str(tiny_model), beam_size=1, temperature_fallback=False).recognize(
        speech
    )


def test_the_model_directory_is_what_runs(tiny_model: Path, transcript: Transcript) -> None:
    # GIVEN the tiny model (its vocabulary is "tokNNN" fillers, no real word)
    # WHEN it transcribes speech
    # THEN the text is made of its own tokens: this model ran, not a downloaded one
    assert transcript.segments, "the random model produced no segment at all"
    words = [w.word for s in transcript.segments for w in s.words]
    assert words
    assert all(_FILLER.match(word) for word in words), words[:10]
    # and a language was reported (CTranslate2 4.8 deems this vocabulary English-only, so
    # faster-whisper answers 'en' without running identification)
    assert transcript.language == "en"


def test_times_are_ordered_and_inside_the_audio(
    transcript: Transcript, speech: ExtractedAudio
) -> None:
    # THEN segments are in order and inside the audio, words inside their segment
    starts = [s.start_s for s in transcript.segments]
    assert starts == sorted(starts)
    for segment in transcript.segments:
        assert 0 <= segment.start_s <= segment.end_s <= speech.duration_s
        previous = segment.start_s
        for word in segment.words:
            assert segment.start_s <= word.start_s <= word.end_s <= segment.end_s
            assert word.start_s >= previous
            assert word.confidence is not None
            assert 0 <= word.confidence <= 1
            previous = word.start_s
    assert transcript.text == " ".join(s.text for s in transcript.segments)


def test_a_regional_language_code_is_given_to_whisper_as_its_base(
    tiny_model: Path, speech: ExtractedAudio, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN the language setting 'en-US' (the Transcribe style)
    # WHEN the model transcribes
    transcript = WhisperSpeechModel(
        str(tiny_model), language="en-US", beam_size=1, temperature_fallback=False
    ).recognize(speech)
    # THEN Whisper got 'en' (no complaint about an unknown language) and reports it
    assert transcript.language == "en"
    assert not [r for r in caplog.records if "language" in r.getMessage()]


async def test_a_corrupt_model_file_fails_clearly(tiny_model: Path, tmp_path: Path) -> None:
    # GIVEN a copy of the model directory whose weights are truncated
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model, broken)
    weights = broken / "model.bin"
    weights.write_bytes(weights.read_bytes()[:1000])
    settings = TranscriberSettings(backend="whisper", model=str(broken))
    async with AwsClients(settings.common.region) as aws:
        backends = make_backend(settings, aws)
        # WHEN the service opens it for a video, then for the next one
        with pytest.raises(BackendUnavailableError, match="cannot be loaded") as first:
            await backends.get()
        with pytest.raises(BackendUnavailableError) as again:
            await backends.get()
    # THEN the stage's reason names the model, and the load is not retried for every video
    assert again.value is first.value
    assert str(broken) in first.value.reason


def test_a_missing_model_directory_fails_clearly(tmp_path: Path) -> None:
    # GIVEN a model path that does not exist
    model = WhisperSpeechModel(str(tmp_path / "nowhere"))
    # WHEN it is loaded
    # THEN the reason says the directory does not exist
    with pytest.raises(BackendUnavailableError, match="does not exist"):
        model.load()


def test_a_model_name_not_available_offline_fails_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN no network for the hub and an empty model cache
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = WhisperSpeechModel("tiny", download_root=str(tmp_path / "cache"))
    # WHEN the named model is loaded
    # THEN the stage's reason names the model instead of a crash
    with pytest.raises(BackendUnavailableError, match="'tiny' cannot be loaded") as caught:
        model.load()
    # and it says what to do about it: the packaged model needs no network
    assert "leave VIDEOSENSE_TRANSCRIBER_MODEL empty for the packaged model" in caught.value.reason


@pytest.fixture(scope="module")
def long_speech(tmp_path_factory: pytest.TempPathFactory) -> ExtractedAudio:
    tmp = tmp_path_factory.mktemp("whisper-long")
    # Three sentences, about 10 s: several windows of 2.5 s.
    clip = make_speech_clip(tmp / "speech.mp4")
    return extract_audio(clip, tmp / "speech.wav")


def test_long_audio_is_transcribed_window_by_window(
    tiny_model: Path, long_speech: ExtractedAudio, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN ~10 s of speech and a model reading 2.5 s windows
    model = WhisperSpeechModel(
        str(tiny_model), beam_size=1, temperature_fallback=False, window_s=2.5
    )
    # WHEN it transcribes
    with caplog.at_level(logging.INFO, logger="transcriber.whisper"):
        transcript = model.recognize(long_speech)
    # THEN the model ran once per window of the reader, never on more than a window
    spans = [
        (float(r.__dict__["start_s"]), float(r.__dict__["end_s"]), int(r.__dict__["segments"]))
        for r in caplog.records
        if "window" in r.__dict__
    ]
    expected = [(w.start_s, w.start_s + w.duration_s) for w in read_windows(long_speech.path, 2.5)]
    assert len(expected) >= 4
    assert len(spans) == len(expected)
    for (start, end, _), want in zip(spans, expected, strict=True):
        assert (start, end) == pytest.approx(want)
    assert all(end - start <= 2.5 for start, end, _ in spans)
    # and every segment lies inside one window, shifted to the video's time: segments of a
    # later window start after an earlier window ends
    assert sum(1 for *_, count in spans if count) >= 2, spans
    for segment in transcript.segments:
        assert any(s - 1e-3 <= segment.start_s <= segment.end_s <= e + 1e-3 for s, e, _ in spans), (
            segment
        )
    later = [s for s in transcript.segments if s.start_s >= spans[1][0]]
    assert later, "no segment was shifted past the first window"
    # and times are ordered, monotonic and inside the audio
    starts = [s.start_s for s in transcript.segments]
    assert starts == sorted(starts)
    for before, after in itertools.pairwise(transcript.segments):
        if before.end_s > after.start_s + 1e-3:
            # only segments of the same window may overlap (as Whisper reports them)
            assert any(
                s - 1e-3 <= before.start_s and after.end_s <= e + 1e-3 for s, e, _ in spans
            ), (before, after)
    for segment in transcript.segments:
        assert 0 <= segment.start_s <= segment.end_s <= long_speech.duration_s
        previous = segment.start_s
        for word in segment.words:
            assert segment.start_s <= previous <= word.start_s <= word.end_s <= segment.end_s
            previous = word.start_s
    assert transcript.language == "en"


def test_a_window_length_that_is_not_positive_is_refused(tiny_model: Path) -> None:
    with pytest.raises(ValueError, match="window_s"):
        WhisperSpeechModel(str(tiny_model), window_s=0)
