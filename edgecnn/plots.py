"""Pictures where a picture beats a table: training curves, sweep fronts (matplotlib, headless)."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

from edgecnn.fileio import atomic_path

# matplotlib comes with the `train` extra; the base install (verifying files, a CI gate) draws no pictures.
MATPLOTLIB_MISSING = ("not drawn: pictures need matplotlib, which the base install leaves out "
                      "(pip install matplotlib, or the train extra: pip install 'edgecnn[train]')")


def can_draw() -> bool:
    """Whether matplotlib is installed, so optional pictures can be drawn (found without importing it)."""
    return importlib.util.find_spec("matplotlib") is not None


def pyplot():
    """matplotlib's pyplot, drawing without a display (servers and CI have none)."""
    import matplotlib  # lazy: matplotlib (1 s) only when a picture is drawn

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # lazy: matplotlib (1 s) only when a picture is drawn

    return plt


def save_figure(figure, path: Path, dpi: int = 110) -> Path:
    """Write a figure as PNG atomically and free it."""
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    pyplot().close(figure)
    return Path(path)


def smoothed_loss_floor(classes: int, label_smoothing: float) -> float:
    """The lowest cross-entropy reachable on label-smoothed targets: their own entropy (true class
    1 - s + s/K, every other class s/K)."""
    true, other = 1 - label_smoothing + label_smoothing / classes, label_smoothing / classes
    return float(-(true * math.log(true) + (classes - 1) * other * math.log(other))) if label_smoothing > 0 else 0.0


def plot_history(history: dict, path: Path, title: str = "", classes: int = 0, label_smoothing: float = 0.0) -> Path:
    """Loss and accuracy per epoch, training and validation, with the kept (best) epoch marked. With label
    smoothing the loss levels off well above zero; the plot draws that floor and says why."""
    from matplotlib.ticker import MaxNLocator  # lazy: matplotlib (1 s) only when a picture is drawn

    plt = pyplot()

    epochs = range(1, len(history["loss"]) + 1)
    figure, axes = plt.subplots(1, 2, figsize=(10, 3.8), constrained_layout=True)
    for axis, metric in zip(axes, ("loss", "accuracy")):
        axis.plot(epochs, history[metric], marker="o", markersize=3, label=f"train {metric}")
        if f"val_{metric}" in history:
            axis.plot(epochs, history[f"val_{metric}"], marker="o", markersize=3, label=f"validation {metric}")
        if history.get("best_epoch"):
            axis.axvline(history["best_epoch"], color="grey", linestyle="--", linewidth=1,
                         label=f"kept: epoch {history['best_epoch']}")
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        axis.set_ylabel(metric)
        axis.grid(alpha=0.3)
        if metric == "loss" and label_smoothing > 0 and classes > 1:
            floor = smoothed_loss_floor(classes, label_smoothing)
            axis.axhline(floor, color="tab:red", linestyle=":", linewidth=1,
                         label=f"floor {floor:.2f}: label smoothing {label_smoothing:g}")
            axis.set_title(f"label smoothing {label_smoothing:g}: the loss cannot fall below {floor:.2f} (the smoothed\n"
                           "targets' own entropy), plus the L2 penalty; read the accuracy instead",
                           fontsize=8, color="tab:red")
        axis.legend(fontsize=8)
    figure.suptitle(title or "training curves")
    with atomic_path(path) as tmp:  # not save_figure: bbox_inches="tight" would change the curves' bytes
        figure.savefig(tmp, format="png", dpi=110)
    plt.close(figure)
    return Path(path)
