"""Build benchy's example dataset and model artifacts (offline, deterministic).

Run from the repository root with the build venv (see requirements-build.txt):

    .build-venv/bin/python suites/build_models.py

Outputs:
  suites/data/basicmotions.npz (+ README.md)   normalized UEA BasicMotions splits
  suites/models/{cnn,lstm}_*.tflite|onnx (+ README.md)
  benchmarks/models/tiny_fp32.{tflite,onnx}    near-zero-cost model for overhead runs

Every artifact is then re-checked with the runtimes the harness uses
(`python3` on PATH: ai_edge_litert + onnxruntime) by re-running this file with
`--verify`; that mode imports only numpy and the runtimes, which is why the
heavy build imports live inside functions.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT / "suites" / "data"
MODELS_DIR = REPO_ROOT / "suites" / "models"
TINY_DIR = REPO_ROOT / "benchmarks" / "models"
DATASET_PATH = DATA_DIR / "basicmotions.npz"

SEED = 1234
SEQ_LEN = 100
N_CHANNELS = 6
N_CLASSES = 4
TINY_IN, TINY_OUT = 64, 16
# The converter's dynamic-range pass only quantizes an LSTM when every gate kernel
# has >= 1024 elements; a 32-wide per-step projection makes the input kernels
# 32x32 (raw 6-channel input gives 32x6 and the LSTM would stay float).
LSTM_PROJECTION = 32
LSTM_UNITS = 32
ONNX_OPSET = 17
MODEL_NAMES = ("cnn", "lstm")
TFLITE_VARIANTS = ("fp32", "fp16", "dynamic_int8", "full_int8")
# Static QDQ for the CNN; ORT has no QDQ support for the LSTM op (a static run
# leaves it in float), so the LSTM gets dynamic quantization (DynamicQuantizeLSTM).
ONNX_INT8_MODE = {"cnn": "static_qdq", "lstm": "dynamic"}
TRAIN_EPOCHS = {"cnn": 80, "lstm": 150}
TRAIN_LR = {"cnn": 3e-3, "lstm": 3e-3}
TRAIN_BATCH = 8
REBUILD_CMD = ".build-venv/bin/python suites/build_models.py"
RUNTIME_PYTHON_ENV = "BENCHY_RUNTIME_PYTHON"
BUILD_ENV = {
    # Legacy Keras makes the converter emit the fused UNIDIRECTIONAL_SEQUENCE_LSTM.
    "TF_USE_LEGACY_KERAS": "1",
    # oneDNN reorders float math; off for bit-reproducible training.
    "TF_ENABLE_ONEDNN_OPTS": "0",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "CUDA_VISIBLE_DEVICES": "",
}


@dataclass(frozen=True)
class Dataset:
    x: np.ndarray
    y: np.ndarray
    x_calib: np.ndarray
    y_calib: np.ndarray
    classes: np.ndarray
    mean: np.ndarray
    std: np.ndarray


@dataclass(frozen=True)
class EvalResult:
    accuracy: float
    median_us: float
    stateful: bool


# --------------------------------------------------------------------------
# Runtime evaluation (shared by the build env and the `--verify` mode)
# --------------------------------------------------------------------------


def make_interpreter(path: Path, *, default_delegates: bool = True) -> Any:
    """ai_edge_litert where installed (harness), else TF's deprecated copy (build venv)."""
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
    except ImportError:
        import tensorflow as tf

        Interpreter, OpResolverType = tf.lite.Interpreter, tf.lite.experimental.OpResolverType
    # Without default delegates the op list shows real kernels, not one XNNPACK "DELEGATE".
    resolver = (
        OpResolverType.AUTO
        if default_delegates
        else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    )
    interpreter = Interpreter(
        model_path=str(path), num_threads=1, experimental_op_resolver_type=resolver
    )
    interpreter.allocate_tensors()
    return interpreter


def _quantize(x: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    scale, zero_point = detail["quantization"]
    if detail["dtype"] == np.float32 or scale == 0:
        return x.astype(detail["dtype"])
    info = np.iinfo(detail["dtype"])
    q = np.round(x / scale + zero_point)
    return np.clip(q, info.min, info.max).astype(detail["dtype"])


def _dequantize(q: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    scale, zero_point = detail["quantization"]
    if detail["dtype"] == np.float32 or scale == 0:
        return q.astype(np.float32)
    return (q.astype(np.float32) - zero_point) * scale


def _time_calls(
    call: Callable[[np.ndarray], np.ndarray], x: np.ndarray
) -> tuple[np.ndarray, float]:
    """Run `call` on each sample (batch 1); return stacked outputs and median µs."""
    call(x[:1])  # warm-up: first invoke allocates
    outputs, times = [], []
    for i in range(len(x)):
        start = time.perf_counter()
        outputs.append(call(x[i : i + 1]))
        times.append(time.perf_counter() - start)
    return np.concatenate(outputs), float(np.median(times) * 1e6)


def run_tflite(path: Path, x: np.ndarray) -> tuple[np.ndarray, float]:
    interpreter = make_interpreter(path)
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]

    def call(sample: np.ndarray) -> np.ndarray:
        # The fused LSTM keeps h/c in variable tensors that survive invoke();
        # reset so every window starts from zero state, as in Keras and ONNX.
        interpreter.reset_all_variables()
        interpreter.set_tensor(inp["index"], _quantize(sample, inp))
        interpreter.invoke()
        return _dequantize(interpreter.get_tensor(out["index"]), out)

    return _time_calls(call, x)


def tflite_is_stateful(path: Path, x: np.ndarray) -> bool:
    """True if an output depends on the previous invoke() (no reset in between)."""
    interpreter = make_interpreter(path)
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]

    def invoke(sample: np.ndarray) -> np.ndarray:
        interpreter.set_tensor(inp["index"], _quantize(sample, inp))
        interpreter.invoke()
        return interpreter.get_tensor(out["index"]).copy()

    # Back-to-back invokes vs. resets before each: int8 softmax outputs often
    # saturate, so compare over every sample rather than one pair.
    chained = [invoke(x[i : i + 1]) for i in range(len(x))]
    for i, output in enumerate(chained):
        interpreter.reset_all_variables()
        if not np.array_equal(output, invoke(x[i : i + 1])):
            return True
    return False


def _ort_session(path: Path) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run_onnx(path: Path, x: np.ndarray) -> tuple[np.ndarray, float]:
    session = _ort_session(path)
    input_name = session.get_inputs()[0].name

    def call(sample: np.ndarray) -> np.ndarray:
        return session.run(None, {input_name: sample})[0]

    return _time_calls(call, x)


def run_artifact(path: Path, x: np.ndarray) -> tuple[np.ndarray, float]:
    return run_tflite(path, x) if path.suffix == ".tflite" else run_onnx(path, x)


def evaluate(path: Path, x: np.ndarray, y: np.ndarray) -> EvalResult:
    scores, median_us = run_artifact(path, x)
    # ONNX Runtime sessions hold no state between run() calls.
    stateful = path.suffix == ".tflite" and tflite_is_stateful(path, x)
    return EvalResult(float(np.mean(scores.argmax(axis=1) == y)), median_us, stateful)


def suite_artifacts() -> list[Path]:
    names = [f"{m}_{v}.tflite" for m in MODEL_NAMES for v in TFLITE_VARIANTS]
    names += [f"{m}_{v}.onnx" for m in MODEL_NAMES for v in ("fp32", "int8")]
    return [MODELS_DIR / n for n in names]


def tiny_artifacts() -> list[Path]:
    return [TINY_DIR / "tiny_fp32.tflite", TINY_DIR / "tiny_fp32.onnx"]


def tiny_latency_us(path: Path, repeats: int = 2000) -> float:
    x = np.random.default_rng(SEED).standard_normal((repeats, TINY_IN)).astype(np.float32)
    return run_artifact(path, x)[1]


def verify_main() -> None:
    """`--verify`: evaluate every artifact with this interpreter's runtimes, print JSON."""
    import onnxruntime

    versions = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "onnxruntime": onnxruntime.__version__,
    }
    try:
        versions["ai_edge_litert"] = version("ai-edge-litert")
    except PackageNotFoundError:  # make_interpreter falls back to tf.lite
        versions["ai_edge_litert"] = "not installed"
    data = np.load(DATASET_PATH)
    results = {}
    for path in suite_artifacts():
        r = evaluate(path, data["x"], data["y"])
        results[path.name] = asdict(r)
    for path in tiny_artifacts():
        results[path.name] = {
            "accuracy": None,
            "median_us": tiny_latency_us(path),
            "stateful": False,
        }
    print(json.dumps({"versions": versions, "results": results}))


# --------------------------------------------------------------------------
# Dataset
# --------------------------------------------------------------------------


def load_dataset() -> Dataset:
    from aeon.datasets import load_basic_motions

    # Bundled with aeon (no download); aeon layout is (n, channels, time).
    x_train, y_train = load_basic_motions(split="train")
    x_test, y_test = load_basic_motions(split="test")
    classes = np.array(sorted(set(y_train)), dtype=str)
    to_index = {c: i for i, c in enumerate(classes)}

    def channels_last(x: np.ndarray) -> np.ndarray:
        return np.transpose(x, (0, 2, 1)).astype(np.float64)

    def labels(y: np.ndarray) -> np.ndarray:
        return np.array([to_index[c] for c in y], dtype=np.int64)

    train, test = channels_last(x_train), channels_last(x_test)
    mean = train.mean(axis=(0, 1))
    std = train.std(axis=(0, 1))

    def normalize(x: np.ndarray) -> np.ndarray:
        return ((x - mean) / std).astype(np.float32)

    return Dataset(
        x=normalize(test),
        y=labels(y_test),
        x_calib=normalize(train),
        y_calib=labels(y_train),
        classes=classes,
        mean=mean.astype(np.float32),
        std=std.astype(np.float32),
    )


def write_dataset(ds: Dataset) -> None:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        DATASET_PATH,
        x=ds.x,
        y=ds.y,
        x_calib=ds.x_calib,
        y_calib=ds.y_calib,
        classes=ds.classes,
        mean=ds.mean,
        std=ds.std,
    )
    print(
        f"wrote {_rel(DATASET_PATH)}: x{ds.x.shape} x_calib{ds.x_calib.shape} "
        f"classes={ds.classes.tolist()}"
    )


def write_data_readme(ds: Dataset, aeon_version: str) -> None:
    counts = ", ".join(f"{c}: {int((ds.y == i).sum())}" for i, c in enumerate(ds.classes))
    text = f"""# BasicMotions (derived)

`basicmotions.npz` is derived from the **BasicMotions** dataset of the
UEA & UCR Time Series Classification archive (dataset by Jack Clements),
as distributed inside the [aeon](https://www.aeon-toolkit.org/) package
(BSD-3-Clause licence), version {aeon_version}. No download was involved: the
data was read with `aeon.datasets.load_basic_motions`.

Recorded in a student project: participants wearing a smartwatch performed
four activities (standing, running, walking, badminton); each case is 10 s of
3-axis accelerometer + 3-axis gyroscope sampled at 10 Hz: 6 channels x 100
steps. 40 train / 40 test cases, 10 per class in each split.

Cite:

> A. Bagnall, H. A. Dau, J. Lines, M. Flynn, J. Large, A. Bostrom, P. Southam,
> E. Keogh. "The UEA multivariate time series classification archive, 2018".
> arXiv:1811.00075, 2018.

## How the file was derived

Rebuilt by `{REBUILD_CMD}` (from the repo root):

1. Load the official train and test splits; transpose to channels-last
   `(N, 100, 6)`.
2. Labels: class names sorted alphabetically and mapped to `int64` 0..3.
3. Normalize each channel with the **train-split** mean/std:
   `x_norm = (x_raw - mean) / std`.

| key | dtype | shape | content |
| --- | --- | --- | --- |
| `x` | float32 | {ds.x.shape} | test split, normalized (evaluation set) |
| `y` | int64 | {ds.y.shape} | test labels ({counts}) |
| `x_calib` | float32 | {ds.x_calib.shape} | train split, normalized (training / int8 calibration) |
| `y_calib` | int64 | {ds.y_calib.shape} | train labels |
| `classes` | str | {ds.classes.shape} | `{list(map(str, ds.classes))}` (index = label) |
| `mean` | float32 | {ds.mean.shape} | per-channel train mean (raw units) |
| `std` | float32 | {ds.std.shape} | per-channel train std (raw units) |

Load with `np.load("suites/data/basicmotions.npz")` (no pickle needed).
"""
    (DATA_DIR / "README.md").write_text(text)


# --------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------


def build_cnn(batch_size: int | None) -> Any:
    import tf_keras as keras

    inputs = keras.Input(shape=(SEQ_LEN, N_CHANNELS), batch_size=batch_size, name="input")
    h = keras.layers.Conv1D(16, 5, padding="same", activation="relu")(inputs)
    h = keras.layers.MaxPooling1D(2)(h)
    h = keras.layers.Conv1D(32, 5, padding="same", activation="relu")(h)
    h = keras.layers.GlobalAveragePooling1D()(h)
    outputs = keras.layers.Dense(N_CLASSES, activation="softmax", name="probs")(h)
    return keras.Model(inputs, outputs, name="cnn")


def build_lstm(batch_size: int | None) -> Any:
    import tf_keras as keras

    inputs = keras.Input(shape=(SEQ_LEN, N_CHANNELS), batch_size=batch_size, name="input")
    h = keras.layers.Dense(LSTM_PROJECTION, activation="relu")(inputs)
    h = keras.layers.LSTM(LSTM_UNITS, unroll=False)(h)
    outputs = keras.layers.Dense(N_CLASSES, activation="softmax", name="probs")(h)
    return keras.Model(inputs, outputs, name="lstm")


MODEL_BUILDERS: dict[str, Callable[[int | None], Any]] = {"cnn": build_cnn, "lstm": build_lstm}


def seed_everything() -> None:
    import tensorflow as tf
    import tf_keras as keras

    keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()


def train_model(name: str, ds: Dataset) -> Any:
    """Train with a free batch dim, then copy weights into a batch-1 twin for export."""
    import tf_keras as keras

    seed_everything()
    model = MODEL_BUILDERS[name](None)
    model.compile(
        optimizer=keras.optimizers.Adam(TRAIN_LR[name]),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    model.fit(
        ds.x_calib,
        ds.y_calib,
        batch_size=TRAIN_BATCH,
        epochs=TRAIN_EPOCHS[name],
        shuffle=True,
        verbose=0,
    )
    train_acc = model.evaluate(ds.x_calib, ds.y_calib, verbose=0)[1]
    test_acc = model.evaluate(ds.x, ds.y, verbose=0)[1]
    print(
        f"[{name}] params={model.count_params()} epochs={TRAIN_EPOCHS[name]} "
        f"train_acc={train_acc:.3f} test_acc={test_acc:.3f} ({time.perf_counter() - start:.1f}s)"
    )
    export = MODEL_BUILDERS[name](1)
    export.set_weights(model.get_weights())
    return export


# --------------------------------------------------------------------------
# TFLite
# --------------------------------------------------------------------------


def convert_tflite(model: Any, variant: str, x_calib: np.ndarray) -> bytes:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if variant != "fp32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if variant == "fp16":
        converter.target_spec.supported_types = [tf.float16]
    elif variant == "full_int8":

        def representative() -> Iterator[list[np.ndarray]]:
            for i in range(len(x_calib)):
                yield [x_calib[i : i + 1]]

        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return converter.convert()


def tflite_ops(path: Path) -> list[tuple[str, list[str]]]:
    """(op name, dtypes of its tensors) for each op; used to spot float ops."""
    interpreter = make_interpreter(path, default_delegates=False)
    dtypes = {t["index"]: np.dtype(t["dtype"]).name for t in interpreter.get_tensor_details()}
    ops = []
    for op in interpreter._get_ops_details():
        tensors = [*op["inputs"], *op["outputs"]]
        ops.append((op["op_name"], sorted({dtypes[i] for i in tensors if i >= 0})))
    return ops


def check_full_int8(path: Path, required_op: str | None) -> None:
    ops = tflite_ops(path)
    names = sorted({name for name, _ in ops})
    float_ops = [f"{name}{types}" for name, types in ops if "float32" in types]
    print(f"  {path.name}: ops={names} float ops={float_ops or 'none'}")
    if float_ops:
        raise RuntimeError(f"{path.name} still has float ops: {float_ops}")
    if required_op and required_op not in names:
        raise RuntimeError(f"{path.name} lacks {required_op}: {names}")


def tflite_io_details(path: Path) -> dict[str, list[dict[str, Any]]]:
    interpreter = make_interpreter(path)

    def describe(d: dict[str, Any]) -> dict[str, Any]:
        scale, zero_point = d["quantization"]
        return {
            "name": d["name"],
            "dtype": np.dtype(d["dtype"]).name,
            "shape": [int(s) for s in d["shape"]],
            "scale": float(scale),
            "zero_point": int(zero_point),
        }

    return {
        "inputs": [describe(d) for d in interpreter.get_input_details()],
        "outputs": [describe(d) for d in interpreter.get_output_details()],
    }


def export_tflite(name: str, model: Any, ds: Dataset) -> None:
    for variant in TFLITE_VARIANTS:
        path = MODELS_DIR / f"{name}_{variant}.tflite"
        path.write_bytes(convert_tflite(model, variant, ds.x_calib))
        print(f"wrote {_rel(path)} ({path.stat().st_size} B)")
    fused_op = "UNIDIRECTIONAL_SEQUENCE_LSTM" if name == "lstm" else None
    check_full_int8(MODELS_DIR / f"{name}_full_int8.tflite", fused_op)


# --------------------------------------------------------------------------
# ONNX
# --------------------------------------------------------------------------


def _rename_value(graph: Any, old: str, new: str) -> None:
    if old == new:
        return
    for node in graph.node:
        node.input[:] = [new if n == old else n for n in node.input]
        node.output[:] = [new if n == old else n for n in node.output]
    for value in [*graph.input, *graph.output, *graph.value_info, *graph.initializer]:
        if value.name == old:
            value.name = new


def _canonicalize_constants(graph: Any) -> None:
    """Name and order initializers by first use.

    tf2onnx's constant folding numbers its constants in a run-dependent order;
    without this the .onnx bytes change on every rebuild.
    """
    initializers = {init.name for init in graph.initializer}
    renames: dict[str, str] = {}
    for node in graph.node:
        for name in node.input:
            if name in initializers and name not in renames:
                renames[name] = f"const_{len(renames)}"
    for old, new in renames.items():
        _rename_value(graph, old, new)
    ordered = sorted(graph.initializer, key=lambda init: int(init.name.removeprefix("const_")))
    del graph.initializer[:]
    graph.initializer.extend(ordered)


def convert_onnx(model: Any, path: Path, input_shape: tuple[int, ...]) -> None:
    """tf2onnx export with fixed shape and stable I/O names `input` / `output`."""
    import onnx
    import tensorflow as tf
    import tf2onnx

    spec = (tf.TensorSpec(input_shape, tf.float32, name="input"),)
    proto, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=ONNX_OPSET)
    _rename_value(proto.graph, proto.graph.input[0].name, "input")
    _rename_value(proto.graph, proto.graph.output[0].name, "output")
    _canonicalize_constants(proto.graph)
    proto.producer_name = "benchy-build_models+tf2onnx"
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))
    print(
        f"wrote {_rel(path)} ({path.stat().st_size} B) "
        f"ops={sorted({n.op_type for n in proto.graph.node})}"
    )


class _CalibrationReader:
    """onnxruntime CalibrationDataReader protocol over x_calib, one sample per batch."""

    def __init__(self, x: np.ndarray, input_name: str) -> None:
        self._samples = [x[i : i + 1] for i in range(len(x))]
        self._input_name = input_name
        self._pos = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self._pos >= len(self._samples):
            return None
        self._pos += 1
        return {self._input_name: self._samples[self._pos - 1]}

    def rewind(self) -> None:
        self._pos = 0


def quantize_onnx(fp32_path: Path, int8_path: Path, mode: str, x_calib: np.ndarray) -> None:
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepared = int8_path.with_suffix(".prep.onnx")
    # Shapes are static, so ONNX shape inference suffices (symbolic needs sympy).
    quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
    try:
        if mode == "static_qdq":
            quantize_static(
                str(prepared),
                str(int8_path),
                _CalibrationReader(x_calib, "input"),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QInt8,
                weight_type=QuantType.QInt8,
            )
        else:
            quantize_dynamic(str(prepared), str(int8_path), weight_type=QuantType.QInt8)
    finally:
        prepared.unlink(missing_ok=True)
    import onnx

    ops = sorted({n.op_type for n in onnx.load(str(int8_path)).graph.node})
    print(f"wrote {_rel(int8_path)} ({int8_path.stat().st_size} B) via {mode} ops={ops}")


def onnx_io_details(path: Path) -> dict[str, list[dict[str, Any]]]:
    session = _ort_session(path)

    def describe(arg: Any) -> dict[str, Any]:
        return {"name": arg.name, "dtype": arg.type, "shape": list(arg.shape)}

    return {
        "inputs": [describe(a) for a in session.get_inputs()],
        "outputs": [describe(a) for a in session.get_outputs()],
    }


def export_onnx(name: str, model: Any, ds: Dataset) -> None:
    fp32_path = MODELS_DIR / f"{name}_fp32.onnx"
    convert_onnx(model, fp32_path, (1, SEQ_LEN, N_CHANNELS))
    quantize_onnx(fp32_path, MODELS_DIR / f"{name}_int8.onnx", ONNX_INT8_MODE[name], ds.x_calib)


# --------------------------------------------------------------------------
# Tiny overhead model
# --------------------------------------------------------------------------


def build_tiny_models() -> None:
    """(1, 64) float32 -> Dense 16: so little compute that runs measure harness overhead."""
    import tf_keras as keras

    seed_everything()
    inputs = keras.Input(shape=(TINY_IN,), batch_size=1, name="input")
    outputs = keras.layers.Dense(TINY_OUT, name="dense")(inputs)
    model = keras.Model(inputs, outputs, name="tiny")
    TINY_DIR.mkdir(parents=True, exist_ok=True)
    tflite_path = TINY_DIR / "tiny_fp32.tflite"
    tflite_path.write_bytes(convert_tflite(model, "fp32", np.empty(0)))
    print(f"wrote {_rel(tflite_path)} ({tflite_path.stat().st_size} B)")
    convert_onnx(model, TINY_DIR / "tiny_fp32.onnx", (1, TINY_IN))


# --------------------------------------------------------------------------
# Verification & reports
# --------------------------------------------------------------------------


def _rel(path: Path) -> str:
    return str(path.relative_to(REPO_ROOT))


def build_versions() -> dict[str, str]:
    packages = [
        "tensorflow-cpu",
        "tf-keras",
        "tf2onnx",
        "onnx",
        "onnxruntime",
        "aeon",
        "numpy",
        "protobuf",
    ]
    return {"python": platform.python_version(), **{p: version(p) for p in packages}}


def run_runtime_check() -> dict[str, Any]:
    """Re-run this file with `--verify` under the harness's interpreter (plain `python3`)."""
    runtime_python = os.environ.get(RUNTIME_PYTHON_ENV) or shutil.which("python3") or "python3"
    if Path(runtime_python).resolve() == Path(sys.executable).resolve():
        print(f"WARNING: {runtime_python} is the build interpreter; set {RUNTIME_PYTHON_ENV}")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    proc = subprocess.run(
        [runtime_python, str(Path(__file__).resolve()), "--verify"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=REPO_ROOT,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"runtime check with {runtime_python} failed:\n{proc.stderr}")
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    report["python_path"] = runtime_python
    return report


def check_fp32_agreement(ds: Dataset, tolerance: float = 1e-3) -> None:
    """Two independent converters from the same weights must give the same scores.

    The LSTM accumulates ~1e-4 float noise over 100 steps; real bugs (e.g. state
    leaking between invokes) show up as differences near 1.
    """
    for name in MODEL_NAMES:
        tflite_scores, _ = run_tflite(MODELS_DIR / f"{name}_fp32.tflite", ds.x)
        onnx_scores, _ = run_onnx(MODELS_DIR / f"{name}_fp32.onnx", ds.x)
        diff = float(np.abs(tflite_scores - onnx_scores).max())
        print(f"[{name}] fp32 TFLite vs ONNX max |diff| = {diff:.2e}")
        if diff > tolerance:
            raise RuntimeError(f"{name}: fp32 TFLite and ONNX disagree ({diff:.2e})")


def evaluate_build(ds: Dataset) -> dict[str, EvalResult]:
    return {p.name: evaluate(p, ds.x, ds.y) for p in suite_artifacts()}


def accuracy_table(build: dict[str, EvalResult], runtime: dict[str, Any]) -> list[str]:
    rows = [
        "| file | KiB | acc. build env | acc. harness runtimes | median µs | stateful |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for path in suite_artifacts():
        rt = runtime["results"][path.name]
        stateful = "yes" if rt["stateful"] else "no"
        rows.append(
            f"| `{path.name}` | {path.stat().st_size / 1024:.1f} | {build[path.name].accuracy:.3f} "
            f"| {rt['accuracy']:.3f} | {rt['median_us']:.0f} | {stateful} |"
        )
    return rows


def check_accuracies(
    build: dict[str, EvalResult], runtime: dict[str, Any], tolerance: float = 0.05
) -> None:
    for model in MODEL_NAMES:
        reference = build[f"{model}_fp32.tflite"].accuracy
        for path in suite_artifacts():
            if not path.name.startswith(model):
                continue
            for acc in (build[path.name].accuracy, runtime["results"][path.name]["accuracy"]):
                if acc < reference - tolerance:
                    print(
                        f"WARNING: {path.name} accuracy {acc:.3f} < fp32 {reference:.3f} "
                        f"- {tolerance}"
                    )


def _io_lines(name: str, details: dict[str, list[dict[str, Any]]]) -> list[str]:
    lines = []
    for kind in ("inputs", "outputs"):
        for d in details[kind]:
            quant = (
                f", scale={d['scale']:.6g}, zero_point={d['zero_point']}" if "scale" in d else ""
            )
            lines.append(f"- `{name}` {kind[:-1]} `{d['name']}`: {d['dtype']} {d['shape']}{quant}")
    return lines


def io_details() -> dict[str, dict[str, list[dict[str, Any]]]]:
    details = {}
    for path in [*suite_artifacts(), *tiny_artifacts()]:
        if path.suffix == ".onnx":
            details[path.name] = onnx_io_details(path)
        elif path.name.endswith(("full_int8.tflite", "fp32.tflite")):
            details[path.name] = tflite_io_details(path)
    return details


FILE_DESCRIPTIONS = {
    "fp32.tflite": "float32 TFLite, no optimization",
    "fp16.tflite": "float16 weights (dequantized to float32 at load), float32 I/O",
    "dynamic_int8.tflite": "dynamic-range: int8 weights, float activations, float32 I/O",
    "full_int8.tflite": "full integer: int8 weights and activations, int8 I/O, x_calib calibration",
    "fp32.onnx": "float32 ONNX (tf2onnx, opset 17)",
}


def _describe(name: str) -> str:
    if name.endswith("int8.onnx"):
        mode = ONNX_INT8_MODE[name.split("_")[0]]
        if mode == "static_qdq":
            return "int8 ONNX, static QDQ (per-channel S8S8, MinMax on `x_calib`), float32 I/O"
        return "int8 ONNX, dynamic quantization (int8 weights, DynamicQuantizeLSTM), float32 I/O"
    return next(v for k, v in FILE_DESCRIPTIONS.items() if name.endswith(k))


def write_models_readme(
    build: dict[str, EvalResult],
    runtime: dict[str, Any],
    details: dict[str, dict[str, list[dict[str, Any]]]],
    versions: dict[str, str],
) -> None:
    files = [
        f"| `{p.name}` | {p.stat().st_size} | {_describe(p.name)} |" for p in suite_artifacts()
    ]
    tiny = [
        f"| `benchmarks/models/{p.name}` | {p.stat().st_size} "
        f"| {runtime['results'][p.name]['median_us']:.1f} |"
        for p in tiny_artifacts()
    ]
    io = [line for name, d in details.items() for line in _io_lines(name, d)]
    build_v = ", ".join(f"{k} {v}" for k, v in versions.items())
    runtime_v = ", ".join(f"{k} {v}" for k, v in runtime["versions"].items())
    nl = "\n"
    text = f"""# benchy example models

Classifiers for the BasicMotions smartwatch activity task
(`../data/basicmotions.npz`, see `../data/README.md`): input is one normalized
window `(1, 100, 6)` float32 (batch fixed to 1), output is 4 softmax scores in
`classes` order. Both were trained on the 40-case train split (`x_calib`) with
fixed seeds and legacy Keras (`tf_keras`), so the LSTM is the fused
`UNIDIRECTIONAL_SEQUENCE_LSTM` op in TFLite.

- `cnn`: Conv1D(16, k5, ReLU) -> MaxPool(2) -> Conv1D(32, k5, ReLU) -> GlobalAvgPool
  -> Dense(4, softmax)
- `lstm`: per-step Dense({LSTM_PROJECTION}, ReLU) -> LSTM({LSTM_UNITS}) -> Dense(4, softmax)
  (the projection gives the LSTM gate kernels >= 1024 elements, which the TFLite
  dynamic-range quantizer requires before it quantizes the LSTM at all)

## Files

| file | bytes | what |
| --- | ---: | --- |
{nl.join(files)}

Full-int8 TFLite: quantize inputs as `q = round(x / scale) + zero_point`
(clip to int8), dequantize outputs as `(q - zero_point) * scale`. The ONNX int8
models keep float32 I/O (quantization is inside the graph). The ONNX int8 LSTM
uses dynamic quantization because onnxruntime has no static/QDQ quantizer for
the `LSTM` op (a static run would leave it float).

**The TFLite LSTM files are stateful.** The fused `UNIDIRECTIONAL_SEQUENCE_LSTM`
keeps its hidden/cell state in variable tensors that persist across `invoke()`
calls, so without a reset each window starts from the previous window's final
state: Keras `stateful=False` semantics are lost and scores depend on what ran
before (a harness comparing runs must reset). Call `interpreter.reset_all_variables()` before each
`invoke()` (cheap; a no-op for the CNN). All numbers below do that. ONNX Runtime
sessions are stateless.

## Accuracy (test split, 40 cases)

"acc. build env" uses `tf.lite.Interpreter` / onnxruntime in the build venv;
"harness runtimes" re-runs every file with the system `python3`
({runtime_v}). Latency: median of 40 per-sample calls (reset + set input +
invoke + get output, or `session.run`), 1 thread, on the build machine;
indicative only. "stateful": output changes if the previous invoke differed.

{nl.join(accuracy_table(build, runtime))}

## Tensor details

{nl.join(io)}

## Harness-overhead model

`benchmarks/models/tiny_fp32.{{tflite,onnx}}`: `(1, 64)` float32 -> Dense(16)
(seeded random weights, untrained) -> `(1, 16)` float32; input `input`, output
`output` (ONNX). Its compute is negligible, so timing it measures the harness.

| file | bytes | median µs/inference (harness runtimes) |
| --- | ---: | ---: |
{nl.join(tiny)}

## Rebuild

From the repository root (requirements in `suites/requirements-build.txt`):

    {REBUILD_CMD}

Build tools: {build_v}.
Set `{RUNTIME_PYTHON_ENV}` to choose the interpreter used for the runtime check
(default: `python3` on PATH).
"""
    (MODELS_DIR / "README.md").write_text(text)


def build_main() -> None:
    start = time.perf_counter()
    os.environ.update(BUILD_ENV)
    versions = build_versions()
    print("build tools:", versions)
    ds = load_dataset()
    write_dataset(ds)
    write_data_readme(ds, versions["aeon"])
    MODELS_DIR.mkdir(parents=True, exist_ok=True)
    for name in MODEL_NAMES:
        model = train_model(name, ds)
        export_tflite(name, model, ds)
        export_onnx(name, model, ds)
    build_tiny_models()

    check_fp32_agreement(ds)
    build = evaluate_build(ds)
    runtime = run_runtime_check()
    print("harness runtimes:", runtime["python_path"], runtime["versions"])
    check_accuracies(build, runtime)
    print("\n".join(accuracy_table(build, runtime)))
    for path in tiny_artifacts():
        print(
            f"{_rel(path)}: {path.stat().st_size} B, "
            f"median {runtime['results'][path.name]['median_us']:.1f} µs"
        )
    details = io_details()
    for name, d in details.items():
        print("\n".join(_io_lines(name, d)))
    write_models_readme(build, runtime, details, versions)
    print(f"wrote {_rel(MODELS_DIR / 'README.md')}; total {time.perf_counter() - start:.1f}s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--verify", action="store_true", help="only evaluate existing artifacts, print JSON"
    )
    args = parser.parse_args()
    if args.verify:
        verify_main()
    else:
        build_main()


if __name__ == "__main__":
    main()
