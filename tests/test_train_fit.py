"""The training progress bar at 80 columns: bar, step count and elapsed time all whole."""

import io

from rich.console import Console

from edgecnn.train.fit import epoch_line, training_progress


def test_the_training_bar_keeps_bar_steps_and_time_at_80_columns():
    # setup: the longest state of a long training (MNIST: 20 epochs of 469 steps), on an 80-column terminal
    out = Console(width=80, file=io.StringIO(), force_terminal=True, color_system=None)
    progress = training_progress("train x2", out)
    task = progress.add_task("epoch 20/20", total=20 * 469)
    progress.update(task, completed=9_000)
    # execute
    out.print(progress.get_renderable())
    # assert
    line = out.file.getvalue().splitlines()[0]
    assert "9000/9380" in line and "epoch 20/20" in line and "0:00:00" in line and "..." not in line
    assert line.count("━") >= 20  # a bar, not 2 characters of one
    assert len(line) <= 80


def test_the_epoch_metrics_line_names_every_metric():
    line = epoch_line(2, 20, {"loss": 0.1234, "accuracy": 0.9, "val_loss": 0.2, "val_accuracy": 0.95})
    assert line == "epoch 3/20 loss 0.1234 acc 0.9000 val_loss 0.2000 val_acc 0.9500"


def test_a_model_starts_from_another_runs_backbone_with_a_new_classifier(tiny_build, tiny_dataset, tmp_path):
    # setup: the tiny run as the source, for a recipe of another seed
    import shutil

    import numpy as np

    from edgecnn.incremental.keys import train_plan
    from edgecnn.modelfile import load_keras
    from edgecnn.models.pretrained import backbone_layers
    from edgecnn.recipe import validate_recipe
    from edgecnn.train.fit import build_model
    from tests.conftest import TINY_RECIPE

    source = tmp_path / "source"
    shutil.copytree(tiny_build[0], source)
    recipe = validate_recipe({**TINY_RECIPE, "seed": 11, "model": {**TINY_RECIPE["model"], "pretrained": str(source)}})
    # execute
    model = build_model(recipe, tiny_dataset)
    # assert: every backbone weight is the source's; the classifier is made anew
    trained = load_keras(source / "model.keras")
    for ours, theirs in zip(backbone_layers(model), backbone_layers(trained), strict=True):
        assert all(np.array_equal(a, b) for a, b in zip(ours.get_weights(), theirs.get_weights())), ours.name
    head = trained.get_layer("classifier").get_weights()[0]
    assert not np.array_equal(model.get_layer("classifier").get_weights()[0], head)
    # the train stage's key holds the source's weights: a retrained source retrains this model
    before = train_plan(recipe, {"data": "d"}).key
    (source / "model.keras").write_bytes((source / "model.keras").read_bytes() + b"retrained")
    assert train_plan(recipe, {"data": "d"}).key != before
