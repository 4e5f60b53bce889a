"""The report rendered: a table on the terminal, `report.json` for machines, `report.md` for people.

Every artifact, plain export or optimized variant, is one row with the same fields; `verify.judge`
made the report (the best artifact under the budgets, the gate) and this module only shows it.
"""

from __future__ import annotations

from pathlib import Path

from rich.table import Table
from rich.text import Text

from edgecnn.console import console
from edgecnn.errors import RecipeError
from edgecnn.fileio import write_json, write_text
from edgecnn.plots import MATPLOTLIB_MISSING
from edgecnn.run import CONFUSION_PNG, JUNIT_XML, REPORT_JSON, REPORT_MD, RunFolder
from edgecnn.verify.against import against_lines, verdict_text
from edgecnn.verify.classes import confusion_lines, confusion_panels_caption, draw_confusion, per_class_lines
from edgecnn.verify.junit import write_junit
from edgecnn.verify.record import ArtifactResult, BuildReport, DataSummary, Memory, Pictures, Readiness


def write_report(report: BuildReport, out_dir: Path) -> tuple[Path, Path]:
    """report.json, report.md, junit.xml and the confusion-matrix PNG, into `out_dir`."""
    out_dir = Path(out_dir)
    confusion = draw_confusion(report, out_dir / CONFUSION_PNG)
    report.confusion_png = str(confusion) if confusion else None
    if confusion is None and confusion_lines(report):
        report.confusion_png_skipped = MATPLOTLIB_MISSING
    write_junit(report, out_dir / JUNIT_XML)
    return (write_json(out_dir / REPORT_JSON, report.to_dict()),
            write_text(out_dir / REPORT_MD, report_markdown(report, out_dir)))


def report_folder(out: Path | None, default: Path) -> Path:
    """Where a verify writes: `--out` when given (never a build's run folder), else the first of `default`,
    `default-2`, ... that does not exist yet, so a verify never overwrites a build's or another verify's files."""
    if out is not None:
        out = Path(out)
        if out.exists() and not out.is_dir():
            raise RecipeError(f"--out {out}: exists and is not a folder")
        if RunFolder(out).is_run():
            raise RecipeError(f"--out {out}: is a build's run folder; verify writes its reports to a folder of its own")
        return out
    candidate, n = Path(default), 2
    while candidate.exists():
        candidate, n = Path(f"{default}-{n}"), n + 1
    return candidate


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def _points(value) -> str:
    return "-" if value is None else f"{100 * value:+.2f}"


def _num(value) -> str:
    """Byte counts in full, measurements to four significant digits."""
    if value is None:
        return "-"
    return f"{int(value):,}" if float(value).is_integer() and abs(value) >= 1000 else f"{value:.4g}"


def _kib(value: int) -> str:
    return f"{value / 1024:.1f} KiB"


def _sparsity(row: ArtifactResult) -> str:
    return "-" if not row.sparsity else f"{100 * row.sparsity.overall:.1f}%"


HEADERS = ["artifact", "technique", "runtime", "precision", "size", "gzip", "sparsity", "accuracy", "vs float",
           "agreement", "p50 ms"]
_MD_EXTRA = ["p90 ms", "p99 ms", "GMAC/s", "max abs diff"]


def _row(a: ArtifactResult, markdown: bool = False, thread_counts: int | None = None) -> list[str]:
    """One artifact's cells; p50 at each thread count (only the first `thread_counts` when given)."""
    cells = [
        a.name, a.technique or "-", a.runtime, a.precision, _kib(a.size_bytes), _kib(a.gzip_bytes),
        _sparsity(a), _pct(a.accuracy), _points(a.accuracy_change), _pct(a.agreement),
        " / ".join(f"{t.p50:.3f}" for t in a.latencies[:thread_counts]),
    ]
    if markdown:
        timing, gmacs = a.latency_ms, a.latency_ms.gmac_per_s
        cells += [f"{timing.p90:.3f}", f"{timing.p99 or 0:.3f}", "-" if gmacs is None else f"{gmacs:.2f}",
                  "-" if a.max_abs_diff is None else f"{a.max_abs_diff:.4f}"]
    return cells


def _thread_label(report: BuildReport) -> str:
    rows = report.artifacts
    return "/".join(str(t.threads) for t in rows[0].latencies) if rows else "1"


def best_line(report: BuildReport) -> str:
    best = report.best
    if not best:
        return ""
    gated = f"; gated (a missed budget fails the run): {', '.join(best.gated)}" if best.gated else ""
    if best.name is None:
        return f"Best under the budgets: none ({best.reason}{gated})."
    if best.gated and best.name not in best.gated:
        gated += f"; {best.name} is compared, not gated"
    row = report.row(best.name)
    change = "" if row.accuracy_change is None else f" ({_points(row.accuracy_change)} points vs float)"
    accuracy = "" if row.accuracy is None else f"accuracy {_pct(row.accuracy)}{change}, "
    agreement = "" if row.agreement is None else f"agreement {_pct(row.agreement)}, "
    caveat_text = f" Caveats: {'; '.join(best.caveats)}." if best.caveats else ""
    return (f"Best under the budgets: {best.name} ({best.reason}{gated}): {_kib(row.gzip_bytes)} gzip, "
            f"{accuracy}{agreement}p50 {row.latency_ms.p50:.3f} ms.{caveat_text}")


# Terminal columns by priority: the first six always show, the rest while the terminal has room.
_ESSENTIAL = ["artifact", "accuracy", "vs float", "agreement", "p50 ms", "size"]
_BY_ROOM = ["gzip", "precision", "sparsity", "technique", "runtime"]


def print_report(report: BuildReport, wide: bool = False) -> None:
    """The result table, fitted to the terminal: name, accuracy, change, agreement, p50 and size always
    whole; more columns as the width allows; `wide` shows every column."""
    images = f"{report.data.test} test images" if report.measured_on_labels else "synthetic images (latency only)"
    room, threads = console().width, _thread_label(report)
    rows = [_row(row) for row in report.artifacts]
    widths = _column_widths(rows)
    if not wide and _table_width(widths, _ESSENTIAL) > room:  # p50 at the first thread count only
        rows, threads = [_row(row, thread_counts=1) for row in report.artifacts], threads.split("/")[0]
        widths = _column_widths(rows)
    shown = list(_ESSENTIAL)
    for header in _BY_ROOM:
        if wide or _table_width(widths, [*shown, header]) <= room:
            shown.append(header)
    columns = [i for i, header in enumerate(HEADERS) if header in shown]
    table = Table(title=f"{report.recipe.name}: {images}, batch 1, p50 at {threads} thread(s)")
    for i in columns:
        table.add_column(HEADERS[i], justify="left" if i < 4 else "right", no_wrap=True, min_width=widths[HEADERS[i]])
    for row, cells in zip(report.artifacts, rows):
        table.add_row(*(cells[i] for i in columns), style="bold green" if row.name == report.best_name else None)
    console().print(table, width=_table_width(widths, shown) if wide else None, crop=not wide)
    if best_line(report):
        console().print(best_line(report))
    if app_line(report):
        console().print(app_line(report))
    _print_mcu(report)
    _print_baseline(report)
    _print_against(report)
    if report.confusion_png_skipped:
        console().print(Text(f"{CONFUSION_PNG} {report.confusion_png_skipped}"))


def _print_against(report: BuildReport) -> None:
    against = report.against
    if not against:
        return
    table = _table(f"p50 new/old, interleaved (max slowdown {against.max_slowdown:.0%})",
                   ("artifact", "old file", "ratio", "95% interval", "rounds", "verdict"),
                   right=("ratio", "95% interval", "rounds"))
    styles = {"slower": "bold red", "within": "", "inconclusive": "yellow"}
    for r in against.comparisons:
        table.add_row(r.artifact, Path(r.old).name, f"{r.ratio:.3f}", f"{r.ci95[0]:.3f}-{r.ci95[1]:.3f}",
                      str(r.rounds), Text(verdict_text(r), style=styles[r.verdict]))
    console().print(table)


def _table(title: str, headers: tuple[str, ...], right: tuple[str, ...]) -> Table:
    """A titled rich table whose `right` columns (numbers) are right-aligned."""
    table = Table(title=title)
    for header in headers:
        table.add_column(header, justify="right" if header in right else "left")
    return table


def _column_widths(rows: list[list[str]]) -> dict:
    return {header: max([len(header)] + [len(cells[i]) for cells in rows]) for i, header in enumerate(HEADERS)}


def _table_width(widths: dict, headers: list[str]) -> int:
    """Characters a rich table with these columns needs: each cell padded by one, a border between."""
    return sum(widths[h] for h in headers) + 3 * len(headers) + 1


def _print_baseline(report: BuildReport) -> None:
    baseline = report.baseline
    if not baseline:
        return
    table = _table(f"against the baseline (tolerance {baseline.tolerance:.0%})",
                   ("artifact", "metric", "old", "new", "change", ""), right=("old", "new", "change"))
    for r in baseline.comparisons:
        table.add_row(r.artifact, r.metric, _num(r.old), _num(r.new), f"{r.change:+.1%}",
                      "[bold red]regressed[/]" if r.regressed else "ok")
    console().print(table)


def report_markdown(report: BuildReport, out_dir: Path | None = None) -> str:
    headers = HEADERS + _MD_EXTRA
    lines = [
        f"# edgecnn report: {report.recipe.name}",
        "",
        _intro(report),
        "",
        _md_row(headers),
        "|" + "|".join("---" if i < 4 else "---:" for i in range(len(headers))) + "|",
    ]
    lines += [_md_row(_row(row, markdown=True)) for row in report.artifacts]
    lines += ["", "Accuracy on the test split in each file's own runtime; 'vs float' is the change in points versus "
              "the float Keras model; agreement is top-1 agreement with it; sparsity is the share of zero weights in "
              f"the file's convolution and dense kernels; latency is batch 1 after warm-up, p50 at "
              f"{_thread_label(report)} thread(s), p90/p99/GMAC/s at the first.", ""]
    top5 = [f"{a.name} {_pct(a.top5_accuracy)}" for a in report.artifacts if a.top5_accuracy is not None]
    if top5:
        lines += ["Top-5 accuracy: " + ", ".join(top5) + ".", ""]
    if best_line(report):
        lines += [best_line(report), ""]
    lines += app_lines(report) + mcu_lines(report, out_dir)
    lines += _gate_lines(report) + against_lines(report) + _baseline_lines(report) + per_class_lines(report)
    lines += confusion_lines(report) + _readiness_lines(report) + _calibration_lines(report) + _sparsity_lines(report)
    lines += _timing_lines(report) + _stage_lines(report) + _anatomy_lines(report, out_dir) + _skipped_lines(report)
    if report.confusion_png:
        lines += [f"Confusion matrices as a picture: [{CONFUSION_PNG}]({_relative(report.confusion_png, out_dir)}) "
                  f"({confusion_panels_caption(report)}).", ""]
    elif report.confusion_png_skipped:
        lines += [f"Confusion matrices as a picture: {CONFUSION_PNG} {report.confusion_png_skipped}.", ""]
    return "\n".join(lines) + "\n"


def _intro(report: BuildReport) -> str:
    machine = report.machine
    vector = ", " + " ".join(machine.vector_extensions) if machine.vector_extensions else ""
    where = f" Measured on {machine.cpu or '?'} ({machine.cores or '?'} cores{vector}), {machine.date or ''}."
    recipe = f"Recipe hash `{report.recipe_hash}`, " if report.recipe_hash else "Files verified by "
    float_accuracy = f" Float accuracy: {_pct(report.float_accuracy)}." if report.float_accuracy is not None else ""
    return f"{recipe}edgecnn {report.edgecnn_version}. Data: {_data_text(report.data)}.{float_accuracy}{where}"


def _md_row(cells: list[str]) -> str:
    """A GitHub-flavoured Markdown table row; a `|` inside a cell would split it, so it is escaped."""
    return "| " + " | ".join(str(cell).replace("|", "\\|") for cell in cells) + " |"


def _timing_lines(report: BuildReport) -> list[str]:
    """Stage times as a table; an optimize stage's variants follow it, indented."""
    rows = [(f"&nbsp;&nbsp;variant {stage}" if variant else f"**{stage}**" if stage == "total" else stage, seconds)
            for stage, seconds, variant in report.timings_s.stage_rows()]
    if not rows:
        return []
    return (["## Stage times", "", "| stage | seconds |", "|---|---:|"]
            + [_md_row([stage, f"{value:.1f}"]) for stage, value in rows] + [""])


def _stage_lines(report: BuildReport) -> list[str]:
    """What the build did with each stage: run, reused from the run folder or copied from the cache, and why."""
    stages = report.stages or []
    if not stages:
        return []
    counts = ", ".join(f"{sum(s.action == action for s in stages)} {action}" for action in ("run", "reused", "cached"))
    return (["## Build stages", "", f"{len(stages)} stages: {counts}.", "", "| stage | done | why | seconds |",
             "|---|---|---|---:|"]
            + [_md_row([f"`{s.stage}`", s.action, s.reason, f"{s.seconds:.1f}"]) for s in stages] + [""])


def _anatomy_lines(report: BuildReport, out_dir: Path | None) -> list[str]:
    anatomy = report.anatomy
    if not anatomy:
        return []
    totals, memory = anatomy.totals, anatomy.memory or Memory()
    savings = anatomy.separable_savings
    lines = [f"## Layers ({Path(anatomy.model).name}, batch 1)", "",
             f"{totals.params:,} parameters, {totals.macs:,} MACs, flash {_kib(memory.flash_bytes)}, "
             f"peak activation RAM {_kib(memory.peak_activation_bytes)} at {memory.peak_at}."]
    if savings:
        separable = sum(s.separable_macs for s in savings)
        standard = sum(s.standard_macs for s in savings)
        lines.append(f"The {len(savings)} depthwise-separable blocks cost {separable:,} MACs; standard convolutions "
                     f"of the same shapes would cost {standard:,} ({standard / separable:.1f}x more).")
    lines += ["", "| layer | type | kernel | stride | output | params | MACs | activation |",
              "|---|---|---|---:|---|---:|---:|---:|"]
    for row in anatomy.layers:
        lines.append(f"| {row.name} | {row.type} | {row.kernel} | {row.stride or ''} | "
                     f"{'x'.join(map(str, row.output_shape))} | {row.params:,} | {row.macs:,} | "
                     f"{_kib(row.activation_bytes)} |")
    pictures = anatomy.pictures or Pictures()
    links = [("training curves", pictures.training_curves), ("test image", pictures.test_image),
             ("first-layer kernels", pictures.kernels),
             *((f"feature maps {i + 1}", p) for i, p in enumerate(pictures.feature_maps)),
             ("strongest test images per channel", pictures.strongest)]
    lines += [""] + [f"- [{label}]({_relative(path, out_dir)})" for label, path in links if path] + [""]
    return lines


def _relative(path: str, out_dir: Path | None) -> str:
    """Links relative to the run folder, where report.md sits."""
    try:
        return str(Path(path).relative_to(out_dir)) if out_dir else path
    except ValueError:
        return path


def _data_text(data: DataSummary) -> str:
    shape = "x".join(str(side) for side in data.image_shape)
    if not data.source:
        return f"no labelled images, {data.images or '?'}" + (f", input {shape}" if shape else "")
    parts = [f"{count} {split}" for split, count in (("train", data.train), ("val", data.val), ("test", data.test))
             if isinstance(count, int)]
    skipped = data.skipped.count if data.skipped else None
    return (f"{data.source}, {data.classes or '?'} classes, {' / '.join(parts) or data.images} images, input {shape}"
            + (f", {skipped} files skipped" if skipped else ""))


def _skipped_lines(report: BuildReport) -> list[str]:
    skipped = report.data.skipped.files if report.data.skipped else []
    if not skipped:
        return []
    return ([f"## Skipped files ({len(skipped)})", "", "| file | problem |", "|---|---|"]
            + [_md_row([bad.path, bad.problem]) for bad in skipped] + [""])


def _calibration_lines(report: BuildReport) -> list[str]:
    calibrated = [a for a in report.artifacts if a.calibration]
    if not calibrated:
        return []
    return (["## Calibration", ""]
            + [f"- {a.name}: {a.calibration.samples} images from the {a.calibration.source}" for a in calibrated]
            + [""])


def _sparsity_lines(report: BuildReport) -> list[str]:
    """Per-layer zeros of the pruned variants, measured in their files."""
    pruned = [a for a in report.artifacts if a.sparsity and a.sparsity.pruned_layers is not None]
    if not pruned:
        return []
    layers = list(dict.fromkeys(layer for a in pruned for layer in a.sparsity.layers))
    lines = ["## Sparsity per layer (zeros counted in each file)", "",
             "| layer | " + " | ".join(a.name for a in pruned) + " |", "|---|" + "---:|" * len(pruned)]
    for layer in layers:
        lines.append(f"| {layer} | " + " | ".join(_pct(a.sparsity.layers.get(layer)) for a in pruned) + " |")
    lines.append("| **pruned kernels** | " + " | ".join(_pct(a.sparsity.pruned_layers) for a in pruned) + " |")
    lines.append("| **all kernels** | " + " | ".join(_pct(a.sparsity.overall) for a in pruned) + " |")
    return lines + [""]


def _gate_lines(report: BuildReport) -> list[str]:
    checks = [c for c in report.gate.checks if c.gated]
    if not checks:
        return []
    verdict = "all met" if report.gate.passed else f"{report.gate.missed} missed"
    lines = [f"## Budgets ({verdict})", "", "| artifact | budget | measured | limit | result |", "|---|---|---:|---:|---|"]
    for c in checks:
        lines.append(f"| {c.artifact} | {c.budget} | {_num(c.measured)} | {_num(c.limit)} | "
                     f"{'ok' if c.passed else '**missed**'} |")
    return lines + [""]


def _baseline_lines(report: BuildReport) -> list[str]:
    baseline = report.baseline
    if not baseline:
        return []
    lines = [f"## Against the baseline (tolerance {baseline.tolerance:.0%})", "",
             "| artifact | metric | old | new | change | |", "|---|---|---:|---:|---:|---|"]
    for r in baseline.comparisons:
        lines.append(f"| {r.artifact} | {r.metric} | {_num(r.old)} | {_num(r.new)} | {r.change:+.1%} | "
                     f"{'**regressed**' if r.regressed else 'ok'} |")
    return lines + [""]


def _app_measured(report: BuildReport) -> list[ArtifactResult]:
    return [a for a in report.artifacts if a.app and a.app.camera]


def app_line(report: BuildReport) -> str:
    """One line for the terminal: what an app gets through MediaPipe Tasks per .tflite (own size / camera frames)."""
    measured = _app_measured(report)
    if not measured:
        return ""
    scale = _num(measured[0].app.camera_scale)
    parts = [f"{a.name} {_pct(a.app.own_size.accuracy)} / {_pct(a.app.camera.accuracy)} "
             f"(gap {_points(_negated(a.app.gap))})" for a in measured]
    return f"What an app gets via MediaPipe Tasks (source images / camera frames {scale}x): " + ", ".join(parts) + "."


def _negated(value: float | None) -> float | None:
    return None if value is None else -value


def app_lines(report: BuildReport) -> list[str]:
    """What an app gets through MediaPipe Tasks per `.tflite`, and the gap to the file's reported accuracy."""
    measured = _app_measured(report)
    skipped = [a for a in report.artifacts if a.app and a.app.skipped]
    if not measured and not skipped:
        return []
    scale = measured[0].app.camera_scale if measured else None
    lines = ["## What an app gets (via MediaPipe Tasks)", "",
             f"| file | report | own-size images | agreement | camera frames {_num(scale)}x | agreement | gap |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for a in measured:
        app = a.app
        lines.append(_md_row([a.name, _pct(a.accuracy), _pct(app.own_size.accuracy), _pct(app.own_size.agreement),
                              _pct(app.camera.accuracy), _pct(app.camera.agreement), _points(_negated(app.gap))]))
    lines += [f"- **{a.name}**: {a.app.skipped}" for a in skipped]
    client = measured[0].app.client if measured else "MediaPipe Tasks"
    lines += ["", f"{client}'s ImageClassifier on the test split's source images at their own size and on camera "
              f"frames {_num(scale)} times larger (bicubic enlargements), each handed over as the model card says "
              "(whole, with the centred region of interest, or letterboxed by the app). Agreement is top-1 agreement "
              "with `edgecnn predict` on the same frames; gap is the lower app figure minus the report's accuracy, "
              "in points (budget `max_app_gap`).", ""]
    return lines


def _mcu_rows(report: BuildReport) -> list[ArtifactResult]:
    return [a for a in report.artifacts if a.mcu is not None]


def _tflm_cells(a: ArtifactResult) -> list[str]:
    """file, TFLM accuracy, LiteRT accuracy, agreement, max difference, arena KiB, flash KiB (or the refusal)."""
    tflm = a.mcu.tflm
    if tflm is None:
        return [a.name, "not run", _pct(a.accuracy), "", "", "", ""]
    if not tflm.runs:
        return [a.name, f"refused: {', '.join(tflm.refused_operators) or 'load'}", _pct(a.accuracy), "", "", "",
                _kib(tflm.flash_bytes)]
    return [a.name, _pct(tflm.accuracy), _pct(a.accuracy), _pct(tflm.agreement), f"{tflm.max_abs_diff:.4f}",
            _kib(tflm.arena_bytes), _kib(tflm.flash_bytes)]


def _print_mcu(report: BuildReport) -> None:
    rows = _mcu_rows(report)
    if not rows:
        return
    npus = list(dict.fromkeys(npu.npu for a in rows for npu in a.mcu.npu))
    short = {npu.npu: npu.accelerator for a in rows for npu in a.mcu.npu}  # a column's name: its accelerator
    if len(set(short.values())) < len(short):
        short = {name: name for name in short}  # two configurations of one accelerator: their full names
    headers = ("file", "TFLM", "LiteRT", "agreement", "max diff", "arena", "flash", *(f"{short[n]} ms" for n in npus))
    table = _table("Microcontrollers: TensorFlow Lite Micro (reference kernels) and Vela's Ethos-U estimates",
                   headers, right=headers[1:])
    for a in rows:
        by_npu = {npu.npu: f"{npu.ms:.3f} ({npu.npu_operators}/{npu.npu_operators + npu.cpu_operators} ops)"
                  for npu in a.mcu.npu}
        table.add_row(*_tflm_cells(a), *(by_npu.get(n, "") for n in npus))
    console().print(table)


def mcu_lines(report: BuildReport, out_dir: Path | None = None) -> list[str]:
    """TFLM's row per int8 `.tflite`, and Vela's estimate per file and NPU with its per-layer CSV."""
    rows = _mcu_rows(report)
    if not rows:
        return []
    lines = ["## Microcontrollers and NPUs", "",
             "| file | TFLM (reference kernels) | LiteRT | agreement | max diff | arena | flash |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    lines += [_md_row(_tflm_cells(a)) for a in rows]
    refused = [a for a in rows if a.mcu.tflm and not a.mcu.tflm.runs]
    lines += [f"- **{a.name}**: TFLM refuses it: {a.mcu.tflm.reason}" for a in refused]
    lines += ["", "The test split in TensorFlow Lite Micro's Python interpreter (its reference kernels, as firmware "
              "without optimized kernels runs them); agreement is top-1 agreement with the same file in LiteRT, max "
              "diff the largest probability difference. Arena: what TFLM's recording allocator used, measured on "
              "this 64-bit host (an upper bound on 32-bit parts; CMSIS-NN kernels may add scratch buffers). Flash: "
              "the file's bytes. No latency: reference kernels on a PC say nothing about a microcontroller.", ""]
    estimates = [(a, npu) for a in rows for npu in a.mcu.npu]
    if estimates:
        lines += ["| file | NPU | system, memory mode | clock | cycles | ms | inferences/s | SRAM | weights | "
                  "operators on the NPU | per layer |", "|---|---|---|---:|---:|---:|---:|---:|---|---:|---|"]
        for a, npu in estimates:
            lines.append(_md_row([
                a.name, npu.accelerator, f"{npu.system_config}, {npu.memory_mode}", f"{npu.clock_mhz:g} MHz",
                f"{npu.cycles:,}", f"{npu.ms:.3f}", f"{1000 / npu.ms:,.0f}", _kib(npu.sram_bytes),
                f"{_kib(npu.weights_bytes)} ({npu.weights_area})",
                f"{npu.npu_operators}/{npu.npu_operators + npu.cpu_operators} ({_pct(npu.npu_share)})",
                f"[CSV]({_relative(npu.per_layer_csv, out_dir)})"]))
        lines += ["", "Arm's Vela compiler's performance estimate for the compiled command stream: deterministic "
                  "(the same file and configuration give the same figures on any machine, no timing noise), at the "
                  "system configuration's clock. Operators Vela leaves to the CPU run there (not counted in the "
                  "cycles).", ""]
    return lines


def _readiness_lines(report: BuildReport) -> list[str]:
    """Phone-readiness, one line per file: MediaPipe Tasks, float operators in int8 files, GPU delegate, ORT
    Mobile, onnx.checker."""
    lines = []
    for a in report.artifacts:
        ready = a.readiness or Readiness()
        parts = []
        if ready.mediapipe:
            mp = ready.mediapipe
            parts.append("MediaPipe Tasks: " + (("loads" + ("" if mp.labels else ", no labels"))
                                                if mp.loads else "refuses: " + "; ".join(mp.problems)))
        if ready.float_operators is not None:
            floats = ready.float_operators
            parts.append("no float operators" if not floats else f"float operators: {', '.join(floats[:8])}")
        gpu = ready.gpu_delegate
        if gpu:
            parts.append("GPU delegate: " + ("not checked, " + (gpu.reason or "") if not gpu.checked else
                                            "compatible" if gpu.compatible else "; ".join(gpu.warnings[:3])))
        for runtime, info in (ready.ort_mobile or {}).items():
            parts.append(f"ORT Mobile {runtime}: {info.fixed_shapes} with batch fixed ({info.supported_nodes} "
                         f"nodes, {info.partitions} partition(s)), {info.as_is} as is")
        if ready.onnx_checker is not None:
            parts.append(f"onnx.checker {ready.onnx_checker}")
        if ready.error is not None:
            parts.append(f"check failed: {ready.error}")
        if parts:
            lines.append(f"- **{a.name}**: " + "; ".join(parts))
    return ["## Phone readiness", ""] + lines + [""] if lines else []
