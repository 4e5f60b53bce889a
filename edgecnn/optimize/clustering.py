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
    cfg = recipe.optimize.cluster
    tfmot = model_optimization()
    clustering = tfmot.clustering.keras
    clustered = clustering.cluster_weights(
        fresh_copy(model), number_of_clusters=cfg.clusters,
        cluster_centroids_init=clustering.CentroidInitialization.KMEANS_PLUS_PLUS,
    )
    cluster_metrics = fine_tune(clustered, recipe, dataset, cfg, "cluster", show_progress=show_progress)
    scheme = tfmot.experimental.combine.Default8BitClusterPreserveQuantizeScheme()
    with _quiet_root_logger():  # tfmot logs a WARNING per layer when the clustered model has no zeros to keep
        quantized = prepare_qat(clustering.strip_clustering(clustered), images, recipe.optimize.qat.leave_float,
                                scheme)
    cqat = SimpleNamespace(epochs=cfg.cqat_epochs, learning_rate=cfg.learning_rate)
    cqat_metrics = fine_tune(quantized, recipe, dataset, cqat, "cqat", show_progress=show_progress,
                             restore_best=True)
    details = {"clusters": cfg.clusters, "epochs": cfg.epochs, "cqat_epochs": cfg.cqat_epochs,
               "fine_tune": cluster_metrics, "cqat": cqat_metrics}
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
