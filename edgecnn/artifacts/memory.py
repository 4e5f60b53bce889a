"""Flash and RAM: the file's size, and the peak of activation memory from tensor lifetimes.

A tensor lives from the operator that writes it (graph inputs: from the start) to the last operator
that reads it (graph outputs: to the end). At each operator the live tensors must coexist; the peak
over operators is the least activation memory (arena) any planner can reach without recomputing, and
LiteRT's planner reaches about that. Weights are constants in flash, not counted.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgecnn.artifacts.kernels import builtin_interpreter
from edgecnn.modelfile import load_onnx


def activation_peak(layers, sizes: dict, graph_inputs: list, graph_outputs: list) -> dict:
    """Peak bytes of simultaneously live tensors over `layers` (with `.inputs` / `.outputs` tensor ids)."""
    first, last = {t: -1 for t in graph_inputs}, {}
    for index, layer in enumerate(layers):
        for tensor in layer.outputs:
            first.setdefault(tensor, index)
        for tensor in layer.inputs:
            if tensor in first:
                last[tensor] = index
    for tensor in graph_outputs:
        last[tensor] = len(layers)
    best = {"bytes": 0, "at": None, "largest": []}
    for index, layer in enumerate(layers):
        live = [t for t, start in first.items() if start <= index <= last.get(t, start)]
        total = sum(sizes.get(t, 0) for t in live)
        if total > best["bytes"]:
            largest = sorted(live, key=lambda t: -sizes.get(t, 0))[:2]
            best = {"bytes": int(total), "at": layer.name, "largest": [
                {"tensor": str(t), "bytes": int(sizes.get(t, 0))} for t in largest]}
    return best


def memory_estimate(path: Path, layers, graph=None) -> dict:
    """Flash (file bytes) and the activation peak of a `.tflite` or `.onnx` file (`graph`: already parsed)."""
    path = Path(path)
    record = {"flash_bytes": path.stat().st_size}
    if path.suffix == ".tflite":
        sizes, inputs, outputs, names = _tflite_tensors(graph if graph is not None else builtin_interpreter(path))
        record["arena_bytes"] = None  # the LiteRT Python interpreter does not expose its arena size
    elif path.suffix == ".onnx":
        sizes = {t: layer.activation_bytes for layer in layers for t in layer.outputs[:1]}
        inputs, names = _onnx_io(graph if graph is not None else load_onnx(path), sizes), {}
        outputs = [t for layer in layers[-1:] for t in layer.outputs]
    else:
        return record
    peak = activation_peak(layers, sizes, inputs, outputs)
    for tensor in peak["largest"]:
        tensor["tensor"] = names.get(int(tensor["tensor"]), tensor["tensor"]) if tensor["tensor"].isdigit() else \
            tensor["tensor"]
    record["peak_activation_bytes"] = peak["bytes"]
    record["peak_at"] = peak["at"]
    record["largest_live_tensors"] = peak["largest"]
    return record


def _tflite_tensors(interpreter):
    details = interpreter.get_tensor_details()
    sizes = {d["index"]: int(np.prod(d["shape"])) * np.dtype(d["dtype"]).itemsize for d in details}
    names = {d["index"]: d["name"] for d in details}
    inputs = [d["index"] for d in interpreter.get_input_details()]
    outputs = [d["index"] for d in interpreter.get_output_details()]
    return sizes, inputs, outputs, names


def _onnx_io(model, sizes: dict) -> list:
    initializers = {init.name for init in model.graph.initializer}
    inputs = []
    for value in model.graph.input:
        if value.name in initializers:
            continue
        dims = [d.dim_value or 1 for d in value.type.tensor_type.shape.dim]
        sizes[value.name] = int(np.prod(dims)) * 4
        inputs.append(value.name)
    return inputs
