"""The build report: a table on the terminal, `report.json` for machines, `report.md` for people."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from edgecnn.console import console
from edgecnn.fileio import write_json, write_text

REPORT_SCHEMA = "edgecnn.report/1"
REPORT_JSON = "report.json"
REPORT_MD = "report.md"


def build_report(recipe, dataset_summary: dict, artifacts: list, timings: dict | None = None) -> dict:
    from edgecnn import __version__

    return {
        "schema": REPORT_SCHEMA,
        "edgecnn_version": __version__,
        "recipe": recipe.to_dict(),
        "recipe_hash": recipe.fingerprint(),
        "data": dataset_summary,
        "timings_s": timings or {},
        "artifacts": [artifact.to_dict() for artifact in artifacts],
    }


def write_report(report: dict, out_dir: Path) -> tuple[Path, Path]:
    out_dir = Path(out_dir)
    return write_json(out_dir / REPORT_JSON, report), write_text(out_dir / REPORT_MD, report_markdown(report))


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def _kib(value: int) -> str:
    return f"{value / 1024:.1f} KiB"


def _rows(report: dict):
    for a in report["artifacts"]:
        diff = "-" if a["max_abs_diff"] is None else f"{a['max_abs_diff']:.4f}"
        yield [
            a["name"], a["runtime"], a["precision"], _kib(a["size_bytes"]), _kib(a["gzip_bytes"]),
            _pct(a["accuracy"]), _pct(a["agreement"]), diff,
            f"{a['latency_ms']['p50']:.3f}", f"{a['latency_ms']['p90']:.3f}",
        ]


HEADERS = ["artifact", "runtime", "precision", "size", "gzip", "accuracy", "agreement", "max |diff|",
           "p50 ms", "p90 ms"]


def print_report(report: dict) -> None:
    table = Table(title=f"{report['recipe']['name']}: test split of {report['data'].get('test', '?')} images, "
                        f"batch 1, {report['artifacts'][0]['threads'] if report['artifacts'] else 1} thread(s)")
    for i, header in enumerate(HEADERS):
        table.add_column(header, justify="left" if i < 3 else "right")
    for row in _rows(report):
        table.add_row(*row)
    console().print(table)


def report_markdown(report: dict) -> str:
    lines = [
        f"# edgecnn report: {report['recipe']['name']}",
        "",
        f"Recipe hash `{report['recipe_hash']}`, edgecnn {report['edgecnn_version']}. "
        f"Data: {report['data']}. Stage times (s): {report.get('timings_s') or '-'}.",
        "",
        "| " + " | ".join(HEADERS) + " |",
        "|" + "|".join("---" if i < 3 else "---:" for i in range(len(HEADERS))) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in _rows(report)]
    lines += ["", "Accuracy on the test split in each file's own runtime; agreement is top-1 agreement with "
              "the float Keras model; latency is batch 1 after warm-up."]
    return "\n".join(lines) + "\n"
