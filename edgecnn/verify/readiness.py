"""Phone-readiness checks of an exported file, recorded in the report (informational, not a budget).

- `.tflite`: whether MediaPipe Tasks (and ML Kit, which reads the same metadata) can load it as an
  image classifier and, if not, why; operators left in float in an int8 file (listed by name), and
  LiteRT GPU-delegate compatibility from `tf.lite.experimental.Analyzer`, as the export recorded it in the file
  (no TensorFlow here unless `verify.gpu_check: always`).
- `.onnx`: `onnx.checker` full check, ONNX Runtime Mobile usability (NNAPI and CoreML coverage, as
  `onnxruntime.tools.check_onnx_model_mobile_usability` computes it), and for int8 files the compute
  operators not fed by quantized (DequantizeLinear) weights.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
from pathlib import Path

import numpy as np

from edgecnn.data.contract import is_pixel_input
from edgecnn.export.tflite_metadata import read_standard_metadata

_BOUNDARY_OPS = {"QUANTIZE", "DEQUANTIZE"}  # int8 files with float I/O convert at the edges; that is intended
_ONNX_COMPUTE = {"Conv", "MatMul", "Gemm", "ConvInteger", "MatMulInteger"}


def check_readiness(artifact, precision: str, gpu_check: str = "auto") -> dict:
    """The phone-readiness record of an opened `Artifact` ({} for `.keras` and `.ort`); `gpu_check` as
    `verify.gpu_check` says."""
    try:
        if artifact.kind == "tflite":
            return _tflite_readiness(artifact, precision, gpu_check)
        if artifact.kind == "onnx":
            return _onnx_readiness(artifact.path, precision)  # external data included, for the full check
    except Exception as exc:  # a check that cannot run is reported, never fatal to verification
        return {"error": f"{type(exc).__name__}: {exc}"}
    return {}


def _is_integer(precision: str) -> bool:
    return precision in ("int8", "w8/a16")


def _tflite_readiness(artifact, precision: str, gpu_check: str) -> dict:
    path, interpreter = artifact.path, artifact.graph
    tensors = {d["index"]: d for d in interpreter.get_tensor_details()}
    operators = interpreter._get_ops_details()
    result = {"operators": sorted({op["op_name"] for op in operators}),
              "mediapipe": mediapipe_readiness(path, interpreter)}
    if _is_integer(precision):
        float_ops = [
            f"{op['op_name']} -> {tensors[op['outputs'][0]]['name']}" for op in operators
            if op["op_name"] not in _BOUNDARY_OPS
            and any(np.dtype(tensors[i]["dtype"]).kind == "f" for i in [*op["inputs"], *op["outputs"]] if i >= 0)
        ]
        result["float_operators"] = float_ops
    result["gpu_delegate"] = _gpu_delegate(artifact, gpu_check)
    return result


def mediapipe_readiness(path: Path, interpreter) -> dict:
    """Whether MediaPipe Tasks' ImageClassifier loads the file unchanged, by the rules its C++ core applies
    (image_tensor_specs.cc, classification postprocessing): one 1 x H x W x 3 (or 4) input of uint8 or
    float32, NormalizationOptions metadata for a float input, a uint8 or float32 score output."""
    metadata = read_standard_metadata(Path(path).read_bytes()) or {}
    problems = []
    inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
    shape, dtype = [int(d) for d in inputs[0]["shape"]], np.dtype(inputs[0]["dtype"]).name
    if len(inputs) != 1 or len(shape) != 4 or shape[0] != 1 or shape[3] not in (3, 4):
        problems.append(f"input shape {shape}: MediaPipe takes one 1 x height x width x 3 (or 4) image"
                        + (" (grayscale models: export.rgb_input true)" if len(shape) == 4 and shape[3] == 1 else ""))
    if dtype not in ("uint8", "float32"):
        problems.append(f"input type {dtype}: MediaPipe feeds uint8 or float32 pixels (export.int8_io: uint8)")
    described = (metadata.get("inputs") or [{}])[0]
    if described.get("color_space", "RGB") != "RGB":
        problems.append(f"colour space {described['color_space']} in the metadata: MediaPipe takes RGB only")
    if dtype == "float32" and "normalization" not in described:
        problems.append("float32 input without NormalizationOptions metadata")
    if len(outputs) != 1 or np.dtype(outputs[0]["dtype"]).name not in ("uint8", "float32"):
        problems.append(f"output type {np.dtype(outputs[0]['dtype']).name}: MediaPipe reads uint8 or float32 scores")
    labelled = any(f["type"] == "TENSOR_AXIS_LABELS" for out in metadata.get("outputs", [])
                   for f in out["associated_files"])
    return {"loads": not problems, "problems": problems, "standard_metadata": bool(metadata), "labels": labelled}


def _gpu_delegate(artifact, gpu_check: str) -> dict:
    """The GPU-delegate verdict the export recorded in the file, else (`always`, or TensorFlow already loaded
    by a build in this process) the analyzer's now; `never` skips it."""
    recorded = (artifact.metadata or {}).get("gpu_delegate")
    if gpu_check == "never":
        return {"checked": False, "reason": "verify.gpu_check is never"}
    if recorded and gpu_check == "auto":
        return {**recorded, "source": "recorded at export"}
    if gpu_check == "auto" and "tensorflow" not in sys.modules:
        return {"checked": False, "reason": "not recorded in the file; --gpu-check runs TensorFlow's analyzer (~8 s)"}
    if importlib.util.find_spec("tensorflow") is None:
        return {"checked": False, "reason": "needs TensorFlow (pip install \"edgecnn[train]\")"}
    from edgecnn.export.gpu_delegate import gpu_compatibility  # lazy: TensorFlow, only when asked for

    return {**gpu_compatibility(Path(artifact.path).read_bytes()), "source": "analyzed now"}


def _onnx_readiness(path: Path, precision: str) -> dict:
    import onnx  # lazy: ONNX (0.3 s) only for .onnx files

    model = onnx.load(str(path))
    result: dict = {}
    try:
        onnx.checker.check_model(model, full_check=True)
        result["onnx_checker"] = "passed (full check)"
    except onnx.checker.ValidationError as exc:
        result["onnx_checker"] = f"failed: {str(exc).splitlines()[0]}"
    result["ort_mobile"] = _mobile_usability(path)
    if _is_integer(precision):
        producer = {out: node for node in model.graph.node for out in node.output}
        # The pixel convolution is float by design (see optimize/onnx_int8.py): not a quantization gap.
        result["float_operators"] = [
            f"{node.op_type} {node.name}" for node in model.graph.node
            if node.op_type in _ONNX_COMPUTE and len(node.input) > 1 and not is_pixel_input(node.name)
            and not (node.op_type.endswith("Integer") or getattr(producer.get(node.input[1]), "op_type", "") == "DequantizeLinear")
        ]
    return result


def _mobile_usability(path: Path) -> dict:
    # lazy: onnxruntime tools (0.3 s) only where used
    from onnxruntime.tools.mobile_helpers import usability_checker as usability

    logging.getLogger("usability_checker").setLevel(logging.ERROR)
    model = usability.ModelProtoWithShapeInfo(path).model_with_shape_info
    report = {}
    checks = {"NNAPI": (usability.check_nnapi_partitions, ()),
              "CoreML": (usability.check_coreml_partitions, ("coreml_supported_mlprogram_ops.md",))}
    for name, (check, extra) in checks.items():
        as_is = check(model, True, *extra)
        fixed = check(model, False, *extra)  # with the batch dimension fixed to 1, as apps run it
        report[name] = {
            "as_is": as_is.suitability().name, "fixed_shapes": fixed.suitability().name,
            "supported_nodes": f"{fixed.num_supported_nodes}/{fixed.num_nodes}", "partitions": fixed.num_partitions,
            "unsupported_ops": sorted(fixed.unsupported_ops),
        }
    return report
