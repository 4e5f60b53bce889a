"""Model files as a user hands them over: checked before any reader opens them (present, a known type,
a sane size, the right header), and loaded with their refusals named. No TensorFlow at import."""

from __future__ import annotations

from pathlib import Path

from edgecnn._tf import keras
from edgecnn.errors import VerificationError

MODEL_SUFFIXES = (".tflite", ".onnx", ".ort", ".keras")
MAX_MODEL_BYTES = 2 * 1024**3  # protobuf's own limit for one ONNX file; far beyond a phone model


def check_model_file(path: str | Path) -> Path:
    """A model file every reader may open: present, a known type, not empty or oversized, and with the
    right header (.tflite: the TFL3 flatbuffer identifier; .keras: a zip). ONNX is parsed by its readers."""
    path = Path(path)
    if not path.is_file():
        raise VerificationError(f"{path}: file not found" if not path.exists() else f"{path}: not a file")
    if path.suffix not in MODEL_SUFFIXES:
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


def litert_interpreter(path: str | Path, allocate: bool = True, **options):
    """A LiteRT interpreter on a checked `.tflite` file (`options` go to its constructor), with its tensors
    allocated; a file LiteRT refuses (truncated, corrupt, an unknown operator) is named in one line."""
    from ai_edge_litert.interpreter import Interpreter  # lazy: LiteRT (0.16 s) only for .tflite files

    from edgecnn.fileio import captured_native_stderr

    path = check_model_file(path)
    try:
        with captured_native_stderr():  # "Created TensorFlow Lite XNNPACK delegate" on every load
            interpreter = Interpreter(model_path=str(path), **options)
            _check_tensors(path, interpreter)
            if allocate:
                interpreter.allocate_tensors()
        # LiteRT decodes tensor names in every details call (get_tensor_details skips a tensor it cannot decode)
        interpreter.get_input_details(), interpreter.get_output_details()
    except UnicodeDecodeError:  # a ValueError: named before the general case
        raise VerificationError(f"{path}: a tensor name in it is not UTF-8 text; the file is damaged") from None
    except (ValueError, RuntimeError) as exc:
        raise VerificationError(f"{path}: LiteRT cannot load it: {exc}") from None
    return interpreter


# No tensor of an edge model comes near this (MobileNetV2's largest activation at 224 px: 4.8 MB).
MAX_TENSOR_BYTES = 256 << 20


def _check_tensors(path: Path, interpreter) -> None:
    """Before LiteRT allocates: every tensor's declared size below MAX_TENSOR_BYTES, every quantized tensor's scales
    finite and not negative and its zero points inside its integer type's range (the TFLite spec). LiteRT reads the
    file unverified, and damaged values the fuzz tests made crashed the process in allocate_tensors (a uint8 input's
    zero point at 11,403,264, its scale at -4.3e9) or had it killed for memory (an input 16,187,408 rows high:
    22 GB)."""
    import numpy as np

    for tensor in interpreter.get_tensor_details():
        params = tensor["quantization_parameters"]
        scales, zero_points, dtype = params["scales"], params["zero_points"], np.dtype(tensor["dtype"])
        declared = float(np.prod(np.abs(tensor["shape"]).astype(np.float64))) * dtype.itemsize
        problem = None
        if declared > MAX_TENSOR_BYTES:
            size = f"{declared / 2**20:,.0f} MiB, above {MAX_TENSOR_BYTES >> 20} MiB"
            problem = f"shape {tensor['shape'].tolist()} ({size})"
        elif len(scales) and not (np.isfinite(scales).all() and (scales >= 0).all()):  # 0: an all-zero channel
            problem = "a negative or infinite scale"
        elif len(zero_points) and dtype.kind in "iu" and not (
                np.iinfo(dtype).min <= zero_points.min() and zero_points.max() <= np.iinfo(dtype).max):
            problem = f"a zero point outside {dtype.name}'s range"
        if problem:
            raise VerificationError(f"{path}: tensor {tensor['name']!r} has {problem}; the file is damaged")


def load_onnx(path: str | Path):
    """The ONNX ModelProto of a checked file, without external data; a corrupt or empty graph is named."""
    import onnx  # lazy: ONNX (0.3 s) only for .onnx files
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


def check_image_input(path: Path, shape: list) -> None:
    """An image classifier's input: batch, then three positive image dimensions (NHWC or NCHW)."""
    dims = shape[1:]
    if len(shape) != 4 or any(isinstance(d, int) and d <= 0 for d in dims):
        raise VerificationError(f"{path}: input shape {shape}; expected an image input, (N, H, W, C) or (N, C, H, W) "
                                "with positive sizes")


def load_keras(path: str | Path):
    """A checked `.keras` file, loaded in safe mode: no Python code (Lambda layers) is deserialized."""
    path = check_model_file(path)
    try:
        return keras().models.load_model(path, safe_mode=True, compile=False)
    except (ValueError, TypeError, OSError, KeyError) as exc:  # safe mode refuses Lambda layers and other code
        first = " ".join(str(exc).split())[:160]
        raise VerificationError(f"{path}: Keras cannot load it safely ({first})") from None
