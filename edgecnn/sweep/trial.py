"""One sweep trial, run by Ray in a worker process: an incremental build of the base recipe with the
trial's values into its own run folder; validation accuracy reported after each epoch (for early
stopping), then the trial's result. A finished trial's `trial.json` makes a resumed sweep skip it."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from edgecnn.fileio import write_json
from edgecnn.incremental.build import build
from edgecnn.incremental.cache import StageCache
from edgecnn.pipeline import KERAS_ROW, verified_names
from edgecnn.recipe import validate_recipe
from edgecnn.run import RunFolder
from edgecnn.runlock import run_lock
from edgecnn.sweep.space import apply, decode, describe, slug
from edgecnn.sweep.results import TrialRow
from edgecnn.verify.record import BuildReport

RESULT_FILE = "trial.json"
NOT_FINISHED = 2e12  # the score an epoch's report carries: worse than any finished trial's
TRIALS_DIR = "trials"


def trial_folder(out: Path, overrides: dict) -> Path:
    return Path(out) / TRIALS_DIR / slug(overrides)


def run_trial(config: dict, context: dict) -> None:
    """Ray Tune's function trainable. `context`: the base raw recipe, the sweep's folder, cache, early stop."""
    from ray import tune  # lazy: Ray, in the worker

    overrides = decode(config)
    folder = trial_folder(Path(context["out"]), overrides)
    finished = folder / RESULT_FILE
    if finished.is_file():  # a resumed sweep: this trial is done
        tune.report({**json.loads(finished.read_text(encoding="utf-8")), "resumed": True})
        return
    recipe = validate_recipe(apply(context["recipe"], overrides), source=f"sweep trial {describe(overrides)}")

    def report_epoch(epoch: int, logs: dict) -> None:
        tune.report({"val_accuracy": float(logs.get("val_accuracy", 0.0)), "epoch": epoch + 1,
                     "score": NOT_FINISHED})

    start, started_at = time.perf_counter(), time.time()
    cache = StageCache(Path(context["cache"])) if context.get("cache") else None
    with run_lock(folder):
        report = build(recipe, folder, show_progress=False, cache=cache,
                       on_epoch=report_epoch if context.get("early_stop") else None)
    result = trial_result(report, overrides, folder, context["objective"])
    # Wall-clock start and end (Unix seconds): when trials overlapped, on which node.
    result.update(seconds=round(time.perf_counter() - start, 2), started_at=round(started_at, 2),
                  finished_at=round(time.time(), 2), pid=os.getpid(), **_placement())
    write_json(finished, result)
    tune.report(result)


def remeasure_trial(row: TrialRow, base: dict, objective: str) -> TrialRow:
    """The finished trial's row with its files' latency measured again, here and alone: trials that ran side
    by side measured while others trained beside them. Accuracy is measured again too (the same figures)."""
    overrides, folder = row.overrides, Path(row.folder)
    recipe = validate_recipe(apply(base, overrides), source=f"sweep trial {describe(overrides)}")
    stages = [f"verify:{name}" for name in verified_names(recipe) if name != KERAS_ROW]
    with run_lock(folder):
        report = build(recipe, folder, show_progress=False, force=stages)
    return row.model_copy(update={**trial_result(report, overrides, folder, objective), "remeasured": True})


def trial_result(report: BuildReport, overrides: dict, folder: Path, objective: str) -> dict:
    """The trial's row of the sweep: the figures of its best artifact within the budgets (the report's pick), else
    of its most accurate file, marked as missing the budgets; `score` is what the search minimizes."""
    rows = [row for row in report.artifacts if row.name != KERAS_ROW]
    pick = report.best_name
    row = report.row(pick) if pick else max(rows, key=lambda r: r.accuracy or 0.0)
    history = json.loads(RunFolder(folder).history_path.read_text(encoding="utf-8"))
    result = {"overrides": overrides, "folder": str(folder), "artifact": row.name,
              "within_budgets": pick is not None, "accuracy": row.accuracy, "p50_ms": row.latency_ms.p50,
              "gzip_bytes": row.gzip_bytes, "size_bytes": row.size_bytes, "arena_bytes": row.arena_bytes,
              "npu_cycles": row.npu_cycles, "npu_ms": row.mcu.npu[0].ms if row.npu_cycles is not None else None,
              "float_accuracy": report.float_accuracy, "val_accuracy": max(history.get("val_accuracy") or [0.0])}
    value = {"accuracy": -(row.accuracy or 0.0), "latency": row.latency_ms.p50, "gzip_bytes": row.gzip_bytes,
             "arena_bytes": row.arena_bytes, "npu_cycles": row.npu_cycles}[objective]
    if value is None:  # not measured for this file (not an int8 .tflite): after every trial that has it
        value = 1e11
    result["score"] = value if pick else 1e12 + value  # any trial within the budgets beats every trial without
    return result


def _placement() -> dict:
    """Where the trial ran: the Ray node's id and address (two nodes on one machine share the address)."""
    import ray  # lazy: Ray, in the worker

    return {"node_id": ray.get_runtime_context().get_node_id(), "node_ip": ray.util.get_node_ip_address()}
