"""Run a sweep on Ray Tune: a local Ray started for it (nothing to set up), or the cluster at `address`
(`auto`, or HOST:PORT), unchanged. Each trial reserves `sweep.cpus_per_trial` CPUs; `sweep.concurrency`
trials run at a time; a failed trial is recorded, not fatal; `resume` continues a sweep in the same folder,
finished trials read from their `trial.json` instead of being rerun."""

from __future__ import annotations

import contextlib
import copy
import os
import sys
import time
from pathlib import Path

from edgecnn.train.distributed import RAY_EXTRA_HINT, ray_session
from edgecnn.errors import MissingDependency, RecipeError
from edgecnn.recipe import Override, Recipe, SweepConfig, load_recipe_dict, parse_override, validate_recipe
from edgecnn.sweep.results import SweepSettings, TrialRow, summarize, write_results
from edgecnn.sweep.space import check_space, decode, describe, ray_space
from edgecnn.sweep.trial import TRIALS_DIR, remeasure_trial, run_trial

def sweep_recipe(recipe: Path, overrides: list[Override] | None = None,
                 grid: list[str] | None = None) -> tuple[dict, object]:
    """The recipe's raw mapping (with `--set` overrides and `--grid KEY=[...]` put into sweep.space) and
    its validated form; every trial's recipe is checked too."""
    raw = load_recipe_dict(Path(recipe), overrides)
    for item in grid or []:
        key, values = parse_override(item)
        if not isinstance(values, list) or not values:
            raise RecipeError(f"--grid {item!r}: expected KEY=[VALUE, ...], e.g. --grid model.alpha=[0.5,1.0]")
        raw.setdefault("sweep", {}).setdefault("space", {})[key] = values
    parsed = validate_recipe(raw, source=str(recipe))
    check_space(raw, parsed.sweep)
    return raw, parsed


SWEEP_CACHE = "cache"  # the sweep's own stage cache, when no --cache is given


def _ray():
    try:
        import ray  # lazy: Ray (1 s, with its processes) only for a sweep
        from ray import tune  # noqa: F401  # lazy: as above
    except ImportError as exc:
        raise MissingDependency(f"edgecnn sweep needs Ray Tune; {RAY_EXTRA_HINT}") from exc
    return ray


def run_sweep(raw: dict, recipe: Recipe, out: Path, address: str | None = None, resume: bool = False,
              cache: Path | None = None, show_progress: bool = True) -> dict:
    """Every trial of `recipe.sweep`, then the summary (rows, fronts, best) written into `out`. Without a `cache`,
    the sweep keeps one of its own (out/cache): a trial whose values differ from a finished one's only in what
    comes after training (export, optimize, verify settings) starts from that trial's trained model."""
    out = Path(out).absolute()
    if (out / TRIALS_DIR).is_dir() and not resume:
        raise RecipeError(f"--out {out}: holds a sweep already; pass --resume to continue it, or choose another --out")
    ray = _ray()
    from ray import tune  # lazy: Ray

    settings = recipe.sweep
    context = {"recipe": copy.deepcopy(raw), "out": str(out), "cache": str(cache or out / SWEEP_CACHE),
               "early_stop": settings.early_stop, "objective": settings.objective,
               "threads": max(1, int(settings.cpus_per_trial))}
    with ray_session(ray, address, f"--address {address}", RecipeError, include_dashboard=False,
                     log_to_driver=show_progress, logging_level="WARNING", configure_logging=True):
        trainable = tune.with_resources(tune.with_parameters(_trial, context=context), {"cpu": settings.cpus_per_trial})
        tuner = tune.Tuner(trainable, param_space=ray_space(settings), tune_config=_tune_config(settings, recipe),
                           run_config=tune.RunConfig(storage_path=str(out / "ray"), name=f"sweep-{time.strftime('%Y%m%d-%H%M%S')}",
                                                     failure_config=tune.FailureConfig(max_failures=0),
                                                     verbose=1 if show_progress else 0))
        with contextlib.redirect_stdout(sys.stderr):  # Ray Tune's tables would spoil `--json` on stdout
            results = tuner.fit()
        rows = [_row(result) for result in results]
    if settings.remeasure:
        rows = _remeasure(rows, context, show_progress)
    summary = summarize(rows, settings.objective, SweepSettings(
        recipe=recipe.name, search=settings.search, space=list(settings.space), objective=settings.objective,
        concurrency=settings.concurrency, cpus_per_trial=settings.cpus_per_trial, address=address,
        budgets=recipe.verify.budgets.model_dump()))
    summary.files = {name: str(path) for name, path in write_results(summary, out).items()}
    return summary


def _remeasure(rows: list[TrialRow], context: dict, show_progress: bool) -> list[TrialRow]:
    """Every finished trial's files timed again, one trial at a time, once no trial runs: comparable p50s.
    A trial whose folder this machine cannot reach (another node's disk) keeps the figures it measured."""
    from edgecnn.console import console

    done = [i for i, row in enumerate(rows) if row.done and Path(row.folder).is_dir()]
    for count, i in enumerate(done, 1):
        before = rows[i].p50_ms
        rows[i] = remeasure_trial(rows[i], context["recipe"], context["objective"])
        if show_progress:
            console().print(f"re-measured {count}/{len(done)} {describe(rows[i].overrides)}: {rows[i].artifact} "
                            f"p50 {rows[i].p50_ms:.3f} ms (beside other trials: {before:.3f} ms)")
    return rows


def _trial(config: dict, context: dict) -> None:
    # Each trial's TensorFlow keeps to the CPUs Ray reserved for it (read when TensorFlow is first imported).
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(context["threads"]))
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
    run_trial(config, context)


def _tune_config(settings: SweepConfig, recipe: Recipe):
    from ray import tune  # lazy: Ray
    from ray.tune.schedulers import ASHAScheduler  # lazy: Ray
    from ray.tune.search import BasicVariantGenerator, ConcurrencyLimiter  # lazy: Ray

    if settings.search == "tpe":
        try:
            from ray.tune.search.optuna import OptunaSearch  # lazy: Ray and Optuna
        except ImportError as exc:
            raise MissingDependency(f"sweep.search tpe needs Optuna; {RAY_EXTRA_HINT}") from exc
        searcher = ConcurrencyLimiter(OptunaSearch(metric="score", mode="min", seed=recipe.seed),
                                      max_concurrent=settings.concurrency)
    else:
        # The same draws again on --resume. The limit is set on the search itself, for both kinds: Ray silently
        # ignores TuneConfig.max_concurrent_trials for a generator such as this one.
        searcher = BasicVariantGenerator(random_state=recipe.seed, max_concurrent=settings.concurrency)
    # One report per epoch, then the result: Ray's own report count stands for epochs.
    scheduler = (ASHAScheduler(metric="val_accuracy", mode="max", time_attr="training_iteration",
                               max_t=recipe.train.epochs + 1, grace_period=min(settings.grace_epochs, recipe.train.epochs))
                 if settings.early_stop else None)
    return tune.TuneConfig(search_alg=searcher, scheduler=scheduler,
                           num_samples=1 if settings.search == "grid" else settings.trials,
                           time_budget_s=settings.max_minutes * 60 if settings.max_minutes else None)


def _row(result) -> TrialRow:
    """A Ray Tune result (the metrics the trial reported: its trial.json record) as the sweep's row."""
    metrics = result.metrics or {}
    config = decode({k: v for k, v in (result.config or {}).items()})
    if result.error is not None:
        message = " ".join(str(result.error).split())
        return TrialRow(overrides=config, status="failed", error=message[-300:])
    if "accuracy" not in metrics:
        return TrialRow(overrides=config, status="stopped early", val_accuracy=metrics.get("val_accuracy"),
                        epochs=metrics.get("epoch"))
    keep = ("folder", "artifact", "within_budgets", "accuracy", "p50_ms", "gzip_bytes", "size_bytes", "arena_bytes",
            "npu_cycles", "npu_ms", "float_accuracy",
            "val_accuracy", "score", "seconds", "started_at", "finished_at", "node_id", "node_ip", "pid", "resumed", "remeasured")
    return TrialRow(overrides=config, status="done", **{k: metrics.get(k) for k in keep})
