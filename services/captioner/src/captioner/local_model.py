"""The ``local`` backend: a Hugging Face image-to-text model run with transformers, batched.

Loaded with ``AutoProcessor`` and ``AutoModelForImageTextToText`` (transformers 5 removed
``pipeline("image-to-text")``), which covers BLIP, BLIP-2, GIT and other captioning models whose
processor takes images (and an optional text prefix) directly. torch and transformers are
imported only when this backend opens, so the other backends never pay for them.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

from PIL import Image

from captioner.backend import CaptionBackend, CaptioningError, ImageLimits
from captioner.model_source import resolve_model_dir
from captioner.settings import CaptionerSettings
from videosense_shared.backends import BackendUnavailableError


def _load(directory: Path, device: str) -> tuple[Any, Any, str]:
    """Load processor and model from ``directory`` (blocking), never touching the network."""
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    # transformers is only partly typed; what comes back is used duck-typed anyway.
    load_processor: Any = AutoProcessor.from_pretrained
    load_model: Any = AutoModelForImageTextToText.from_pretrained
    try:
        processor = load_processor(str(directory), local_files_only=True)
        model = load_model(str(directory), local_files_only=True)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise BackendUnavailableError(
            f"cannot load an image-to-text model from {directory}: {type(err).__name__}: {err}"
        ) from err
    try:
        model.to(device)
    except (RuntimeError, AssertionError) as err:  # torch asserts when built without CUDA
        raise BackendUnavailableError(f"cannot use device {device!r}: {err}") from err
    model.eval()
    return processor, model, device


class LocalBackend(CaptionBackend):
    """Captions with a transformers model in this process (CPU or GPU).

    One ``generate()`` runs at a time: torch already spreads one batch over every core, so
    concurrent batches would only contend. Batches run in a worker thread.
    """

    name = "local"

    def __init__(
        self,
        model_ref: str,
        processor: Any,
        model: Any,
        *,
        device: str,
        prompt: str | None,
        max_tokens: int,
        batch_size: int,
        max_side: int,
    ) -> None:
        self._model_ref = model_ref
        self._processor = processor
        self._model = model
        self._device = device
        self._prompt = prompt
        self._max_tokens = max_tokens
        self._batch_size = batch_size
        self._limits = ImageLimits(max_side=max_side)
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, settings: CaptionerSettings, *, hub_endpoint: str | None = None) -> Self:
        """Find, download if allowed, and load the configured model.

        Raises:
            BackendUnavailableError: no such directory, not cached while offline, hub
                unreachable, not a loadable image-to-text model, or loading took too long.
        """
        ref = settings.resolved_model()
        assert ref is not None  # the local backend always has a default model
        try:
            async with asyncio.timeout(settings.load_timeout_s):
                directory = await asyncio.to_thread(
                    resolve_model_dir,
                    ref,
                    offline=settings.offline,
                    probe_timeout_s=settings.hub_probe_timeout_s,
                    hub_endpoint=hub_endpoint,
                )
                processor, model, device = await asyncio.to_thread(
                    _load, directory, settings.device
                )
        except TimeoutError as err:
            raise BackendUnavailableError(
                f"loading model {ref!r} took longer than {settings.load_timeout_s:g} s"
            ) from err
        return cls(
            ref,
            processor,
            model,
            device=device,
            prompt=settings.prompt,
            max_tokens=settings.max_tokens,
            batch_size=settings.local_batch_size,
            max_side=settings.max_image_side,
        )

    @property
    def model(self) -> str:
        """The directory or hub id the model was loaded from."""
        return self._model_ref

    @property
    def limits(self) -> ImageLimits:
        """The processor resizes to the model's input itself; this only bounds memory."""
        return self._limits

    async def caption(self, images: Sequence[bytes]) -> list[str]:
        """Caption ``images`` in batches of ``local_batch_size``.

        Raises:
            CaptioningError: an image cannot be decoded, or inference failed.
        """
        captions: list[str] = []
        for start in range(0, len(images), self._batch_size):
            batch = images[start : start + self._batch_size]
            async with self._lock:
                captions.extend(await asyncio.to_thread(self._generate, batch))
        return captions

    def _generate(self, batch: Sequence[bytes]) -> list[str]:
        import torch

        try:
            pictures = [Image.open(io.BytesIO(data)).convert("RGB") for data in batch]
        except OSError as err:
            raise CaptioningError(f"keyframe is not a readable image: {err}") from err
        kwargs: dict[str, Any] = {"images": pictures, "return_tensors": "pt"}
        if self._prompt:
            kwargs["text"] = [self._prompt] * len(pictures)
        try:
            inputs = self._processor(**kwargs).to(self._device)
            with torch.inference_mode():
                ids = self._model.generate(**inputs, max_new_tokens=self._max_tokens)
            texts: list[str] = self._processor.batch_decode(ids, skip_special_tokens=True)
        except (RuntimeError, ValueError) as err:
            raise CaptioningError(
                f"{self._model_ref} failed to caption: {type(err).__name__}: {err}"
            ) from err
        return [text.strip() for text in texts]

    async def aclose(self) -> None:
        """Drop the model so its memory can be freed."""
        self._model = None
        self._processor = None
