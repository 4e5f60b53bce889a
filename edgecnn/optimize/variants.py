"""One maker per optimized variant: build the model or file the variant names and write it with metadata."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from edgecnn._tf import model_optimization
from edgecnn.data import Dataset
from edgecnn.export.calibration import CalibrationSet
from edgecnn.export.onnx import convert_to_onnx, write_onnx
from edgecnn.export.pixels import FileInput
from edgecnn.export.tflite import convert_to_tflite, write_tflite
from edgecnn.export.tflite_graph import float_io
from edgecnn.optimize.clustering import cluster_and_quantize, prune_cluster_and_quantize
from edgecnn.optimize.finetune import fine_tune
from edgecnn.optimize.litert_quantizer import quantize_with_litert
from edgecnn.optimize.onnx_int8 import quantize_onnx
from edgecnn.optimize.pruning import prune, prune_2_of_4
from edgecnn.optimize.qat import prepare_qat
from edgecnn.recipe import Recipe

if TYPE_CHECKING:
    import tf_keras as keras  # lazy: TensorFlow (8 s) only where a model is built or converted



@dataclass
class Job:
    """What every maker needs; `cache` shares a pruned model (by sparsity) between pruned_float32, pqat_int8
    and pcqat_int8."""

    model: keras.Model
    recipe: Recipe
    dataset: Dataset
    calibration: CalibrationSet | None
    show_progress: bool = True
    cache: dict = field(default_factory=dict)

    @cached_property
    def file_input(self) -> FileInput:
        return FileInput.for_recipe(self.recipe, self.dataset.contract)

    @cached_property
    def calibration_pixels(self):
        """The calibration images as the files take them (0..255 pixels, the files' channels)."""
        return self.file_input.prepare(self.calibration.pixels)

    def write_tflite(self, flatbuffer: bytes, fmt, path: Path, details: dict | None = None) -> Path:
        calibration = self.calibration if fmt.needs_calibration else None
        return write_tflite(flatbuffer, fmt, path, self.file_input.contract, self.recipe, calibration, details)

    def tflite(self, model, mode: str = "float32", calibrated: bool = False, allow_float_ops: bool = False) -> bytes:
        return convert_to_tflite(model, mode, self.calibration_pixels if calibrated else None,
                                 self.recipe.export.int8_io, allow_float_ops, file_input=self.file_input)

    def int8_file(self, qat_model, leave_float: list[str]) -> bytes:
        return self.tflite(qat_model, "qat", calibrated=True, allow_float_ops=bool(leave_float))


def make_ptq(job: Job, fmt, path: Path) -> Path:
    mode = fmt.setting
    flatbuffer = job.tflite(job.model, mode, calibrated=mode == "int8")
    return job.write_tflite(flatbuffer, fmt, path, {"backend": "tf.lite.TFLiteConverter"})


def make_litert_quantized(job: Job, fmt, path: Path) -> Path:
    calibration = job.calibration_pixels if fmt.needs_calibration else None
    quantized = float_io(quantize_with_litert(job.tflite(job.model), fmt.setting, calibration))
    return job.write_tflite(quantized, fmt, path, {"backend": "ai-edge-quantizer", "recipe": fmt.setting})


def make_onnx_quantized(job: Job, fmt, path: Path) -> Path:
    recipe, settings = job.recipe, job.recipe.optimize.onnx
    float_proto = convert_to_onnx(job.model, job.file_input, recipe.export.onnx_opset, recipe.export.onnx_fixed_batch)
    calibration = job.calibration_pixels if fmt.needs_calibration else None
    quantized = quantize_onnx(float_proto, fmt.setting, calibration, settings)
    details = {"backend": "onnxruntime.quantization", "pre_process": "quant_pre_process"}
    if fmt.needs_calibration:
        details |= {"format": "QDQ", "method": settings.method, "per_channel": settings.per_channel,
                    "reduce_range": settings.reduce_range}
    return write_onnx(quantized, fmt, path, job.file_input.contract, recipe,
                      job.calibration if fmt.needs_calibration else None, details)


def make_qat(job: Job, fmt, path: Path) -> Path:
    cfg = job.recipe.optimize.qat
    model = prepare_qat(job.model, job.calibration.images, cfg.leave_float)
    metrics = fine_tune(model, job.recipe, job.dataset, cfg, "qat", show_progress=job.show_progress,
                        restore_best=True)
    details = {"epochs": cfg.epochs, "learning_rate": cfg.learning_rate, "leave_float": cfg.leave_float,
               "fine_tune": metrics}
    return job.write_tflite(job.int8_file(model, cfg.leave_float), fmt, path, details)


def _pruned(job: Job, sparsity: float | None = None):
    """The pruned model and its details, at `optimize.prune.final_sparsity` or at `sparsity` (one run each)."""
    cfg = job.recipe.optimize.prune
    sparsity = sparsity or cfg.final_sparsity
    if sparsity not in job.cache:
        recipe = job.recipe
        if sparsity != cfg.final_sparsity:
            recipe = recipe.model_copy(update={"optimize": recipe.optimize.model_copy(
                update={"prune": cfg.model_copy(update={"final_sparsity": sparsity})})})
        job.cache[sparsity] = prune(job.model, recipe, job.dataset, job.show_progress)
    return job.cache[sparsity]


def make_pruned(job: Job, fmt, path: Path) -> Path:
    model, details = _pruned(job)
    return job.write_tflite(job.tflite(model), fmt, path, details)


def make_pqat(job: Job, fmt, path: Path) -> Path:
    pruned, prune_details = _pruned(job)
    cfg, leave_float = job.recipe.optimize.pqat, job.recipe.optimize.qat.leave_float
    scheme = model_optimization().experimental.combine.Default8BitPrunePreserveQuantizeScheme()
    model = prepare_qat(pruned, job.calibration.images, leave_float, scheme)
    metrics = fine_tune(model, job.recipe, job.dataset, cfg, "pqat", show_progress=job.show_progress,
                        restore_best=True)
    details = {**prune_details, "pqat_epochs": cfg.epochs, "pqat": metrics}
    return job.write_tflite(job.int8_file(model, leave_float), fmt, path, details)


def make_2_of_4(job: Job, fmt, path: Path) -> Path:
    model, details = prune_2_of_4(job.model, job.recipe, job.dataset, job.show_progress)
    return job.write_tflite(job.tflite(model), fmt, path, details)


def make_cqat(job: Job, fmt, path: Path) -> Path:
    model, details = cluster_and_quantize(job.model, job.recipe, job.dataset, job.calibration.images,
                                          job.show_progress)
    return job.write_tflite(job.int8_file(model, job.recipe.optimize.qat.leave_float), fmt, path, details)


def make_pcqat(job: Job, fmt, path: Path) -> Path:
    pruned, prune_details = _pruned(job, job.recipe.optimize.pcqat.sparsity)
    model, details = prune_cluster_and_quantize(pruned, job.recipe, job.dataset, job.calibration.images,
                                                job.show_progress)
    details = {**prune_details, **details, "fine_tune": prune_details["fine_tune"], "cluster": details["fine_tune"]}
    return job.write_tflite(job.int8_file(model, job.recipe.optimize.qat.leave_float), fmt, path, details)


MAKERS = {  # ExportFormat.maker -> the function that writes such a variant
    "ptq": make_ptq, "aeq": make_litert_quantized, "onnx": make_onnx_quantized, "qat": make_qat,
    "prune": make_pruned, "pqat": make_pqat, "prune_2of4": make_2_of_4, "cqat": make_cqat,
    "pcqat": make_pcqat,
}
