"""The recipe: one pydantic schema for a whole build, loaded from YAML with `safe_load`.

Precedence: schema defaults < recipe file < CLI overrides (`--set train.epochs=3`).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from edgecnn.data.contract import NORMALIZATIONS
from edgecnn.data.frames import DEFAULT_CAMERA_SCALE
from edgecnn.data.sources import data_section_for
from edgecnn.errors import ModelError, RecipeError
from edgecnn.fileio import read_user_text
from edgecnn.formats import EXPORT_FORMATS, OPTIMIZE_VARIANTS
from edgecnn.models import resolve_layers
from edgecnn.models.pretrained import IMAGENET, imagenet_problem
from edgecnn.yaml_text import MAX_TEXT_BYTES, YamlProblem, load_yaml_text


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @model_validator(mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, data):
        """`epochs: true` is a typo, not 1: pydantic would take a YAML boolean as a number."""
        if isinstance(data, dict):
            for name, value in data.items():
                field = cls.model_fields.get(name)
                if isinstance(value, bool) and field is not None and _takes_number(field.annotation):
                    raise ValueError(f"{name}: expected a number, "
                                     f"received {value!r}")
        return data


def _takes_number(annotation) -> bool:
    """int or float (also inside Optional or a union), and not bool."""
    if annotation is bool:
        return False
    if annotation in (int, float):
        return True
    options = get_args(annotation)
    return bool(options) and bool not in options and any(_takes_number(option) for option in options)


class SplitConfig(_Section):
    val: float = Field(0.15, ge=0.0, lt=0.5, description="Fraction of the images held out for validation.")
    test: float = Field(0.2, gt=0.0, lt=0.5, description="Fraction of the images held out for the final test.")


class ShapesConfig(_Section):
    classes: list[str] = Field(
        default=["circle", "square", "triangle", "cross", "line", "ring"],
        min_length=2,
        description="Shape classes to draw; see edgecnn.data.shapes.SHAPES for all names.",
    )
    count: int = Field(3000, ge=10, le=200_000, description="Total number of images generated.")
    noise: float = Field(0.08, ge=0.0, le=0.5, description="Std of the background noise, as a fraction of 255.")
    min_size: float = Field(0.35, gt=0.05, le=1.0, description="Smallest shape, as a fraction of the image side.")
    max_size: float = Field(0.8, gt=0.05, le=1.0, description="Largest shape, as a fraction of the image side.")

    @model_validator(mode="after")
    def _sizes_ordered(self):
        if self.min_size > self.max_size:
            raise ValueError(f"min_size ({self.min_size}) must not exceed max_size ({self.max_size})")
        return self


SourceName = Literal["digits", "shapes", "folder", "list", "npz", "mnist", "fashion_mnist", "cifar10"]
PATH_SOURCES = ("folder", "list", "npz")


class DataConfig(_Section):
    source: SourceName = Field(
        "digits", description="digits or shapes (built in, offline); folder (one subfolder per class), list (CSV/JSON "
        "of path,label[,split]) or npz (x_train, y_train, x_test, y_test) at data.path; mnist, fashion_mnist or "
        "cifar10 via tf_keras.datasets (cached; offline, give an .npz copy as data.path).")
    path: str | None = Field(None, description="Folder, list file or .npz; relative paths are from the current "
                             "folder and stored absolute in the merged recipe.")
    classes: list[str] | None = Field(None, min_length=2, description="Class names in output order; default: the "
                                      "folder names or list labels, sorted.")
    image_size: tuple[int, int] = Field((8, 8), description="Height and width the images are resized to.")
    channels: Literal[1, 3] = Field(1, description="1 for grayscale, 3 for RGB; images are converted to it.")
    resize: Literal["stretch", "crop", "pad"] = Field(
        "stretch", description="How other aspect ratios reach image_size: stretch, centre crop, or pad with black.")
    normalization: Literal["unit", "symmetric", "mean_std", "raw"] = Field(
        "unit", description="Pixel scaling: unit maps 0..255 to [0, 1], symmetric to [-1, 1], mean_std uses "
        "(pixel - mean) / std with data.mean and data.std, raw keeps 0..255 (models that normalize inside). "
        "Exported files always take 0..255 pixels and do this inside.")
    mean: list[float] | None = Field(None, min_length=1, max_length=3, description="Per-channel (or one) mean in "
                                     "pixel units 0..255, for normalization mean_std.")
    std: list[float] | None = Field(None, min_length=1, max_length=3, description="Per-channel (or one) std in "
                                    "pixel units, for normalization mean_std.")
    allow_outside: bool = Field(False, description="Let a .csv/.json list name images outside its own folder "
                                "(absolute paths or ../); off, such a row is refused.")
    skip_bad_files: bool = Field(False, description="Skip unreadable images, bad list rows and images filed under "
                                 "two labels (counted and listed in the report) instead of stopping. Exact duplicates "
                                 "under one label are always reduced to one copy (the test split's, if any).")
    split: SplitConfig = Field(default_factory=SplitConfig,
                               description="Shares of the images held out for validation and test (stratified, "
                                           "seeded).")
    shapes: ShapesConfig = Field(default_factory=ShapesConfig, description="Options of the shapes generator.")

    @field_validator("image_size")
    @classmethod
    def _size_in_range(cls, value):
        if not all(4 <= side <= 1024 for side in value):
            raise ValueError("image_size sides must be in [4, 1024]")
        return value

    @field_validator("path")
    @classmethod
    def _absolute(cls, value):
        return None if value is None else str(Path(value).expanduser().absolute())

    @model_validator(mode="after")
    def _consistent(self):
        if self.source in PATH_SOURCES and not self.path:
            raise ValueError(f"data.source {self.source} needs data.path (the {self.source} to read)")
        if self.source in ("digits", "shapes") and self.path:
            raise ValueError(f"data.path is not used by the built-in source {self.source}; remove it")
        if self.normalization == "mean_std":
            if self.mean is None or self.std is None:
                raise ValueError("normalization mean_std needs data.mean and data.std (pixel units, e.g. "
                                 "mean: [123.7, 116.3, 103.5], std: [58.4, 57.1, 57.4])")
            for key, values in (("mean", self.mean), ("std", self.std)):
                if len(values) not in (1, self.channels):
                    raise ValueError(f"data.{key} has {len(values)} values; expected 1 or {self.channels} (channels)")
            if min(self.std) <= 0:
                raise ValueError(f"data.std {self.std}: every value must be above 0")
        elif self.mean is not None or self.std is not None:
            raise ValueError(f"data.mean and data.std apply only to normalization mean_std (is {self.normalization})")
        return self

    def mean_std(self) -> tuple[float | list[float], float | list[float]]:
        if self.normalization != "mean_std":
            return NORMALIZATIONS[self.normalization]
        return tuple(values[0] if len(values) == 1 else list(values) for values in (self.mean, self.std))

    def describe_source(self) -> str:
        return f"{self.source}:{self.path}" if self.path else self.source


class AugmentConfig(_Section):
    """Random changes to training images only (never to validation, test or calibration images).
    All off by default: flips change the label of digits and text, and rotations that of arrows."""

    flip_horizontal: bool = Field(False, description="Random left-right flips (not for digits: flips change labels).")
    flip_vertical: bool = Field(False, description="Random up-down flips (for aerial, microscope, texture images).")
    rotation: float = Field(0.0, ge=0.0, le=0.5, description="Max rotation as a fraction of a full turn.")
    zoom: float = Field(0.0, ge=0.0, le=0.5, description="Max zoom in or out, as a fraction.")
    translation: float = Field(0.0, ge=0.0, le=0.5, description="Max shift, as a fraction of the side.")
    brightness: float = Field(0.0, ge=0.0, le=1.0, description="Max brightness change, as a fraction of 255.")
    contrast: float = Field(0.0, ge=0.0, le=1.0, description="Max contrast change, as a fraction.")
    camera_frames: float = Field(
        0.0, ge=0.0, le=1.0,
        description="Share of training images shown as an app's camera frame would reach the model: enlarged 1-10x, "
        "then shrunk back by MediaPipe's sampling or another resizer apps use (with or without anti-aliasing).")

    @property
    def enabled(self) -> bool:
        return self.flip_horizontal or self.flip_vertical or any(
            (self.rotation, self.zoom, self.translation, self.brightness, self.contrast, self.camera_frames))


class ModelConfig(_Section):
    name: str = Field("dscnn_s", description="Registered architecture; `edgecnn models` lists them.")
    alpha: float = Field(1.0, gt=0.0, le=4.0, description="Width multiplier applied to every block's channels.")
    dropout: float = Field(0.1, ge=0.0, lt=1.0, description="Dropout before the classifier.")
    l2: float = Field(1e-4, ge=0.0, le=1.0, description="L2 weight decay on conv and dense kernels.")
    initializer: Literal["he_normal", "he_uniform", "glorot_uniform", "glorot_normal"] = Field(
        "he_normal", description="Kernel initializer."
    )
    batchnorm_momentum: float = Field(
        0.9, gt=0.0, lt=1.0,
        description="BatchNorm moving-average momentum; 0.9 converges within the few hundred steps small data "
        "sets give (0.99 leaves inference statistics near their initial values).",
    )
    padding: Literal["same", "valid"] = Field("same", description="Padding of the kxk convolutions.")
    blocks: list[str] | None = Field(None, description="Override the preset's blocks, e.g. ['ds_r2_k3_s2_c32'].")
    init_from: str | None = Field(
        None, description="Warm start: begin from every weight of a run folder (or model.keras) of the same "
        "architecture; the classifier too when the classes are the same, else it is made new.")
    pretrained: str | None = Field(
        None, description="Start from learned weights: `imagenet` (mobilenet_v1/v2: Keras' published ImageNet "
        "weights, from the Keras cache; downloaded once on a machine with internet), or the PATH of a run folder, "
        "its model.keras, or a Keras .h5 weights file of the same backbone. The classifier is always new.")


class EarlyStoppingConfig(_Section):
    patience: int = Field(8, ge=0, description="Epochs without improvement before stopping; 0 disables.")
    monitor: Literal["val_loss", "val_accuracy"] = Field(
        "val_loss", description="Metric to watch; val_loss breaks the ties val_accuracy has on small data."
    )


class DistributedConfig(_Section):
    """Data-parallel training on Ray Train (the `sweep` extra): the same training, split across processes."""

    workers: int = Field(1, ge=1, le=1024, description="Training processes; above 1, each takes a share of every "
                         "batch (MultiWorkerMirroredStrategy on Ray Train), on the local Ray or the cluster at "
                         "RAY_ADDRESS.")
    cpus_per_worker: float = Field(1.0, gt=0.0, le=256.0, description="CPUs Ray reserves for each worker.")


class FinetuneConfig(_Section):
    """The usual schedule for a model started from `model.pretrained`: the new classifier trains on the frozen
    backbone first, then the last blocks train too at a lower rate. BatchNorm of the pretrained layers stays in
    inference mode throughout (frozen statistics: a small data set's batches would overwrite what the weights
    learned from a large one, as Keras' transfer-learning guide explains)."""

    freeze_epochs: int = Field(0, ge=0, description="Epochs that train only the new classifier on the frozen "
                               "backbone; 0 trains every layer from the first epoch.")
    unfreeze_blocks: int | None = Field(None, ge=0, description="After the frozen epochs, how many of the last "
                                        "blocks train (their convolutions; None: every block).")
    learning_rate: float | None = Field(None, gt=0.0, le=10.0, description="Peak learning rate after the frozen "
                                        "epochs (default: a tenth of train.learning_rate).")


class DistillConfig(_Section):
    """Knowledge distillation (Hinton et al. 2015): the model learns the teacher's softened scores as well as the
    labels, the usual way to bring a phone-sized model near a larger one's accuracy."""

    teacher: str | None = Field(None, description="Run folder (or model.keras) of the larger model: the same data "
                                "section, input and classes. None: no distillation.")
    temperature: float = Field(4.0, gt=0.0, le=100.0, description="Softens both models' scores before they are "
                               "compared; the soft loss is scaled by its square, as Hinton et al. do.")
    alpha: float = Field(0.5, ge=0.0, le=1.0, description="Weight of the labels' loss; 1 - alpha weighs the "
                         "teacher's.")


class TrainConfig(_Section):
    epochs: int = Field(30, ge=1, le=10_000, description="Maximum number of epochs.")
    batch_size: int = Field(64, ge=1, le=8192, description="Images per step.")
    learning_rate: float = Field(3e-3, gt=0.0, le=10.0, description="Peak learning rate.")
    schedule: Literal["constant", "cosine", "step"] = Field("cosine", description="Learning-rate schedule.")
    warmup_epochs: int = Field(1, ge=0, description="Linear warm-up epochs before the schedule.")
    label_smoothing: float = Field(0.0, ge=0.0, lt=1.0, description="Label smoothing of the loss.")
    steps_per_execution: int = Field(
        1, ge=1, le=1000, description="Training steps per call from Python into TensorFlow: the same steps, fewer "
        "round trips. Measure before raising it: 8 trained digits 1.2x slower than 1 on an AMD EPYC (AVX2) and "
        "1.12x faster on an Intel Xeon. The progress bar moves every N steps.")
    early_stopping: EarlyStoppingConfig = Field(default_factory=EarlyStoppingConfig,
                                                description="Stop when the monitored metric stops improving; the best "
                                                            "epoch's weights are kept.")
    augment: AugmentConfig = Field(default_factory=AugmentConfig,
                                   description="Training-time augmentation (Keras preprocessing layers and camera "
                                               "frames).")
    distributed: DistributedConfig = Field(default_factory=DistributedConfig,
                                           description="Data-parallel training on Ray Train workers.")
    finetune: FinetuneConfig = Field(default_factory=FinetuneConfig,
                                     description="Transfer learning from model.pretrained: frozen epochs, then the "
                                                 "last blocks at a lower rate.")
    distill: DistillConfig = Field(default_factory=DistillConfig,
                                   description="Learn from a larger run's outputs as well as the labels.")

    @model_validator(mode="after")
    def _finetune_fits(self):
        if self.finetune.freeze_epochs >= self.epochs:
            raise ValueError(f"finetune.freeze_epochs {self.finetune.freeze_epochs}: must be below epochs "
                             f"({self.epochs}), or nothing but the classifier ever trains")
        return self


ExportFormatName = Literal[tuple(EXPORT_FORMATS)]


class CalibrationConfig(_Section):
    """The images int8 quantization is calibrated on: one set for every TFLite and ONNX int8 file."""

    samples: int = Field(300, ge=1, le=100_000, description="Images drawn (seeded) from the calibration split.")
    split: Literal["train", "val", "test"] = Field(
        "train", description="Where the images come from; only train is safe (val/test would leak into the scores)."
    )
    min_samples: int = Field(100, ge=1, description="Fewer images than this is an error (ranges from a handful "
                             "of images clip real inputs).")
    allow_few: bool = Field(False, description="Accept fewer than min_samples images.")
    allow_outside_train: bool = Field(False, description="Accept a split other than train.")

    @model_validator(mode="after")
    def _guard(self):
        if self.split != "train" and not self.allow_outside_train:
            raise ValueError(f"split {self.split!r}: calibrating on images the files are scored on leaks them into "
                             "the score; use 'train', or set allow_outside_train: true")
        if self.samples < self.min_samples and not self.allow_few:
            raise ValueError(f"samples {self.samples} is below min_samples {self.min_samples}: ranges from few images "
                             "clip real inputs; use more, or set allow_few: true")
        return self


class ModelInfoConfig(_Section):
    """What the standard TFLite Model Metadata (and the model card) say about the model."""

    description: str | None = Field(None, description="One sentence on what the model does; default: the "
                                    "classes, input and data source.")
    version: str | None = Field(None, description="Model version; default: the recipe hash.")
    author: str = Field("edgecnn", description="Author or team.")
    license: str | None = Field(None, description="License of the model file, e.g. Apache-2.0; default: none stated.")


class ExportConfig(_Section):
    formats: list[ExportFormatName] = Field(
        default=["tflite_float32", "tflite_int8", "onnx_float32"], min_length=1, description="Artifacts to write."
    )
    calibration: CalibrationConfig = Field(default_factory=CalibrationConfig,
                                           description="Images that set the int8 activation ranges.")
    onnx_opset: int = Field(17, ge=17, le=21, description="ONNX opset (17 or newer).")
    int8_io: Literal["uint8", "int8", "float32"] = Field(
        "uint8", description="Input/output of full-integer TFLite files (tflite_int8, ptq_int8, qat, pqat, cqat): "
        "uint8 takes camera pixels 0..255 and returns float32 probabilities (what MediaPipe, ML Kit and phone "
        "image pipelines feed); int8 takes and returns int8 (microcontrollers; input q = pixel - 128 when the "
        "calibration images span 0..255); float32 takes float pixels.")
    rgb_input: bool | None = Field(
        None, description="Grayscale models take RGB pixels through a fixed luminance conversion in front "
        "(0.299 R + 0.587 G + 0.114 B), so phone SDKs that only feed RGB can load them; default: on for "
        "1-channel data.")
    onnx_fixed_batch: bool = Field(
        False, description="Fix the ONNX batch dimension to 1: ONNX Runtime Mobile's NNAPI and CoreML execution "
        "providers need fixed shapes; off keeps a dynamic batch for servers.")
    ort_format: bool = Field(True, description="Write an ORT-format copy (.ort) and its required-operators "
                             "config beside each .onnx, for ONNX Runtime Mobile and minimal builds.")
    model_info: ModelInfoConfig = Field(default_factory=ModelInfoConfig,
                                        description="Name, version, author and licence written into every file's "
                                                    "metadata.")

    def takes_rgb(self, channels: int) -> bool:
        """Whether exported files take 3-channel pixels for a model trained on `channels`."""
        return channels == 3 or self.rgb_input is not False


VariantName = Literal[tuple(OPTIMIZE_VARIANTS)]


class FineTuneConfig(_Section):
    epochs: int = Field(5, ge=1, le=1000, description="Fine-tuning epochs.")
    learning_rate: float = Field(3e-4, gt=0.0, le=1.0, description="Peak learning rate (cosine decay to 1%).")


class QatConfig(FineTuneConfig):
    leave_float: list[str] = Field(
        default_factory=list, description="Layers (names or glob patterns) QAT leaves in float, e.g. ones tfmot "
        "cannot quantize; the int8 file then falls back to float operators for them."
    )


class PruneConfig(FineTuneConfig):
    epochs: int = Field(10, ge=1, le=1000, description="Fine-tuning epochs while sparsity ramps up and holds.")
    schedule: Literal["polynomial", "constant"] = Field(
        "polynomial", description="polynomial: initial to final sparsity over the first 2/3 of the steps; "
        "constant: final sparsity from the first step."
    )
    initial_sparsity: float = Field(0.3, ge=0.0, lt=1.0, description="Sparsity at the start (polynomial).")
    final_sparsity: float = Field(0.8, gt=0.0, lt=1.0, description="Fraction of each pruned kernel set to zero.")
    frequency: int = Field(10, ge=1, description="Steps between mask updates.")
    include: list[str] = Field(
        default_factory=lambda: ["conv", "pointwise", "dense"],
        description="Layers to prune: names, glob patterns (block_*_pw) or kinds (conv, pointwise, depthwise, dense).",
    )
    exclude: list[str] = Field(default_factory=list, description="Layers never pruned (same forms as include).")

    @model_validator(mode="after")
    def _ramp_up(self):
        if self.schedule == "polynomial" and self.initial_sparsity > self.final_sparsity:
            raise ValueError(f"initial_sparsity ({self.initial_sparsity}) must not exceed final_sparsity "
                             f"({self.final_sparsity})")
        return self


class ClusterConfig(FineTuneConfig):
    clusters: int = Field(16, ge=2, le=256, description="Distinct weight values per kernel.")
    cqat_epochs: int = Field(3, ge=1, le=1000, description="Cluster-preserving QAT epochs after clustering.")
    per_tensor: bool = Field(
        False, description="Fold BatchNorm into the convolutions before clustering and quantize each kernel with "
        "one scale: a layer's clusters stay that many int8 codes in every channel and the file carries no "
        "per-channel scales (smaller gzip; per-tensor scales can cost accuracy).")


class PcqatConfig(ClusterConfig):
    """Collaborative optimization: the pruned model, clustered with its zeros kept, then prune- and
    cluster-preserving QAT."""

    sparsity: float | None = Field(
        None, gt=0.0, lt=1.0, description="Prune to this sparsity for this variant alone (its own pruning run, "
        "optimize.prune's schedule and epochs), e.g. 0.9; default: share pruned_float32's model at "
        "optimize.prune.final_sparsity.")


class OnnxQuantConfig(_Section):
    method: Literal["minmax", "entropy", "percentile"] = Field("minmax", description="Activation-range calibration.")
    per_channel: bool = Field(True, description="One weight scale per output channel.")
    reduce_range: bool = Field(
        False, description="7-bit weights: x86 CPUs without VNNI (AVX2 only) saturate int8 sums of pairs of products "
        "in onnxruntime, which can cost accuracy; phones (ARM) and VNNI CPUs do not need it.",
    )


class OptimizeConfig(_Section):
    variants: list[VariantName] = Field(
        default_factory=list, description="Optimized variants to make, export and verify beside the float model."
    )
    qat: QatConfig = Field(default_factory=QatConfig,
                           description="Quantization-aware training (qat_int8; its leave_float also applies to pqat, "
                                       "cqat and pcqat).")
    prune: PruneConfig = Field(default_factory=PruneConfig,
                               description="Magnitude pruning (pruned_float32, pqat_int8, pcqat_int8).")
    pqat: FineTuneConfig = Field(default_factory=FineTuneConfig,
                                 description="Pruning-preserving QAT fine-tune (pqat_int8).")
    structured: FineTuneConfig = Field(default_factory=FineTuneConfig, description="2:4 pruning fine-tune.")
    cluster: ClusterConfig = Field(default_factory=ClusterConfig,
                                   description="Weight clustering and cluster-preserving QAT (cqat_int8).")
    pcqat: PcqatConfig = Field(default_factory=PcqatConfig,
                               description="Pruning, sparsity-preserving clustering and PCQAT (pcqat_int8).")
    onnx: OnnxQuantConfig = Field(default_factory=OnnxQuantConfig,
                                  description="onnxruntime quantization (onnx_qdq_int8, onnx_dynamic_int8).")
    objective: Literal["gzip_bytes", "size_bytes", "latency", "accuracy", "arena_bytes", "npu_cycles"] = Field(
        "gzip_bytes", description="What 'best' means among the variants that meet verify.budgets; arena_bytes "
        "(TensorFlow Lite Micro's arena) and npu_cycles (Vela, the first verify.npu) are deterministic, and files "
        "without them come last."
    )

    @field_validator("variants")
    @classmethod
    def _unique(cls, value):
        seen = [v for i, v in enumerate(value) if v in value[:i]]
        if seen:
            raise ValueError(f"variant {seen[0]!r} listed twice")
        return value


class LatencyBudget(_Section):
    """A latency limit for one runtime and/or thread count (None matches any)."""

    runtime: Literal["litert", "onnxruntime", "tensorflow"] | None = Field(None, description="Runtime it applies to.")
    threads: int | None = Field(None, ge=1, description="Thread count it applies to.")
    max_p50_ms: float | None = Field(None, gt=0.0, description="Slowest p50.")
    max_p90_ms: float | None = Field(None, gt=0.0, description="Slowest p90.")


class BudgetConfig(_Section):
    """Limits an artifact must meet: gated artifacts (verify.gate) fail the run with exit code 1 when
    they miss one; every artifact is checked, and the best variant is chosen among those within."""

    min_accuracy: float | None = Field(None, ge=0.0, le=1.0, description="Lowest test accuracy (0..1).")
    max_accuracy_drop: float | None = Field(
        0.01, ge=0.0, le=1.0, description="Largest accuracy loss versus the float model (0.01 = one point)."
    )
    min_agreement: float | None = Field(None, ge=0.0, le=1.0, description="Lowest top-1 agreement with float.")
    max_latency_p50_ms: float | None = Field(None, gt=0.0, description="Slowest batch-1 p50, at every thread count.")
    max_latency_p90_ms: float | None = Field(None, gt=0.0, description="Slowest batch-1 p90, at every thread count.")
    latency: list[LatencyBudget] = Field(default_factory=list, description="Latency limits per runtime/threads.")
    max_size_bytes: int | None = Field(None, gt=0, description="Largest file.")
    max_gzip_bytes: int | None = Field(None, gt=0, description="Largest gzip-compressed file.")
    max_app_gap: float | None = Field(
        None, ge=0.0, le=1.0, description="Largest loss from the file's test accuracy to what an app gets through "
        "MediaPipe Tasks (source images at their own size and camera frames; 0.005 = half a point).")
    max_arena_kib: float | None = Field(
        None, gt=0.0, description="Largest TensorFlow Lite Micro tensor arena (KiB, as its allocator records it) of "
        "every int8 .tflite; a file TFLM refuses misses it.")
    max_flash_kib: float | None = Field(
        None, gt=0.0, description="Largest int8 .tflite a microcontroller holds in flash (KiB, the file's bytes).")
    max_npu_ms: float | None = Field(
        None, gt=0.0, description="Slowest inference Vela estimates on each verify.npu configuration (ms).")


# The accelerators Arm's Vela 5.2 compiles for (its --accelerator-config choices).
ACCELERATORS = ("ethos-u55-32", "ethos-u55-64", "ethos-u55-128", "ethos-u55-256", "ethos-u65-256", "ethos-u65-512",
                "ethos-u85-128", "ethos-u85-256", "ethos-u85-512", "ethos-u85-1024", "ethos-u85-2048")


class NpuConfig(_Section):
    """An Arm Ethos-U configuration Vela estimates int8 files on: the accelerator, and optionally one of the system
    configurations and memory modes Vela ships in Arm/vela.ini (else Vela's defaults for the accelerator)."""

    accelerator: Literal[ACCELERATORS] = Field(..., description="e.g. ethos-u55-128 (MACs per cycle last).")
    system_config: str | None = Field(None, description="e.g. Ethos_U55_High_End_Embedded, Ethos_U65_High_End "
                                      "(`vela --list-configs Arm/vela.ini`); it sets the clock and memories.")
    memory_mode: str | None = Field(None, description="e.g. Shared_Sram, Dedicated_Sram_512KB.")

    @property
    def label(self) -> str:
        return "/".join(part for part in (self.accelerator, self.system_config, self.memory_mode) if part)


class VerifyConfig(_Section):
    threads: list[int] = Field(
        default_factory=lambda: [1, 0], min_length=1,
        description="Thread counts to time each file at (0 = all cores); accuracy uses the first.",
    )
    warmup: int = Field(10, ge=0, description="Untimed runs before measuring latency.")
    runs: int = Field(200, ge=1, description="Timed batch-1 runs.")
    max_seconds: float = Field(5.0, gt=0.0, description="Stop timing an artifact after this many seconds.")
    budgets: BudgetConfig = Field(default_factory=BudgetConfig,
                                  description="Limits the report gates on (accuracy, agreement, latency, size, app "
                                              "gap).")
    gate: list[str] | None = Field(
        None, description="Artifacts whose missed budgets fail the run (exit 1); default: export.formats. "
        "Optimized variants are compared, not gated, unless listed here."
    )
    app_check: Literal["auto", "always", "never"] = Field(
        "auto", description="Classify the test split's source images and camera frames through MediaPipe Tasks for "
        "every .tflite (what an app gets): auto when the clients extra is installed; always fails without it.")
    camera_scale: float = Field(DEFAULT_CAMERA_SCALE, ge=1.0, le=16.0,
                                description="How many times larger than the source images the camera frames are.")
    gpu_check: Literal["auto", "always", "never"] = Field(
        "auto", description="LiteRT GPU-delegate check of .tflite files: auto reads the verdict the export recorded "
        "in the file (no TensorFlow); always runs TensorFlow's analyzer (an 8 s import); never skips it.")
    mcu_check: Literal["auto", "always", "never"] = Field(
        "auto", description="Run every int8 .tflite in TensorFlow Lite Micro (reference kernels) on the test split: "
        "accuracy, agreement with LiteRT, arena and flash bytes; auto when the mcu extra is installed, always "
        "fails without it.")
    npu: list[NpuConfig] = Field(
        default_factory=list, description="Arm Ethos-U configurations Vela estimates every int8 .tflite on (cycles, "
        "ms at the configuration's clock, SRAM, weights, operators on the NPU), e.g. [ethos-u55-128, "
        "{accelerator: ethos-u65-256, system_config: Ethos_U65_High_End, memory_mode: Dedicated_Sram_512KB}]; "
        "needs the mcu extra.")

    @field_validator("threads", mode="before")
    @classmethod
    def _one_or_many(cls, value):
        return [value] if isinstance(value, int) else value

    @field_validator("npu", mode="before")
    @classmethod
    def _accelerator_names(cls, value):
        """`ethos-u55-128` stands for {accelerator: ethos-u55-128}; one name or mapping for a list of one."""
        listed = value if isinstance(value, list) else [value]
        return [{"accelerator": item} if isinstance(item, str) else item for item in listed]

    @model_validator(mode="after")
    def _mcu_budgets_measurable(self):
        budgets = self.budgets
        if self.mcu_check == "never" and (budgets.max_arena_kib or budgets.max_flash_kib):
            raise ValueError("verify.budgets.max_arena_kib and max_flash_kib are measured in TensorFlow Lite Micro; "
                             "set verify.mcu_check to auto or always")
        if budgets.max_npu_ms is not None and not self.npu:
            raise ValueError("verify.budgets.max_npu_ms needs an NPU to estimate on: set verify.npu, e.g. "
                             "[ethos-u55-128]")
        return self

    def mcu_budgets(self) -> bool:
        """Whether a budget needs TensorFlow Lite Micro's figures."""
        return self.budgets.max_arena_kib is not None or self.budgets.max_flash_kib is not None

    @field_validator("threads")
    @classmethod
    def _thread_range(cls, value):
        if any(not 0 <= count <= 256 for count in value):
            raise ValueError("thread counts must be in [0, 256] (0 = all cores)")
        return value

    def thread_counts(self) -> list[int]:
        """The thread counts with 0 resolved to this machine's cores, in order, without repeats."""
        return list(dict.fromkeys(count or os.cpu_count() or 1 for count in self.threads))


class SweepRange(_Section):
    """A continuous range for random or TPE search (grid search needs a list of values)."""

    min: float = Field(..., description="Smallest value.")
    max: float = Field(..., description="Largest value.")
    log: bool = Field(False, description="Sample on a log scale.")
    integer: bool = Field(False, description="Whole numbers only.")

    @model_validator(mode="after")
    def _ordered(self):
        if self.min >= self.max or (self.log and self.min <= 0):
            raise ValueError(f"range min {self.min} must be below max {self.max} (and above 0 on a log scale)")
        return self


class SweepConfig(_Section):
    """`edgecnn sweep`: trials over recipe keys on Ray Tune; the best trial within verify.budgets wins."""

    space: dict[str, list[Any] | SweepRange] = Field(
        default_factory=dict, description="Recipe keys to vary: a list of values (grid, or choices), or a "
        "{min, max, log, integer} range (random and tpe only), e.g. {model.alpha: [0.5, 1.0], "
        "data.image_size: [[32, 32], [48, 48]]}.")
    search: Literal["grid", "random", "tpe"] = Field(
        "grid", description="grid: every combination; random: `trials` random draws; tpe: Optuna's TPE.")
    trials: int | None = Field(None, ge=1, le=10_000, description="Trials for random and tpe (grid: all).")
    max_minutes: float | None = Field(None, gt=0.0, description="Stop starting trials after this wall time.")
    concurrency: int = Field(1, ge=1, le=1024, description="Trials at a time.")
    cpus_per_trial: float = Field(1.0, gt=0.0, le=1024, description="CPUs Ray reserves for each trial.")
    objective: Literal["accuracy", "latency", "gzip_bytes", "arena_bytes", "npu_cycles"] = Field(
        "gzip_bytes", description="What the best trial minimizes (or, for accuracy, maximizes) among trials "
        "whose best artifact meets verify.budgets. arena_bytes (TensorFlow Lite Micro's arena) and npu_cycles "
        "(Vela's estimate on the first verify.npu) are deterministic: no timing noise between trials that ran "
        "side by side; set optimize.objective the same so each trial's pick is its best file by them.")
    early_stop: bool = Field(False, description="Stop weak trials early on validation accuracy (ASHA).")
    grace_epochs: int = Field(3, ge=1, description="Epochs every trial trains before early stopping may stop it.")
    remeasure: bool = Field(True, description="Time every finished trial's files again at the end, one trial at a "
                            "time on this machine: trials side by side measure latency while others train.")

    @model_validator(mode="after")
    def _searchable(self):
        for key, values in self.space.items():
            if isinstance(values, list) and not values:
                raise ValueError(f"space.{key}: give at least one value")
            if isinstance(values, SweepRange) and self.search == "grid":
                raise ValueError(f"space.{key}: a range needs search random or tpe; grid takes a list of values")
        if self.search != "grid" and self.trials is None:
            raise ValueError(f"search {self.search} needs sweep.trials (how many trials to draw)")
        return self


class Recipe(_Section):
    name: str = Field(..., min_length=1, pattern=r"^[A-Za-z0-9_.-]+$", description="Names the run folder.")
    seed: int = Field(0, ge=0, description="Seed for Python, NumPy and TensorFlow.")
    data: DataConfig = Field(default_factory=DataConfig,
                             description="Where the images come from, their size, split and pre-processing.")
    model: ModelConfig = Field(default_factory=ModelConfig,
                               description="The architecture (a preset, its width and blocks, regularization).")
    train: TrainConfig = Field(default_factory=TrainConfig, description="The training schedule and augmentation.")
    export: ExportConfig = Field(default_factory=ExportConfig, description="The files written from the trained model.")
    optimize: OptimizeConfig = Field(default_factory=OptimizeConfig,
                                     description="Optimized variants and their settings.")
    verify: VerifyConfig = Field(default_factory=VerifyConfig,
                                 description="How every file is measured, and the budgets it must meet.")
    sweep: SweepConfig = Field(default_factory=SweepConfig, description="`edgecnn sweep` only: the search.")

    @model_validator(mode="after")
    def _model_fits_data(self):
        """Decode the architecture for this input now, so a bad block or model name fails before any file is written."""
        shape = (*self.data.image_size, self.data.channels)
        try:
            resolve_layers(self.model.name, shape, 2, self.model.alpha, self.model.blocks, self.model.padding)
        except ModelError as exc:
            raise ValueError(str(exc)) from None
        if self.model.init_from and self.model.pretrained:
            raise ValueError("model.init_from and model.pretrained: choose one (init_from keeps the classifier too)")
        if self.train.finetune.freeze_epochs and not self.model.pretrained:
            raise ValueError("train.finetune.freeze_epochs: freezes a pretrained backbone; set model.pretrained "
                             "(imagenet or a run folder), or 0")
        if self.model.pretrained == IMAGENET:
            problem = imagenet_problem(self.model.name, self.model.alpha, self.model.blocks, shape,
                                       self.data.normalization)
            if problem:
                raise ValueError(f"model.pretrained imagenet: {problem}")
        return self

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def fingerprint(self) -> str:
        """Short hash of the merged recipe, stored with the artifacts it produced."""
        canonical = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(canonical).hexdigest()[:16]

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def artifact_fields(self, fmt) -> dict[str, Any]:
        """The recipe values that shape the file of format or variant `fmt`, and nothing else: what a build
        compares to decide whether the file can be reused, and what the file's own recipe hash covers (so
        a changed budget or another variant leaves it byte-identical)."""
        full = self.to_dict()
        fields = {"format": fmt.name, "export": {}, "optimize": {}}
        for path in fmt.recipe_reads:
            section, _, rest = path.partition(".")
            if section in ("export", "optimize"):  # these two are kept as {key: value}, one level down
                fields[section][rest] = dotted(full[section], rest)
            else:
                fields[section] = full[section]
        return fields

    def artifact_fingerprint(self, fmt) -> str:
        """Short hash of `artifact_fields(fmt)`, stored in the file's metadata as its recipe hash."""
        canonical = json.dumps(self.artifact_fields(fmt), sort_keys=True).encode()
        return hashlib.sha256(canonical).hexdigest()[:16]


def dotted(values: dict, path: str):
    """values["a"]["b"] for "a.b"."""
    for part in path.split("."):
        values = values[part]
    return values


def load_recipe(path: str | Path, overrides: list[Override] | None = None) -> Recipe:
    """Read a recipe file, apply overrides (`KEY=VALUE` text or (key, value) pairs) and validate the result."""
    return validate_recipe(load_recipe_dict(Path(path), overrides), source=str(path))


# An override: `KEY=VALUE` text as `--set` gives it (the value parsed as YAML), or a (key, value) pair a flag or
# a caller gives already typed, e.g. ("verify.budgets.min_accuracy", 0.97).
Override = str | tuple[str, Any]


def load_recipe_dict(path: Path, overrides: list[Override] | None = None) -> dict:
    """A recipe file's mapping with overrides applied, not yet validated."""
    raw = _read_yaml(Path(path))
    apply_overrides(raw, overrides, Path(path))
    return raw


def apply_overrides(raw: dict, overrides: list[Override] | None, source: Path, prefix: str | None = None) -> None:
    """Set every override's value in `raw`, in order (a later one wins); `prefix` limits the keys allowed."""
    for override in overrides or []:
        key, value = parse_override(override) if isinstance(override, str) else override
        if prefix and not key.startswith(prefix):
            raise RecipeError(f"--set {key}: files verified without --data take only {prefix}* settings")
        _set_dotted(raw, key, value, source=source)


def data_recipe(spec: str, seed: int, overrides: list[Override] | None = None, data: dict | None = None,
                extra: dict | None = None) -> Recipe:
    """A recipe around one data source named on the command line (a source name, folder, list, .npz, or a
    recipe .yaml whose data section and seed are taken), with `data` keys and overrides on top."""
    where = "--data"
    if spec.endswith((".yaml", ".yml")):
        from_file = _read_yaml(Path(spec))
        section, seed, where = dict(from_file.get("data") or {}), from_file.get("seed", seed), spec
    else:
        section = data_section_for(spec)
    section.update(data or {})
    raw = {"name": "data", "seed": seed, "data": section, "model": {"name": "dscnn_tiny"}, **(extra or {})}
    apply_overrides(raw, overrides, Path(where))
    return validate_recipe(raw, source=where)


def verify_settings(overrides: list[Override] | None = None) -> "VerifyConfig":
    """The verify section alone, from `--set verify.KEY=VALUE` overrides: files verified without data have
    no data, model or training to describe."""
    raw: dict = {"name": "verify"}
    apply_overrides(raw, overrides, Path("--set"), prefix="verify.")
    return validate_recipe(raw, source="--set").verify


def validate_recipe(raw: dict, source: str = "<recipe>") -> Recipe:
    try:
        return Recipe.model_validate(raw)
    except ValidationError as exc:
        raise RecipeError(f"{source}: {_describe(exc.errors()[0])}") from None


def _read_yaml(path: Path) -> dict:
    text = read_user_text(path, "recipe file", RecipeError, limit=MAX_TEXT_BYTES)
    try:
        raw = load_yaml_text(text)
    except YamlProblem as exc:
        raise RecipeError(f"{path}: {exc}") from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow; its own text spans two lines
        raise RecipeError(f"{path}: not valid YAML: character #x{exc.character:04x} at position {exc.position} is "
                          "not allowed in YAML text") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise RecipeError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, dict):
        raise RecipeError(f"{path}: a recipe must be a mapping of keys (name, data, model, ...)")
    return raw


def parse_override(text: str) -> tuple[str, Any]:
    """`train.epochs=3` -> ("train.epochs", 3). The value is parsed as YAML (numbers, lists, booleans)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise RecipeError(f"--set {text!r}: expected KEY=VALUE, e.g. --set train.epochs=3")
    try:
        return key.strip(), load_yaml_text(value)
    except YamlProblem as exc:
        raise RecipeError(f"--set {key.strip()}: {exc}") from None
    except yaml.YAMLError:
        raise RecipeError(f"--set {text!r}: the value is not valid YAML") from None


def _set_dotted(raw: dict, key: str, value: Any, source: Path) -> None:
    node, parts = raw, key.split(".")
    for depth, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            where = ".".join(parts[: depth + 1])
            raise RecipeError(f"--set {key}: {source} has a value, not a section, at {where}")
        node = child
    node[parts[-1]] = value


def _describe(error: dict) -> str:
    """One line: key path, what was expected, what was received, nearest valid key."""
    loc = [str(part) for part in error["loc"]]
    key_path = ".".join(loc) or "<top level>"
    if error["type"] == "extra_forbidden":
        return f"unknown key '{key_path}'{_suggest(loc)}"
    if error["type"] == "missing":
        return f"missing required key '{key_path}'"
    message = error["msg"].removeprefix("Value error, ")
    if not loc:  # a rule across sections: the message names its keys
        return message
    received = error.get("input")
    if isinstance(received, dict):
        return f"key '{key_path}': {message}"
    shown = repr(received)
    return f"key '{key_path}': {message}; received {shown if len(shown) <= 80 else shown[:77] + '...'}"


def _suggest(loc: list[str]) -> str:
    section: type[BaseModel] = Recipe
    for part in loc[:-1]:
        field = section.model_fields.get(part)
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return ""
        section = annotation
    valid = list(section.model_fields)
    close = difflib.get_close_matches(loc[-1], valid, n=1, cutoff=0.5)
    prefix = ".".join(loc[:-1] + [close[0]]) if close else None
    if prefix:
        return f"; did you mean '{prefix}'?"
    return f"; valid keys here: {', '.join(valid)}"
