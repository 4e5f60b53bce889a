"""Train the recipe's model and write what the later stages read: `train_model` fits here (`fit`) or on Ray Train
(`distributed`) and saves the files either way. Nothing in `fit` or `distributed` imports this package's top."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from edgecnn.data import Dataset
from edgecnn.plots import plot_history, pyplot
from edgecnn.run import RunFolder
from edgecnn.train.fit import fit_model, predict_probabilities

if TYPE_CHECKING:  # annotations only: no import at run time
    from edgecnn.recipe import Recipe


@dataclass
class TrainResult:
    model: object
    history: dict
    model_path: Path
    seconds: float
    best_epoch: int


def train_model(recipe: Recipe, dataset: Dataset, out_dir: Path, show_progress: bool = True,
                on_epoch=None) -> TrainResult:
    """Fit the recipe's model on the training split; save `model.keras`, `history.json`, `reference.npz`.
    `on_epoch(epoch, logs)` is called after each epoch (a sweep reports validation accuracy through it).
    With `train.distributed.workers` above 1 the fit runs data-parallel on Ray Train; the files are the same kind."""
    start = time.perf_counter()
    # matplotlib (about 1 s to import) loads while TensorFlow trains, for the curves drawn after it.
    threading.Thread(target=pyplot, daemon=True).start()
    if recipe.train.distributed.workers > 1:
        from edgecnn.train.distributed import fit_on_ray  # lazy: Ray, only for a distributed training

        model, record = fit_on_ray(recipe, dataset, show_progress=show_progress, on_epoch=on_epoch)
    else:
        model, record = fit_model(recipe, dataset, show_progress=show_progress, on_epoch=on_epoch)
    seconds = time.perf_counter() - start
    run = RunFolder(out_dir)
    run.save_model(model)
    run.save_history(record)
    # Titled by what shaped the curves (not the recipe's name), so recipes that share the training share this file.
    plot_history(record, run.curves_path, f"{recipe.model.name} on {recipe.data.describe_source()}",
                 classes=dataset.num_classes, label_smoothing=recipe.train.label_smoothing)
    run.save_reference(predict_probabilities(model, dataset.test, dataset.contract), dataset.test_fingerprint())
    return TrainResult(model, record, run.model_path, seconds, record["best_epoch"])
