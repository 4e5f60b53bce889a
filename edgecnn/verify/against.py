"""A latency gate that does not flap: NEW against OLD, measured on one machine in one run.

An absolute p50 budget or a baseline from another day compares two machines' moods: on a shared
2-core runner the same file measured 0.039 ms one hour and 0.078 ms the next. Here both files run
in alternating rounds (new-old, old-new, ...), so a slow spell hits both; each round gives one ratio
of medians, and a bootstrap over rounds puts a 95% interval on the median ratio. The gate fails only
when the whole interval lies above 1 + max_slowdown, passes when it lies below, and otherwise says
"inconclusive" (after extending the rounds up to a time limit) instead of guessing.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from edgecnn.artifacts import open_artifact
from edgecnn.console import console
from edgecnn.data.contract import normalize
from edgecnn.errors import RecipeError
from edgecnn.formats import OPTIMIZED_DIR
from edgecnn.verify import file_sizes
from edgecnn.verify.baseline import parse_fraction
from edgecnn.verify.judge import judge_best_again
from edgecnn.verify.record import Against, AgainstComparison, BudgetCheck, BuildReport
from edgecnn.verify.files import EXPORTED_SUFFIXES, artifact_names

ROUND_SECONDS = 0.01  # each side of a round times about this long
MIN_ROUNDS = 20
BOOTSTRAP_SAMPLES = 2000


def pair_targets(new: list[Path], old: list[Path]) -> list[tuple[str, Path, Path]]:
    """(name, new file, old file): run folders pair their files by relative path, files pair in order."""
    new, old = [Path(p) for p in new], [Path(p) for p in old]
    if len(new) == 1 and new[0].is_dir():
        if len(old) != 1 or not old[0].is_dir():
            raise RecipeError(f"--against {' '.join(map(str, old))}: NEW is a run folder, so OLD must be one too")
        mine, theirs = _model_files(new[0]), _model_files(old[0])
        shared = [key for key in mine if key in theirs]
        if not shared:
            raise RecipeError(f"--against {old[0]}: holds none of the model files of {new[0]} ({', '.join(mine)})")
        return [(Path(key).stem, mine[key], theirs[key]) for key in shared]
    if len(old) != len(new) or any(path.is_dir() for path in old):
        raise RecipeError(f"--against: {len(old)} path(s) for {len(new)} file(s); give one OLD file per NEW file, "
                          "in the same order")
    return list(zip(artifact_names(new), new, old))


def _model_files(folder: Path) -> dict[str, Path]:
    found = sorted(p for p in [*folder.iterdir(), *(folder / OPTIMIZED_DIR).glob("*")]
                   if p.is_file() and p.suffix in EXPORTED_SUFFIXES)
    return {str(p.relative_to(folder)): p for p in found}


def parse_slowdown(text: str) -> float:
    """'5%' or '0.05' -> 0.05."""
    return parse_fraction(text, "--max-slowdown", "5%")


def compare(pairs, test, max_slowdown: float, max_seconds: float, show_progress: bool = True) -> Against:
    """Latency ratio (interleaved), size and accuracy of each NEW file against its OLD file."""
    records = []
    for name, new_path, old_path in pairs:
        if show_progress:
            console().print(f"against {name:<14} {new_path} vs {old_path}")
        records.append(_compare_pair(name, new_path, old_path, test, max_slowdown, max_seconds))
    return Against(max_slowdown=max_slowdown, comparisons=records)


def _compare_pair(name, new_path, old_path, test, max_slowdown, max_seconds) -> AgainstComparison:
    runners, inputs, accuracy = {}, {}, {}
    for side, path in (("new", new_path), ("old", old_path)):
        artifact = open_artifact(path)
        runners[side] = artifact.runner()
        images, contract = test.feed(artifact)
        inputs[side] = runners[side].prepare(normalize(images[:8], contract))
        if test.labels is not None:
            predicted = runners[side].predict(normalize(images, contract)).argmax(1)
            accuracy[side] = float((predicted == test.labels).mean())
    latency = interleaved_ratio(runners["new"], runners["old"], inputs["new"], inputs["old"], max_slowdown, max_seconds)
    sizes = {side: dict(zip(("size_bytes", "gzip_bytes"), file_sizes(path)))
             for side, path in (("new", new_path), ("old", old_path))}
    return AgainstComparison(artifact=name, new=str(new_path), old=str(old_path), **latency, sizes=sizes,
                             accuracy=accuracy or None)


def interleaved_ratio(new, old, new_inputs, old_inputs, max_slowdown: float, max_seconds: float) -> dict:
    """Rounds of alternating order until the verdict is clear (at least MIN_ROUNDS) or `max_seconds` pass."""
    for runner, inputs in ((new, new_inputs), (old, old_inputs)):
        for i in range(10):  # warm-up: first calls allocate and fill caches
            runner.invoke(inputs[i % len(inputs)][None])
    per_call = max(_median_ms(new, new_inputs, 5), _median_ms(old, old_inputs, 5)) / 1000
    calls = int(np.clip(ROUND_SECONDS / max(per_call, 1e-9), 3, 2000))
    new_ms, old_ms = [], []
    deadline = time.perf_counter() + max_seconds
    while True:
        for _ in range(10):
            first_new = len(new_ms) % 2 == 0
            for runner in ((new, old) if first_new else (old, new)):
                inputs, record = (new_inputs, new_ms) if runner is new else (old_inputs, old_ms)
                record.append(_median_ms(runner, inputs, calls))
        ratios = np.asarray(new_ms) / np.asarray(old_ms)
        ratio, low, high = bootstrap_median(ratios)
        verdict = judge(low, high, max_slowdown)
        if len(ratios) >= MIN_ROUNDS and (verdict != "inconclusive" or time.perf_counter() > deadline):
            break
    return {"ratio": ratio, "ci95": [low, high], "verdict": verdict, "rounds": len(ratios), "calls_per_round": calls,
            "new_p50_ms": float(np.median(new_ms)), "old_p50_ms": float(np.median(old_ms))}


def _median_ms(runner, inputs: np.ndarray, calls: int) -> float:
    timings = np.empty(calls)
    for i in range(calls):
        one = inputs[i % len(inputs)][None]
        start = time.perf_counter_ns()
        runner.invoke(one)
        timings[i] = time.perf_counter_ns() - start
    return float(np.median(timings)) / 1e6


def bootstrap_median(ratios: np.ndarray, seed: int = 0) -> tuple[float, float, float]:
    """Median ratio and its 95% percentile-bootstrap interval, resampling whole rounds (log scale)."""
    logs = np.log(ratios)
    picks = np.random.default_rng(seed).integers(0, len(logs), size=(BOOTSTRAP_SAMPLES, len(logs)))
    medians = np.median(logs[picks], axis=1)
    low, high = np.percentile(medians, [2.5, 97.5])
    return float(np.exp(np.median(logs))), float(np.exp(low)), float(np.exp(high))


def judge(low: float, high: float, max_slowdown: float) -> str:
    """'slower' (significantly beyond the limit), 'within' (significantly inside it), else 'inconclusive'."""
    limit = 1 + max_slowdown
    if low > limit:
        return "slower"
    return "within" if high <= limit else "inconclusive"


def add_against(report: BuildReport, against: Against) -> BuildReport:
    """The comparisons join the report, and a significant slowdown of a gated file joins the gate's checks."""
    report.against = against
    gate = report.gate
    names = {Path(row.path).resolve(): row.name for row in report.artifacts}
    for record in against.comparisons:
        record.artifact = names.get(Path(record.new).resolve(), record.artifact)
        gate.checks.append(BudgetCheck(
            artifact=record.artifact,
            budget=f"p50 vs {Path(record.old).name} (max slowdown {against.max_slowdown:.0%})",
            measured=record.ratio, limit=1 + against.max_slowdown, passed=record.verdict != "slower",
            gated=record.artifact in gate.artifacts, inconclusive=record.verdict == "inconclusive"))
    return judge_best_again(report)


def _bold_if(text: str, bold: bool) -> str:
    return f"**{text}**" if bold else text


def verdict_text(record: AgainstComparison) -> str:
    """What a comparison found, in words: the gate's verdict (slower beyond the limit, inconclusive) and, when
    it passed, whether the new file is faster, slower within the limit, or the same within the noise (the
    95% interval below 1, above 1, or around it)."""
    if record.verdict == "slower":
        return "slower"
    if record.verdict == "inconclusive":
        return "inconclusive, noise too high"
    low, high = record.ci95
    return "faster" if high < 1 else "slower, within the limit" if low > 1 else "same within noise"


def against_lines(report: BuildReport) -> list[str]:
    against = report.against
    if not against:
        return []
    lines = [f"## Against the old files (same machine, interleaved; max slowdown {against.max_slowdown:.0%})", "",
             "| artifact | old file | p50 new / old | 95% interval | rounds | verdict | size change | accuracy old → new |",
             "|---|---|---:|---:|---:|---|---:|---|"]
    for r in against.comparisons:
        size = r.sizes.new.size_bytes / r.sizes.old.size_bytes - 1
        accuracy_text = f"{100 * r.accuracy.old:.2f}% → {100 * r.accuracy.new:.2f}%" if r.accuracy else "-"
        verdict = _bold_if(verdict_text(r), r.verdict == "slower")
        lines.append(f"| {r.artifact} | {Path(r.old).name} | {r.ratio:.3f} | {r.ci95[0]:.3f}-{r.ci95[1]:.3f} | "
                     f"{r.rounds} | {verdict} | {size:+.1%} | {accuracy_text} |")
    return lines + ["", "Each round times both files back to back, in alternating order; the interval is a bootstrap "
                    "over rounds. Only an interval wholly above the limit fails.", ""]
