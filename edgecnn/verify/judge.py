"""Judging verified artifacts: the report record, the budget gate, the best artifact under the budgets
by the recipe's objective, the comparison with an earlier report, and the exit it enforces. No TensorFlow;
`edgecnn.report` renders what is decided here."""

from __future__ import annotations

from edgecnn import __version__
from edgecnn.errors import BudgetExceeded
from edgecnn.verify.baseline import REPORT_SCHEMA, compare
from edgecnn.verify.budgets import check_budgets
from edgecnn.verify.latency import machine


_OBJECTIVES = {  # objective -> (sort key, what the report says)
    "gzip_bytes": (lambda a: (a["gzip_bytes"], -(a["accuracy"] or 0)), "smallest gzip size"),
    "size_bytes": (lambda a: (a["size_bytes"], -(a["accuracy"] or 0)), "smallest file"),
    "latency": (lambda a: (a["latency_ms"]["p50"], -(a["accuracy"] or 0)), "lowest p50 latency"),
    "accuracy": (lambda a: (-(a["accuracy"] or 0), a["gzip_bytes"]), "highest accuracy"),
}


def build_report(recipe, dataset_summary: dict, artifacts: list, timings: dict | None = None,
                 float_accuracy: float | None = None) -> dict:
    gated = recipe.verify.gate if recipe.verify.gate is not None else list(recipe.export.formats)
    return assemble_report(recipe.to_dict(), recipe.fingerprint(), recipe.verify, recipe.optimize.objective, gated,
                           dataset_summary, artifacts, timings, float_accuracy)


def assemble_report(recipe_record: dict, recipe_hash: str | None, settings, objective: str, gated: list[str],
                    dataset_summary: dict, artifacts: list, timings: dict | None = None,
                    float_accuracy: float | None = None) -> dict:
    """The report of verified artifacts. `recipe_record` holds only what is known: file mode has no model."""
    rows = [artifact.to_dict() for artifact in artifacts]
    for row in rows:
        known = row["accuracy"] is not None and float_accuracy is not None
        row["accuracy_change"] = round(row["accuracy"] - float_accuracy, 6) if known else None
    budgets = settings.budgets.model_dump()
    return {
        "schema": REPORT_SCHEMA,
        "edgecnn_version": __version__,
        "recipe": recipe_record,
        "recipe_hash": recipe_hash,
        "data": dataset_summary,
        "timings_s": timings or {},
        "float_accuracy": float_accuracy,
        "machine": machine(),
        "artifacts": rows,
        "best": select_best(rows, budgets, objective, gated),
        "gate": gate(rows, budgets, gated),
    }


def gate(rows: list[dict], budgets: dict, gated: list[str]) -> dict:
    """Every budget check of every artifact; the run passes when no gated artifact misses one."""
    checks = [check.to_dict() | {"gated": row["name"] in gated} for row in rows for check in check_budgets(row, budgets)]
    missed = [c for c in checks if c["gated"] and not c["passed"]]
    return {"artifacts": gated, "passed": not missed, "checks": checks, "missed": len(missed)}


def select_best(rows: list[dict], budgets: dict, objective: str, gated: list[str] | None = None) -> dict:
    """The shippable artifact (not the Keras reference) that best meets `objective` within the budgets."""
    key, meaning = _OBJECTIVES[objective]
    candidates = [row for row in rows if row["runtime"] != "tensorflow"]
    failures = {row["name"]: [f"{c.budget}: {c.missed_text()}" for c in check_budgets(row, budgets) if not c.passed] for row in candidates}
    passing = [row for row in candidates if not failures[row["name"]]]
    rejected = {name: reasons for name, reasons in failures.items() if reasons}
    counted = {"candidates": len(candidates), "within_budgets": len(passing),
               "gated": len([row for row in candidates if row["name"] in (gated or [])])}
    if not passing:
        return {"name": None, "objective": objective, "reason": "no artifact meets the budgets", "rejected": rejected,
                **counted}
    best = min(passing, key=key)
    return {"name": best["name"], "objective": objective, "reason": f"{meaning} of the {len(passing)} of "
            f"{len(candidates)} artifacts within the budgets", "rejected": rejected, **counted,
            "caveats": readiness_caveats(best)}


def readiness_caveats(row: dict) -> list[str]:
    """What keeps a file from running everywhere an app developer may put it, in a few words each."""
    ready = row.get("readiness") or {}
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
    gated = set(report["gate"]["artifacts"])
    report["baseline"] = {"tolerance": tolerance, "edgecnn_version": baseline.get("edgecnn_version"),
                          "comparisons": records}
    for record in records:
        limit = record["old"] * (1 + tolerance if record["metric"] != "accuracy" else 1 - tolerance)
        report["gate"]["checks"].append({
            "artifact": record["artifact"], "budget": f"baseline {record['metric']} (tolerance {tolerance:.0%})",
            "measured": record["new"], "limit": limit, "passed": not record["regressed"],
            "gated": record["artifact"] in gated,
        })
    missed = [c for c in report["gate"]["checks"] if c["gated"] and not c["passed"]]
    report["gate"].update(passed=not missed, missed=len(missed))
    return report


def enforce_gate(report: dict) -> None:
    """Raise BudgetExceeded (exit 1) naming every budget a gated artifact missed."""
    missed = [c for c in (report.get("gate") or {}).get("checks", []) if c["gated"] and not c["passed"]]
    if missed:
        lines = [f"{c['artifact']}: {c['budget']}: measured {c['measured']:.4g}, limit {c['limit']:.4g}" for c in missed]
        raise BudgetExceeded(f"{len(missed)} budget(s) missed: " + "; ".join(lines))
