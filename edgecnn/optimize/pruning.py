"""Magnitude pruning with tfmot: a polynomial or constant schedule over chosen layers, 2:4 structured
sparsity for pointwise and dense kernels, fine-tuning, then `strip_pruning`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgecnn._tf import keras, model_optimization
from edgecnn.errors import RecipeError
from edgecnn.optimize.finetune import fine_tune, fresh_copy
from edgecnn.optimize.layers import layer_kind, select_layers
from edgecnn.train.fit import steps_per_epoch

if TYPE_CHECKING:  # annotations only: no import at run time
    from edgecnn.recipe import Recipe


def prune(model, recipe: Recipe, dataset, show_progress: bool = True):
    """Prune a copy of `model` as `optimize.prune` says; returns (stripped model, details for the report)."""
    cfg = recipe.optimize.prune
    sparsity = model_optimization().sparsity.keras
    base = fresh_copy(model)
    chosen = select_layers(base, cfg.include, cfg.exclude, "optimize.prune")
    depthwise = [name for name in chosen if layer_kind(base.get_layer(name)) == "depthwise"]
    if depthwise:
        raise RecipeError(f"optimize.prune.include: tfmot cannot prune depthwise kernels ({depthwise[0]}, ...); "
                          "exclude them with optimize.prune.exclude: [depthwise]")
    total_steps = cfg.epochs * steps_per_epoch(recipe, dataset)
    if cfg.schedule == "polynomial":
        # Reach the final sparsity after two thirds of the steps; the rest recovers accuracy at it.
        schedule = sparsity.PolynomialDecay(cfg.initial_sparsity, cfg.final_sparsity, begin_step=0,
                                            end_step=max(1, total_steps * 2 // 3), frequency=cfg.frequency)
    else:
        schedule = sparsity.ConstantSparsity(cfg.final_sparsity, begin_step=0, frequency=cfg.frequency)
    wrapped = _wrap(base, chosen, lambda layer: sparsity.prune_low_magnitude(layer, pruning_schedule=schedule))
    metrics = fine_tune(wrapped, recipe, dataset, cfg, "prune", [sparsity.UpdatePruningStep()], show_progress)
    details = {"schedule": cfg.schedule, "initial_sparsity": cfg.initial_sparsity if cfg.schedule == "polynomial"
               else cfg.final_sparsity, "final_sparsity": cfg.final_sparsity, "epochs": cfg.epochs,
               "steps": total_steps, "pruned_layers": chosen, "fine_tune": metrics}
    return sparsity.strip_pruning(wrapped), details


def prune_2_of_4(model, recipe: Recipe, dataset, show_progress: bool = True):
    """2:4 sparsity (two zeros in every four consecutive input channels) on pointwise and dense kernels
    whose input channels divide by four: the pattern sparse tensor hardware accelerates."""
    cfg = recipe.optimize.structured
    sparsity = model_optimization().sparsity.keras
    base = fresh_copy(model)
    chosen = [layer.name for layer in base.layers
              if layer_kind(layer) in ("pointwise", "dense") and layer.input_shape[-1] % 4 == 0]
    if not chosen:
        raise RecipeError("optimize.variants: prune_2of4_float32 needs pointwise or dense layers with a multiple "
                          "of 4 input channels; this model has none")
    wrapped = _wrap(base, chosen, lambda layer: sparsity.prune_low_magnitude(layer, sparsity_m_by_n=(2, 4)))
    metrics = fine_tune(wrapped, recipe, dataset, cfg, "2:4", [sparsity.UpdatePruningStep()], show_progress)
    details = {"structure": "2:4 along input channels", "epochs": cfg.epochs, "pruned_layers": chosen,
               "fine_tune": metrics}
    return sparsity.strip_pruning(wrapped), details


def _wrap(model, names: list[str], wrapper):
    return keras().models.clone_model(model, clone_function=lambda layer: wrapper(layer) if layer.name in names else layer)
