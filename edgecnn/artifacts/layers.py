"""Per-layer cost of a model: parameters, multiply-accumulates (MACs) at batch 1 and activation bytes,
read from a Keras model, a `.tflite` or an `.onnx` file.

MACs are counted the conventional way: a k x k convolution over an H x W output costs
k*k*Cin*Cout*H*W (Cin per group), a depthwise one k*k*C*H*W, a pointwise one Cin*Cout*H*W and a dense
layer Cin*Cout. Element-wise work (BatchNorm, ReLU6, additions, pooling) is not counted, as in the
MobileNet papers. `.tflite` and `.onnx` need no TensorFlow.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from edgecnn.artifacts.kernels import builtin_interpreter, layer_name
from edgecnn.errors import VerificationError
from edgecnn.modelfile import check_model_file, load_keras, load_onnx

KINDS = {  # operator or layer type -> conv | depthwise | dense
    "CONV_2D": "conv", "DEPTHWISE_CONV_2D": "depthwise", "FULLY_CONNECTED": "dense",
    "Conv2D": "conv", "DepthwiseConv2D": "depthwise", "Dense": "dense",
    "Conv": "conv", "ConvInteger": "conv", "QLinearConv": "conv", "Gemm": "dense", "MatMul": "dense",
    "MatMulInteger": "dense",
}
SKIPPED_ONNX = {"QuantizeLinear", "DequantizeLinear"}  # QDQ bookkeeping, not layers


@dataclass
class Layer:
    name: str
    type: str
    kind: str  # conv, depthwise, dense or other
    output_shape: list[int]  # batch 1, the model's own layout
    params: int = 0
    macs: int = 0
    activation_bytes: int = 0
    kernel: str = ""
    stride: int | None = None
    padding: str = ""
    inputs: list = field(default_factory=list, repr=False)  # tensor ids, for memory lifetimes
    outputs: list = field(default_factory=list, repr=False)

    @property
    def spatial(self) -> tuple[int, int]:
        """(H, W) of the output, whichever the layout."""
        shape = self.output_shape
        if len(shape) != 4:
            return (1, 1)
        return (shape[2], shape[3]) if self.layout == "NCHW" else (shape[1], shape[2])

    layout: str = "NHWC"

    @property
    def channels(self) -> int:
        shape = self.output_shape
        return shape[1] if self.layout == "NCHW" and len(shape) == 4 else shape[-1]

    def to_dict(self) -> dict:
        record = asdict(self)
        for key in ("inputs", "outputs", "layout"):
            record.pop(key)
        return record


def read_layers(model_or_path, graph=None) -> list[Layer]:
    """The layers of a Keras model object or a `.keras` / `.tflite` / `.onnx` path, in execution order
    (`graph`: the file already parsed, as `Artifact.graph` holds it)."""
    if not isinstance(model_or_path, (str, Path)):
        return _keras_layers(model_or_path)

    path = check_model_file(model_or_path)
    if path.suffix == ".tflite":
        return _tflite_layers(graph if graph is not None else builtin_interpreter(path))
    if path.suffix == ".onnx":
        return _onnx_layers(graph if graph is not None else load_onnx(path))
    if path.suffix == ".keras":
        return _keras_layers(load_keras(path))

    raise VerificationError(f"{path}: expected a .keras, .tflite or .onnx model")


def conv_macs(kernel_elements: int, height: int, width: int) -> int:
    """A convolution's weight count (k*k*Cin/groups*Cout) times its output positions."""
    return int(kernel_elements) * int(height) * int(width)


# --- Keras --------------------------------------------------------------------------------------------

def _keras_layers(model) -> list[Layer]:
    layers = []
    for layer in model.layers:
        kind_name = type(layer).__name__
        if kind_name == "InputLayer":
            continue
        shape = [1, *[int(d) for d in layer.output_shape[1:]]]
        row = Layer(layer.name, kind_name, KINDS.get(kind_name, "other"), shape, int(layer.count_params()),
                    activation_bytes=int(np.prod(shape)) * 4)
        if row.kind in ("conv", "depthwise"):
            kh, kw = layer.kernel_size
            row.kernel, row.stride, row.padding = f"{kh}x{kw}", int(layer.strides[0]), layer.padding
            row.macs = conv_macs(int(np.prod(layer.depthwise_kernel.shape if row.kind == "depthwise"
                                                else layer.kernel.shape)), *row.spatial)
        elif row.kind == "dense":
            row.macs = int(np.prod(layer.kernel.shape))
        layers.append(row)
    return layers


# --- TFLite -------------------------------------------------------------------------------------------

def _tflite_layers(interpreter) -> list[Layer]:
    tensors = {d["index"]: d for d in interpreter.get_tensor_details()}
    layers = []
    for op in interpreter._get_ops_details():  # the only Python view of the operators
        inputs = [int(i) for i in op["inputs"] if i >= 0]
        outputs = [int(i) for i in op["outputs"] if i >= 0]
        out = tensors[outputs[0]]
        shape = [int(d) for d in out["shape"]]
        kind = KINDS.get(op["op_name"], "other")
        row = Layer(layer_name(out["name"]), op["op_name"], kind, shape,
                    activation_bytes=int(np.prod(shape)) * np.dtype(out["dtype"]).itemsize,
                    inputs=inputs, outputs=outputs)
        if kind != "other" and len(inputs) >= 2:
            weight = [int(d) for d in tensors[inputs[1]]["shape"]]
            row.params = sum(int(np.prod(tensors[i]["shape"])) for i in inputs[1:])
            if kind == "dense":
                row.macs = int(np.prod(weight))
            else:  # conv weight O,kh,kw,I ; depthwise 1,kh,kw,C
                row.kernel = f"{weight[1]}x{weight[2]}"
                row.macs = conv_macs(int(np.prod(weight)), *row.spatial)
                in_height = int(tensors[inputs[0]]["shape"][1])
                row.stride, row.padding = infer_stride_padding(in_height, shape[1], weight[1])
        layers.append(row)
    return layers


def infer_stride_padding(size_in: int, size_out: int, kernel: int) -> tuple[int, str]:
    """TFLite's Python API does not expose conv options; the shapes pin them down, except when both
    paddings fit (8 -> 4 is 'same' stride 2 or a 5x5 'valid' stride 1): then 'same', edgecnn's default."""
    for stride in range(1, 9):
        if math.ceil(size_in / stride) == size_out:
            return stride, "same"
    for stride in range(1, 9):
        if (size_in - kernel) // stride + 1 == size_out:
            return stride, "valid"
    return 0, "?"


# --- ONNX ---------------------------------------------------------------------------------------------

_ONNX_BYTES = {1: 4, 2: 1, 3: 1, 6: 4, 7: 8, 10: 2, 11: 8}  # float, uint8, int8, int32, int64, float16, double


def _onnx_layers(parsed) -> list[Layer]:
    import onnx  # lazy: ONNX (0.3 s) only for .onnx files
    from onnx import helper

    model = onnx.ModelProto()
    model.CopyFrom(parsed)  # the batch dimension is fixed below; the caller's graph stays as read
    for value in model.graph.input:  # batch 1, so shape inference gives concrete sizes
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].dim_value:
            dims[0].dim_value = 1
    model = onnx.shape_inference.infer_shapes(model)
    values = {v.name: v.type.tensor_type for v in [*model.graph.value_info, *model.graph.output, *model.graph.input]}
    constants = {init.name: [int(d) for d in init.dims] for init in model.graph.initializer}
    producer = {out: node for node in model.graph.node for out in node.output}
    layout = "NCHW" if _first_conv(model) else "NHWC"

    def weight_of(name):  # follow QDQ: the float weight is DequantizeLinear(int8 initializer)
        node = producer.get(name)
        if node is not None and node.op_type == "DequantizeLinear":
            return weight_of(node.input[0])
        return name if name in constants else None

    layers = []
    for node in model.graph.node:
        if node.op_type in SKIPPED_ONNX or node.op_type == "Constant":
            continue
        out = values.get(node.output[0])
        shape = [int(d.dim_value) for d in out.shape.dim] if out is not None else []
        kind = KINDS.get(node.op_type, "other")
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        weights = [w for w in (weight_of(i) for i in node.input[1:]) if w]
        if kind == "conv" and attrs.get("group", 1) > 1 and attrs.get("group") == (constants[weights[0]][0] if weights
                                                                                     else 0):
            kind = "depthwise"
        row = Layer(node.name or node.output[0], node.op_type, kind, shape, layout=layout,
                    inputs=[i for i in node.input if i and i not in constants and not weight_of(i)],
                    outputs=list(node.output))
        row.activation_bytes = int(np.prod(shape)) * _ONNX_BYTES.get(out.elem_type, 4) if shape else 0
        if kind != "other" and weights:
            row.params = sum(int(np.prod(constants[w])) for w in weights)
            weight = constants[weights[0]]
            if kind == "dense":
                row.macs = int(np.prod(weight))
            elif len(weight) == 4 and len(shape) == 4:
                row.kernel = f"{weight[2]}x{weight[3]}"
                row.macs = conv_macs(int(np.prod(weight)), *row.spatial)
                row.stride = int((attrs.get("strides") or [1])[0])
                row.padding = "valid" if not any(attrs.get("pads") or []) and attrs.get("auto_pad", b"NOTSET") in (
                    b"NOTSET", b"VALID", "NOTSET", "VALID") else "same"
        layers.append(row)
    return layers


def _first_conv(model) -> bool:
    return any(node.op_type in ("Conv", "ConvInteger", "QLinearConv") for node in model.graph.node)


# --- summaries ----------------------------------------------------------------------------------------

def totals(layers: list[Layer]) -> dict:
    return {"layers": len(layers), "params": sum(r.params for r in layers), "macs": sum(r.macs for r in layers),
            "activation_bytes": sum(r.activation_bytes for r in layers)}


def separable_savings(layers: list[Layer]) -> list[dict]:
    """Each depthwise layer with the pointwise (1x1) convolution after it, against one standard k x k
    convolution of the same input channels, output channels and output size."""
    savings = []
    for i, dw in enumerate(layers):
        if dw.kind != "depthwise":
            continue
        pw = next((r for r in layers[i + 1:] if r.kind in ("conv", "depthwise")), None)
        if pw is None or pw.kind != "conv" or pw.kernel != "1x1":
            continue
        k = int(dw.kernel.split("x")[0])
        height, width = pw.spatial
        standard = k * k * dw.channels * pw.channels * height * width
        separable = dw.macs + pw.macs
        savings.append({"depthwise": dw.name, "pointwise": pw.name, "kernel": dw.kernel,
                        "channels_in": dw.channels, "channels_out": pw.channels, "output": [height, width],
                        "separable_macs": separable, "standard_macs": standard,
                        "saving": round(standard / separable, 2) if separable else None})
    return savings
