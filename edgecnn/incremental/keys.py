"""What each stage of a build reads, as plain data, and the key that hashes it.

A stage's inputs are the recipe values it reads, a token for each stage it builds on (that stage's key and
the hashes of the files it wrote, so a model retrained to the same bytes changes nothing downstream), the
data's digest (data stage), and the versions of edgecnn's code and of the libraries that shape its output.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from edgecnn import __version__
from edgecnn.data.sources import KERAS_SETS, source_digest
from edgecnn.formats import ALL_ARTIFACTS, ExportFormat
from edgecnn.fileio import file_sha256
from edgecnn.models.pretrained import IMAGENET, keras_cache, weights_file
from edgecnn.recipe import Recipe, VerifyConfig, dotted
from edgecnn.run import model_file
from edgecnn.verify.latency import machine

STAGE_KINDS = ("data", "train", "export", "optimize", "verify", "inspect", "report")

_LIBRARIES = {  # the packages whose version shapes each kind of output
    "data": ("numpy", "pillow"),
    "train": ("tensorflow", "tf-keras", "numpy"),
    "litert": ("tensorflow", "tf-keras", "flatbuffers"),
    "onnxruntime": ("tensorflow", "tf-keras", "tf2onnx", "onnx", "onnxruntime"),
    "optimize": ("tensorflow-model-optimization", "ai-edge-quantizer", "onnxruntime"),
    "verify": ("numpy", "ai-edge-litert", "onnxruntime", "tensorflow", "mediapipe", "tflite-micro", "ethos-u-vela"),
    "inspect": ("numpy", "ai-edge-litert", "matplotlib", "pillow"),
}


@dataclass(frozen=True)
class StagePlan:
    """One stage of one build: its id (`train`, `export:tflite_int8`, `verify:onnx_float32`), what it reads,
    and the stages whose outputs it builds on."""

    id: str
    inputs: dict
    upstream: tuple[str, ...] = ()
    artifact: ExportFormat | None = field(default=None, compare=False)

    @property
    def kind(self) -> str:
        return self.id.split(":")[0]

    @property
    def name(self) -> str:
        return self.id.partition(":")[2]

    @property
    def key(self) -> str:
        return digest(self.inputs)


def digest(value) -> str:
    """The hash of a JSON-able value, independent of dict order."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:32]


@cache
def code_version() -> str:
    """edgecnn's version and a hash of its source: a changed line of edgecnn invalidates what it made."""
    package = Path(__file__).resolve().parents[1]
    source = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        source.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    return f"{__version__}+{source.hexdigest()[:12]}"


def versions(*packages: str) -> dict[str, str | None]:
    found = {}
    for package in packages:
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = None
    return found


def _base(recipe_values: dict, tokens: dict[str, str], upstream: tuple[str, ...], *libraries) -> dict:
    return {"recipe": recipe_values, "upstream": {stage: tokens[stage] for stage in upstream},
            "libraries": versions(*dict.fromkeys(name for group in libraries for name in _LIBRARIES[group])),
            "edgecnn": code_version()}


def data_plan(recipe: Recipe) -> StagePlan:
    inputs = _base(_pick(recipe, stage_reads("data")), {}, (), "data")
    inputs["source"] = source_digest(recipe.data)
    if recipe.data.source == "digits":
        inputs["libraries"].update(versions("scikit-learn"))  # the images ship inside scikit-learn
    elif recipe.data.source in KERAS_SETS and not recipe.data.path:
        inputs["libraries"].update(versions("tensorflow"))
    return StagePlan("data", inputs)


def train_plan(recipe: Recipe, tokens: dict[str, str]) -> StagePlan:
    inputs = _base(_pick(recipe, stage_reads("train")), tokens, ("data",), "train")
    # The weights it starts from or learns from, not only their names: a retrained source retrains this model.
    for key, value in (("model.pretrained", recipe.model.pretrained), ("model.init_from", recipe.model.init_from),
                       ("train.distill.teacher", recipe.train.distill.teacher)):
        if value:
            inputs[f"{key} weights"] = weights_digest(recipe, value)  # reason: "model.init_from weights changed"
    return StagePlan("train", inputs, ("data",))


def weights_digest(recipe: Recipe, value: str) -> str:
    """The SHA-256 of the model file a recipe names (`imagenet`: Keras' cached file), or, when it is not there
    yet, its name (the train stage then says it is missing)."""
    model = recipe.model
    if value == IMAGENET:
        path = keras_cache() / weights_file(model.name, model.alpha, (*recipe.data.image_size, recipe.data.channels))
    else:
        path = model_file(Path(value))
    return file_sha256(path) if path.is_file() else str(path)


def artifact_plan(recipe: Recipe, fmt: ExportFormat, tokens: dict[str, str]) -> StagePlan:
    """An exported file (export.formats) or an optimized variant (optimize.variants)."""
    kind, upstream = ("optimize" if fmt.is_variant else "export"), ("data", "train")
    groups = ("train", fmt.runtime, "optimize") if fmt.is_variant else ("train", fmt.runtime)
    return StagePlan(f"{kind}:{fmt.name}", _base(recipe.artifact_fields(fmt), tokens, upstream, *groups),
                     upstream, fmt)


# Recipe values no stage reads: only the report judges with them (`verify.budgets`, `verify.gate`,
# `optimize.objective`), they choose which stages exist rather than what one makes (`export.formats`,
# `optimize.variants`), or only `edgecnn sweep` reads them (`sweep`). Every other value is some stage's input.
REPORT_ONLY = ("verify.budgets", "verify.gate", "optimize.objective", "export.formats", "optimize.variants", "sweep")


def stage_reads(stage_id: str) -> tuple[str, ...]:
    """The recipe values a stage reads (dotted paths; a section stands for all of it), declared once: its key
    hashes exactly these. The verify stage reads the whole `verify:` section but what only the report judges
    with, so a new setting is in its key unless declared otherwise (a hand-kept list once missed `gpu_check`,
    and rebuilds reused stale readiness results). The report reads everything; inspect reads nothing."""
    kind, _, name = stage_id.partition(":")
    if kind == "data":
        return ("seed", "data")
    if kind == "train":
        return ("seed", "data", "model", "train")
    if kind in ("export", "optimize"):
        return ALL_ARTIFACTS[name].recipe_reads
    if kind == "verify":
        return tuple(path for path in (f"verify.{key}" for key in VerifyConfig.model_fields) if path not in REPORT_ONLY)
    return ()


def _pick(recipe: Recipe, paths: tuple[str, ...]) -> dict:
    """The recipe's values at `paths`, nested as in the recipe."""
    full, picked = recipe.to_dict(), {}
    for path in paths:
        *parents, last = path.split(".")
        target = picked
        for part in parents:
            target = target.setdefault(part, {})
        target[last] = dotted(full, path)
    return picked


def verify_plan(recipe: Recipe, name: str, tokens: dict[str, str]) -> StagePlan:
    """Measuring one artifact (accuracy, agreement, latency, readiness, what an app gets): its `stage_reads`,
    and the machine, since latency belongs to the CPU it was measured on."""
    values = {"artifact": name, **_pick(recipe, stage_reads("verify"))}
    values["verify"]["threads"] = recipe.verify.thread_counts()  # 0 is this machine's cores
    fmt = ALL_ARTIFACTS.get(name)
    producer = "train" if fmt is None else f"{'optimize' if fmt.is_variant else 'export'}:{name}"
    upstream = tuple(dict.fromkeys(("data", "train", producer)))
    inputs = _base(values, tokens, upstream, "verify")
    inputs["machine"] = {key: value for key, value in machine().items() if key in ("cpu", "cores", "system")}
    return StagePlan(f"verify:{name}", inputs, upstream, fmt)


def inspect_plan(tokens: dict[str, str]) -> StagePlan:
    """The float TFLite file's anatomy: per-layer cost, memory and pictures on the first test images."""
    upstream = ("data", "train", "export:tflite_float32")
    return StagePlan("inspect", _base({}, tokens, upstream, "inspect"), upstream)


def report_plan(recipe: Recipe, tokens: dict[str, str], upstream: tuple[str, ...]) -> StagePlan:
    """Judging and writing: it runs every build (it records that build's stages and times); its key says
    whether anything it judges changed."""
    return StagePlan("report", {"recipe": recipe.to_dict(), "upstream": {s: tokens[s] for s in upstream},
                                "edgecnn": code_version()}, upstream)
