"""`edgecnn handoff RUN_DIR`: what an app developer needs, in one folder.

    handoff/
      <best file under the budgets>      e.g. onnx_qdq_int8.onnx (+ .ort), or a .tflite
      <best .tflite MediaPipe loads>      e.g. model_int8.tflite: the phone SDKs' file, when the best is not one
      model_float32.tflite                the float file, to compare against
      model_float32.onnx / .ort           for ONNX Runtime (web, Node, Mobile), with its operator config
      labels.txt  recipe.yaml (the merged recipe)  MODEL_CARD.md
      snippets/   classify_android.kt  classify_ios.swift  classify_node.mjs  package.json  classify.py

Reads only the run folder (report.json, recipe.yaml and the files): no TensorFlow.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from edgecnn.artifacts.metadata import read_metadata
from edgecnn.errors import BudgetExceeded, VerificationError
from edgecnn.export.onnx import ort_paths
from edgecnn.fileio import atomic_path, read_user_text, staging_folder, write_text
from edgecnn.formats import ALL_ARTIFACTS
from edgecnn.handoff.card import model_card
from edgecnn.handoff.snippets import write_snippets
from edgecnn.run import REPORT_JSON, RunFolder
from edgecnn.verify.judge import select_best
from edgecnn.verify.record import ArtifactResult, BuildReport

CARD_FILE = "MODEL_CARD.md"
SNIPPETS_DIR = "snippets"


@dataclass
class HandedFile:
    name: str  # the report row
    filename: str  # as written in the bundle
    row: ArtifactResult


@dataclass
class Handoff:
    folder: Path
    handed: list[HandedFile]  # the best file first
    phone: HandedFile  # the .tflite phone SDKs load
    web: HandedFile | None  # the .onnx for ONNX Runtime
    files: list[Path]
    metadata: dict  # the phone file's edgecnn metadata: its input contract and labels


def write_handoff(run_dir: Path, out_dir: Path | None = None, report: BuildReport | None = None) -> Handoff:
    """Copy the best file under the budgets, the float files and labels into `out_dir` (default
    RUN_DIR/handoff), and write the model card and the integration snippets filled in for them. The
    bundle is made in a temporary folder beside `out_dir` and renamed into place: whole or absent.
    `report`: the build's own (`build --handoff`); without it, the run folder's report.json."""
    run_dir = Path(run_dir)
    report = report or _read_report(run_dir)
    out_dir = Path(out_dir) if out_dir else RunFolder(run_dir).handoff_dir
    if out_dir.exists() and not (out_dir / CARD_FILE).is_file() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise VerificationError(f"--out {out_dir}: exists and is not an earlier handoff bundle; choose a new folder")
    handed, phone = _chosen(report)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_folder(out_dir.parent, f".{out_dir.name}.")
    try:
        written = _fill(run_dir, report, handed, phone, staging)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    handoff = _bundle(out_dir, handed, phone, run_dir)
    handoff.files = [out_dir / path.relative_to(staging) for path in written]
    return handoff


def _bundle(folder: Path, handed: list[HandedFile], phone: str, run_dir: Path) -> Handoff:
    web = next((f for f in handed if f.filename.endswith(".onnx")), None)
    metadata = read_metadata(run_dir / ALL_ARTIFACTS[phone].filename) or {}
    return Handoff(folder, handed, next(f for f in handed if f.name == phone), web, [], metadata)


def _fill(run_dir: Path, report: BuildReport, handed: list[HandedFile], phone: str, folder: Path) -> list[Path]:
    written = [_copy(run_dir / ALL_ARTIFACTS[f.name].filename, folder / f.filename) for f in handed]
    for f in handed:
        if f.filename.endswith(".onnx"):
            for companion in ort_paths(run_dir / ALL_ARTIFACTS[f.name].filename):
                if companion.is_file():
                    written.append(_copy(companion, folder / companion.name))
    run = RunFolder(run_dir)
    for shipped in (run.labels_path, run.recipe_path):
        written.append(_copy(shipped, folder / shipped.name))
    handoff = _bundle(folder, handed, phone, run_dir)
    written.append(write_text(folder / CARD_FILE, model_card(report, handoff)))
    return written + write_snippets(report, handoff, folder / SNIPPETS_DIR)


def _read_report(run_dir: Path) -> BuildReport:
    path = run_dir / REPORT_JSON
    if not path.is_file():
        raise VerificationError(f"{run_dir}: no {REPORT_JSON}; run `edgecnn build` (or `verify`) on it first")
    try:
        report = BuildReport.from_json(read_user_text(path, "report", VerificationError))
    except ValueError as exc:
        raise VerificationError(f"{path}: not a readable report ({exc})") from None
    if report.mode == "files":
        raise VerificationError(f"{path}: a report of `edgecnn verify FILE`; hand off a run folder from `edgecnn build`")
    return report


def _chosen(report: BuildReport) -> tuple[list[HandedFile], str]:
    """The best artifact under the budgets; the best `.tflite` MediaPipe loads under them (the phone's file,
    when the best is an ONNX file); then the float TFLite and ONNX files; without repeats."""
    best = report.best
    if best is None or not best.name:
        raise BudgetExceeded(f"no artifact meets verify.budgets ({best.reason if best else 'no report'}); "
                             "loosen the budgets or improve the model before handing it off")
    phone_rows = [row for row in report.artifacts if row.path.endswith(".tflite") and row.loads_in_mediapipe]
    phone = select_best(phone_rows, report.gate, best.objective).name
    if phone is None:
        raise VerificationError("no .tflite in this run both meets the budgets and loads in MediaPipe Tasks (see "
                                "report.md, Phone readiness); export tflite_int8 with export.int8_io uint8")
    rows = {row.name: row for row in report.artifacts}
    names = list(dict.fromkeys([best.name, phone, "tflite_float32", "onnx_float32"]))
    return [HandedFile(n, Path(ALL_ARTIFACTS[n].filename).name, rows[n]) for n in names if n in rows], phone


def _copy(source: Path, target: Path) -> Path:
    if not source.is_file():
        raise VerificationError(f"{source}: missing; rebuild the run folder")
    with atomic_path(target) as staged:
        shutil.copyfile(source, staged)
    return target
