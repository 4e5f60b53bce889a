"""Judging verified artifacts: the report record, the budget gate, the best artifact under the budgets
by the recipe's objective, the comparison with an earlier report, and the exit it enforces. No TensorFlow;
`edgecnn.report` renders what is decided here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgecnn import __version__
from edgecnn.errors import BudgetExceeded
from edgecnn.verify.baseline import compare
from edgecnn.verify.budgets import check_budgets
from edgecnn.verify.latency import machine
from edgecnn.verify.record import (
    REPORT_SCHEMA, ArtifactResult, Baseline, BestPick, BudgetCheck, BuildReport, DataSummary, Gate, Readiness,
    RecipeRecord, Timings,
)

if TYPE_CHECKING:  # annotations only: no import at run time
    from edgecnn.recipe import BudgetConfig, Recipe, VerifyConfig

_OBJECTIVES = {  # objective -> (sort key, what the report says)
    # Accuracy is what an app gets through MediaPipe Tasks where that was measured (`app_accuracy`).
    "gzip_bytes": (lambda a: (a.gzip_bytes, -(a.app_accuracy or 0)), "smallest gzip size"),
    "size_bytes": (lambda a: (a.size_bytes, -(a.app_accuracy or 0)), "smallest file"),
    "latency": (lambda a: (a.latency_ms.p50, -(a.app_accuracy or 0)), "lowest p50 latency"),
    "accuracy": (lambda a: (-(a.app_accuracy or 0), a.gzip_bytes), "highest accuracy"),
    # Deterministic figures of int8 .tflite files; files without them (float, ONNX) come last.
    "arena_bytes": (lambda a: (last_if_missing(a.arena_bytes), -(a.app_accuracy or 0)), "smallest TFLM arena"),
    "npu_cycles": (lambda a: (last_if_missing(a.npu_cycles), -(a.app_accuracy or 0)), "fewest NPU cycles (Vela)"),
}


def last_if_missing(value: float | None) -> float:
    """A sort key that puts a figure that was not measured after every measured one."""
    return float("inf") if value is None else value


def build_report(recipe: Recipe, dataset_summary: DataSummary, artifacts: list[ArtifactResult],
                 timings: Timings | None = None, float_accuracy: float | None = None) -> BuildReport:
    gated = recipe.verify.gate if recipe.verify.gate is not None else list(recipe.export.formats)
    return assemble_report(RecipeRecord.from_dict(recipe.to_dict()), recipe.fingerprint(), recipe.verify,
                           recipe.optimize.objective, gated, dataset_summary, artifacts, timings, float_accuracy)


def assemble_report(recipe_record: RecipeRecord, recipe_hash: str | None, settings: VerifyConfig, objective: str,
                    gated: list[str], dataset_summary: DataSummary, artifacts: list[ArtifactResult],
                    timings: Timings | None = None, float_accuracy: float | None = None) -> BuildReport:
    """The report of verified artifacts. `recipe_record` holds only what is known: file mode has no model."""
    for result in artifacts:
        known = result.accuracy is not None and float_accuracy is not None
        result.accuracy_change = round(result.accuracy - float_accuracy, 6) if known else None
    checks = gate(artifacts, settings.budgets, gated)
    return BuildReport(
        schema=REPORT_SCHEMA, edgecnn_version=__version__, recipe=recipe_record, recipe_hash=recipe_hash,
        data=dataset_summary, timings_s=timings or Timings(), float_accuracy=float_accuracy, machine=machine(),
        artifacts=artifacts, best=select_best(artifacts, checks, objective), gate=checks,
    )


def gate(results: list[ArtifactResult], budgets: BudgetConfig, gated: list[str]) -> Gate:
    return Gate(artifacts=gated, checks=[check.model_copy(update={"gated": result.name in gated})
                                         for result in results for check in check_budgets(result, budgets)])


def select_best(results: list[ArtifactResult], checks: Gate, objective: str) -> BestPick:
    """The best candidate by `objective` among those that missed none of the gate's checks (gated or not: a file
    that misses a budget is not within the budgets, whether or not its miss fails the run)."""
    key, meaning = _OBJECTIVES[objective]
    candidates = [result for result in results if result.runtime != "tensorflow"]
    failures = {result.name: [f"{c.budget}: {c.missed_text()}" for c in checks.checks
                              if c.artifact == result.name and not c.passed] for result in candidates}
    passing = [result for result in candidates if not failures[result.name]]
    counted = {"objective": objective, "candidates": len(candidates), "within_budgets": len(passing),
               "rejected": {name: reasons for name, reasons in failures.items() if reasons},
               "gated": [result.name for result in candidates if result.name in checks.artifacts]}
    if not passing:
        return BestPick(name=None, reason="no artifact meets the budgets", **counted)
    best = min(passing, key=key)
    return BestPick(name=best.name, reason=f"{meaning} of the {len(passing)} of {len(candidates)} artifacts within "
                    "the budgets", **counted, caveats=readiness_caveats(best.readiness or Readiness()))


def readiness_caveats(ready: Readiness) -> list[str]:
    """What keeps a file from running everywhere an app developer may put it (its readiness record), in a few
    words each."""
    caveats = []
    if ready.mediapipe and not ready.mediapipe.loads:
        caveats.append("MediaPipe Tasks refuses it")
    if ready.float_operators:
        caveats.append("float operators: " + ", ".join(ready.float_operators[:3]))
    if ready.gpu_delegate and ready.gpu_delegate.checked and not ready.gpu_delegate.compatible:
        caveats.append("not fully GPU-delegate compatible")
    for runtime, info in (ready.ort_mobile or {}).items():
        if info.as_is != "YES":
            fixed = f" (batch fixed: {info.fixed_shapes.lower()})" if info.fixed_shapes != info.as_is else ""
            caveats.append(f"ORT Mobile {runtime}: {info.as_is.lower()} as is{fixed}")
    if ready.error:
        caveats.append("readiness not checked")
    return caveats


def add_baseline(report: BuildReport, baseline: BuildReport, tolerance: float) -> BuildReport:
    """Compare with an earlier report; a regression of a gated artifact joins the gate's checks."""
    records = compare(report, baseline, tolerance)
    report.baseline = Baseline(tolerance=tolerance, edgecnn_version=baseline.edgecnn_version, comparisons=records)
    for record in records:
        limit = record.old * (1 + tolerance if record.metric != "accuracy" else 1 - tolerance)
        report.gate.checks.append(BudgetCheck(
            artifact=record.artifact, budget=f"baseline {record.metric} (tolerance {tolerance:.0%})",
            measured=record.new, limit=limit, passed=not record.regressed,
            gated=record.artifact in report.gate.artifacts, inconclusive=False))
    return judge_best_again(report)


def judge_best_again(report: BuildReport) -> BuildReport:
    """The best pick after checks joined the gate (A/B latency, baseline): a file that missed one of them is no
    longer within the budgets."""
    report.best = select_best(report.artifacts, report.gate, report.best.objective)
    return report


def gate_passed(report: BuildReport) -> bool:
    """Whether every gated artifact met every budget."""
    return report.gate.passed


def enforce_gate(report: BuildReport) -> None:
    """Raise BudgetExceeded (exit 1) naming every budget a gated artifact missed."""
    missed = report.gate.missed_checks
    if missed:
        lines = [f"{c.artifact}: {c.budget}: {c.missed_text()}" for c in missed]
        raise BudgetExceeded(f"{len(missed)} budget(s) missed: " + "; ".join(lines))
