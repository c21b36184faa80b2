"""Rebuild the demo router models and their golden set: `python -m bot.sandbox.models.build`.

A real (if tiny) intent router: hashed text features -> a 2-layer MLP -> 8 intents, each of
which routes to the edge or the cloud tier. From one seeded training run it writes
- `router-fp32.onnx`   the fp32 reference build,
- `router-int8.onnx`   a good int8 build (onnxruntime static QDQ quantization, MinMax calibration),
- `router-int8-badscale.onnx` the int8 build with its first weight scale 20x too small (a fault),
- `golden.npz`         held-out inputs with the reference build's outputs,
- `manifest.json`      the builds with their sha256, for `tierbot probe register-demo`.
Everything is seeded, so with the pinned versions (constraints.txt) the bytes come out the same.
Needs the `onnx` package (a dev extra); nothing at run time imports this module.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import (
    CalibrationDataReader,
    QuantFormat,
    QuantType,
    quantize_static,
)

from bot.probes.registry import file_sha256
from bot.sandbox.models.features import FEATURE_DIM, INTENTS, featurize

HERE = Path(__file__).resolve().parent
HIDDEN = 48
SEED = 20261127
GOLDEN_SIZE = 256
TRAIN_SIZE, TRAIN_STEPS = 2000, 200
BAD_SCALE_FACTOR = 0.05  # a scale 20x too small: what a units slip in an export step does

_SLOTS: dict[str, list[str]] = {
    "n": ["two", "five", "ten", "fifteen", "twenty", "thirty", "45", "90"],
    "unit": ["minutes", "seconds", "hours", "min"],
    "artist": ["daft punk", "adele", "the beatles", "miles davis", "radiohead", "bach"],
    "device": ["lights", "heating", "fan", "tv", "speaker", "lamp", "thermostat"],
    "room": ["kitchen", "bedroom", "living room", "office", "hallway"],
    "city": ["paris", "tokyo", "berlin", "lagos", "lima", "oslo", "seattle", "delhi"],
    "day": ["today", "tomorrow", "this weekend", "on friday", "tonight"],
    "lang": ["french", "spanish", "german", "japanese", "swahili", "italian"],
    "phrase": ["good morning", "where is the station", "thank you very much", "how much is it"],
    "person": ["my boss", "anna", "the landlord", "my team", "grandma", "the school"],
    "topic": ["the meeting", "being late", "the invoice", "the party", "next week's trip"],
    "thing": ["photosynthesis", "black holes", "inflation", "the roman empire", "vaccines"],
    "feeling": ["bored", "happy", "tired", "great", "sad"],
}
_TEMPLATES: dict[str, list[str]] = {
    "set_timer": [
        "set a timer for {n} {unit}",
        "timer {n} {unit}",
        "remind me in {n} {unit}",
        "start a {n} {unit} countdown",
        "wake me up in {n} {unit}",
    ],
    "play_music": [
        "play {artist}",
        "put on some {artist}",
        "play music by {artist} in the {room}",
        "shuffle {artist} songs",
        "next song",
    ],
    "device_control": [
        "turn on the {device}",
        "switch off the {device} in the {room}",
        "dim the {device}",
        "turn the {device} up",
        "set the {room} {device} to low",
    ],
    "smalltalk": [
        "hi there",
        "how are you",
        "i am {feeling}",
        "tell me a joke",
        "good night",
        "thanks a lot",
    ],
    "weather": [
        "what is the weather in {city} {day}",
        "will it rain {day}",
        "weather {city}",
        "how hot will it be in {city} {day}",
        "do i need an umbrella {day}",
    ],
    "translate": [
        "translate {phrase} into {lang}",
        "how do you say {phrase} in {lang}",
        "what is {phrase} in {lang}",
        "{lang} for {phrase}",
    ],
    "compose_message": [
        "write an email to {person} about {topic}",
        "draft a message to {person} saying sorry about {topic}",
        "text {person} about {topic}",
        "compose a polite note to {person} regarding {topic}",
    ],
    "general_question": [
        "explain {thing}",
        "why does {thing} matter",
        "what is {thing}",
        "give me a summary of {thing}",
        "how does {thing} work",
    ],
}


def _utterances(rng: np.random.Generator, count: int) -> tuple[list[str], np.ndarray]:
    texts: list[str] = []
    labels = rng.integers(0, len(INTENTS), size=count)
    for label in labels:
        templates = _TEMPLATES[INTENTS[int(label)]]
        text = templates[int(rng.integers(len(templates)))]
        for slot, values in _SLOTS.items():
            while "{" + slot + "}" in text:
                text = text.replace("{" + slot + "}", values[int(rng.integers(len(values)))], 1)
        texts.append(text)
    return texts, labels.astype(np.int64)


def _train(features: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """Full-batch Adam on softmax cross-entropy: small, deterministic, good enough to route."""
    w1 = (rng.standard_normal((FEATURE_DIM, HIDDEN)) * np.sqrt(2 / FEATURE_DIM)).astype(np.float64)
    b1 = np.zeros(HIDDEN)
    w2 = (rng.standard_normal((HIDDEN, len(INTENTS))) * np.sqrt(2 / HIDDEN)).astype(np.float64)
    b2 = np.zeros(len(INTENTS))
    params = [w1, b1, w2, b2]
    moments = [np.zeros_like(p) for p in params]
    velocities = [np.zeros_like(p) for p in params]
    onehot = np.eye(len(INTENTS))[labels]
    x = features.astype(np.float64)
    for step in range(1, TRAIN_STEPS + 1):
        hidden = np.maximum(x @ w1 + b1, 0)
        logits = hidden @ w2 + b2
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        grad_logits = (probs - onehot) / len(x)
        grad_hidden = (grad_logits @ w2.T) * (hidden > 0)
        grads = [x.T @ grad_hidden, grad_hidden.sum(0), hidden.T @ grad_logits, grad_logits.sum(0)]
        for i, grad in enumerate(grads):
            moments[i] = 0.9 * moments[i] + 0.1 * grad
            velocities[i] = 0.999 * velocities[i] + 0.001 * grad**2
            m_hat = moments[i] / (1 - 0.9**step)
            v_hat = velocities[i] / (1 - 0.999**step)
            params[i] -= 0.01 * m_hat / (np.sqrt(v_hat) + 1e-8)
    # Rounding to a coarse grid makes the float32 weights immune to last-bit differences
    # between BLAS kernels on other CPUs: the rebuild stays bit-for-bit on any machine.
    return [np.round(p, 4).astype(np.float32) for p in params]


def _onnx_model(params: list[np.ndarray]) -> onnx.ModelProto:
    w1, b1, w2, b2 = params
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["features", "w1"], ["h_mm"], name="fc1"),
            helper.make_node("Add", ["h_mm", "b1"], ["h_pre"], name="fc1_bias"),
            helper.make_node("Relu", ["h_pre"], ["hidden"], name="relu"),
            helper.make_node("MatMul", ["hidden", "w2"], ["l_mm"], name="fc2"),
            helper.make_node("Add", ["l_mm", "b2"], ["logits"], name="fc2_bias"),
        ],
        "tierbot_router",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", FEATURE_DIM])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", len(INTENTS)])],
        initializer=[
            numpy_helper.from_array(w1, "w1"),
            numpy_helper.from_array(b1, "b1"),
            numpy_helper.from_array(w2, "w2"),
            numpy_helper.from_array(b2, "b2"),
        ],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="tierbot"
    )
    model.ir_version = 8
    model.doc_string = "tierbot demo router: hashed text features -> " + ",".join(INTENTS)
    onnx.checker.check_model(model)
    return model


class _Calibration(CalibrationDataReader):  # type: ignore[misc]
    def __init__(self, features: np.ndarray) -> None:
        self._rows = iter(features[i : i + 1] for i in range(len(features)))

    def get_next(self) -> dict[str, np.ndarray] | None:
        row = next(self._rows, None)
        return None if row is None else {"features": row}


def _break_weight_scale(model: onnx.ModelProto) -> onnx.ModelProto:
    """Shrink the first layer's weight scale, as a buggy export step would."""
    broken = onnx.ModelProto()
    broken.CopyFrom(model)
    for init in broken.graph.initializer:
        if init.name == "w1_scale":
            scale = numpy_helper.to_array(init) * np.float32(BAD_SCALE_FACTOR)
            init.CopyFrom(numpy_helper.from_array(scale.astype(np.float32), init.name))
            return broken
    raise RuntimeError("no w1_scale initializer in the quantized model")


def build(out_dir: Path = HERE) -> dict[str, object]:
    """Train, export, quantize and write every demo artefact into `out_dir`."""
    rng = np.random.default_rng(SEED)
    train_texts, train_labels = _utterances(rng, TRAIN_SIZE)
    train_x = np.stack([featurize(t) for t in train_texts])
    params = _train(train_x, train_labels, rng)
    fp32_path = out_dir / "router-fp32.onnx"
    onnx.save_model(_onnx_model(params), fp32_path)

    int8_path = out_dir / "router-int8.onnx"
    with tempfile.TemporaryDirectory() as tmp:
        quantize_static(
            str(fp32_path),
            str(Path(tmp) / "int8.onnx"),
            _Calibration(train_x[:512]),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=False,
        )
        int8_model = onnx.load(str(Path(tmp) / "int8.onnx"))
    onnx.save_model(int8_model, int8_path)
    bad_path = out_dir / "router-int8-badscale.onnx"
    onnx.save_model(_break_weight_scale(int8_model), bad_path)

    golden_texts, golden_labels = _utterances(np.random.default_rng(SEED + 1), GOLDEN_SIZE)
    golden_x = np.stack([featurize(t) for t in golden_texts])
    reference = ort.InferenceSession(str(fp32_path), providers=["CPUExecutionProvider"])
    reference_out = np.concatenate(
        [reference.run(None, {"features": golden_x[i : i + 1]})[0] for i in range(GOLDEN_SIZE)]
    )
    golden_path = out_dir / "golden.npz"
    with golden_path.open("wb") as handle:
        np.savez_compressed(
            handle,
            inputs=golden_x,
            reference_outputs=reference_out.astype(np.float32),
            texts=np.array(golden_texts),
            labels=golden_labels,
        )
    manifest: dict[str, object] = {
        "golden_set": golden_path.name,
        "golden_set_sha256": file_sha256(golden_path),
        "reference_accuracy": float((reference_out.argmax(1) == golden_labels).mean()),
        "builds": [
            _entry("router-fp32", "fp32", fp32_path, None),
            _entry("router-int8", "int8", int8_path, "router-fp32"),
            _entry("router-int8-badscale", "int8", bad_path, "router-fp32"),
        ],
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def _entry(
    model_id: str, quantization: str, path: Path, reference: str | None
) -> dict[str, object]:
    return {
        "model_id": model_id,
        "tier": "edge",
        "quantization": quantization,
        "file": path.name,
        "sha256": file_sha256(path),
        "reference_model_id": reference,
    }


if __name__ == "__main__":
    print(json.dumps(build(), indent=2))
