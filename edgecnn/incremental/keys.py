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
from edgecnn.verify.latency import machine

STAGE_KINDS = ("data", "train", "export", "optimize", "verify", "inspect", "report")

_LIBRARIES = {  # the packages whose version shapes each kind of output
    "data": ("numpy", "pillow"),
    "train": ("tensorflow", "tf-keras", "numpy"),
    "litert": ("tensorflow", "tf-keras", "flatbuffers"),
    "onnxruntime": ("tensorflow", "tf-keras", "tf2onnx", "onnx", "onnxruntime"),
    "optimize": ("tensorflow-model-optimization", "ai-edge-quantizer", "onnxruntime"),
    "verify": ("numpy", "ai-edge-litert", "onnxruntime", "tensorflow", "mediapipe"),
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


def data_plan(recipe) -> StagePlan:
    values = {"seed": recipe.seed, "data": recipe.to_dict()["data"]}
    inputs = _base(values, {}, (), "data")
    inputs["source"] = source_digest(recipe.data)
    if recipe.data.source == "digits":
        inputs["libraries"].update(versions("scikit-learn"))  # the images ship inside scikit-learn
    elif recipe.data.source in KERAS_SETS and not recipe.data.path:
        inputs["libraries"].update(versions("tensorflow"))
    return StagePlan("data", inputs)


def train_plan(recipe, tokens: dict[str, str]) -> StagePlan:
    full = recipe.to_dict()
    values = {"seed": recipe.seed, "data": full["data"], "model": full["model"], "train": full["train"]}
    return StagePlan("train", _base(values, tokens, ("data",), "train"), ("data",))


def artifact_plan(recipe, fmt: ExportFormat, tokens: dict[str, str]) -> StagePlan:
    """An exported file (export.formats) or an optimized variant (optimize.variants)."""
    kind, upstream = ("optimize" if fmt.is_variant else "export"), ("data", "train")
    groups = ("train", fmt.runtime, "optimize") if fmt.is_variant else ("train", fmt.runtime)
    return StagePlan(f"{kind}:{fmt.name}", _base(recipe.artifact_fields(fmt), tokens, upstream, *groups),
                     upstream, fmt)


def verify_plan(recipe, name: str, tokens: dict[str, str]) -> StagePlan:
    """Measuring one artifact (accuracy, agreement, latency): budgets only judge the measurements, so they
    are not read here; the machine is, since latency belongs to the CPU it was measured on."""
    settings = recipe.verify
    values = {"artifact": name, "threads": settings.thread_counts(), "warmup": settings.warmup,
              "runs": settings.runs, "max_seconds": settings.max_seconds, "app_check": settings.app_check,
              "camera_scale": settings.camera_scale}
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


def report_plan(recipe, tokens: dict[str, str], upstream: tuple[str, ...]) -> StagePlan:
    """Judging and writing: it runs every build (it records that build's stages and times); its key says
    whether anything it judges changed."""
    return StagePlan("report", {"recipe": recipe.to_dict(), "upstream": {s: tokens[s] for s in upstream},
                                "edgecnn": code_version()}, upstream)
