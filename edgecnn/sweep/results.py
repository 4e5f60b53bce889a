"""A sweep's results: one row per trial, the Pareto fronts (accuracy up, p50 latency or gzip size down),
the best trial within the budgets by the objective, and their files: sweep.json, sweep.md, two PNGs and
the best trial's recipe, ready for `edgecnn build`."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from pydantic import Field

from edgecnn.fileio import atomic_path, write_json, write_text
from edgecnn.run import RunFolder
from edgecnn.sweep.space import describe
from edgecnn.verify.judge import last_if_missing
from edgecnn.verify.record import Record

SWEEP_JSON, SWEEP_MD, BEST_RECIPE = "sweep.json", "sweep.md", "best_recipe.yaml"
PARETO_PNGS = {"p50_ms": "pareto_latency.png", "gzip_bytes": "pareto_gzip.png"}


class TrialRow(Record):
    """One trial of a sweep (its trial.json, through Ray Tune): its values, how it ended and, when it finished,
    the figures of its best artifact within the budgets (`sweep.trial.trial_result`)."""

    overrides: dict[str, Any]
    status: str  # done, failed or stopped early
    error: str | None = None
    folder: str | None = None
    artifact: str | None = None
    within_budgets: bool | None = None
    accuracy: float | None = None
    p50_ms: float | None = None
    gzip_bytes: int | None = None
    size_bytes: int | None = None
    arena_bytes: int | None = None  # TensorFlow Lite Micro's arena of the trial's file, when it ran there
    npu_cycles: int | None = None  # Vela's cycles on the first verify.npu
    npu_ms: float | None = None
    float_accuracy: float | None = None
    val_accuracy: float | None = None
    epochs: int | None = None  # of a trial stopped early
    score: float | None = None
    seconds: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    node_id: str | None = None
    node_ip: str | None = None
    pid: int | None = None
    resumed: bool | None = None
    remeasured: bool | None = None

    @property
    def done(self) -> bool:
        return self.status == "done"


class RayNode(Record):
    node_id: str
    node_ip: str | None = None
    trials: list[int] = Field(default_factory=list)  # 1-based trial numbers


class SweepSettings(Record):
    recipe: str
    search: str
    space: list[str]
    objective: str
    concurrency: int | None = None
    cpus_per_trial: float | None = None
    address: str | None = None
    budgets: dict[str, Any] | None = None  # the recipe's verify.budgets, as its schema writes them


class SweepSummary(Record):
    """sweep.json: the settings, one row per trial, the best trial (index), the Pareto fronts, the Ray nodes."""

    settings: SweepSettings
    trials: list[TrialRow]
    best: int | None
    pareto: dict[str, list[int]]  # cost -> trial indices on its front
    nodes: list[RayNode] = Field(default_factory=list)
    files: dict[str, str] | None = None  # what was written, by kind

    @property
    def best_row(self) -> TrialRow | None:
        return None if self.best is None else self.trials[self.best]


# How much cheaper a trial must be to count as cheaper on a front. Sizes: two trials whose weights are equal
# (an input size changes no weight) differ by a few bytes of file header. Latency: the sweep's re-measured
# p50s of one file differ by a few percent from one timing to the next (the A/B gate's default limit is 5%).
COST_TOLERANCE = {"gzip_bytes": 0.01, "p50_ms": 0.05}


def pareto_front(rows: list[TrialRow], cost: str) -> list[int]:
    """Indices of the finished trials no other trial beats: one beats another when it is at least as accurate
    and not dearer beyond the cost's tolerance, and either more accurate or cheaper beyond the tolerance."""
    done = [i for i, row in enumerate(rows) if row.done]
    tolerance = COST_TOLERANCE[cost]

    def beats(b: TrialRow, a: TrialRow) -> bool:
        b_cost, a_cost = getattr(b, cost), getattr(a, cost)
        cheaper, not_dearer = b_cost < a_cost * (1 - tolerance), b_cost <= a_cost * (1 + tolerance)
        return b.accuracy >= a.accuracy and not_dearer and (b.accuracy > a.accuracy or cheaper)

    front = [i for i in done if not any(beats(rows[j], rows[i]) for j in done if j != i)]
    return sorted(front, key=lambda i: getattr(rows[i], cost))


def best_trial(rows: list[TrialRow], objective: str) -> int | None:
    """The finished trial within the budgets that is best by the objective (ties: higher accuracy)."""
    key = {"accuracy": lambda r: (-r.accuracy, r.gzip_bytes), "latency": lambda r: (r.p50_ms, -r.accuracy),
           "gzip_bytes": lambda r: (r.gzip_bytes, -r.accuracy),
           "arena_bytes": lambda r: (last_if_missing(r.arena_bytes), -r.accuracy),
           "npu_cycles": lambda r: (last_if_missing(r.npu_cycles), -r.accuracy)}[objective]
    feasible = [i for i, row in enumerate(rows) if row.done and row.within_budgets]
    return min(feasible, key=lambda i: key(rows[i])) if feasible else None


def placement(rows: list[TrialRow]) -> list[RayNode]:
    """The Ray nodes the finished trials ran on (resumed ones included, as first run): node id, address, trials."""
    nodes: dict[str, RayNode] = {}
    for i, row in enumerate(rows):
        if row.node_id:
            node = nodes.setdefault(row.node_id, RayNode(node_id=row.node_id, node_ip=row.node_ip, trials=[]))
            node.trials.append(i + 1)
    return list(nodes.values())


def summarize(rows: list[TrialRow], objective: str, settings: SweepSettings) -> SweepSummary:
    return SweepSummary(settings=settings, trials=rows, best=best_trial(rows, objective),
                        pareto={cost: pareto_front(rows, cost) for cost in PARETO_PNGS}, nodes=placement(rows))


def placement_text(summary: SweepSummary) -> str:
    if not summary.nodes:
        return "Ray nodes: none recorded"
    return f"Ray nodes: {len(summary.nodes)}; " + "; ".join(
        f"node {node.node_id[:12]} ({node.node_ip}): trials {', '.join(map(str, node.trials))}"
        for node in summary.nodes)


def write_results(summary: SweepSummary, out: Path) -> dict[str, Path]:
    """sweep.json, sweep.md, the Pareto PNGs and (when a trial is within the budgets) its recipe."""
    out = Path(out)
    written = {"json": write_json(out / SWEEP_JSON, summary.to_dict())}
    for cost, name in PARETO_PNGS.items():
        written[name] = draw_pareto(summary, cost, out / name)
    if summary.best_row is not None:
        with atomic_path(out / BEST_RECIPE) as tmp:
            shutil.copyfile(RunFolder(summary.best_row.folder).recipe_path, tmp)
        written["recipe"] = out / BEST_RECIPE
    written["md"] = write_text(out / SWEEP_MD, sweep_markdown(summary))
    return written


def table_rows(summary: SweepSummary) -> list[list[str]]:
    fronts = summary.pareto
    rows = []
    for i, row in enumerate(summary.trials):
        marks = ("best " if i == summary.best else "") + " ".join(
            f"front:{'p50' if cost == 'p50_ms' else 'gzip'}" for cost in fronts if i in fronts[cost])
        if not row.done:
            rows.append([str(i + 1), describe(row.overrides), row.status, "-", "-", "-", "-", "-",
                         (row.error or "")[:60]])
            continue
        rows.append([str(i + 1), describe(row.overrides), row.status, row.artifact, f"{100 * row.accuracy:.2f}%",
                     f"{row.p50_ms:.3f}", f"{row.gzip_bytes / 1024:.1f} KiB", "yes" if row.within_budgets else "no",
                     marks.strip()])
        if _has_mcu(summary):
            rows[-1][7:7] = [_kib(row.arena_bytes), "-" if row.npu_cycles is None else f"{row.npu_cycles:,}"]
    return rows


def _has_mcu(summary: SweepSummary) -> bool:
    return any(row.arena_bytes is not None or row.npu_cycles is not None for row in summary.trials)


def _kib(value: int | None) -> str:
    return "-" if value is None else f"{value / 1024:.1f} KiB"


def _mcu_text(row: TrialRow) -> str:
    arena = "" if row.arena_bytes is None else f", TFLM arena {row.arena_bytes / 1024:.1f} KiB"
    npu = "" if row.npu_cycles is None else f", {row.npu_cycles:,} NPU cycles ({row.npu_ms:.3f} ms)"
    return arena + npu


def table_headers(summary: SweepSummary) -> list[str]:
    """The table's columns; TFLM's arena and Vela's cycles when any trial has them."""
    return [*HEADERS[:7], "arena", "NPU cycles", *HEADERS[7:]] if _has_mcu(summary) else HEADERS


HEADERS = ["#", "values", "status", "artifact", "accuracy", "p50 ms", "gzip", "in budgets", "notes"]


def sweep_markdown(summary: SweepSummary) -> str:
    settings = summary.settings
    lines = [f"# Sweep of {settings.recipe}", "",
             f"{len(summary.trials)} trials ({settings.search} search over {', '.join(settings.space)}), "
             f"objective {settings.objective} within verify.budgets; each trial's figures are those of its best "
             "artifact within the budgets (else its most accurate file).", "",
             "| " + " | ".join(table_headers(summary)) + " |", "|" + "---|" * len(table_headers(summary))]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in table_rows(summary)]
    best = summary.best_row
    lines += ["", f"Best within the budgets: trial {summary.best + 1} ({describe(best.overrides)}); its "
              f"recipe: [{BEST_RECIPE}]({BEST_RECIPE}), its run folder: `{best.folder}`."
              if best is not None else "No trial met the budgets.", ""]
    lines += [f"Pareto fronts: [accuracy vs p50]({PARETO_PNGS['p50_ms']}), [accuracy vs gzip]({PARETO_PNGS['gzip_bytes']}). "
              "A trial leaves a front when another is at least as accurate and either more accurate or cheaper, "
              f"counting a cost as cheaper only beyond {COST_TOLERANCE['gzip_bytes']:.0%} for gzip size (files with "
              f"the same weights differ by a few header bytes) and {COST_TOLERANCE['p50_ms']:.0%} for p50 (the "
              "timing noise between measurements of one file): differences inside them are not trade-offs.",
              "", placement_text(summary) + ".", ""]
    return "\n".join(lines)


def draw_pareto(summary: SweepSummary, cost: str, path: Path) -> Path:
    from edgecnn.plots import pyplot, save_figure

    plt = pyplot()
    rows = summary.trials
    front = summary.pareto[cost]

    def x(row: TrialRow) -> float:
        return getattr(row, cost) / 1024 if cost == "gzip_bytes" else getattr(row, cost)

    figure, axes = plt.subplots(figsize=(7, 4.5))
    for i, row in enumerate(rows):
        if not row.done:
            continue
        colour = "tab:green" if row.within_budgets else "tab:gray"
        axes.scatter(x(row), 100 * row.accuracy, color=colour, s=36, zorder=3)
        axes.annotate(str(i + 1), (x(row), 100 * row.accuracy), textcoords="offset points", xytext=(4, 4), fontsize=8)
    if front:
        axes.step([x(rows[i]) for i in front], [100 * rows[i].accuracy for i in front], where="post",
                  color="tab:blue", label="Pareto front", zorder=2)
    if summary.best_row is not None:
        axes.scatter(x(summary.best_row), 100 * summary.best_row.accuracy, s=160, facecolors="none",
                     edgecolors="tab:red", label="best within budgets", zorder=4)
    axes.set_xlabel("p50 latency, ms (batch 1)" if cost == "p50_ms" else "gzip size, KiB")
    axes.set_ylabel("test accuracy, %")
    axes.set_title(f"{summary.settings.recipe}: accuracy against "
                   f"{'p50 latency' if cost == 'p50_ms' else 'gzip size'} (grey: misses a budget)")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right", fontsize=8)
    return save_figure(figure, path)


def print_summary(summary: SweepSummary) -> None:
    from rich.table import Table  # lazy: only the terminal needs it

    from edgecnn.console import console

    table = Table(title=f"sweep of {summary.settings.recipe}: {len(summary.trials)} trials")
    for header in table_headers(summary):
        table.add_column(header, justify="right" if header in ("#", "accuracy", "p50 ms", "gzip", "arena",
                                                                "NPU cycles") else "left")
    for row in table_rows(summary):
        table.add_row(*row)
    console().print(table)
    trial = summary.best_row
    console().print(f"best within the budgets: trial {summary.best + 1}, {describe(trial.overrides)}: {trial.artifact} "
                    f"{100 * trial.accuracy:.2f}%, p50 {trial.p50_ms:.3f} ms, gzip {trial.gzip_bytes / 1024:.1f} KiB"
                    f"{_mcu_text(trial)}" if trial else "no trial met the budgets")
    if len(summary.nodes) > 1:  # a cluster: where the trials went
        console().print(placement_text(summary))
