"""Shared fine-tuning for every technique that trains: same pipeline, loss and seed as `train`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgecnn._tf import keras
from edgecnn.train.fit import learning_rate_at, make_pipeline, progress_callback, set_seed, steps_per_epoch

if TYPE_CHECKING:  # annotations only: no import at run time
    from edgecnn.recipe import FineTuneConfig, Recipe


def fresh_copy(model):
    """An independent copy with the same weights: wrappers then never touch the trained model."""
    K = keras()
    copy = K.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def fine_tune(model, recipe: Recipe, dataset, settings: FineTuneConfig, label: str, callbacks=(),
              show_progress: bool = True, restore_best: bool = False):
    """Fit `model` for `settings.epochs` at `settings.learning_rate` with cosine decay on the training split
    with the recipe's augmentation. No early stopping (pruning schedules need every step); with
    `restore_best`, the epoch with the lowest validation loss is kept (quantizer ranges included)."""
    K = keras()
    set_seed(recipe.seed)
    model.compile(
        optimizer=K.optimizers.Adam(settings.learning_rate),
        loss=K.losses.CategoricalCrossentropy(label_smoothing=recipe.train.label_smoothing),
        metrics=["accuracy"],
    )
    schedule = recipe.train.model_copy(update={"epochs": settings.epochs, "learning_rate": settings.learning_rate,
                                               "warmup_epochs": 0, "schedule": "cosine"})
    all_callbacks = [K.callbacks.LearningRateScheduler(lambda epoch: learning_rate_at(epoch, schedule)), *callbacks]
    if restore_best and len(dataset.val):
        all_callbacks.append(K.callbacks.EarlyStopping(monitor="val_loss", patience=settings.epochs,
                                                       restore_best_weights=True))
    if show_progress:
        all_callbacks.append(progress_callback(K, settings.epochs, steps_per_epoch(recipe, dataset), label))
    train_ds = make_pipeline(dataset.train, dataset, recipe.train, recipe.seed, training=True)
    val_ds = make_pipeline(dataset.val, dataset, recipe.train, recipe.seed, training=False)
    history = model.fit(train_ds, validation_data=val_ds if len(dataset.val) else None, epochs=settings.epochs,
                        callbacks=all_callbacks, verbose=0)
    record = history.history
    kept = int(min(range(len(record["val_loss"])), key=record["val_loss"].__getitem__)) if (
        restore_best and "val_loss" in record) else len(record["loss"]) - 1
    metrics = {key: round(float(values[kept]), 4) for key, values in record.items() if key != "lr"}
    return {**metrics, "epoch_kept": kept + 1}
