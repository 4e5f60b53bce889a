"""Run an exported file in the runtime that will run it on a device. No TensorFlow here.

Each runner takes normalized float32 NHWC images and returns float32 probabilities: int8 inputs are
quantized and int8 outputs dequantized with the scale and zero point stored in the file itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgecnn._tf import tensorflow
from edgecnn.data.contract import normalize
from edgecnn.errors import VerificationError
from edgecnn.modelfile import check_image_input, check_model_file, litert_interpreter, load_keras


def to_tensor_dtype(images: np.ndarray, details: dict) -> np.ndarray:
    """Float images -> a LiteRT tensor's dtype, quantized with its scale and zero point when it has one."""
    scale, zero_point = details["quantization"]
    dtype = np.dtype(details["dtype"])
    if not scale:
        return images.astype(dtype)
    info = np.iinfo(dtype)
    return np.clip(np.round(images / scale) + zero_point, info.min, info.max).astype(dtype)


def dequantized(raw: np.ndarray, quantization: tuple) -> np.ndarray:
    """A LiteRT tensor's values as float32: `real = scale * (q - zero_point)` when it is quantized."""
    scale, zero_point = quantization
    values = raw.astype(np.float32)
    return (values - zero_point) * scale if scale else values


@dataclass(frozen=True)
class TensorIO:
    """A model file's image input and score output as an app addresses them: names, element types, shapes
    (None for a dynamic dimension)."""

    input_name: str
    input_dtype: str
    input_shape: tuple
    output_name: str
    output_dtype: str
    output_shape: tuple


def _dims(shape) -> tuple:
    return tuple(int(d) if isinstance(d, (int, np.integer)) and d >= 0 else None for d in shape)


def _onnx_element(type_text: str) -> str:
    """'tensor(float)' -> 'float32', 'tensor(uint8)' -> 'uint8'."""
    element = type_text.removeprefix("tensor(").removesuffix(")")
    return "float32" if element == "float" else element


class TFLiteRunner:
    runtime = "litert"

    def __init__(self, path: Path, threads: int = 1):
        start = time.perf_counter_ns()
        self.interpreter = litert_interpreter(path, num_threads=threads)
        self.init_ms = (time.perf_counter_ns() - start) / 1e6
        self.settings = {"num_threads": threads, "delegate": "XNNPACK (LiteRT default CPU delegate)"}
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        check_image_input(path, list(self.input["shape"]))
        self.input_shape = tuple(int(d) for d in self.input["shape"][1:])
        self.input_dtype = np.dtype(self.input["dtype"]).name
        self.output_size = int(np.prod(self.output["shape"][1:]))

    def prepare(self, images: np.ndarray) -> np.ndarray:
        return to_tensor_dtype(images, self.input)

    def io(self) -> TensorIO:
        # shape_signature holds -1 for a dynamic batch; shape holds the batch of 1 the tensors were allocated for
        inp, out = (_dims(t.get("shape_signature", t["shape"])) for t in (self.input, self.output))
        return TensorIO(self.input["name"], np.dtype(self.input["dtype"]).name, inp,
                        self.output["name"], np.dtype(self.output["dtype"]).name, out)

    def invoke(self, prepared_one: np.ndarray) -> None:
        """One batch-1 inference on an already prepared input: what the latency harness times."""
        self.interpreter.set_tensor(self.input["index"], prepared_one)
        self.interpreter.invoke()

    def output_values(self) -> np.ndarray:
        return dequantized(self.interpreter.get_tensor(self.output["index"]), self.output["quantization"])

    def predict(self, images: np.ndarray) -> np.ndarray:
        prepared = self.prepare(images)
        outputs = []
        for one in prepared:
            self.invoke(one[None])
            outputs.append(self.output_values()[0])
        return np.stack(outputs)


class OnnxRunner:
    runtime = "onnxruntime"

    def __init__(self, path: Path, threads: int = 1):
        import onnxruntime as ort  # lazy: onnxruntime (0.2 s) only for ONNX files

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        start = time.perf_counter_ns()
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for bad files
            raise VerificationError(f"{path}: onnxruntime cannot load it: {exc}") from None
        self.init_ms = (time.perf_counter_ns() - start) / 1e6
        self.settings = {"intra_op_num_threads": threads, "inter_op_num_threads": 1,
                         "graph_optimization_level": "ORT_ENABLE_ALL", "execution_mode": "ORT_SEQUENTIAL",
                         "providers": self.session.get_providers(), "onnxruntime_version": ort.__version__}
        self.input = self.session.get_inputs()[0]
        check_image_input(path, list(self.input.shape))
        dims = self.input.shape[1:]
        if not all(isinstance(d, int) for d in dims):
            raise VerificationError(f"{path}: input {self.input.name} has symbolic image dimensions {dims}; "
                                    "only the batch dimension may be dynamic")
        # NCHW (PyTorch exports) when channels lead and do not trail; images are transposed to match.
        self.layout = "NCHW" if len(dims) == 3 and dims[0] in (1, 3) and dims[-1] not in (1, 3) else "NHWC"
        self.input_shape = tuple(dims[1:] + dims[:1]) if self.layout == "NCHW" else tuple(dims)
        self.input_dtype = "float32"
        self.output_size = int(np.prod([d for d in self.session.get_outputs()[0].shape[1:] if isinstance(d, int)]))

    def io(self) -> TensorIO:
        output = self.session.get_outputs()[0]
        return TensorIO(self.input.name, _onnx_element(self.input.type), _dims(self.input.shape), output.name,
                        _onnx_element(output.type), _dims(output.shape))

    def prepare(self, images: np.ndarray) -> np.ndarray:
        images = images.astype(np.float32)
        return np.ascontiguousarray(images.transpose(0, 3, 1, 2)) if self.layout == "NCHW" else images

    def invoke(self, prepared_one: np.ndarray) -> None:
        self._last = self.session.run(None, {self.input.name: prepared_one})[0]

    def output_values(self) -> np.ndarray:
        return self._last.astype(np.float32)

    def predict(self, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
        images = self.prepare(images)
        if self.input.shape[0] == 1:  # a file exported with its batch fixed to 1 (ORT Mobile's NNAPI/CoreML)
            batch_size = 1
        chunks = [
            self.session.run(None, {self.input.name: images[i : i + batch_size]})[0]
            for i in range(0, len(images), batch_size)
        ]
        return np.concatenate(chunks).astype(np.float32)


class KerasRunner:
    """The float Keras model, as the reference row of the report (needs TensorFlow)."""

    runtime = "tensorflow"

    def __init__(self, path: Path, threads: int = 1, model=None):
        start = time.perf_counter_ns()
        self.model = model if model is not None else load_keras(path)
        self.init_ms = (time.perf_counter_ns() - start) / 1e6 if model is None else None
        # A traced call, as TensorFlow serving would run it: eager layer-by-layer calls cost ~20 ms of
        # Python per image on the digits model, which measured the interpreter rather than the model.
        self._call = tensorflow().function(lambda image: self.model(image, training=False))
        self.settings = {"note": "TensorFlow tf.function call, reference only"}
        self.input_shape = tuple(int(d) for d in self.model.input_shape[1:])
        self.input_dtype = "float32"
        self.output_size = int(self.model.output_shape[-1])

    def prepare(self, images: np.ndarray) -> np.ndarray:
        return images.astype(np.float32)

    def invoke(self, prepared_one: np.ndarray) -> None:
        self._last = self._call(prepared_one)

    def output_values(self) -> np.ndarray:
        return np.asarray(self._last, dtype=np.float32)

    def predict(self, images: np.ndarray) -> np.ndarray:
        # Called directly, not through `model.predict`, whose graph tracing cost more than the predictions.
        return np.concatenate([self.model(images[i : i + 256], training=False).numpy()
                               for i in range(0, len(images), 256)])


def predict_pixels(runner, pixels: np.ndarray, contract, chunk: int = 256) -> np.ndarray:
    """A runner's probabilities for uint8 pixels, normalized as `contract` says a chunk at a time (float32 is four
    times the uint8 images)."""
    return np.concatenate([runner.predict(normalize(pixels[start:start + chunk], contract))
                           for start in range(0, len(pixels), chunk)])


RUNNERS = {".tflite": TFLiteRunner, ".onnx": OnnxRunner, ".ort": OnnxRunner, ".keras": KerasRunner}


def open_runner(path: str | Path, threads: int = 1, model=None):
    """`path` loaded in its runtime; `model`: a `.keras` file's model already in memory."""
    path = check_model_file(path)
    return KerasRunner(path, threads, model) if path.suffix == ".keras" else RUNNERS[path.suffix](path, threads)
