"""Budgets: each limit checked against an artifact's report row, as one pass/fail record per budget.

No TensorFlow here. A missed budget on a gated artifact makes the command exit 1 (BudgetExceeded).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class BudgetCheck:
    artifact: str
    budget: str  # e.g. "max_accuracy_drop" or "latency litert threads=1 max_p50_ms"
    measured: float | None
    limit: float
    passed: bool

    def missed_text(self) -> str:
        measured = "not measured" if self.measured is None else f"{self.measured:.4g}"
        return f"measured {measured}, limit {self.limit:.4g}"

    def to_dict(self) -> dict:
        return asdict(self)


def check_budgets(row: dict, budgets: dict) -> list[BudgetCheck]:
    """Every budget that is set, checked on `row` (a report artifact row)."""
    drop = None if row.get("accuracy_change") is None else -row["accuracy_change"]
    simple = [
        ("min_accuracy", row.get("accuracy"), "min"),
        ("max_accuracy_drop", drop, "max"),
        ("min_agreement", row.get("agreement"), "min"),
        ("max_size_bytes", row.get("size_bytes"), "max"),
        ("max_gzip_bytes", row.get("gzip_bytes"), "max"),
    ]
    checks = [_check(row["name"], key, value, budgets.get(key), kind) for key, value, kind in simple]
    for timing in row.get("latency") or [{"threads": row.get("threads"), **row["latency_ms"]}]:
        where = f"threads={timing['threads']}"
        checks.append(_check(row["name"], f"max_latency_p50_ms ({where})", timing["p50"],
                             budgets.get("max_latency_p50_ms"), "max"))
        checks.append(_check(row["name"], f"max_latency_p90_ms ({where})", timing["p90"],
                             budgets.get("max_latency_p90_ms"), "max"))
        for limit in budgets.get("latency") or []:
            if limit.get("runtime") not in (None, row["runtime"]) or limit.get("threads") not in (None, timing["threads"]):
                continue
            for key in ("max_p50_ms", "max_p90_ms"):
                checks.append(_check(row["name"], f"latency {row['runtime']} {where} {key}",
                                     timing[key.split("_")[1]], limit.get(key), "max"))
    return [check for check in checks if check is not None]


def _check(artifact: str, budget: str, measured, limit, kind: str) -> BudgetCheck | None:
    if limit is None:
        return None
    if measured is None:  # not measurable here (no labels or no float reference); the CLI refuses such limits
        return None
    passed = measured >= limit if kind == "min" else measured <= limit + 1e-12
    # + 0.0 turns a drop of -0.0 (no change) into 0.0, which reports print as 0, not -0
    return BudgetCheck(artifact, budget, float(measured) + 0.0, float(limit) + 0.0, passed)
