"""Labels from a general image classifier in ONNX format, run with OpenCV's DNN module.

Only used when ``VIDEOSENSE_RECOGNIZER_LABEL_MODEL`` points at a model file: nothing is
downloaded. The model takes one NCHW float image (RGB, ImageNet mean/std normalisation, the
convention of torchvision and timm exports) and returns one score per class; scores that are
not already probabilities (logits) go through a softmax.
"""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from recognizer.images import Bgr
from videosense_shared.backends import BackendUnavailableError
from videosense_shared.messages import Label

_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


class LabelModel:
    """An ONNX classifier and its class names.

    Args:
        model: the ``.onnx`` file.
        names: text file with one class name per line (``class <i>`` when not given).
        input_size: the model's square input side.
        top_k: at most this many labels per image.

    Raises:
        BackendUnavailableError: the model or the names file cannot be read or loaded.
    """

    def __init__(self, model: Path, names: Path | None, input_size: int, top_k: int) -> None:
        try:
            self._net = cv2.dnn.readNetFromONNX(str(model))
        except cv2.error as err:
            raise BackendUnavailableError(
                f"the label model {model} does not load: {err.err}"
            ) from err
        if self._net.empty():
            raise BackendUnavailableError(f"the label model {model} does not load")
        self._names: list[str] | None = None
        if names is not None:
            try:
                lines = names.read_text(encoding="utf-8").splitlines()
            except OSError as err:
                raise BackendUnavailableError(f"cannot read label names {names}: {err}") from err
            self._names = [line.strip() for line in lines if line.strip()]
        self._size = input_size
        self._top_k = top_k
        self._model = model
        # cv2.dnn.Net keeps per-call state: one forward pass at a time.
        self._lock = threading.Lock()

    def classify(self, image: Bgr, min_confidence: float) -> list[Label]:
        """The ``top_k`` most likely classes whose probability (in %) reaches ``min_confidence``.

        Labels are whole-image classes, so they carry no box.

        Raises:
            BackendUnavailableError: the model's output does not match its names file.
        """
        rgb = cv2.cvtColor(cv2.resize(image, (self._size, self._size)), cv2.COLOR_BGR2RGB)
        normalised = (rgb.astype(np.float32) / 255.0 - _MEAN) / _STD
        blob = np.ascontiguousarray(normalised.transpose(2, 0, 1)[np.newaxis])
        with self._lock:
            self._net.setInput(blob)
            output = np.asarray(self._net.forward(), dtype=np.float64).reshape(-1)
        probs = _probabilities(output)
        if self._names is not None and len(self._names) != probs.size:
            raise BackendUnavailableError(
                f"the label model {self._model} scores {probs.size} classes but its names "
                f"file lists {len(self._names)}"
            )
        order = np.argsort(-probs)[: self._top_k]
        labels: list[Label] = []
        for index in order:
            confidence = float(probs[index]) * 100.0
            if confidence < min_confidence:
                break
            name = self._names[index] if self._names is not None else f"class {index}"
            labels.append(Label(name=name, confidence=min(100.0, confidence)))
        return labels


def _probabilities(scores: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    # A softmax output is already a distribution; anything else is treated as logits.
    if scores.min() >= 0 and abs(float(scores.sum()) - 1.0) < 1e-3:
        return scores
    shifted = np.exp(scores - scores.max())
    result: npt.NDArray[np.float64] = shifted / shifted.sum()
    return result
