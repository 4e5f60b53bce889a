"""`edgecnn handoff RUN_DIR`: what an app developer needs, in one folder.

    handoff/
      <best file under the budgets>      e.g. model_int8.tflite (or an optimized variant)
      model_float32.tflite                the float file, to compare against
      model_float32.onnx / .ort           for ONNX Runtime (web, Node, Mobile), with its operator config
      labels.txt  MODEL_CARD.md
      snippets/   classify_android.kt  classify_ios.swift  classify_node.mjs  package.json  classify.py

Reads only the run folder (report.json, recipe.yaml and the files): no TensorFlow.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from edgecnn.errors import BudgetExceeded, VerificationError
from edgecnn.export.formats import ALL_ARTIFACTS
from edgecnn.fileio import atomic_path, write_text

HANDOFF_DIR = "handoff"
CARD_FILE = "MODEL_CARD.md"
SNIPPETS_DIR = "snippets"


@dataclass
class HandedFile:
    name: str  # the report row
    filename: str  # as written in the bundle
    row: dict


@dataclass
class Handoff:
    folder: Path
    handed: list[HandedFile]  # the best file first
    phone: HandedFile  # the .tflite phone SDKs load
    web: HandedFile | None  # the .onnx for ONNX Runtime
    files: list[Path]


def write_handoff(run_dir: Path, out_dir: Path | None = None) -> Handoff:
    """Copy the best file under the budgets, the float files and labels into `out_dir` (default
    RUN_DIR/handoff), and write the model card and the integration snippets filled in for them."""
    from edgecnn.handoff.card import model_card
    from edgecnn.handoff.snippets import write_snippets

    run_dir = Path(run_dir)
    report = _read_report(run_dir)
    out_dir = Path(out_dir) if out_dir else run_dir / HANDOFF_DIR
    if out_dir.exists() and not out_dir.is_dir():
        raise VerificationError(f"--out {out_dir}: exists and is not a folder")
    handed = _chosen(report)
    phone = next(f for f in handed if f.filename.endswith(".tflite") and _loads_in_mediapipe(f.row))
    web = next((f for f in handed if f.filename.endswith(".onnx")), None)
    written = [_copy(run_dir / ALL_ARTIFACTS[f.name].filename, out_dir / f.filename) for f in handed]
    for f in handed:
        companions = [run_dir / ALL_ARTIFACTS[f.name].filename.replace(".onnx", suffix)
                      for suffix in (".ort", ".required_operators.config")] if f.filename.endswith(".onnx") else []
        written += [_copy(c, out_dir / c.name) for c in companions if c.is_file()]
    written.append(_copy(run_dir / "labels.txt", out_dir / "labels.txt"))
    handoff = Handoff(out_dir, handed, phone, web, written)
    written.append(write_text(out_dir / CARD_FILE, model_card(report, handoff, run_dir)))
    written += write_snippets(report, handoff, out_dir / SNIPPETS_DIR)
    return handoff


def _read_report(run_dir: Path) -> dict:
    path = run_dir / "report.json"
    if not path.is_file():
        raise VerificationError(f"{run_dir}: no report.json; run `edgecnn build` (or `verify`) on it first")
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VerificationError(f"{path}: not a readable report ({exc})") from None
    if report.get("mode") == "files":
        raise VerificationError(f"{path}: a report of `edgecnn verify FILE`; hand off a run folder from `edgecnn build`")
    return report


def _chosen(report: dict) -> list[HandedFile]:
    """The best artifact under the budgets, then the float TFLite and ONNX files, without repeats."""
    best = report.get("best") or {}
    if not best.get("name"):
        raise BudgetExceeded(f"no artifact meets verify.budgets ({best.get('reason', 'no report')}); "
                             "loosen the budgets or improve the model before handing it off")
    rows = {row["name"]: row for row in report["artifacts"]}
    names = list(dict.fromkeys([best["name"], "tflite_float32", "onnx_float32"]))
    chosen = [HandedFile(n, Path(ALL_ARTIFACTS[n].filename).name, rows[n]) for n in names if n in rows]
    if not any(f.filename.endswith(".tflite") and _loads_in_mediapipe(f.row) for f in chosen):
        raise VerificationError("no .tflite in this run loads in MediaPipe Tasks (see report.md, Phone readiness); "
                                "export tflite_float32 or tflite_int8 with export.int8_io uint8")
    return chosen


def _loads_in_mediapipe(row: dict) -> bool:
    return bool(((row.get("readiness") or {}).get("mediapipe") or {}).get("loads"))


def _copy(source: Path, target: Path) -> Path:
    if not source.is_file():
        raise VerificationError(f"{source}: missing; rebuild the run folder")
    with atomic_path(target) as staged:
        shutil.copyfile(source, staged)
    return target
