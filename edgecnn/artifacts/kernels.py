"""Read the convolution and dense kernels back out of an exported file, to measure what it really holds.

Sparsity is counted in the file, not in the Keras model: a zero is a float 0.0, or a quantized value
equal to its zero point. Kernels are returned with the input-channel axis last (TFLite's layout;
ONNX kernels are transposed to it), so a 2:4 pattern is checked along that axis for both formats.
No TensorFlow here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgecnn.data.contract import PIXEL_INPUT_LAYER, is_pixel_input
from edgecnn.modelfile import litert_interpreter, load_onnx

_PREFIXES = ("quant_", "prune_low_magnitude_", "cluster_")


@dataclass
class Kernel:
    layer: str  # the Keras layer name when the tensor names carry it, else the tensor name
    kind: str  # conv, pointwise, depthwise or dense
    values: np.ndarray  # zero point removed; input channels on the last axis

    @property
    def sparsity(self) -> float:
        return float((self.values == 0).mean())

    @property
    def distinct_per_channel(self) -> int:
        """The most distinct values any output channel holds (clustering's mark: at most its clusters, plus
        zero; per-channel int8 scales give each channel its own values)."""
        channels = np.moveaxis(self.values, -1 if self.kind == "depthwise" else 0, 0)
        return max(len(np.unique(channel)) for channel in channels.reshape(len(channels), -1))


def read_kernels(path: str | Path, graph=None) -> list[Kernel]:
    """The kernels as stored (`graph`: the file already parsed, as `Artifact.graph` holds it)."""
    path = Path(path)
    if path.suffix == ".tflite":
        return _tflite_kernels(graph if graph is not None else builtin_interpreter(path, allocate=True))
    if path.suffix == ".onnx":
        return _onnx_kernels(graph if graph is not None else load_onnx(path))
    return []


def sparsity_summary(kernels: list[Kernel], layers: list[str] | None = None) -> dict | None:
    """Zeros over all kernel weights, per layer, and over `layers` (the pruned ones) when given; the most
    distinct values in one output channel, per layer."""
    if not kernels:
        return None
    zeros = sum(int((k.values == 0).sum()) for k in kernels)
    total = sum(k.values.size for k in kernels)
    summary = {"overall": round(zeros / total, 4), "weights": total,
               "layers": {k.layer: round(k.sparsity, 4) for k in kernels},
               "distinct_per_channel": {k.layer: k.distinct_per_channel for k in kernels}}
    if layers:
        chosen = [k for k in kernels if k.layer in layers]
        if chosen:
            summary["pruned_layers"] = round(
                sum(int((k.values == 0).sum()) for k in chosen) / sum(k.values.size for k in chosen), 4
            )
    return summary


def groups_breaking_m_by_n(values: np.ndarray, zeros: int = 2, group: int = 4) -> int:
    """How many groups of `group` consecutive input channels do not hold exactly `zeros` zeros."""
    channels = values.shape[-1]
    if channels % group:
        raise ValueError(f"{channels} input channels do not divide into groups of {group}")
    counts = (values.reshape(-1, channels // group, group) == 0).sum(axis=-1)
    return int((counts != zeros).sum())


def layer_name(tensor_name: str) -> str:
    """'model/quant_block_1_pw/Conv2D' or 'm/block_1_bn/FusedBatchNormV3;m/block_1_dw/depthwise' -> layer."""
    if is_pixel_input(tensor_name):
        return PIXEL_INPUT_LAYER
    candidates = []
    for part in tensor_name.split(";"):
        segments = part.split("/")
        if len(segments) >= 3:
            name = segments[1]
            for prefix in _PREFIXES:
                name = name.removeprefix(prefix)
            candidates.append(name)
    preferred = [c for c in candidates if not c.endswith(("_bn", "_relu"))]
    return (preferred or candidates or [tensor_name])[0]


# --- TFLite -----------------------------------------------------------------------------------------

_TFLITE_KINDS = {"CONV_2D": "conv", "DEPTHWISE_CONV_2D": "depthwise", "FULLY_CONNECTED": "dense"}


def builtin_interpreter(path: Path, allocate: bool = False):
    """A LiteRT interpreter without delegates, for reading a file's graph and stored tensors:
    XNNPACK would repack the weights; the builtin kernels keep them as stored."""
    from ai_edge_litert.interpreter import OpResolverType  # lazy: LiteRT (0.16 s) only for .tflite files

    return litert_interpreter(path, allocate=allocate,
                              experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)


def _tflite_kernels(interpreter) -> list[Kernel]:
    tensors = {d["index"]: d for d in interpreter.get_tensor_details()}
    operators = interpreter._get_ops_details()  # the only Python view of the graph's operators
    producer = {out: op for op in operators for out in op["outputs"]}
    kernels = []
    for op in operators:
        if op["op_name"] not in _TFLITE_KINDS or len(op["inputs"]) < 2:
            continue
        index = op["inputs"][1]
        if index in producer and producer[index]["op_name"] == "DEQUANTIZE":  # float16 / weight-only files
            index = producer[index]["inputs"][0]
        values = _tflite_values(interpreter, tensors[index])
        if values is None:
            continue
        kind = _TFLITE_KINDS[op["op_name"]]
        if kind == "conv" and values.ndim == 4 and values.shape[1:3] == (1, 1):
            kind = "pointwise"
        kernels.append(Kernel(layer_name(tensors[index]["name"]), kind, values))
    return kernels


def _tflite_values(interpreter, detail: dict) -> np.ndarray | None:
    try:
        values = interpreter.get_tensor(detail["index"])
    except ValueError:  # e.g. packed int4 tensors the Python API cannot return
        return None
    if values.size == 0:
        return None
    if np.issubdtype(values.dtype, np.integer):
        params = detail["quantization_parameters"]
        zero_points = np.asarray(params["zero_points"], dtype=np.int64)
        if zero_points.size > 1:
            shape = [1] * values.ndim
            shape[params["quantized_dimension"]] = -1
            zero_points = zero_points.reshape(shape)
        values = values.astype(np.int64) - (zero_points if zero_points.size else 0)
    return values


# --- ONNX -------------------------------------------------------------------------------------------

_ONNX_KERNEL_OPS = {"Conv", "ConvInteger", "MatMul", "MatMulInteger", "Gemm"}


def _onnx_kernels(model) -> list[Kernel]:
    from onnx import numpy_helper  # lazy: ONNX (0.3 s) only for .onnx files

    graph = model.graph
    constants = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    kernels = []
    for node in graph.node:
        if node.op_type not in _ONNX_KERNEL_OPS or len(node.input) < 2:
            continue
        values = _onnx_weight(node, constants, producer)
        if values is None:
            continue
        kernels.append(_onnx_kernel(node, values))
    return kernels


def _onnx_weight(node, constants: dict, producer: dict) -> np.ndarray | None:
    name = node.input[1]
    zero_point = None
    if node.op_type in ("ConvInteger", "MatMulInteger") and len(node.input) > 3 and node.input[3]:
        zero_point = constants.get(node.input[3])
    elif name in producer and producer[name].op_type == "DequantizeLinear":
        dequantize = producer[name]
        name = dequantize.input[0]
        if len(dequantize.input) > 2 and dequantize.input[2]:
            zero_point = constants.get(dequantize.input[2])
    if name not in constants:
        return None
    values = constants[name]
    if zero_point is not None and np.issubdtype(values.dtype, np.integer):
        values = values.astype(np.int64) - _broadcast(zero_point.astype(np.int64), values.shape)
    return values


def _broadcast(zero_point: np.ndarray, shape: tuple) -> np.ndarray:
    if zero_point.size == 1:
        return zero_point.reshape(())
    axis = 0 if shape[0] == zero_point.size else len(shape) - 1
    target = [1] * len(shape)
    target[axis] = -1
    return zero_point.reshape(target)


def _onnx_kernel(node, values: np.ndarray) -> Kernel:
    layer = layer_name(node.name) if "/" in node.name else node.name
    if values.ndim == 4:  # ONNX OIHW -> OHWI, input channels last as in TFLite
        group = next((a.i for a in node.attribute if a.name == "group"), 1)
        kind = "depthwise" if group > 1 and values.shape[1] == 1 else (
            "pointwise" if values.shape[2:] == (1, 1) else "conv")
        return Kernel(layer, kind, values.transpose(0, 2, 3, 1))
    transposed = node.op_type == "Gemm" and any(a.name == "transB" and a.i for a in node.attribute)
    return Kernel(layer, "dense", values if transposed else values.T)  # MatMul B is [in, out]
