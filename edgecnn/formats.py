"""The one table of artifacts: name, file, runtime, precision, technique, what each needs and (variants)
which maker writes it. The recipe's allowed names, the CLI's help and the optimize stage all read it.

QAT variants count as calibrated too: their activation ranges start from the calibration images.

`export.formats` picks from the plain exports of the float model; `optimize.variants` picks from the
optimized variants, written under `optimized/` and verified with the same code and report rows.
"""

from dataclasses import dataclass

OPTIMIZED_DIR = "optimized"  # a run folder's subfolder for optimized variants


@dataclass(frozen=True)
class ExportFormat:
    name: str
    filename: str  # inside the run folder
    runtime: str  # the runtime verify runs it in
    precision: str
    needs_calibration: bool
    description: str
    technique: str = "none"
    fine_tune: bool = False
    maker: str = "export"  # variants: which maker in optimize.variants writes it (ptq, aeq, onnx, qat, ...)
    setting: str | None = None  # what that maker needs to tell variants apart (a converter mode, a recipe)
    reads: tuple[str, ...] = ()  # the `optimize:` settings its maker reads (sections, or section.field)
    io: str | None = None  # a full-integer file's fixed input/output type (else export.int8_io's)
    firmware: bool = False  # firmware sources (a C array, settings, labels) are written beside it

    @property
    def is_variant(self) -> bool:
        return self.filename.startswith(f"{OPTIMIZED_DIR}/")

    @property
    def recipe_reads(self) -> tuple[str, ...]:
        """Every recipe value that shapes this file (dotted paths; a section stands for all of it): what its
        stage key and its metadata's recipe hash cover, and nothing else."""
        export = ["rgb_input", "model_info"]
        if self.needs_calibration:
            export.append("calibration")
        fixed_io = self.io is not None or self.maker == "aeq"  # aeq keeps float I/O
        if self.runtime == "litert" and self.precision == "int8" and not fixed_io:
            export.append("int8_io")
        if self.runtime == "onnxruntime":
            export += ["onnx_opset", "onnx_fixed_batch", "ort_format"]
        return ("name", "seed", "data", "model", "train", *(f"export.{key}" for key in export),
                *(f"optimize.{key}" for key in self.reads))


def _variant(name, suffix, runtime, precision, calibration, technique, description, maker, setting=None,
             fine_tune=False, reads=()):
    return ExportFormat(name, f"{OPTIMIZED_DIR}/{name}.{suffix}", runtime, precision, calibration, description,
                        technique, fine_tune, maker, setting, tuple(reads))


# What the fine-tuned int8 variants share: the layers QAT leaves in float.
_LEAVE_FLOAT = "qat.leave_float"


EXPORT_FORMATS: dict[str, ExportFormat] = {
    fmt.name: fmt
    for fmt in (
        ExportFormat("tflite_float32", "model_float32.tflite", "litert", "float32", False,
                     "TFLite, float32 weights and activations"),
        ExportFormat("tflite_int8", "model_int8.tflite", "litert", "int8", True,
                     "TFLite, full-integer int8; uint8 pixels in, float32 probabilities out (export.int8_io)",
                     "PTQ int8 (converter)"),
        ExportFormat("tflite_mcu_int8", "model_mcu_int8.tflite", "litert", "int8", True,
                     "TFLite for microcontrollers and Ethos-U NPUs: full-integer int8, int8 in and int8 out (no "
                     "float operator), with firmware sources in firmware/ (needs the mcu extra)",
                     "PTQ int8 (converter)", io="int8", firmware=True),
        ExportFormat("onnx_float32", "model_float32.onnx", "onnxruntime", "float32", False,
                     "ONNX (tf2onnx), float32, dynamic batch"),
    )
}

OPTIMIZE_VARIANTS: dict[str, ExportFormat] = {
    fmt.name: fmt
    for fmt in (
        _variant("ptq_dynamic", "tflite", "litert", "int8 weights", False, "PTQ dynamic range (converter)",
                 "TFLite, int8 weights, float activations quantized on the fly", "ptq", "dynamic"),
        _variant("ptq_float16", "tflite", "litert", "float16", False, "PTQ float16 (converter)",
                 "TFLite, float16 weights, float32 compute", "ptq", "float16"),
        _variant("ptq_int8", "tflite", "litert", "int8", True, "PTQ int8 (converter)",
                 "TFLite, full-integer int8, input/output type per export.int8_io", "ptq", "int8"),
        # aeq: the ai_edge_quantizer.recipe function that builds the quantization recipe
        _variant("aeq_w8a8", "tflite", "litert", "int8", True, "PTQ w8/a8 (ai-edge-quantizer)",
                 "TFLite, int8 weights and activations by the LiteRT quantizer", "aeq", "static_wi8_ai8"),
        _variant("aeq_w8a16", "tflite", "litert", "w8/a16", True, "PTQ w8/a16 (ai-edge-quantizer)",
                 "TFLite, int8 weights and int16 activations by the LiteRT quantizer", "aeq", "static_wi8_ai16"),
        _variant("aeq_w4", "tflite", "litert", "int4 weights", False, "PTQ 4-bit weights (ai-edge-quantizer)",
                 "TFLite, 4-bit weights, float activations, by the LiteRT quantizer", "aeq", "weight_only_wi4_afp32"),
        _variant("onnx_qdq_int8", "onnx", "onnxruntime", "int8", True, "PTQ int8 QDQ (onnxruntime)",
                 "ONNX, int8 QDQ, per-channel weights, static activation ranges", "onnx", "static", reads=["onnx"]),
        _variant("onnx_dynamic_int8", "onnx", "onnxruntime", "int8 weights", False, "PTQ dynamic (onnxruntime)",
                 "ONNX, int8 weights, activations quantized on the fly", "onnx", "dynamic", reads=["onnx"]),
        _variant("qat_int8", "tflite", "litert", "int8", True, "QAT (tfmot)",
                 "TFLite, full-integer int8 after quantization-aware fine-tuning", "qat", fine_tune=True,
                 reads=["qat"]),
        _variant("pruned_float32", "tflite", "litert", "float32", False, "magnitude pruning (tfmot)",
                 "TFLite, float32, magnitude-pruned kernels", "prune", fine_tune=True, reads=["prune"]),
        _variant("pqat_int8", "tflite", "litert", "int8", True, "pruning + PQAT (tfmot)",
                 "TFLite, full-integer int8 after pruning-preserving QAT", "pqat", fine_tune=True,
                 reads=["prune", "pqat", _LEAVE_FLOAT]),
        _variant("prune_2of4_float32", "tflite", "litert", "float32", False, "2:4 structured pruning (tfmot)",
                 "TFLite, float32, two zeros in every four input channels of pointwise and dense kernels",
                 "prune_2of4", fine_tune=True, reads=["structured"]),
        _variant("cqat_int8", "tflite", "litert", "int8", True, "clustering + CQAT (tfmot)",
                 "TFLite, full-integer int8 after weight clustering and cluster-preserving QAT", "cqat",
                 fine_tune=True, reads=["cluster", _LEAVE_FLOAT]),
        _variant("pcqat_int8", "tflite", "litert", "int8", True, "pruning + clustering + PCQAT (tfmot)",
                 "TFLite, full-integer int8 after pruning, sparsity-preserving clustering and prune- and "
                 "cluster-preserving QAT (collaborative optimization)", "pcqat", fine_tune=True,
                 reads=["prune", "pcqat", _LEAVE_FLOAT]),
    )
}

ALL_ARTIFACTS: dict[str, ExportFormat] = {**EXPORT_FORMATS, **OPTIMIZE_VARIANTS}
