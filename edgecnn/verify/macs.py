"""Multiply-accumulates per batch-1 inference, counted from the file itself (no TensorFlow).

Conventional counts: a k x k convolution over an H x W output costs k*k*Cin*Cout*H*W, a depthwise
one k*k*C*H*W, a dense layer Cin*Cout. Used for achieved GMAC/s in the latency report.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def count_macs(path: str | Path) -> int | None:
    path = Path(path)
    try:
        if path.suffix == ".tflite":
            return _tflite_macs(path)
        if path.suffix == ".onnx":
            return _onnx_macs(path)
    except Exception:  # a file we cannot analyse still gets latency, just no GMAC/s
        return None
    return None


def _tflite_macs(path: Path) -> int:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from edgecnn.fileio import captured_native_stderr

    with captured_native_stderr():
        interpreter = Interpreter(model_path=str(path),
                                  experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    shapes = {d["index"]: d["shape"] for d in interpreter.get_tensor_details()}
    total = 0
    for op in interpreter._get_ops_details():  # the only Python view of the operators
        name, inputs, outputs = op["op_name"], op["inputs"], op["outputs"]
        if name not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED") or len(inputs) < 2:
            continue
        weight, out = shapes[inputs[1]], shapes[outputs[0]]
        if name == "CONV_2D":  # weight O,kh,kw,I ; output 1,H,W,O
            total += int(np.prod(weight)) * int(out[1] * out[2])
        elif name == "DEPTHWISE_CONV_2D":  # weight 1,kh,kw,C
            total += int(weight[1] * weight[2] * out[-1]) * int(out[1] * out[2])
        else:
            total += int(np.prod(weight))
    return total


def _onnx_macs(path: Path) -> int:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    for value in model.graph.input:  # batch 1, so shape inference gives concrete output sizes
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].dim_value:
            dims[0].dim_value = 1
    model = onnx.shape_inference.infer_shapes(model)
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in [*model.graph.value_info, *model.graph.output, *model.graph.input]}
    constants = {init.name: list(init.dims) for init in model.graph.initializer}
    producer = {out: node for node in model.graph.node for out in node.output}
    total = 0
    for node in model.graph.node:
        if node.op_type not in ("Conv", "ConvInteger", "MatMul", "MatMulInteger", "Gemm") or len(node.input) < 2:
            continue
        weight_name = node.input[1]
        if weight_name in producer and producer[weight_name].op_type == "DequantizeLinear":
            weight_name = producer[weight_name].input[0]
        weight = constants.get(weight_name)
        if weight is None:
            continue
        if len(weight) == 4:  # O, I/group, kh, kw ; output N, O, H, W
            out = shapes.get(node.output[0], [])
            if len(out) == 4 and out[2] and out[3]:
                total += int(np.prod(weight)) * out[2] * out[3]
        else:
            total += int(np.prod(weight))
    return total
