"""`edgecnn sweep`: trials over recipe keys as Ray Tune trials (a local Ray by default, `--address` for a
cluster), each trial an incremental build in its own run folder; results as a table, sweep.json, sweep.md,
the Pareto fronts of accuracy against p50 latency and gzip size, and the best trial's recipe.

    space.py     the search space: grid, choices and ranges over dotted recipe keys
    trial.py     one trial (runs in a Ray worker): build, report validation accuracy per epoch, the result
    results.py   rows, Pareto fronts, the best trial, sweep.json / sweep.md / PNGs
    runner.py    Ray: start or join, Tuner, search algorithm, early stopping, resume
"""
