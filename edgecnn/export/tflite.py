"""TFLite export with `tf.lite.TFLiteConverter`: float32, float16, dynamic range and full-integer int8.

Every file takes 0..255 pixels (`export.pixels.FileInput`) and carries the standard TFLite metadata."""

from __future__ import annotations

import hashlib
import tempfile
import warnings
import weakref
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edgecnn._tf import tensorflow
from edgecnn.errors import DiskFull, ExportError, no_space_cause
from edgecnn.export.gpu_delegate import gpu_compatibility
from edgecnn.export.metadata import build_metadata, tflite_with_metadata
from edgecnn.export.tflite_graph import pin_pixel_input
from edgecnn.fileio import captured_native_stderr, out_of_space_text, write_bytes
from edgecnn.mcu.firmware import FIRMWARE_DIR, firmware_for

if TYPE_CHECKING:  # annotations only: no import at run time
    from edgecnn.recipe import Recipe


def convert_to_tflite(model, mode: str = "float32", calibration: np.ndarray | None = None, io_dtype: str = "uint8",
                      allow_float_ops: bool = False, file_input=None) -> bytes:
    """Convert a Keras model, behind `file_input`'s pixel convolution when given (as every exported file
    is; without it the file takes what the model takes). Modes: float32; float16 (weights);
    dynamic (int8 weights, float activations); int8 (full integer, calibrated on `calibration`, the file's
    own pixel inputs); qat (full integer from a quantization-aware model, whose ranges were learned in
    training; `calibration` then sets the pixel convolution's). `allow_float_ops` lets layers left in
    float stay float. A uint8 input is pinned to scale 1, zero point 0: the pixels themselves."""
    tf = tensorflow()
    try:
        saved_model = _SAVED_MODEL.folder(model, file_input)
    except Exception as exc:  # tracing can fail in many ways; one line names the stage
        full = no_space_cause(exc)
        if full is not None:  # the SavedModel goes to the run folder's scratch space first
            raise DiskFull(f"TFLite {mode} conversion's SavedModel: {out_of_space_text(tempfile.gettempdir(), full)}") \
                from None
        raise ExportError(f"TFLite {mode} conversion failed while tracing the model: {exc}") from exc
    flatbuffer = _convert_saved_model(tf, saved_model, mode, calibration, io_dtype, allow_float_ops)
    return pin_pixel_input(flatbuffer)


class _LastSavedModel:
    """The SavedModel of the last model converted, kept for the next conversion of the same model with the
    same weights (float32, int8, float16 and dynamic files of one build): saving it took 1.5 s a file."""

    def __init__(self):
        self.key, self.model, self.directory = None, None, None

    def folder(self, model, file_input) -> str:
        key = (id(file_input), _weights_digest(model))
        if self.directory is None or self.key != key or self.model() is not model:
            if self.directory is not None:
                self.directory.cleanup()
            self.key, self.model, self.directory = None, None, None
            directory = tempfile.TemporaryDirectory(prefix="edgecnn-savedmodel-")
            with captured_native_stderr():
                save_serving_function(model, file_input, directory.name)
            self.key, self.model, self.directory = key, weakref.ref(model), directory
        return self.directory.name


def _weights_digest(model) -> str:
    digest = hashlib.sha256()
    for weights in model.get_weights():
        digest.update(np.ascontiguousarray(weights).tobytes())
    return digest.hexdigest()


_SAVED_MODEL = _LastSavedModel()


def save_serving_function(model, file_input, directory: str) -> None:
    """Save only the inference function (pixels in, through `file_input`) and its variables as a SavedModel.

    `TFLiteConverter.from_keras_model` saves the whole Keras object graph first, tracing every layer's
    functions: on the digits model a conversion took 4-6 s that way and takes 1.5-2 s this way. The
    signature is the one the converter would have written: `input` in, the output layer's name out,
    any batch size."""
    tf = tensorflow()
    shape = file_input.contract.shape if file_input else model.input_shape[1:]
    spec = tf.TensorSpec([None, *shape], tf.float32, name="input")
    output_name = model.output_names[0]
    serve = file_input.serving_function(model) if file_input else (lambda image: model(image, training=False))
    module = tf.Module()
    module.variables_to_save = list(model.variables)
    module.serve = tf.function(lambda image: {output_name: serve(image)}, input_signature=[spec])
    tf.saved_model.save(module, directory, signatures=module.serve.get_concrete_function())


def _convert_saved_model(tf, saved_model: str, mode: str, calibration, io_dtype: str, allow_float_ops: bool) -> bytes:
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model)
    if mode != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if mode in ("int8", "qat") and calibration is not None:
        # QAT models carry learned ranges for their own layers; the images range the pixel convolution.
        converter.representative_dataset = lambda: ([image[None]] for image in calibration)
    if mode == "int8" and not allow_float_ops:
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if mode in ("int8", "qat") and io_dtype != "float32":
        # uint8 pixels in, float32 probabilities out: what phone SDKs feed and read; int8 both ways for MCUs.
        converter.inference_input_type = tf.uint8 if io_dtype == "uint8" else tf.int8
        converter.inference_output_type = tf.float32 if io_dtype == "uint8" else tf.int8
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
        raise ExportError(f"TFLite {mode} conversion failed: {failure}{detail}") from failure
    return flatbuffer


def io_quantization(flatbuffer: bytes) -> dict:
    """Scale and zero point of the input and output tensors, read back from the converted file."""
    from ai_edge_litert.interpreter import Interpreter  # lazy: LiteRT (0.16 s) only for .tflite files

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


def export_tflite(model, fmt, path: Path, file_input, recipe: Recipe, calibration) -> Path:
    pixels = file_input.prepare(calibration.pixels) if calibration else None
    flatbuffer = convert_to_tflite(model, fmt.precision, pixels, fmt.io or recipe.export.int8_io,
                                   file_input=file_input)
    written = write_tflite(flatbuffer, fmt, path, file_input.contract, recipe, calibration)
    if fmt.firmware:
        firmware_for(written, list(file_input.contract.labels), written.parent / FIRMWARE_DIR)
    return written


def write_tflite(flatbuffer: bytes, fmt, path: Path, contract, recipe: Recipe, calibration=None,
                 details: dict | None = None) -> Path:
    """Write `flatbuffer` with the standard and edgecnn metadata; `details` describe how it was optimized."""
    metadata = build_metadata(recipe.name, fmt, contract, recipe.artifact_fingerprint(fmt), io_quantization(flatbuffer))
    if fmt.needs_calibration and calibration is not None:
        metadata["calibration"] = calibration.record()
    if details:
        metadata["optimization"] = details
    # Checked here, where TensorFlow is loaded anyway: verifying the file later needs no TensorFlow for it.
    metadata["gpu_delegate"] = gpu_compatibility(flatbuffer)
    return write_bytes(path, tflite_with_metadata(flatbuffer, metadata, recipe))
