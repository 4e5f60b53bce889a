"""The search space of a sweep: dotted recipe keys with a list of values (grid, or choices) or a range.

Values travel through Ray as JSON text: Optuna's categorical choices take only plain scalars, and a value
such as `data.image_size: [32, 32]` is a list."""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import re

from edgecnn.errors import RecipeError
from edgecnn.recipe import SweepConfig, SweepRange, validate_recipe


def apply(raw: dict, overrides: dict) -> dict:
    """A trial's raw recipe: `raw` with dotted `overrides` set, and no sweep section of its own."""
    trial = copy.deepcopy(raw)
    trial.pop("sweep", None)
    for dotted, value in overrides.items():
        node, *path, last = [trial, *dotted.split(".")]
        for part in path:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise RecipeError(f"sweep.space.{dotted}: the recipe has a value, not a section, at {part}")
            node = child
        node[last] = value
    return trial


def grid(sweep: SweepConfig) -> list[dict]:
    """Every combination of the listed values, in the space's order (ranges excluded)."""
    keys = [key for key, values in sweep.space.items() if isinstance(values, list)]
    return [dict(zip(keys, combo)) for combo in itertools.product(*(sweep.space[key] for key in keys))]


def check_space(raw: dict, sweep: SweepConfig) -> None:
    """Every grid combination (and each range's ends) must make a valid recipe: bad keys or values fail
    here, in one line naming the key, before Ray starts."""
    if not sweep.space:
        raise RecipeError("sweep.space is empty: give recipe keys to vary, e.g. --grid model.alpha=[0.5,1.0]")
    ranges = {key: r for key, r in sweep.space.items() if isinstance(r, SweepRange)}
    ends = [dict(zip(ranges, combo)) for combo in itertools.product(*((r.min, r.max) for r in ranges.values()))]
    for combination in grid(sweep):
        for end in ends or [{}]:
            overrides = {**combination, **{k: int(v) if ranges[k].integer else v for k, v in end.items()}}
            validate_recipe(apply(raw, overrides), source=f"sweep trial {describe(overrides)}")


def ray_space(sweep: SweepConfig) -> dict:
    from ray import tune  # lazy: Ray (1 s) only for a sweep

    space = {}
    for key, values in sweep.space.items():
        if isinstance(values, SweepRange):
            if values.integer:
                space[key] = (tune.lograndint if values.log else tune.randint)(int(values.min), int(values.max) + 1)
            else:
                space[key] = (tune.loguniform if values.log else tune.uniform)(values.min, values.max)
        else:
            encoded = [json.dumps(value) for value in values]
            space[key] = tune.grid_search(encoded) if sweep.search == "grid" else tune.choice(encoded)
    return space


def decode(config: dict) -> dict:
    """A Ray trial's config back to recipe values."""
    return {key: json.loads(value) if isinstance(value, str) else value for key, value in config.items()}


def describe(overrides: dict) -> str:
    return ", ".join(f"{key}={json.dumps(value, separators=(',', ':'))}" for key, value in overrides.items())


def slug(overrides: dict) -> str:
    """A folder name for a trial: readable, and unique by a hash of its values."""
    text = "_".join(f"{key.split('.')[-1]}={json.dumps(v, separators=(',', ':'))}" for key, v in overrides.items())
    readable = re.sub(r"[^A-Za-z0-9=._-]+", "-", text).strip("-")[:80]
    return f"{readable}_{hashlib.sha256(json.dumps(overrides, sort_keys=True).encode()).hexdigest()[:8]}"
