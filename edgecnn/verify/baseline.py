"""Regression against an earlier report: latency or size that grew, or accuracy that fell, beyond a
relative tolerance fails like a missed budget."""

from __future__ import annotations

import json
from pathlib import Path

from edgecnn.errors import RecipeError
from edgecnn.fileio import read_user_text
from edgecnn.verify.record import REPORT_SCHEMA, ArtifactResult, BaselineComparison, BuildReport

# metric -> (how to read it from a row, True when bigger is worse)
_METRICS = {
    "latency_p50_ms": (lambda row: row.latency_ms.p50, True),
    "size_bytes": (lambda row: row.size_bytes, True),
    "gzip_bytes": (lambda row: row.gzip_bytes, True),
    "accuracy": (lambda row: row.accuracy, False),
}


def parse_tolerance(text: str) -> float:
    """'10%' or '0.1' -> 0.1."""
    return parse_fraction(text, "--tolerance", "10%")


def parse_fraction(text: str, flag: str, example: str) -> float:
    """A relative amount given as a percentage ('5%') or a fraction ('0.05'), 0 to 1000%."""
    try:
        value = float(text[:-1]) / 100 if text.strip().endswith("%") else float(text)
    except ValueError:
        fraction = f"{float(example[:-1]) / 100:g}"
        raise RecipeError(f"{flag} {text!r}: expected a percentage like {example} or a fraction like {fraction}") from None
    if not 0 <= value < 10:
        raise RecipeError(f"{flag} {text!r}: must be between 0% and 1000%")
    return value


def load_baseline(path: Path) -> BuildReport:
    path = Path(path)
    text = read_user_text(path, "file", RecipeError, shown=f"--baseline {path}")
    try:
        record = json.loads(text)
    except json.JSONDecodeError:
        raise RecipeError(f"--baseline {path}: not JSON; expected a report.json written by edgecnn") from None
    schema = record.get("schema") if isinstance(record, dict) else None  # the one key read before the type
    if schema != REPORT_SCHEMA:
        raise RecipeError(f"--baseline {path}: schema {schema!r}; expected {REPORT_SCHEMA!r}")
    try:
        return BuildReport.from_json(text)
    except ValueError as exc:
        raise RecipeError(f"--baseline {path}: {exc}; expected a report.json written by edgecnn") from None


def compare(report: BuildReport, baseline: BuildReport, tolerance: float) -> list[BaselineComparison]:
    """One record per artifact present in both and metric measured in both: old, new, change, regressed."""
    old_rows: dict[str, ArtifactResult] = {row.name: row for row in baseline.artifacts}
    records = []
    for row in report.artifacts:
        old = old_rows.get(row.name)
        if old is None:
            continue
        for metric, (read, bigger_is_worse) in _METRICS.items():
            before, after = read(old), read(row)
            if before is None or after is None:
                continue
            change = (after - before) / before if before else 0.0
            worse = change > tolerance if bigger_is_worse else change < -tolerance
            records.append(BaselineComparison(artifact=row.name, metric=metric, old=before, new=after,
                                              change=round(change, 4), tolerance=tolerance, regressed=bool(worse)))
    return records
