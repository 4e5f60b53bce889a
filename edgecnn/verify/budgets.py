"""Budgets: each limit checked against an artifact's result, as one pass/fail record per budget, and the
gate they make. No TensorFlow here. A missed budget on a gated artifact makes the command exit 1 (BudgetExceeded).
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
    gated: bool = False  # a missed gated check fails the run (exit 1); others are reported only
    inconclusive: bool = False  # an A/B latency check whose interval straddles the limit: neither pass nor fail

    def missed_text(self) -> str:
        measured = "not measured" if self.measured is None else f"{self.measured:.4g}"
        return f"measured {measured}, limit {self.limit:.4g}"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Gate:
    """Every budget check of every artifact; the run passes when no gated artifact misses one."""

    artifacts: list[str]  # the gated artifacts
    checks: list[BudgetCheck]

    @property
    def missed(self) -> list[BudgetCheck]:
        return [check for check in self.checks if check.gated and not check.passed]

    def to_dict(self) -> dict:
        return {"artifacts": self.artifacts, "passed": not self.missed, "checks": [c.to_dict() for c in self.checks],
                "missed": len(self.missed)}

    @classmethod
    def from_dict(cls, record: dict) -> Gate:
        return cls(list(record.get("artifacts", [])), [BudgetCheck(**check) for check in record.get("checks", [])])



def check_budgets(result, budgets: dict) -> list[BudgetCheck]:
    """Every budget that is set, checked on `result` (an `ArtifactResult`)."""
    drop = None if result.accuracy_change is None else -result.accuracy_change
    simple = [
        ("min_accuracy", result.accuracy, "min"),
        ("max_accuracy_drop", drop, "max"),
        ("min_agreement", result.agreement, "min"),
        ("max_size_bytes", result.size_bytes, "max"),
        ("max_gzip_bytes", result.gzip_bytes, "max"),
        ("max_app_gap", (result.extra.get("app") or {}).get("gap"), "max"),
    ]
    checks = [_check(result.name, key, value, budgets.get(key), kind) for key, value, kind in simple]
    for timing in result.latencies:
        where = f"threads={timing['threads']}"
        checks.append(_check(result.name, f"max_latency_p50_ms ({where})", timing["p50"],
                             budgets.get("max_latency_p50_ms"), "max"))
        checks.append(_check(result.name, f"max_latency_p90_ms ({where})", timing["p90"],
                             budgets.get("max_latency_p90_ms"), "max"))
        for limit in budgets.get("latency") or []:
            if limit.get("runtime") not in (None, result.runtime) or limit.get("threads") not in (None, timing["threads"]):
                continue
            for key in ("max_p50_ms", "max_p90_ms"):
                checks.append(_check(result.name, f"latency {result.runtime} {where} {key}",
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
