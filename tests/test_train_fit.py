"""The training progress bar at 80 columns: bar, step count and elapsed time all whole."""

import io

import pytest

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


def test_fine_tuning_trains_the_classifier_then_the_last_blocks_and_never_the_batchnorm(tiny_build, tiny_dataset):
    # setup: the tiny run's backbone, one frozen epoch, then the last block (block_2) at a lower rate
    import numpy as np

    from edgecnn.modelfile import load_keras
    from edgecnn.recipe import validate_recipe
    from edgecnn.train.fit import fit_model
    from tests.conftest import TINY_RECIPE

    source = tiny_build[0]
    recipe = validate_recipe({
        **TINY_RECIPE, "seed": 5, "model": {**TINY_RECIPE["model"], "pretrained": str(source)},
        "train": {**TINY_RECIPE["train"], "epochs": 3, "finetune": {"freeze_epochs": 1, "unfreeze_blocks": 1}}})
    # execute
    model, record = fit_model(recipe, tiny_dataset, show_progress=False)
    # assert
    before = load_keras(source / "model.keras")
    def unchanged(layer):
        old = before.get_layer(layer.name).get_weights()
        return all(np.array_equal(a, b) for a, b in zip(layer.get_weights(), old))

    changed = {layer.name for layer in model.layers if layer.get_weights() and not unchanged(layer)}
    assert changed == {"block_2_dw", "block_2_pw", "classifier"}, changed
    assert len(record["loss"]) == 3 and all(layer.trainable for layer in model.layers)  # saved whole for QAT


def test_the_phases_freeze_what_the_schedule_says():
    from types import SimpleNamespace

    from edgecnn.recipe import validate_recipe
    from edgecnn.train.fit import training_phases
    from tests.conftest import TINY_RECIPE

    plain = validate_recipe(TINY_RECIPE)
    assert [(p.label, p.first_epoch, p.end_epoch) for p in training_phases(plain)] == [("train", 0, 4)]
    recipe = validate_recipe({**TINY_RECIPE, "model": {**TINY_RECIPE["model"], "pretrained": "runs/source"},
                              "train": {**TINY_RECIPE["train"], "learning_rate": 0.01,
                                        "finetune": {"freeze_epochs": 1, "unfreeze_blocks": 2}}})
    first, later = training_phases(recipe)
    frozen = [name for name in ("block_0_conv", "block_1_dw", "block_2_pw", "block_2_pw_bn", "classifier", "pool")
              if later.frozen(SimpleNamespace(name=name))]
    assert frozen == ["block_0_conv", "block_2_pw_bn"]  # two last blocks train, BatchNorm never
    assert first.frozen(SimpleNamespace(name="block_2_pw")) and not first.frozen(SimpleNamespace(name="classifier"))
    assert later.learning_rate_at(1) == pytest.approx(0.001) and (later.first_epoch, later.end_epoch) == (1, 4)
    more = recipe.model_copy(update={"train": recipe.train.model_copy(update={
        "finetune": recipe.train.finetune.model_copy(update={"unfreeze_blocks": 4})})})
    assert not training_phases(more)[1].frozen(SimpleNamespace(name="block_0_conv"))  # more blocks than it has: all


def test_distillation_loss_is_the_labels_and_the_softened_teacher_weighted(tiny_build, tiny_dataset):
    # setup: the tiny run as the teacher of a smaller student, on one batch of the training split
    import numpy as np

    from edgecnn._tf import keras, tensorflow
    from edgecnn.data import normalize
    from edgecnn.recipe import DistillConfig, validate_recipe
    from edgecnn.train.fit import build_model, distiller, fit_model, teacher_model
    from tests.conftest import TINY_RECIPE

    K, tf = keras(), tensorflow()
    recipe = validate_recipe({**TINY_RECIPE, "model": {"name": "dscnn_tiny", "dropout": 0.0},  # no random masks
                              "train": {**TINY_RECIPE["train"], "epochs": 2,
                                        "distill": {"teacher": str(tiny_build[0]), "temperature": 3.0, "alpha": 0.3}}})
    student = build_model(recipe, tiny_dataset)
    teacher = teacher_model(recipe, student)
    trainee = distiller(student, teacher, DistillConfig(teacher="t", temperature=3.0, alpha=0.3))
    trainee.compile(optimizer=K.optimizers.SGD(0.0), loss=K.losses.CategoricalCrossentropy(), metrics=["accuracy"])
    picks = np.arange(32)
    images = normalize(tiny_dataset.train.images(picks), tiny_dataset.contract)
    labels = np.eye(10, dtype=np.float32)[tiny_dataset.train.labels[picks]]
    # execute: one step at learning rate 0 (the weights stay: the loss is that of these weights)
    loss = float(trainee.train_step((tf.constant(images), tf.constant(labels)))["loss"])
    # assert: alpha x cross-entropy + (1 - alpha) x T^2 x KL(teacher/T || student/T) + the student's L2
    def logits(model):
        return K.Model(model.input, model.get_layer("classifier").output)(images, training=False).numpy()

    def softmax(z):
        e = np.exp(z - z.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    student_out = K.Model(student.input, student.get_layer("classifier").output)(images, training=True).numpy()
    hard = -np.mean(np.sum(labels * np.log(np.clip(softmax(student_out), 1e-7, 1)), 1))
    p, q = softmax(logits(teacher) / 3.0), softmax(student_out / 3.0)
    soft = np.mean(np.sum(p * np.log(np.clip(p, 1e-7, 1) / np.clip(q, 1e-7, 1)), 1))
    l2 = float(sum(float(v) for v in student.losses))
    assert loss == pytest.approx(0.3 * hard + 0.7 * 9.0 * soft + l2, rel=1e-3)
    # and a whole distilled training runs through the build's fit, validating as the student
    model, record = fit_model(recipe, tiny_dataset, show_progress=False)
    assert model is not teacher and len(record["val_accuracy"]) == 2 and record["val_accuracy"][-1] > 0.1


def test_a_warm_start_takes_every_weight_and_the_classifier_only_for_the_same_classes(tiny_build, tiny_dataset):
    import numpy as np

    from edgecnn.data import load_dataset
    from edgecnn.modelfile import load_keras
    from edgecnn.recipe import validate_recipe
    from edgecnn.train.fit import build_model
    from tests.conftest import TINY_RECIPE

    source = load_keras(tiny_build[0] / "model.keras")
    same = validate_recipe({**TINY_RECIPE, "seed": 8,
                            "model": {**TINY_RECIPE["model"], "init_from": str(tiny_build[0])}})
    model = build_model(same, tiny_dataset)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), source.get_weights()))
    three = {"source": "shapes", "image_size": [16, 16], "channels": 1,
             "shapes": {"classes": ["circle", "square", "cross"], "count": 60}}
    fewer = validate_recipe({**TINY_RECIPE, "data": three, "model": same.to_dict()["model"]})
    model = build_model(fewer, load_dataset(fewer.data, fewer.seed))
    assert model.output_shape[-1] == 3
    assert all(np.array_equal(a, b) for a, b in zip(model.get_layer("block_2_pw").get_weights(),
                                                    source.get_layer("block_2_pw").get_weights()))
