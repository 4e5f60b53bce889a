"""Budgets: each limit checked against an artifact's result, as one pass/fail record per budget, and the
gate they make. No TensorFlow here. A missed budget on a gated artifact makes the command exit 1 (BudgetExceeded).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgecnn.verify.record import ArtifactResult, BudgetCheck

if TYPE_CHECKING:  # annotations only: no import at run time
    from edgecnn.recipe import BudgetConfig

__all__ = ["check_budgets"]


def check_budgets(result: ArtifactResult, budgets: BudgetConfig) -> list[BudgetCheck]:
    """Every budget that is set, checked on `result`."""
    drop = None if result.accuracy_change is None else -result.accuracy_change
    simple = [
        ("min_accuracy", result.accuracy, "min"),
        ("max_accuracy_drop", drop, "max"),
        ("min_agreement", result.agreement, "min"),
        ("max_size_bytes", result.size_bytes, "max"),
        ("max_gzip_bytes", result.gzip_bytes, "max"),
        ("max_app_gap", result.app.gap if result.app else None, "max"),
    ]
    checks = [_check(result.name, key, value, getattr(budgets, key), kind) for key, value, kind in simple]
    for timing in result.latencies:
        where = f"threads={timing.threads}"
        checks.append(_check(result.name, f"max_latency_p50_ms ({where})", timing.p50,
                             budgets.max_latency_p50_ms, "max"))
        checks.append(_check(result.name, f"max_latency_p90_ms ({where})", timing.p90,
                             budgets.max_latency_p90_ms, "max"))
        for limit in budgets.latency:
            if limit.runtime not in (None, result.runtime) or limit.threads not in (None, timing.threads):
                continue
            for key in ("max_p50_ms", "max_p90_ms"):
                checks.append(_check(result.name, f"latency {result.runtime} {where} {key}",
                                     getattr(timing, key.split("_")[1]), getattr(limit, key), "max"))
    checks += _mcu_checks(result, budgets)
    return [check for check in checks if check is not None]


def _mcu_checks(result: ArtifactResult, budgets: BudgetConfig) -> list[BudgetCheck | None]:
    """Arena and flash of a file TensorFlow Lite Micro ran (one it refused misses the arena budget: it has no
    arena), and Vela's time on each NPU."""
    if result.mcu is None:
        return []
    checks = []
    tflm = result.mcu.tflm
    if tflm is not None:
        if budgets.max_arena_kib is not None and not tflm.runs:
            checks.append(BudgetCheck(artifact=result.name, budget="max_arena_kib", measured=None,
                                      limit=float(budgets.max_arena_kib), passed=False))
        else:
            arena = None if tflm.arena_bytes is None else tflm.arena_bytes / 1024
            checks.append(_check(result.name, "max_arena_kib", arena, budgets.max_arena_kib, "max"))
        checks.append(_check(result.name, "max_flash_kib", tflm.flash_bytes / 1024, budgets.max_flash_kib, "max"))
    for npu in result.mcu.npu:
        checks.append(_check(result.name, f"max_npu_ms ({npu.npu})", npu.ms, budgets.max_npu_ms, "max"))
    return checks


def _check(artifact: str, budget: str, measured, limit, kind: str) -> BudgetCheck | None:
    if limit is None:
        return None
    if measured is None:  # not measurable here (no labels or no float reference); the CLI refuses such limits
        return None
    passed = measured >= limit if kind == "min" else measured <= limit + 1e-12
    # + 0.0 turns a drop of -0.0 (no change) into 0.0, which reports print as 0, not -0
    return BudgetCheck(artifact=artifact, budget=budget, measured=float(measured) + 0.0, limit=float(limit) + 0.0,
                       passed=passed, gated=False, inconclusive=False)
