"""Run an exported file in the runtime that will run it on a device. No TensorFlow here.

Each runner takes normalized float32 NHWC images and returns float32 probabilities: int8 inputs are
quantized and int8 outputs dequantized with the scale and zero point stored in the file itself.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from edgecnn.errors import VerificationError
from edgecnn.fileio import captured_native_stderr


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


def check_image_input(path: Path, shape: list) -> None:
    """An image classifier's input: batch, then three positive image dimensions (NHWC or NCHW)."""
    dims = shape[1:]
    if len(shape) != 4 or any(isinstance(d, int) and d <= 0 for d in dims):
        raise VerificationError(f"{path}: input shape {shape}; expected an image input, (N, H, W, C) or (N, C, H, W) "
                                "with positive sizes")


class TFLiteRunner:
    runtime = "litert"

    def __init__(self, path: Path, threads: int = 1):
        from ai_edge_litert.interpreter import Interpreter

        start = time.perf_counter_ns()
        try:
            with captured_native_stderr():  # "Created TensorFlow Lite XNNPACK delegate" on every load
                self.interpreter = Interpreter(model_path=str(path), num_threads=threads)
                self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise VerificationError(f"{path}: LiteRT cannot load it: {exc}") from None
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
        import onnxruntime as ort

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

    def __init__(self, path: Path, threads: int = 1):
        from edgecnn._tf import tensorflow
        from edgecnn.train import load_model

        start = time.perf_counter_ns()
        self.model = load_model(path)
        self.init_ms = (time.perf_counter_ns() - start) / 1e6
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
        return self.model.predict(images, batch_size=256, verbose=0)


RUNNERS = {".tflite": TFLiteRunner, ".onnx": OnnxRunner, ".ort": OnnxRunner, ".keras": KerasRunner}
MAX_MODEL_BYTES = 2 * 1024**3  # protobuf's own limit for one ONNX file; far beyond a phone model


def open_runner(path: str | Path, threads: int = 1):
    path = check_model_file(path)
    return RUNNERS[path.suffix](path, threads)


def check_model_file(path: str | Path) -> Path:
    """A model file every reader may open: present, a known type, not empty or oversized, and with the
    right header (.tflite: the TFL3 flatbuffer identifier; .keras: a zip). ONNX is parsed by its readers."""
    path = Path(path)
    if not path.is_file():
        raise VerificationError(f"{path}: file not found" if not path.exists() else f"{path}: not a file")
    if path.suffix not in RUNNERS:
        raise VerificationError(f"{path}: unknown model type {path.suffix!r}; expected .tflite, .onnx, .ort or .keras")
    size = path.stat().st_size
    if size == 0:
        raise VerificationError(f"{path}: empty file (0 bytes)")
    if size > MAX_MODEL_BYTES:
        raise VerificationError(f"{path}: {size:,} bytes, above the {MAX_MODEL_BYTES:,}-byte model limit")
    with path.open("rb") as model:
        head = model.read(8)
    if path.suffix == ".tflite" and head[4:8] != b"TFL3":
        raise VerificationError(f"{path}: not a TFLite flatbuffer (no TFL3 identifier); truncated or another format")
    if path.suffix == ".keras" and not head.startswith(b"PK"):
        raise VerificationError(f"{path}: not a Keras archive (a .keras file is a zip)")
    return path


def load_onnx(path: str | Path):
    """The ONNX ModelProto of a checked file, without external data; a corrupt or empty graph is named."""
    import onnx
    from google.protobuf.message import DecodeError

    path = check_model_file(path)
    try:
        model = onnx.load(str(path), load_external_data=False)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise VerificationError(f"{path}: not a readable ONNX model ({type(exc).__name__}); truncated or "
                                "another format") from None
    if not model.graph.node or not model.graph.input:
        raise VerificationError(f"{path}: an ONNX file with no graph (no nodes or inputs)")
    return model
