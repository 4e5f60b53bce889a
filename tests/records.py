"""Typed report parts with every required field filled, for tests that judge or render a few chosen figures."""

from __future__ import annotations

from edgecnn.verify.record import REPORT_SCHEMA, ArtifactResult, BuildReport, DataSummary, RecipeRecord


def result_row(name: str, **fields) -> ArtifactResult:
    """A verified file's row: a 10-byte LiteRT file at 1 ms unless `fields` say otherwise."""
    defaults = {"path": f"{name}.tflite", "format": "tflite", "precision": "int8", "runtime": "litert",
                "size_bytes": 10, "gzip_bytes": 10, "accuracy": None, "agreement": None, "max_abs_diff": None,
                "latency_ms": {"p50": 1.0, "p90": 1.1}, "threads": 1, "input_dtype": "uint8"}
    return ArtifactResult.model_validate({"name": name, **defaults, **fields})


def build_report(rows: list[ArtifactResult], name: str = "r", **fields) -> BuildReport:
    """A report of `rows` for recipe `name`; other parts from `fields`."""
    return BuildReport.model_validate({"schema": REPORT_SCHEMA, "edgecnn_version": "test",
                                       "recipe": RecipeRecord(name=name), "data": DataSummary(), "artifacts": rows,
                                       **fields})
