"""Pictures: the training curves say why a label-smoothed loss levels off above zero."""

import numpy as np
from PIL import Image

from edgecnn.plots import plot_history, smoothed_loss_floor


def test_the_smoothed_loss_floor_is_the_cross_entropy_of_the_smoothed_targets_with_themselves():
    # setup: digits' 10 classes at label smoothing 0.1, as tf_keras builds the targets
    targets = np.full(10, 0.1 / 10)
    targets[3] += 0.9
    # execute, assert: the best prediction (the targets themselves) costs exactly the floor; any other costs more
    best = -(targets * np.log(targets)).sum()
    assert abs(smoothed_loss_floor(10, 0.1) - best) < 1e-12 and 0.49 < best < 0.51
    sharper = np.full(10, 0.001)
    sharper[3] = 1 - 0.009
    assert -(targets * np.log(sharper)).sum() > best
    assert smoothed_loss_floor(10, 0.0) == 0.0


def test_training_curves_mark_the_label_smoothing_floor(tmp_path):
    history = {"loss": [1.2, 0.8, 0.66], "val_loss": [1.0, 0.75, 0.67], "accuracy": [0.7, 0.9, 0.95],
               "val_accuracy": [0.8, 0.9, 0.94], "best_epoch": 3}
    plain = plot_history(history, tmp_path / "plain.png", "t")
    noted = plot_history(history, tmp_path / "noted.png", "t", classes=10, label_smoothing=0.1)
    red = [np.asarray(Image.open(p).convert("RGB")).astype(int) for p in (plain, noted)]
    # tab:red (214, 39, 40) appears only where the floor and its note are drawn
    count = [int(((abs(img - (214, 39, 40))).sum(-1) < 60).sum()) for img in red]
    assert count[0] == 0 and count[1] > 200
