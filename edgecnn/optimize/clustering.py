"""Weight clustering with tfmot, then cluster-preserving QAT so the int8 file keeps the few distinct values."""

from __future__ import annotations

import contextlib
import logging
from types import SimpleNamespace

from edgecnn._tf import model_optimization
from edgecnn.optimize.finetune import fine_tune, fresh_copy
from edgecnn.optimize.qat import prepare_qat


def cluster_and_quantize(model, recipe, dataset, images, show_progress: bool = True):
    """Returns (QAT model ready for int8 conversion, details for the report)."""
    return _cluster_then_qat(model, recipe, dataset, images, recipe.optimize.cluster, False, show_progress)


def prune_cluster_and_quantize(pruned, recipe, dataset, images, show_progress: bool = True):
    """tfmot's collaborative optimization on an already pruned (and stripped) model: clustering that keeps
    its zeros, then prune- and cluster-preserving QAT (PCQAT). Returns (QAT model, details)."""
    return _cluster_then_qat(pruned, recipe, dataset, images, recipe.optimize.pcqat, True, show_progress)


def _cluster_then_qat(model, recipe, dataset, images, cfg, preserve_sparsity: bool, show_progress: bool):
    tfmot = model_optimization()
    clustering = tfmot.clustering.keras
    clustered = clustering.cluster_weights(
        fresh_copy(model), number_of_clusters=cfg.clusters, preserve_sparsity=preserve_sparsity,
        cluster_centroids_init=clustering.CentroidInitialization.KMEANS_PLUS_PLUS,
    )
    stage = "pcqat" if preserve_sparsity else "cqat"
    cluster_metrics = fine_tune(clustered, recipe, dataset, cfg, "cluster", show_progress=show_progress)
    scheme = tfmot.experimental.combine.Default8BitClusterPreserveQuantizeScheme(preserve_sparsity=preserve_sparsity)
    with _quiet_root_logger():  # tfmot logs a WARNING per layer when the clustered model has no zeros to keep
        quantized = prepare_qat(clustering.strip_clustering(clustered), images, recipe.optimize.qat.leave_float,
                                scheme)
    qat = SimpleNamespace(epochs=cfg.cqat_epochs, learning_rate=cfg.learning_rate)
    qat_metrics = fine_tune(quantized, recipe, dataset, qat, stage, show_progress=show_progress, restore_best=True)
    details = {"clusters": cfg.clusters, "epochs": cfg.epochs, f"{stage}_epochs": cfg.cqat_epochs,
               "fine_tune": cluster_metrics, stage: qat_metrics}
    return quantized, details


@contextlib.contextmanager
def _quiet_root_logger():
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)
