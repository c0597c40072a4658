"""The local backend on a tiny randomly initialised BLIP: real loading, real generate()."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import pytest

from captioner.local_model import LocalBackend
from captioner.settings import CaptionerSettings
from tests.fixtures.captioner.tiny_blip import VOCAB, build_tiny_blip, jpeg
from videosense_shared.backends import BackendUnavailableError

COLOURS = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (240, 240, 20), (10, 10, 10)]


@pytest.fixture(scope="module")
def tiny_blip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_blip(tmp_path_factory.mktemp("models") / "tiny-blip")


@pytest.fixture(scope="module")
def images() -> list[bytes]:
    return [jpeg(colour) for colour in COLOURS]


def _settings(model: str, **overrides: object) -> CaptionerSettings:
    return CaptionerSettings(backend="local", model=model, offline=True, **overrides)  # type: ignore[arg-type]


def _reference_captions(directory: Path, images: list[bytes], max_tokens: int) -> list[str]:
    """What transformers itself generates from the saved model, outside the backend."""
    import io

    import torch
    from PIL import Image
    from transformers import BlipForConditionalGeneration, BlipProcessor

    # transformers is only partly typed: handled as Any, like the backend does.
    processor: Any = BlipProcessor.from_pretrained(str(directory))
    model: Any = BlipForConditionalGeneration.from_pretrained(str(directory))
    model.eval()
    pictures = [Image.open(io.BytesIO(data)).convert("RGB") for data in images]
    with torch.inference_mode():
        ids = model.generate(
            **processor(images=pictures, return_tensors="pt"), max_new_tokens=max_tokens
        )
    return [text.strip() for text in processor.batch_decode(ids, skip_special_tokens=True)]


async def test_captions_every_image_with_the_saved_model(
    tiny_blip: Path, images: list[bytes]
) -> None:
    # GIVEN the local backend opened on a saved tiny BLIP directory
    backend = await LocalBackend.open(_settings(str(tiny_blip), max_tokens=6))
    # WHEN it captions five keyframes
    captions = await backend.caption(images)
    # THEN there is one string per image, written by that directory's weights
    assert backend.name == "local"
    assert backend.model == str(tiny_blip)
    assert len(captions) == len(images)
    assert all(isinstance(caption, str) for caption in captions)
    assert any(captions), "the tiny model wrote nothing at all"
    assert captions == _reference_captions(tiny_blip, images, max_tokens=6)
    vocabulary = set(VOCAB.read_text().split())
    assert {word for caption in captions for word in caption.split()} <= vocabulary


@pytest.mark.parametrize(
    "max_tokens", [pytest.param(1, id="one-token"), pytest.param(3, id="three")]
)
async def test_max_tokens_bounds_every_caption(
    tiny_blip: Path, images: list[bytes], max_tokens: int
) -> None:
    # GIVEN a backend with a token budget (the tiny model writes one word per token and
    # never ends a caption early)
    backend = await LocalBackend.open(_settings(str(tiny_blip), max_tokens=max_tokens))
    unbounded = await (await LocalBackend.open(_settings(str(tiny_blip), max_tokens=20))).caption(
        images
    )
    # WHEN it captions
    captions = await backend.caption(images)
    # THEN every caption stops at the budget, though the model would write more
    assert [len(caption.split()) for caption in captions] == [max_tokens] * len(images)
    assert [len(caption.split()) for caption in unbounded] == [20] * len(images)


async def test_batches_give_the_same_captions_as_one_batch(
    tiny_blip: Path, images: list[bytes]
) -> None:
    # GIVEN two backends on the same model, batching by 2 and by 8
    small = await LocalBackend.open(_settings(str(tiny_blip), local_batch_size=2))
    large = await LocalBackend.open(_settings(str(tiny_blip), local_batch_size=8))
    # WHEN both caption five images
    # THEN the captions agree, in order
    assert await small.caption(images) == await large.caption(images)


async def test_prompt_opens_every_caption(tiny_blip: Path, images: list[bytes]) -> None:
    # GIVEN a BLIP prompt (the caption's opening words)
    backend = await LocalBackend.open(_settings(str(tiny_blip), prompt="a photo of"))
    # WHEN it captions
    captions = await backend.caption(images[:2])
    # THEN every caption continues the prompt
    assert all(caption.startswith("a photo of") for caption in captions)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize(
    ("model", "offline", "hub", "reason"),
    [
        pytest.param(
            "/nonexistent/videosense/model", True, None, "does not exist", id="missing-directory"
        ),
        pytest.param(
            "videosense-tests/no-such-model",
            True,
            None,
            "downloads are off",
            id="hub-id-not-cached-offline",
        ),
        pytest.param(
            "videosense-tests/no-such-model",
            False,
            "closed",
            "unreachable",
            id="hub-id-not-cached-hub-down",
        ),
    ],
)
async def test_a_model_that_cannot_load_fails_fast_with_the_reason(
    model: str, offline: bool, hub: str | None, reason: str
) -> None:
    # GIVEN a model that is nowhere to be had
    endpoint = f"http://127.0.0.1:{_closed_port()}" if hub == "closed" else None
    settings = CaptionerSettings(backend="local", model=model, offline=offline)
    # WHEN the backend opens
    started = time.monotonic()
    with pytest.raises(BackendUnavailableError) as caught:
        await LocalBackend.open(settings, hub_endpoint=endpoint)
    # THEN it fails within seconds (no minutes of hub retries) and says why
    assert time.monotonic() - started < 10
    assert reason in caught.value.reason
    assert model in caught.value.reason


async def test_a_directory_without_a_model_fails_with_the_reason(tmp_path: Path) -> None:
    # GIVEN a directory with no model in it
    (tmp_path / "README.md").write_text("not a model")
    # WHEN the backend opens on it
    with pytest.raises(BackendUnavailableError) as caught:
        await LocalBackend.open(_settings(str(tmp_path)))
    # THEN the reason names the directory
    assert "cannot load an image-to-text model" in caught.value.reason
    assert str(tmp_path) in caught.value.reason


async def test_a_device_this_machine_lacks_fails_with_the_reason(tiny_blip: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    # GIVEN a GPU device asked for on a CPU-only torch
    # WHEN the backend opens
    with pytest.raises(BackendUnavailableError) as caught:
        await LocalBackend.open(_settings(str(tiny_blip), device="cuda"))
    # THEN it is unavailable, naming the device, rather than silently using the CPU
    assert "cannot use device 'cuda'" in caught.value.reason
