"""Weight clustering with tfmot, then cluster-preserving QAT so the int8 file keeps the few distinct values."""

from __future__ import annotations

import contextlib
import logging
from types import SimpleNamespace
from typing import TYPE_CHECKING

from edgecnn._tf import model_optimization
from edgecnn.optimize.batchnorm import fold_batchnorm
from edgecnn.optimize.finetune import fine_tune, fresh_copy
from edgecnn.optimize.qat import prepare_qat

if TYPE_CHECKING:  # annotations only: no import at run time
    from edgecnn.recipe import ClusterConfig, Recipe


def cluster_and_quantize(model, recipe: Recipe, dataset, images, show_progress: bool = True):
    """Returns (QAT model ready for int8 conversion, details for the report)."""
    return _cluster_then_qat(model, recipe, dataset, images, recipe.optimize.cluster, False, show_progress)


def prune_cluster_and_quantize(pruned, recipe: Recipe, dataset, images, show_progress: bool = True):
    """tfmot's collaborative optimization on an already pruned (and stripped) model: clustering that keeps
    its zeros, then prune- and cluster-preserving QAT (PCQAT). Returns (QAT model, details)."""
    return _cluster_then_qat(pruned, recipe, dataset, images, recipe.optimize.pcqat, True, show_progress)


def _cluster_then_qat(model, recipe: Recipe, dataset, images, cfg: ClusterConfig,
                      preserve_sparsity: bool, show_progress: bool):
    tfmot = model_optimization()
    clustering = tfmot.clustering.keras
    per_tensor = cfg.per_tensor
    if per_tensor:  # cluster the kernels the file will hold, so one scale per tensor keeps them few codes
        model = fold_batchnorm(model)
    clustered = clustering.cluster_weights(
        fresh_copy(model), number_of_clusters=cfg.clusters, preserve_sparsity=preserve_sparsity,
        cluster_centroids_init=clustering.CentroidInitialization.KMEANS_PLUS_PLUS,
    )
    stage = "pcqat" if preserve_sparsity else "cqat"
    cluster_metrics = fine_tune(clustered, recipe, dataset, cfg, "cluster", show_progress=show_progress)
    scheme = (_per_tensor_scheme(preserve_sparsity) if per_tensor else
              tfmot.experimental.combine.Default8BitClusterPreserveQuantizeScheme(preserve_sparsity=preserve_sparsity))
    with _quiet_root_logger():  # tfmot logs a WARNING per layer when the clustered model has no zeros to keep
        quantized = prepare_qat(clustering.strip_clustering(clustered), images, recipe.optimize.qat.leave_float,
                                scheme)
    qat = SimpleNamespace(epochs=cfg.cqat_epochs, learning_rate=cfg.learning_rate)
    qat_metrics = fine_tune(quantized, recipe, dataset, qat, stage, show_progress=show_progress, restore_best=True)
    details = {"clusters": cfg.clusters, "epochs": cfg.epochs, f"{stage}_epochs": cfg.cqat_epochs,
               "fine_tune": cluster_metrics, stage: qat_metrics,
               "weight_scales": "per tensor, BatchNorm folded" if per_tensor else "per channel"}
    return quantized, details


def _per_tensor_scheme(preserve_sparsity: bool):
    """tfmot's cluster-preserving QAT scheme with one weight scale per tensor: tfmot's registry with
    per-axis quantization off (its Conv2D config then is the one it clusters for Dense layers)."""
    model_optimization()  # TensorFlow set up before tfmot's internals load
    from tensorflow_model_optimization.python.core.quantization.keras.collab_opts.cluster_preserve import (
        cluster_preserve_quantize_registry as cluster_registry,
        default_8bit_cluster_preserve_quantize_scheme as cluster_scheme,
    )
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
        default_8bit_quantize_configs as configs,
        default_8bit_quantize_layout_transform as layout,
        default_8bit_quantize_registry as registry,
    )

    class PerTensorRegistry(cluster_registry.Default8bitClusterPreserveQuantizeRegistry):
        def get_quantize_config(self, layer):
            config = registry.Default8BitQuantizeRegistry(disable_per_axis=True).get_quantize_config(layer)
            if not self._no_trainable_weights(layer) and not self._disable_cluster_preserve(layer):
                config.weight_quantizer = self._config_quantizer_map["Default8BitQuantizeConfig"]
            return config

    class WeightsBeforeReLU(layout.Default8BitQuantizeLayoutTransform):
        """tfmot's transform for a ReLU right after a convolution or dense layer (no BatchNorm between, as
        after folding) gives that layer a no-op config, which drops its weights' fake quantization too; the
        converter would then quantize those kernels itself, per channel. Back to the registry's config:
        weights fake-quantized, output left to the ReLU."""

        def apply(self, model, layer_quantize_map):
            transformed, quantize_map = super().apply(model, layer_quantize_map)
            weighted = {layer.name for layer in transformed.layers if getattr(layer, "kernel", None) is not None
                        or getattr(layer, "depthwise_kernel", None) is not None}
            for name in weighted & set(quantize_map):
                if isinstance(quantize_map[name].get("quantize_config"), configs.NoOpQuantizeConfig):
                    del quantize_map[name]["quantize_config"]
            return transformed, quantize_map

    class PerTensorScheme(cluster_scheme.Default8BitClusterPreserveQuantizeScheme):
        def get_layout_transformer(self):
            return WeightsBeforeReLU()

        def get_quantize_registry(self):
            return PerTensorRegistry(self.preserve_sparsity)

    return PerTensorScheme(preserve_sparsity)


@contextlib.contextmanager
def _quiet_root_logger():
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)
