"""TFLite export with `tf.lite.TFLiteConverter`: float32, and full-integer int8 with int8 I/O."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import warnings

from edgecnn._tf import tensorflow
from edgecnn.errors import ExportError
from edgecnn.fileio import captured_native_stderr
from edgecnn.export.metadata import append_to_tflite, build_metadata
from edgecnn.fileio import write_bytes


def convert_to_tflite(model, precision: str, calibration: np.ndarray | None = None) -> bytes:
    tf = tensorflow()
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if precision == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([image[None]] for image in calibration)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    failure = None
    with warnings.catch_warnings(), captured_native_stderr() as log:
        warnings.simplefilter("ignore")  # "Statistics for quantized inputs were expected": int8 I/O is intended
        try:
            flatbuffer = converter.convert()
        except Exception as exc:  # the converter raises many types; report it with its own log below
            failure = exc
    if failure is not None:
        lines = log[0].strip().splitlines() if log else []
        detail = f" ({lines[-1]})" if lines else ""
        raise ExportError(f"TFLite {precision} conversion failed: {failure}{detail}") from failure
    return flatbuffer


def io_quantization(flatbuffer: bytes) -> dict:
    """Scale and zero point of the input and output tensors, read back from the converted file."""
    from ai_edge_litert.interpreter import Interpreter

    with captured_native_stderr():
        interpreter = Interpreter(model_content=flatbuffer)
    result = {}
    for side, details in (("input", interpreter.get_input_details()[0]), ("output", interpreter.get_output_details()[0])):
        scale, zero_point = details["quantization"]
        if scale:
            result[side] = {
                "dtype": np.dtype(details["dtype"]).name,
                "quantization": {"scale": float(scale), "zero_point": int(zero_point),
                                 "formula": "real = scale * (q - zero_point)"},
            }
    return result


def export_tflite(model, fmt, path: Path, contract, recipe, calibration) -> Path:
    flatbuffer = convert_to_tflite(model, fmt.precision, calibration)
    metadata = build_metadata(recipe.name, fmt, contract, recipe.fingerprint(), io_quantization(flatbuffer))
    if fmt.needs_calibration:
        metadata["calibration"] = {"samples": int(len(calibration)), "source": "train split"}
    return write_bytes(path, append_to_tflite(flatbuffer, metadata))
