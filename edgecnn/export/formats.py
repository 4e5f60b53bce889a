"""The one table of export formats: name, file, runtime, precision and what each needs."""

from dataclasses import dataclass


@dataclass(frozen=True)
class ExportFormat:
    name: str
    filename: str
    runtime: str  # the runtime verify runs it in
    precision: str
    needs_calibration: bool
    description: str


EXPORT_FORMATS: dict[str, ExportFormat] = {
    fmt.name: fmt
    for fmt in (
        ExportFormat("tflite_float32", "model_float32.tflite", "litert", "float32", False,
                     "TFLite, float32 weights and activations"),
        ExportFormat("tflite_int8", "model_int8.tflite", "litert", "int8", True,
                     "TFLite, full-integer int8 with int8 input and output tensors"),
        ExportFormat("onnx_float32", "model_float32.onnx", "onnxruntime", "float32", False,
                     "ONNX (tf2onnx), float32, dynamic batch"),
    )
}


def format_for_file(filename: str) -> ExportFormat | None:
    return next((fmt for fmt in EXPORT_FORMATS.values() if fmt.filename == filename), None)
