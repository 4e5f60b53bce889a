"""Results per class: precision, recall (the accuracy on a class's own test images), top-5, and the
confusion matrix, as counts for report.json, tables for report.md and one PNG for people.

A weak class is the first thing to look for when a model disappoints; top-1 accuracy alone hides it.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from edgecnn.fileio import atomic_path
from edgecnn.plots import can_draw, pyplot
from edgecnn.verify.record import ArtifactResult, BuildReport


def class_results(probabilities: np.ndarray, labels: np.ndarray, names: list[str]) -> dict:
    """Per-class precision/recall, the confusion matrix (rows: true class, columns: predicted), and top-5
    accuracy when there are more than 5 classes: keyword arguments of `ArtifactResult`."""
    predicted = probabilities.argmax(1)
    count = len(names)
    confusion = np.zeros((count, count), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    per_class = {}
    for index, name in enumerate(names):
        images, chosen, right = int(confusion[index].sum()), int(confusion[:, index].sum()), int(confusion[index, index])
        recall = right / images if images else None
        per_class[name] = {"images": images, "accuracy": recall, "recall": recall,
                           "precision": right / chosen if chosen else None}
    record = {"per_class": per_class, "confusion_matrix": confusion.tolist()}
    if count > 5:
        top5 = np.argsort(-probabilities, axis=1, kind="stable")[:, :5]
        record["top5_accuracy"] = float((top5 == labels[:, None]).any(axis=1).mean())
    return record


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def per_class_lines(report: BuildReport) -> list[str]:
    """Two Markdown tables, recall and precision, one row per class and one column per artifact."""
    rows = [a for a in report.artifacts if a.per_class]
    if not rows:
        return []
    names = list(rows[0].per_class)
    lines = ["## Per class", "", "Recall is the accuracy on a class's own test images; precision is the share "
             "of the images predicted as a class that belong to it (both in %).", ""]
    for metric in ("recall", "precision"):
        lines += [f"| {metric} | images | " + " | ".join(a.name for a in rows) + " |",
                  "|---|---:|" + "---:|" * len(rows)]
        for name in names:
            cells = [_pct(getattr(a.per_class[name], metric)) for a in rows]
            lines.append(f"| {_cell(name)} | {rows[0].per_class[name].images} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def confusion_lines(report: BuildReport) -> list[str]:
    """The confusion matrices in Markdown; artifacts with identical matrices share one table."""
    groups = _identical_matrices(report)
    if not groups:
        return []
    lines = ["## Confusion matrices", "", "Rows: the true class; columns: the predicted class; counts of test images."]
    for members in groups:
        matrix, names = members[0].confusion_matrix, list(members[0].per_class)
        lines += ["", f"**{', '.join(a.name for a in members)}**", "",
                  "| true \\ predicted | " + " | ".join(_cell(n) for n in names) + " |",
                  "|---|" + "---:|" * len(names)]
        lines += [f"| {_cell(name)} | " + " | ".join(str(v) for v in row) + " |" for name, row in zip(names, matrix)]
    return lines + [""]


def _identical_matrices(report: BuildReport) -> list[list[ArtifactResult]]:
    """Artifacts grouped by confusion matrix: most variants of one model classify the test split alike."""
    groups: dict[str, list[ArtifactResult]] = {}
    for a in report.artifacts:
        if a.confusion_matrix:
            groups.setdefault(repr(a.confusion_matrix), []).append(a)
    return list(groups.values())


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|")


def draw_confusion(report: BuildReport, path: Path) -> Path | None:
    """One PNG: a row-normalized confusion matrix per distinct matrix, counts written in the cells. None when
    there is no matrix or matplotlib is not installed (the Markdown tables hold the same counts)."""
    groups = _identical_matrices(report)
    if not groups or not can_draw():
        return None
    plt = pyplot()
    panels = groups
    columns = min(3, len(panels))
    rows = -(-len(panels) // columns)
    classes = len(panels[0][0].confusion_matrix)
    side = max(3.2, 0.42 * classes + 1.6)
    figure, axes = plt.subplots(rows, columns, figsize=(side * columns + 1.2, side * rows + 0.4),
                                squeeze=False, constrained_layout=True)
    image = None
    for axis, members in zip(axes.flat, panels):
        image = _confusion_panel(axis, members)
    for axis in axes.flat[len(panels):]:
        axis.axis("off")
    figure.colorbar(image, ax=axes, shrink=0.8, label="share of the true class's test images")
    figure.suptitle(f"{report.recipe.name}: confusion matrices (rows: true class, cells: image counts)")
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100)
    plt.close(figure)
    return Path(path)


def _confusion_panel(axis, members: list[ArtifactResult]):
    matrix = np.asarray(members[0].confusion_matrix, dtype=np.float64)
    names = list(members[0].per_class)
    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    image = axis.imshow(shares, cmap="Blues", vmin=0, vmax=1, interpolation="nearest")
    if len(names) <= 20:
        for (row, column), value in np.ndenumerate(matrix):
            if value:
                axis.text(column, row, f"{int(value)}", ha="center", va="center", fontsize=7,
                          color="white" if shares[row, column] > 0.6 else "black")
    ticks = range(len(names))
    axis.set_xticks(ticks, [n[:10] for n in names], rotation=90 if len(names) > 6 else 0, fontsize=7)
    axis.set_yticks(ticks, [n[:10] for n in names], fontsize=7)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    # Every file named, wrapped over lines: a panel shared by six files says which six.
    axis.set_title(textwrap.fill(", ".join(a.name for a in members), 48), fontsize=8)
    return image


def confusion_panels_caption(report: BuildReport) -> str:
    """Which files each panel of confusion.png shows, in the panels' order (left to right, top to bottom)."""
    groups = _identical_matrices(report)
    return "; ".join(f"panel {i}: {', '.join(a.name for a in members)}" for i, members in enumerate(groups, 1))
