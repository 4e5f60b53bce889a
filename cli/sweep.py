"""`edgecnn sweep`: search recipe keys for the best model under the budgets, on Ray Tune."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from edgecnn_cli._common import JsonOption, OverridesOption, QuietOption, RecipeArgument, print_json, user_errors




def sweep(recipe: RecipeArgument,
          out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Sweep folder \\[default: sweeps/<recipe name>].")] = None,
          grid: Annotated[Optional[list[str]], typer.Option("--grid", metavar="KEY=[V,...]", help="Values of one recipe "
                          "key to try, e.g. --grid model.alpha=[0.5,0.75,1.0] (repeatable; adds to sweep.space).")] = None,
          search: Annotated[Optional[str], typer.Option("--search", metavar="grid|random|tpe", help="Search: every "
                            "combination, random draws, or Optuna's TPE \\[default: sweep.search, grid].")] = None,
          trials: Annotated[Optional[int], typer.Option("--trials", help="Trials for random and tpe.")] = None,
          max_minutes: Annotated[Optional[float], typer.Option("--max-minutes", help="Start no trial after this.")] = None,
          concurrency: Annotated[Optional[int], typer.Option("--concurrency", "-j", help="Trials at a time.")] = None,
          cpus_per_trial: Annotated[Optional[float], typer.Option("--cpus-per-trial", help="CPUs per trial.")] = None,
          address: Annotated[Optional[str], typer.Option("--address", metavar="auto|HOST:PORT", help="Run on this Ray "
                             "cluster (auto: the one `ray start` made here) \\[default: a local Ray just for this].")] = None,
          resume: Annotated[bool, typer.Option("--resume", help="Continue the sweep in --out: finished trials are "
                                               "read back, not rerun.")] = False,
          cache: Annotated[Optional[Path], typer.Option("--cache", metavar="DIR", help="Stage cache shared by the "
                           "trials' builds (also EDGECNN_CACHE).")] = None,
          overrides: OverridesOption = None, as_json: JsonOption = False, quiet: QuietOption = False):
    """Search recipe keys (width, input size, model, epochs, variants, ...) for the best model within the
    recipe's verify.budgets: each trial is a build on Ray Tune; the results are a table, sweep.json,
    sweep.md, the Pareto fronts of accuracy against p50 latency and gzip size (PNG), and best_recipe.yaml.

    Example: edgecnn sweep recipes/shapes.yaml --grid model.alpha=[0.5,0.75,1.0] --grid "data.image_size=[[32,32],[48,48]]"
    """
    with user_errors():
        from edgecnn import api
        from edgecnn.sweep.results import print_summary

        flags = {"search": search, "trials": trials, "max_minutes": max_minutes, "concurrency": concurrency,
                 "cpus_per_trial": cpus_per_trial}
        settings = [f"sweep.{key}={value}" for key, value in flags.items() if value is not None]
        done = api.sweep(recipe, out, [*(overrides or []), *settings], grid, address, resume, cache,
                         show_progress=not quiet)
        if not quiet:
            print_summary(done.summary)
            typer.echo(f"sweep: {done.folder / 'sweep.md'}", err=True)
        if as_json:
            print_json(done.summary.to_dict())
