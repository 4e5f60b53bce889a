"""Judging verified artifacts: the report record, the budget gate, the best artifact under the budgets
by the recipe's objective, the comparison with an earlier report, and the exit it enforces. No TensorFlow;
`edgecnn.report` renders what is decided here."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING

from edgecnn import __version__
from edgecnn.errors import BudgetExceeded
from edgecnn.verify import ArtifactResult
from edgecnn.verify.baseline import REPORT_SCHEMA, compare
from edgecnn.verify.budgets import BudgetCheck, Gate, check_budgets
from edgecnn.verify.latency import machine

if TYPE_CHECKING:  # annotations only: no import at run time
    from edgecnn.recipe import Recipe, VerifyConfig

_OBJECTIVES = {  # objective -> (sort key, what the report says)
    # Accuracy is what an app gets through MediaPipe Tasks where that was measured (`app_accuracy`).
    "gzip_bytes": (lambda a: (a.gzip_bytes, -(a.app_accuracy or 0)), "smallest gzip size"),
    "size_bytes": (lambda a: (a.size_bytes, -(a.app_accuracy or 0)), "smallest file"),
    "latency": (lambda a: (a.latency_ms["p50"], -(a.app_accuracy or 0)), "lowest p50 latency"),
    "accuracy": (lambda a: (-(a.app_accuracy or 0), a.gzip_bytes), "highest accuracy"),
}


@dataclass
class BestPick:
    """The shippable artifact (not the Keras reference) that best meets the objective within the budgets."""

    name: str | None
    objective: str
    reason: str
    rejected: dict[str, list[str]]  # artifact -> the budgets it missed (A/B and baseline checks included)
    candidates: int
    within_budgets: int
    gated: list[str]  # the candidates whose missed budget fails the run; the others are compared only
    caveats: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        record = asdict(self)
        if self.name is None:
            record.pop("caveats")
        return record


def build_report(recipe: Recipe, dataset_summary: dict, artifacts: list[ArtifactResult], timings: dict | None = None,
                 float_accuracy: float | None = None) -> dict:
    gated = recipe.verify.gate if recipe.verify.gate is not None else list(recipe.export.formats)
    return assemble_report(recipe.to_dict(), recipe.fingerprint(), recipe.verify, recipe.optimize.objective, gated,
                           dataset_summary, artifacts, timings, float_accuracy)


def assemble_report(recipe_record: dict, recipe_hash: str | None, settings: VerifyConfig, objective: str,
                    gated: list[str], dataset_summary: dict, artifacts: list[ArtifactResult],
                    timings: dict | None = None, float_accuracy: float | None = None) -> dict:
    """The report of verified artifacts. `recipe_record` holds only what is known: file mode has no model."""
    for result in artifacts:
        known = result.accuracy is not None and float_accuracy is not None
        result.accuracy_change = round(result.accuracy - float_accuracy, 6) if known else None
    budgets = settings.budgets.model_dump()
    checks = gate(artifacts, budgets, gated)
    return {
        "schema": REPORT_SCHEMA,
        "edgecnn_version": __version__,
        "recipe": recipe_record,
        "recipe_hash": recipe_hash,
        "data": dataset_summary,
        "timings_s": timings or {},
        "float_accuracy": float_accuracy,
        "machine": machine(),
        "artifacts": [result.to_dict() for result in artifacts],
        "best": select_best(artifacts, checks, objective).to_dict(),
        "gate": checks.to_dict(),
    }


def gate(results: list[ArtifactResult], budgets: dict, gated: list[str]) -> Gate:
    return Gate(gated, [replace(check, gated=result.name in gated) for result in results
                        for check in check_budgets(result, budgets)])


def select_best(results: list[ArtifactResult], checks: Gate, objective: str) -> BestPick:
    """The best candidate by `objective` among those that missed none of the gate's checks (gated or not: a file
    that misses a budget is not within the budgets, whether or not its miss fails the run)."""
    key, meaning = _OBJECTIVES[objective]
    candidates = [result for result in results if result.runtime != "tensorflow"]
    failures = {result.name: [f"{c.budget}: {c.missed_text()}" for c in checks.checks
                              if c.artifact == result.name and not c.passed] for result in candidates}
    passing = [result for result in candidates if not failures[result.name]]
    rejected = {name: reasons for name, reasons in failures.items() if reasons}
    counted = {"candidates": len(candidates), "within_budgets": len(passing),
               "gated": [result.name for result in candidates if result.name in checks.artifacts]}
    if not passing:
        return BestPick(None, objective, "no artifact meets the budgets", rejected, **counted)
    best = min(passing, key=key)
    return BestPick(best.name, objective, f"{meaning} of the {len(passing)} of {len(candidates)} artifacts within "
                    "the budgets", rejected, **counted, caveats=readiness_caveats(best.extra.get("readiness") or {}))


def readiness_caveats(ready: dict) -> list[str]:
    """What keeps a file from running everywhere an app developer may put it (its readiness record), in a few
    words each."""
    caveats = []
    if "mediapipe" in ready and not ready["mediapipe"]["loads"]:
        caveats.append("MediaPipe Tasks refuses it")
    if ready.get("float_operators"):
        caveats.append("float operators: " + ", ".join(ready["float_operators"][:3]))
    gpu = ready.get("gpu_delegate") or {}
    if gpu.get("checked") and not gpu.get("compatible"):
        caveats.append("not fully GPU-delegate compatible")
    for runtime, info in (ready.get("ort_mobile") or {}).items():
        if info["as_is"] != "YES":
            caveats.append(f"ORT Mobile {runtime}: {info['as_is'].lower()} as is"
                           + (f" (batch fixed: {info['fixed_shapes'].lower()})" if info["fixed_shapes"] != info["as_is"] else ""))
    if "error" in ready:
        caveats.append("readiness not checked")
    return caveats


def add_baseline(report: dict, baseline: dict, tolerance: float) -> dict:
    """Compare with an earlier report; a regression of a gated artifact joins the gate's checks."""
    records = compare(report, baseline, tolerance)
    checks = Gate.from_dict(report["gate"])
    report["baseline"] = {"tolerance": tolerance, "edgecnn_version": baseline.get("edgecnn_version"),
                          "comparisons": records}
    for record in records:
        limit = record["old"] * (1 + tolerance if record["metric"] != "accuracy" else 1 - tolerance)
        checks.checks.append(BudgetCheck(record["artifact"], f"baseline {record['metric']} (tolerance {tolerance:.0%})",
                                         record["new"], limit, not record["regressed"],
                                         record["artifact"] in checks.artifacts))
    report["gate"] = checks.to_dict()
    return judge_best_again(report)


def judge_best_again(report: dict) -> dict:
    """The best pick after checks joined the gate (A/B latency, baseline): a file that missed one of them is no
    longer within the budgets."""
    results = [ArtifactResult.from_dict(row) for row in report["artifacts"]]
    report["best"] = select_best(results, Gate.from_dict(report["gate"]), report["best"]["objective"]).to_dict()
    return report


def _missed(report: dict) -> list:
    return Gate.from_dict(report.get("gate") or {}).missed


def gate_passed(report: dict) -> bool:
    """Whether every gated artifact met every budget."""
    return not _missed(report)


def enforce_gate(report: dict) -> None:
    """Raise BudgetExceeded (exit 1) naming every budget a gated artifact missed."""
    missed = _missed(report)
    if missed:
        lines = [f"{c.artifact}: {c.budget}: {c.missed_text()}" for c in missed]
        raise BudgetExceeded(f"{len(missed)} budget(s) missed: " + "; ".join(lines))
