"""The build report as types: what every stage fills and every renderer (terminal, Markdown, JUnit, the
confusion picture, the model card, the sweep's trial rows) reads by attribute. It becomes JSON only when
written (`to_dict`) and comes back only when a folder is read (`from_dict`), so `report.json` keeps its shape:
a key a writer did not set is not written, a key a file holds is kept, and older files read back unchanged.

Pydantic (already the recipe's validator) does both directions, so there is no hand-written (de)serializer:
a field's name is its JSON key.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, computed_field

if TYPE_CHECKING:  # annotations only: no import at run time
    from edgecnn.recipe import Recipe

REPORT_SCHEMA = "edgecnn.report/1"  # what report.json says it is; a baseline must say the same


class Record(BaseModel):
    """One part of the report. Keys a file holds that this version does not know are kept (`extra`)."""

    model_config = ConfigDict(extra="allow")

    def to_dict(self) -> dict:
        """As report.json holds it: only the keys that were set (read from a file, or given by the stage)."""
        return self.model_dump(mode="json", exclude_unset=True)

    @classmethod
    def from_dict(cls, record: dict):
        return cls.model_validate(record)


# ---- one artifact's measurements ----------------------------------------------------------------------------

class LatencyStats(Record):
    """Batch-1 timings in ms of one file at one thread count (`verify.latency.latency_stats`)."""

    p50: float
    p90: float
    p99: float | None = None  # reports before p99 was measured
    mean: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None
    first_ms: float | None = None
    init_ms: float | None = None
    throughput_per_s: float | None = None
    gmac_per_s: float | None = None
    runs: int | None = None
    warmup: int | None = None


class ThreadLatency(LatencyStats):
    threads: int
    runtime_settings: dict[str, Any] = Field(default_factory=dict)  # the runtime's own options, as it names them


class ClassResult(Record):
    images: int
    accuracy: float | None
    recall: float | None
    precision: float | None


class Sparsity(Record):
    """Zeros in the file's convolution and dense kernels (`artifacts.kernels.sparsity_summary`)."""

    overall: float
    weights: int | None = None
    layers: dict[str, float] = Field(default_factory=dict)
    distinct_per_channel: dict[str, int] = Field(default_factory=dict)
    pruned_layers: float | None = None


class Calibration(Record):
    samples: int
    source: str


class MediaPipeReadiness(Record):
    loads: bool
    problems: list[str] = Field(default_factory=list)
    standard_metadata: bool | None = None
    labels: bool = False


class GpuReadiness(Record):
    checked: bool
    compatible: bool | None = None
    warnings: list[str] = Field(default_factory=list)
    reason: str | None = None  # why it was not checked
    tensorflow: str | None = None  # the version whose analyzer checked it
    source: str | None = None  # "recorded at export" or "analyzed now"


class OrtMobileReadiness(Record):
    as_is: str
    fixed_shapes: str
    supported_nodes: str
    partitions: int
    unsupported_ops: list[str] = Field(default_factory=list)


class Readiness(Record):
    """Whether the file runs where an app developer may put it (`verify.readiness`)."""

    operators: list[str] | None = None
    mediapipe: MediaPipeReadiness | None = None
    float_operators: list[str] | None = None
    gpu_delegate: GpuReadiness | None = None
    onnx_checker: str | None = None
    ort_mobile: dict[str, OrtMobileReadiness] | None = None
    error: str | None = None  # the check could not run


class AppView(Record):
    accuracy: float
    agreement: float


class AppResult(Record):
    """What an app gets through MediaPipe Tasks (`verify.app`), or why it was not measured (`skipped`)."""

    client: str | None = None
    camera_scale: float | None = None
    own_size: AppView | None = None
    camera: AppView | None = None
    accuracy: float | None = None  # the lower of the two views
    gap: float | None = None  # the report's accuracy minus `accuracy`
    skipped: str | None = None


class TflmResult(Record):
    """The file in TensorFlow Lite Micro (`verify.mcu`): its accuracy and agreement with LiteRT on the same test
    images, the arena TFLM allocated and the flash the file takes; or the operators TFLM refused it on."""

    runtime: str
    runs: bool
    accuracy: float | None = None
    agreement: float | None = None  # top-1 agreement with the file in LiteRT
    max_abs_diff: float | None = None  # largest probability difference from LiteRT
    arena_bytes: int | None = None  # TFLM's recording allocator's total
    flash_bytes: int  # the file, as the firmware's const array holds it
    refused_operators: list[str] = Field(default_factory=list)
    reason: str | None = None  # TFLM's words when it refuses the file


class NpuEstimate(Record):
    """Vela's estimate of the file on one Ethos-U configuration (`mcu.vela`): deterministic, no noise."""

    npu: str  # the configuration as the recipe names it
    accelerator: str
    system_config: str
    memory_mode: str
    clock_mhz: float
    cycles: int
    npu_cycles: int
    ms: float
    sram_bytes: int
    weights_bytes: int
    weights_area: str  # where the weights live: Off-chip Flash, or DRAM
    npu_operators: int
    cpu_operators: int
    npu_share: float
    macs: int
    per_layer_csv: str
    compiled: str  # Vela's compiled .tflite, for the Ethos-U driver


class McuResult(Record):
    tflm: TflmResult | None = None
    npu: list[NpuEstimate] = Field(default_factory=list)


class ArtifactResult(Record):
    """One verified file (or the Keras model): a row of the report."""

    name: str
    path: str
    format: str
    precision: str
    runtime: str
    size_bytes: int
    gzip_bytes: int
    accuracy: float | None
    agreement: float | None
    max_abs_diff: float | None
    latency_ms: LatencyStats
    threads: int
    input_dtype: str
    accuracy_change: float | None = None  # against the float model, once the report knows its accuracy
    technique: str | None = None
    calibration: Calibration | None = None
    optimization: dict[str, Any] | None = None  # how the file says it was optimized, as its metadata records it
    sparsity: Sparsity | None = None
    macs: int | None = None
    latency: list[ThreadLatency] | None = None
    per_class: dict[str, ClassResult] | None = None
    confusion_matrix: list[list[int]] | None = None
    top5_accuracy: float | None = None
    readiness: Readiness | None = None
    app: AppResult | None = None
    mcu: McuResult | None = None

    @property
    def arena_bytes(self) -> int | None:
        """TFLM's arena for this file, when it ran there."""
        return self.mcu.tflm.arena_bytes if self.mcu and self.mcu.tflm else None

    @property
    def npu_cycles(self) -> int | None:
        """Vela's total cycles on the first configured NPU, when estimated."""
        return self.mcu.npu[0].cycles if self.mcu and self.mcu.npu else None

    @property
    def app_accuracy(self) -> float | None:
        """What an app gets through MediaPipe Tasks (the lower of its two figures) when measured, else the accuracy."""
        measured = self.app.accuracy if self.app else None
        return self.accuracy if measured is None else measured

    @property
    def latencies(self) -> list[ThreadLatency]:
        """Latency at each thread count measured (files verified before per-thread timing: the one row)."""
        return self.latency or [ThreadLatency(threads=self.threads, **self.latency_ms.model_dump())]

    @property
    def loads_in_mediapipe(self) -> bool:
        return bool(self.readiness and self.readiness.mediapipe and self.readiness.mediapipe.loads)


# ---- the judgement ------------------------------------------------------------------------------------------

class BudgetCheck(Record):
    artifact: str
    budget: str  # e.g. "max_accuracy_drop" or "latency litert threads=1 max_p50_ms"
    measured: float | None
    limit: float
    passed: bool
    gated: bool = False  # a missed gated check fails the run (exit 1); others are reported only
    inconclusive: bool = False  # an A/B latency check whose interval straddles the limit: neither pass nor fail

    def missed_text(self) -> str:
        measured = "not measured" if self.measured is None else f"{self.measured:.4g}"
        return f"measured {measured}, limit {self.limit:.4g}"


class Gate(Record):
    """Every budget check of every artifact; the run passes when no gated artifact misses one."""

    model_config = ConfigDict(extra="ignore")  # `passed` and `missed` are computed, not read

    artifacts: list[str] = Field(default_factory=list)  # the gated artifacts
    checks: list[BudgetCheck] = Field(default_factory=list)

    @property
    def missed_checks(self) -> list[BudgetCheck]:
        return [check for check in self.checks if check.gated and not check.passed]

    @computed_field
    @property
    def passed(self) -> bool:
        return not self.missed_checks

    @computed_field
    @property
    def missed(self) -> int:
        return len(self.missed_checks)


class BestPick(Record):
    """The shippable artifact (not the Keras reference) that best meets the objective within the budgets."""

    name: str | None
    objective: str | None = None
    reason: str
    rejected: dict[str, list[str]] = Field(default_factory=dict)  # artifact -> budgets missed (A/B, baseline too)
    candidates: int = 0
    within_budgets: int = 0
    gated: list[str] = Field(default_factory=list)  # candidates whose missed budget fails the run (others: compared)
    caveats: list[str] = Field(default_factory=list)  # set only when there is a pick


class BaselineComparison(Record):
    artifact: str
    metric: str
    old: float
    new: float
    change: float
    tolerance: float
    regressed: bool


class Baseline(Record):
    tolerance: float
    edgecnn_version: str | None = None
    comparisons: list[BaselineComparison] = Field(default_factory=list)


class FileSizes(Record):
    size_bytes: int
    gzip_bytes: int


class SizesNewOld(Record):
    new: FileSizes
    old: FileSizes


class AccuracyNewOld(Record):
    new: float
    old: float


class AgainstComparison(Record):
    """A NEW file against its OLD one, timed interleaved on one machine (`verify.against`)."""

    artifact: str
    new: str
    old: str
    ratio: float
    ci95: list[float]
    verdict: str  # slower, within or inconclusive
    rounds: int
    calls_per_round: int | None = None
    new_p50_ms: float | None = None
    old_p50_ms: float | None = None
    sizes: SizesNewOld
    accuracy: AccuracyNewOld | None = None  # with labelled images


class Against(Record):
    max_slowdown: float
    comparisons: list[AgainstComparison] = Field(default_factory=list)


# ---- what the report says around the rows ------------------------------------------------------------------

class SkippedFile(Record):
    path: str
    problem: str


class Skipped(Record):
    count: int
    files: list[SkippedFile] = Field(default_factory=list)


class DataSummary(Record):
    """The images verified on (`Dataset.summary`), or, without labelled data, what stood in for them."""

    source: str | None = None
    classes: int | None = None
    train: int | None = None
    val: int | None = None
    test: int | None = None
    images: int | str | None = None
    image_shape: list[int] = Field(default_factory=list)
    skipped: Skipped | None = None


class Machine(Record):
    cpu: str | None = None
    cores: int | None = None
    vector_extensions: list[str] = Field(default_factory=list)
    system: str | None = None
    python: str | None = None
    date: str | None = None


class Timings(Record):
    """Seconds per stage of a build; `variants` per optimized variant. Empty for a verify of files."""

    data: float | None = None
    train: float | None = None
    export: float | None = None
    optimize: float | None = None
    variants: dict[str, float] | None = None
    verify: float | None = None
    total: float | None = None

    def stage_rows(self) -> list[tuple[str, float, bool]]:
        """(stage, seconds, is a variant of the optimize stage) in the order the build ran them."""
        rows = []
        for stage in ("data", "train", "export", "optimize", "verify", "total"):
            seconds = getattr(self, stage)
            if seconds is not None:
                rows.append((stage, seconds, False))
            if stage == "optimize":
                rows += [(name, value, True) for name, value in (self.variants or {}).items()]
        return rows


class StageDecision(Record):
    """What a build did with one stage: `run`, `reused` (from the run folder) or `cached` (from the shared cache)."""

    stage: str
    action: str
    reason: str
    key: str
    seconds: float = 0.0


class LayerRow(Record):
    name: str
    type: str
    kind: str | None = None
    kernel: str | None = None
    stride: int | None = None
    padding: str | None = None
    output_shape: list[int | None] = Field(default_factory=list)
    params: int = 0
    macs: int = 0
    activation_bytes: int = 0


class AnatomyTotals(Record):
    layers: int | None = None
    params: int
    macs: int
    activation_bytes: int | None = None


class SeparableSaving(Record):
    depthwise: str
    pointwise: str
    separable_macs: int
    standard_macs: int


class LiveTensor(Record):
    tensor: str
    bytes: int


class Memory(Record):
    flash_bytes: int | None = None
    arena_bytes: int | None = None
    peak_activation_bytes: int | None = None
    peak_at: str | None = None
    largest_live_tensors: list[LiveTensor] = Field(default_factory=list)


class Pictures(Record):
    kernels: str | None = None
    feature_maps: list[str] = Field(default_factory=list)
    strongest: str | None = None
    test_image: str | None = None
    training_curves: str | None = None


class Anatomy(Record):
    """Per-layer cost, totals, separable savings, memory and pictures of the float file (`anatomy`)."""

    model: str
    layers: list[LayerRow] = Field(default_factory=list)
    totals: AnatomyTotals
    separable_savings: list[SeparableSaving] = Field(default_factory=list)
    memory: Memory | None = None
    pictures: Pictures | None = None


class RecipeRecord(Record):
    """The recipe as the report records it: the whole merged recipe for a build; for a verify of files, only
    what is known (name `files`, the data and verify settings)."""

    name: str

    def parsed(self) -> Recipe:
        """The build's recipe, validated again (the model card reads its settings)."""
        from edgecnn.recipe import validate_recipe  # lazy: only the handoff reads a recipe back

        return validate_recipe(self.to_dict(), source="report.json recipe")


class BuildReport(Record):
    """Everything a build or a verify measured and decided."""

    schema_: str = Field(REPORT_SCHEMA, alias="schema")  # `schema` is a BaseModel method's name
    edgecnn_version: str
    recipe: RecipeRecord
    recipe_hash: str | None = None
    mode: str | None = None  # "files" for `edgecnn verify FILE ...`
    data: DataSummary
    timings_s: Timings = Field(default_factory=Timings)
    float_accuracy: float | None = None
    machine: Machine = Field(default_factory=Machine)
    artifacts: list[ArtifactResult] = Field(default_factory=list)
    best: BestPick | None = None
    gate: Gate = Field(default_factory=Gate)
    anatomy: Anatomy | None = None
    stages: list[StageDecision] | None = None
    baseline: Baseline | None = None
    against: Against | None = None
    confusion_png: str | None = None
    confusion_png_skipped: str | None = None

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def to_dict(self) -> dict:
        return self.model_dump(mode="json", exclude_unset=True, by_alias=True)

    @classmethod
    def from_json(cls, text: str) -> BuildReport:
        """A report.json's text; ValueError naming the first key that is not as edgecnn writes it."""
        try:
            return cls.model_validate_json(text)
        except ValidationError as exc:
            problem = exc.errors()[0]
            where = ".".join(str(part) for part in problem["loc"])
            raise ValueError(f"{where}: {problem['msg']}" if where else problem["msg"]) from None

    @classmethod
    def read(cls, path: Path) -> BuildReport:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))

    def row(self, name: str) -> ArtifactResult:
        return next(row for row in self.artifacts if row.name == name)

    @property
    def best_name(self) -> str | None:
        return self.best.name if self.best else None

    @property
    def measured_on_labels(self) -> bool:
        """Whether labelled test images were verified on (else synthetic ones gave latency only)."""
        return bool(self.data.source)
