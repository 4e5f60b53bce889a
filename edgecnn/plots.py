"""Pictures where a picture beats a table: training curves, sweep fronts (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

from edgecnn.fileio import atomic_path


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


def plot_history(history: dict, path: Path, title: str = "") -> Path:
    """Loss and accuracy per epoch, training and validation, with the kept (best) epoch marked."""
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
        axis.legend(fontsize=8)
    figure.suptitle(title or "training curves")
    with atomic_path(path) as tmp:  # not save_figure: bbox_inches="tight" would change the curves' bytes
        figure.savefig(tmp, format="png", dpi=110)
    plt.close(figure)
    return Path(path)
