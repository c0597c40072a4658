"""Local labels from an ONNX classifier: a tiny random model the test builds, run for real by
OpenCV's DNN module, checked against the same arithmetic done in numpy."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from recognizer.features import Feature
from recognizer.images import encode_jpeg
from recognizer.local_backend import LocalBackend
from recognizer.settings import RecognizerSettings
from videosense_shared.backends import BackendUnavailableError

SIDE = 16
NAMES = ["cat", "dog", "car", "tree"]


def _tiny_classifier(path: Path, seed: int = 3) -> tuple[npt.NDArray[np.float32], ...]:
    """image [1,3,16,16] -> GlobalAveragePool -> Flatten -> Gemm(3 -> 4) logits."""
    rng = np.random.default_rng(seed)
    weights = rng.normal(0, 3, (3, len(NAMES))).astype(np.float32)
    bias = rng.normal(0, 1, (len(NAMES),)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("GlobalAveragePool", ["image"], ["pooled"]),
            helper.make_node("Flatten", ["pooled"], ["flat"]),
            helper.make_node("Gemm", ["flat", "W", "B"], ["logits"]),
        ],
        "tiny",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, SIDE, SIDE])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, len(NAMES)])],
        initializer=[numpy_helper.from_array(weights, "W"), numpy_helper.from_array(bias, "B")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return weights, bias


def _expected(
    image: npt.NDArray[np.uint8], weights: npt.NDArray[np.float32], bias: npt.NDArray[np.float32]
) -> npt.NDArray[np.float64]:
    rgb = cv2.cvtColor(cv2.resize(image, (SIDE, SIDE)), cv2.COLOR_BGR2RGB).astype(np.float32)
    mean = np.array([0.485, 0.456, 0.406], np.float32)
    std = np.array([0.229, 0.224, 0.225], np.float32)
    pooled = ((rgb / 255.0 - mean) / std).mean(axis=(0, 1))
    logits = (pooled @ weights + bias).astype(np.float64)
    exp = np.exp(logits - logits.max())
    result: npt.NDArray[np.float64] = exp / exp.sum() * 100
    return result


@pytest.fixture
def model_files(tmp_path: Path) -> tuple[Path, Path, tuple[npt.NDArray[np.float32], ...]]:
    model = tmp_path / "tiny.onnx"
    params = _tiny_classifier(model)
    names = tmp_path / "names.txt"
    names.write_text("\n".join(NAMES) + "\n", encoding="utf-8")
    return model, names, params


async def test_labels_come_from_the_configured_onnx_model(
    model_files: tuple[Path, Path, tuple[npt.NDArray[np.float32], ...]],
) -> None:
    # GIVEN the local backend with a tiny classifier and its class names
    model, names, (weights, bias) = model_files
    backend = LocalBackend(
        RecognizerSettings(
            label_model=model,
            label_names=names,
            label_input_size=SIDE,
            label_min_confidence=0,
            label_top_k=2,
        )
    )
    image = np.zeros((120, 160, 3), np.uint8)
    image[:, :80] = (0, 200, 255)  # orange left half, black right half
    # WHEN labels are requested
    found = await backend.recognize(encode_jpeg(image, 100), frozenset({Feature.LABELS}))
    # THEN the two most probable classes come back with the model's own probabilities
    decoded = cv2.imdecode(np.frombuffer(encode_jpeg(image, 100), np.uint8), cv2.IMREAD_COLOR)
    expected = _expected(np.asarray(decoded, np.uint8), weights, bias)
    order = np.argsort(-expected)[:2]
    assert [label.name for label in found.labels] == [NAMES[i] for i in order]
    for label, index in zip(found.labels, order, strict=True):
        assert label.confidence == pytest.approx(expected[index], abs=0.5)
        assert label.box is None


async def test_labels_below_the_label_threshold_are_dropped(
    model_files: tuple[Path, Path, tuple[npt.NDArray[np.float32], ...]],
) -> None:
    model, names, _ = model_files
    backend = LocalBackend(
        RecognizerSettings(
            label_model=model,
            label_names=names,
            label_input_size=SIDE,
            label_min_confidence=100,
        )
    )
    found = await backend.recognize(
        encode_jpeg(np.full((64, 64, 3), 90, np.uint8)), frozenset({Feature.LABELS})
    )
    assert found.labels == ()


async def test_names_file_that_does_not_match_the_model_is_refused(
    model_files: tuple[Path, Path, tuple[npt.NDArray[np.float32], ...]], tmp_path: Path
) -> None:
    model, _, _ = model_files
    wrong = tmp_path / "three.txt"
    wrong.write_text("a\nb\nc\n", encoding="utf-8")
    backend = LocalBackend(
        RecognizerSettings(label_model=model, label_names=wrong, label_input_size=SIDE)
    )
    with pytest.raises(
        BackendUnavailableError, match="scores 4 classes but its names file lists 3"
    ):
        await backend.recognize(
            encode_jpeg(np.full((64, 64, 3), 90, np.uint8)), frozenset({Feature.LABELS})
        )


async def test_unloadable_model_file_is_refused_clearly(tmp_path: Path) -> None:
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"this is not a protobuf")
    backend = LocalBackend(RecognizerSettings(label_model=broken))
    with pytest.raises(BackendUnavailableError, match="does not load"):
        await backend.prepare(frozenset({Feature.LABELS}))
