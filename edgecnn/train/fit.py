"""Fitting in this process: the model, tf.data pipelines, learning-rate schedule, early stopping, progress, seeds
(also one worker's fit in a distributed training)."""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from edgecnn._tf import keras, tensorflow
from edgecnn.console import console, is_interactive
from edgecnn.data import Dataset, normalize
from edgecnn.errors import ModelError, raise_if_stop_requested
from edgecnn.models import create_model, resolve_layers
from edgecnn.models.pretrained import CLASSIFIER, IMAGENET, load_pretrained, warm_start
from edgecnn.modelfile import load_keras
from edgecnn.run import model_file

if TYPE_CHECKING:  # annotations only: no import at run time
    from edgecnn.recipe import AugmentConfig, DistillConfig, Recipe, TrainConfig


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow together, and make TensorFlow's kernels deterministic,
    so the same recipe and seed give the same model on the same machine."""
    keras().utils.set_random_seed(seed)
    tensorflow().config.experimental.enable_op_determinism()


def build_model(recipe: Recipe, dataset: Dataset, synchronized_batchnorm: bool = False):
    """The recipe's model, its backbone started from `model.pretrained` (the classifier new) or every weight from
    `model.init_from` (the classifier too when the classes match), when set."""
    cfg = recipe.model
    model = create_model(
        cfg.name, dataset.contract.shape, dataset.num_classes, alpha=cfg.alpha, blocks=cfg.blocks,
        padding=cfg.padding, dropout=cfg.dropout, l2=cfg.l2, initializer=cfg.initializer,
        batchnorm_momentum=cfg.batchnorm_momentum, synchronized_batchnorm=synchronized_batchnorm,
    )
    if cfg.pretrained:
        source = IMAGENET if cfg.pretrained == IMAGENET else found_model("model.pretrained", cfg.pretrained)
        load_pretrained(model, source, cfg.name, cfg.alpha)
    if cfg.init_from:
        warm_start(model, found_model("model.init_from", cfg.init_from))
    return model


def found_model(key: str, value: str) -> Path:
    """The model file a recipe path names (a run folder: its model.keras), or a one-line error naming `key`."""
    path = model_file(Path(value))
    if not path.is_file():
        raise ModelError(f"{key} {value}: not found; expected a run folder with a model.keras or a model file")
    return path


def fit_model(recipe: Recipe, dataset: Dataset, show_progress: bool = True, on_epoch=None, strategy=None, callbacks=()):
    """Compile and fit in this process (under `strategy`'s scope when given: one worker of a distributed
    training); the model with its best epoch's weights, and the history (no clock time: the same training
    gives the same file)."""
    K = keras()
    set_seed(recipe.seed)
    cfg = recipe.train
    scope = strategy.scope if strategy else contextlib.nullcontext
    with scope():
        # Several workers: batch statistics over the whole batch, as one process computes them.
        model = build_model(recipe, dataset, synchronized_batchnorm=strategy is not None)
    train_ds = training_stream(make_pipeline(dataset.train, dataset, cfg, recipe.seed, training=True))
    val_ds = make_pipeline(dataset.val, dataset, cfg, recipe.seed, training=False) if len(dataset.val) else None
    steps = steps_per_epoch(recipe, dataset)
    record: dict[str, list] = {}
    with scope():
        trainee = distiller(model, teacher_model(recipe, model), cfg.distill) if cfg.distill.teacher else model
    for phase in training_phases(recipe):
        with scope():
            phase.set_trainable(model)
            trainee.compile(
                optimizer=K.optimizers.Adam(phase.rate.learning_rate),
                loss=K.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing),
                metrics=["accuracy"], steps_per_execution=cfg.steps_per_execution,
            )
        stopper = K.callbacks.EarlyStopping(
            monitor=cfg.early_stopping.monitor, patience=cfg.early_stopping.patience or cfg.epochs,
            restore_best_weights=True,
        )
        every = [K.callbacks.LearningRateScheduler(phase.learning_rate_at), stopper, stop_checker(K), *callbacks]
        if show_progress:
            every.append(progress_callback(K, cfg.epochs, steps, phase.label))
        if on_epoch is not None:
            every.append(K.callbacks.LambdaCallback(on_epoch_end=on_epoch))
        history = trainee.fit(train_ds, validation_data=val_ds, initial_epoch=phase.first_epoch,
                              epochs=phase.end_epoch, steps_per_epoch=steps, callbacks=every, verbose=0)
        for key, values in history.history.items():
            record.setdefault(key, []).extend(float(v) for v in values)
        record["best_epoch"] = int(stopper.best_epoch) + 1  # epochs count from the first phase's first
    for layer in model.layers:  # the saved model trains whole in later stages (QAT, pruning, clustering)
        layer.trainable = True
    return model, record


def teacher_model(recipe: Recipe, student):
    """The distillation teacher: a run's model with the student's input and classes."""
    path = found_model("train.distill.teacher", recipe.train.distill.teacher)
    teacher = load_keras(path)
    if tuple(teacher.input_shape) != tuple(student.input_shape) or teacher.output_shape != student.output_shape:
        raise ModelError(f"train.distill.teacher {path}: input {teacher.input_shape[1:]} and "
                         f"{teacher.output_shape[-1]} classes; the model has {student.input_shape[1:]} and "
                         f"{student.output_shape[-1]}: the teacher must be trained on the same data section")
    return teacher


def distiller(student, teacher, settings: DistillConfig):
    """A Keras model that trains `student` on the labels (weight alpha) and on the teacher's scores softened by the
    temperature (weight 1 - alpha, scaled by the temperature squared); it validates and predicts as the student.
    Logits are the classifier layer's outputs, before the softmax."""
    K, tf = keras(), tensorflow()
    student_logits = K.Model(student.input, student.get_layer(CLASSIFIER).output)
    teacher_logits = K.Model(teacher.input, teacher.get_layer(CLASSIFIER).output)
    teacher_logits.trainable = False
    temperature, alpha = settings.temperature, settings.alpha

    class Distiller(K.Model):
        def __init__(self):
            super().__init__(name="distiller")
            self.student = student

        def call(self, images, training=False):
            return self.student(images, training=training)

        def train_step(self, data):
            images, labels = data
            soft_targets = tf.nn.softmax(teacher_logits(images, training=False) / temperature)
            with tf.GradientTape() as tape:
                logits = student_logits(images, training=True)
                hard = self.compiled_loss(labels, tf.nn.softmax(logits))
                soft = K.losses.kl_divergence(soft_targets, tf.nn.softmax(logits / temperature))
                loss = alpha * hard + (1 - alpha) * temperature**2 * tf.reduce_mean(soft) + tf.add_n(
                    [tf.constant(0.0), *self.student.losses])
            variables = self.student.trainable_variables
            self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
            self.compiled_metrics.update_state(labels, tf.nn.softmax(logits))
            return {"loss": loss, **{metric.name: metric.result() for metric in self.metrics if metric.name != "loss"}}

    return Distiller()


@dataclass
class TrainingPhase:
    """Epochs [first_epoch, end_epoch) of one fit: which layers train, at which rates."""

    label: str
    first_epoch: int
    end_epoch: int
    rate: TrainConfig  # the schedule's settings for this phase (its epochs count from first_epoch)
    frozen: Callable[[object], bool]  # layer -> stays as it is

    def set_trainable(self, model) -> None:
        for layer in model.layers:
            layer.trainable = not self.frozen(layer)

    def learning_rate_at(self, epoch: int) -> float:
        return learning_rate_at(epoch - self.first_epoch, self.rate)


def training_phases(recipe: Recipe) -> list[TrainingPhase]:
    """One phase training every layer; with a pretrained backbone and `train.finetune.freeze_epochs`, first the
    classifier alone, then the last `unfreeze_blocks` blocks' convolutions too at the lower rate. BatchNorm of the
    pretrained layers never trains (inference mode: frozen statistics)."""
    cfg, finetune = recipe.train, recipe.train.finetune
    if not (recipe.model.pretrained and finetune.freeze_epochs):
        return [TrainingPhase("train", 0, cfg.epochs, cfg, lambda layer: False)]
    backbone = backbone_names(recipe)
    blocks = backbone_blocks(backbone)
    count = len(blocks) if finetune.unfreeze_blocks is None else finetune.unfreeze_blocks
    thawed = set(blocks[-count:]) if count else set()  # more than the model has: every block
    later = cfg.model_copy(update={"learning_rate": finetune.learning_rate or cfg.learning_rate / 10,
                                   "epochs": cfg.epochs - finetune.freeze_epochs, "warmup_epochs": 0})
    first = cfg.model_copy(update={"epochs": finetune.freeze_epochs})

    def frozen_later(layer) -> bool:
        return layer.name in backbone and (layer.name.endswith("_bn") or block_of(layer.name) not in thawed)

    return [TrainingPhase("classifier", 0, finetune.freeze_epochs, first, lambda layer: layer.name in backbone),
            TrainingPhase("fine-tune", finetune.freeze_epochs, cfg.epochs, later, frozen_later)]


def backbone_names(recipe: Recipe) -> set[str]:
    """The names of the layers that hold backbone weights (convolutions and their BatchNorms), by the architecture."""
    layers = resolve_layers(recipe.model.name, (*recipe.data.image_size, recipe.data.channels), 2,
                            recipe.model.alpha, recipe.model.blocks, recipe.model.padding)
    return {name for layer in layers[:-1] for name in (layer.name, f"{layer.name}_bn")}


def block_of(name: str) -> str:
    """'block_3_pw_bn' -> 'block_3'."""
    return "_".join(name.split("_")[:2])


def backbone_blocks(names: set[str]) -> list[str]:
    """The blocks in the order the network runs them."""
    return sorted({block_of(name) for name in names}, key=lambda block: int(block.split("_")[1]))


def training_stream(pipeline):
    """The training pipeline repeated, for one iterator over the whole fit (Keras otherwise builds a new one each
    epoch: 50-100 ms each on digits), with the epochs `model.fit` gives a finite pipeline: it opens one iterator
    before the first epoch and a new one per epoch, so its epochs are the seeded shuffle's second, third, ...
    permutations. The repeated stream started at the first and trained measurably worse (MNIST, dscnn_s, 3
    epochs, seeds 0-2: 98.17-98.32% against 98.68-98.72%; also with another shuffle seed and another dropout
    seed; the first permutation's statistics look like any other's): opening and dropping one iterator here
    gives the same epochs as before, batch for batch, for the cost of one shuffle of indices or paths."""
    iter(pipeline)  # draws the shuffle's first permutation; the repeated stream's iterators take the next ones
    return pipeline.repeat()


def steps_per_epoch(recipe: Recipe, dataset: Dataset) -> int:
    """Batches in one pass over the training split (the last one may be short)."""
    return math.ceil(len(dataset.train) / recipe.train.batch_size)


def learning_rate_at(epoch: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then constant, cosine decay to 1% or a x0.1 step at 50% and 75% of the epochs."""
    if epoch < cfg.warmup_epochs:
        return cfg.learning_rate * (epoch + 1) / (cfg.warmup_epochs + 1)
    done = (epoch - cfg.warmup_epochs) / max(1, cfg.epochs - cfg.warmup_epochs)
    if cfg.schedule == "cosine":
        return cfg.learning_rate * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * done)))
    if cfg.schedule == "step":
        return cfg.learning_rate * (0.1 ** ((done >= 0.5) + (done >= 0.75)))
    return cfg.learning_rate


def make_pipeline(images, dataset: Dataset, cfg: TrainConfig, seed: int, training: bool):
    """tf.data pipeline over one split (`ArrayImages` or streamed `FileImages`): shuffle when training,
    decode, batch, augment in pixel units (training only), normalize as the contract says, one-hot, prefetch."""
    tf = tensorflow()
    mean = tf.constant(np.asarray(dataset.contract.mean, dtype=np.float32))
    std = tf.constant(np.asarray(dataset.contract.std, dtype=np.float32))
    augment = _augmenter(cfg.augment, seed) if training and cfg.augment.enabled else None
    frames = camera_frames(tf, dataset, cfg.augment.camera_frames, seed) if (
        training and cfg.augment.camera_frames) else None

    def prepare(x, y):  # one map per batch: every map is a step of tf.data's own
        x = tf.cast(x, tf.float32)
        if frames is not None:
            x = frames(x)
        if augment is not None:
            x = augment(x, training=True)
        # The same formula as data.normalize, which calibration, verification and prediction use.
        return (x - mean) / std, tf.one_hot(y, dataset.num_classes)

    ds = images.tf_dataset(tf, cfg.batch_size, shuffle_seed=seed if training else None)
    ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
    # A distributed training splits every batch between its workers (arrays and files alike, no file shards).
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    # No autotuning thread: it sleeps in doubling periods (seconds by the end of a fit), and deleting the
    # repeated iterator when `fit` returns waits out its sleep: 0 s or 7.7-19.8 s in a third of digits fits.
    # AUTOTUNE then means one map per core and a prefetch buffer that grows as needed.
    options.autotune.enabled = False
    return ds.with_options(options)


def camera_frames(tf, dataset: Dataset, share: float, seed: int):
    """A batch function: `share` of the images replaced by what an app's frame `scale` times larger becomes once
    shrunk back by one of the resizers apps use (`frames.frame_matrices`: one random (scale, resizer) per image,
    two small matmuls), rounded to whole pixel values as a decoded frame is."""
    from edgecnn.data.frames import frame_matrices

    rows, cols = (tf.constant(m) for m in frame_matrices(tuple(dataset.contract.shape[:2]), dataset.source_size))
    count = int(rows.shape[0])

    def apply(x):
        batch = tf.shape(x)[0]
        choice = tf.random.uniform([batch], 0, count, dtype=tf.int32, seed=seed)
        framed = tf.einsum("bij,bjkc->bikc", tf.gather(rows, choice), x)
        framed = tf.einsum("blk,bikc->bilc", tf.gather(cols, choice), framed)
        framed = tf.clip_by_value(tf.round(framed), 0.0, 255.0)
        chosen = tf.random.uniform([batch, 1, 1, 1], seed=seed + 1) < share
        return tf.where(chosen, framed, x)

    return apply


def _augmenter(options: AugmentConfig, seed: int):
    """Keras preprocessing layers on float pixels 0..255, clipped back to that range."""
    K = keras()
    layers = []
    flips = "horizontal_and_vertical" if options.flip_horizontal and options.flip_vertical else (
        "horizontal" if options.flip_horizontal else "vertical" if options.flip_vertical else None)
    if flips:
        layers.append(K.layers.RandomFlip(flips, seed=seed))
    if options.rotation:
        layers.append(K.layers.RandomRotation(options.rotation, fill_mode="nearest", seed=seed))
    if options.zoom:
        layers.append(K.layers.RandomZoom(options.zoom, fill_mode="nearest", seed=seed))
    if options.translation:
        layers.append(K.layers.RandomTranslation(options.translation, options.translation, fill_mode="nearest", seed=seed))
    if options.brightness:
        layers.append(K.layers.RandomBrightness(options.brightness, value_range=(0.0, 255.0), seed=seed))
    if options.contrast:
        layers.append(K.layers.RandomContrast(options.contrast, seed=seed))
    layers.append(K.layers.Lambda(lambda t: keras().backend.clip(t, 0.0, 255.0)))
    return K.Sequential(layers, name="augment")


def predict_probabilities(model, images, contract) -> np.ndarray:
    """Float model outputs for a split's images, a chunk at a time (a folder's test split may be large).
    Called directly, not through `model.predict`, whose graph tracing cost more than the predictions."""
    return np.concatenate([model(normalize(chunk, contract), training=False).numpy() for chunk in images.chunks(256)])


def training_progress(label: str, out=None) -> Progress:
    """The training bar: label, bar, step count, epoch and elapsed time, which fit in 80 columns (the epoch's
    metrics are printed above the bar when it ends, not squeezed in beside it)."""
    return Progress(TextColumn(f"[bold]{label}[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
                    TimeElapsedColumn(), console=out or console(), transient=False)


def epoch_line(epoch: int, epochs: int, logs: dict) -> str:
    return (f"epoch {epoch + 1}/{epochs} loss {logs.get('loss', 0):.4f} acc {logs.get('accuracy', 0):.4f} "
            f"val_loss {logs.get('val_loss', 0):.4f} val_acc {logs.get('val_accuracy', 0):.4f}")


def stop_checker(K):
    """A callback that raises, at the next batch, a Ctrl-C or SIGTERM whose exception Python dropped because it
    landed in a `__del__` (the validation iterator TensorFlow deletes at every epoch's end): `errors.stop_on_signal`."""

    class StopCheck(K.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self._supports_tf_logs = True  # no metrics copied to Python per batch

        def on_train_batch_end(self, batch, logs=None):
            raise_if_stop_requested()

        on_test_batch_end = on_epoch_end = on_train_batch_end

    return StopCheck()


def progress_callback(K, epochs: int, steps: int, label: str = "train"):

    class RichProgress(K.callbacks.Callback):
        """One bar over all training steps; each epoch's metrics printed above it as the epoch ends."""

        def __init__(self):
            super().__init__()
            # The bar needs no metrics per batch: without this, Keras copies them to Python after every step,
            # a device sync that cost 11% of the digits training.
            self._supports_tf_logs = True
            self.epoch = 0

        def on_train_begin(self, logs=None):
            if not is_interactive():
                self.progress = None
                return
            self.progress = training_progress(label)
            self.progress.start()
            self.task = self.progress.add_task(f"epoch 1/{epochs}", total=epochs * steps)

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch
            if self.progress:
                self.progress.update(self.task, description=f"epoch {epoch + 1}/{epochs}")

        def on_train_batch_end(self, batch, logs=None):
            if self.progress:  # by index: with steps_per_execution Keras calls this once per N steps
                self.progress.update(self.task, completed=self.epoch * steps + batch + 1)

        def on_epoch_end(self, epoch, logs=None):
            line = epoch_line(epoch, epochs, {key: float(value) for key, value in (logs or {}).items()})
            if self.progress:
                self.progress.update(self.task, completed=(epoch + 1) * steps)
                self.progress.console.print(line)  # above the live bar
            else:
                console().print(line)

        def on_train_end(self, logs=None):
            if self.progress:
                self.progress.update(self.task, total=self.progress.tasks[0].completed)
                self.progress.stop()

    return RichProgress()
