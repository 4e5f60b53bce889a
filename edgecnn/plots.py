"""Pictures where a picture beats a table: training curves (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

from edgecnn.fileio import atomic_path


def plot_history(history: dict, path: Path, title: str = "") -> Path:
    """Loss and accuracy per epoch, training and validation, with the kept (best) epoch marked."""
    import matplotlib  # lazy: matplotlib (1 s) only when a picture is drawn

    matplotlib.use("Agg")  # no display on servers and CI
    import matplotlib.pyplot as plt  # lazy: matplotlib (1 s) only when a picture is drawn
    from matplotlib.ticker import MaxNLocator

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
        axis.legend(fontsize=8)
    figure.suptitle(title or "training curves")
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=110)
    plt.close(figure)
    return Path(path)
