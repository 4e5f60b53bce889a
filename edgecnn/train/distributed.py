"""Data-parallel training on Ray Train: `train.distributed.workers` processes run the recipe's training
under MultiWorkerMirroredStrategy (Ray's TensorflowTrainer writes their TF_CONFIG), each taking a share of
every batch, so the recipe's batch size, learning rate and epochs mean what they mean on one process.
Every worker reads the data itself (on a cluster the data must be where every node can read it); the
first worker hands the trained weights and history back through a Ray checkpoint, and the caller saves
the same run files a one-process training saves."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edgecnn._tf import keras, tensorflow
from edgecnn.errors import EdgeCNNError, MissingDependency
from edgecnn.train.fit import build_model, fit_model, progress_callback, set_seed

if TYPE_CHECKING:  # annotations only: no import at run time
    from edgecnn.recipe import Recipe

WEIGHTS_FILE = "weights.npz"
HISTORY_FILE = "history.json"
# Set before the workers import TensorFlow: Keras 2, and TensorFlow's start-up notices off.
WORKER_ENV = {"TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
RAY_EXTRA_HINT = 'install it with: pip install "edgecnn[sweep]"'


def _ray():
    try:
        import ray  # lazy: Ray (1 s, with its processes) only for a distributed training
        import ray.train  # noqa: F401  # lazy: as above
    except ImportError as exc:
        raise MissingDependency(f"train.distributed.workers above 1 needs Ray Train; {RAY_EXTRA_HINT}") from exc
    tensorflow()  # before Ray Train's TensorFlow module: TensorFlow must see TF_USE_LEGACY_KERAS and quiet logs
    return ray


RAY_TOKEN_HINT = ("set RAY_AUTH_MODE=token and the cluster's token in RAY_AUTH_TOKEN (or a file named by "
                  "RAY_AUTH_TOKEN_PATH, or ~/.ray/auth_token; `ray get-auth-token` on the head node prints it)")


@contextlib.contextmanager
def ray_session(ray, address: str | None, where: str, error: type[Exception], **init_options):
    """The Ray already running in this process, else one joined at `address` (None: RAY_ADDRESS, or a local
    Ray started here) and shut down after the block. A cluster that cannot be joined is one line naming `where`."""
    started = not ray.is_initialized()
    if started:
        try:
            ray.init(address=address, **init_options)
        except ray.exceptions.AuthenticationError:  # a cluster with token authentication, and no token here
            raise error(f"{where}: the Ray cluster there asks for its authentication token and none is set here; "
                        f"{RAY_TOKEN_HINT}") from None
        except ConnectionError as exc:  # no cluster there, or one that refuses us
            token_mode = os.environ.get("RAY_AUTH_MODE") == "token"
            hint = "" if token_mode else f"; if it uses token authentication, {RAY_TOKEN_HINT}"
            raise error(f"{where}: cannot join a Ray cluster there ({str(exc).splitlines()[0]}){hint}") from None
    try:
        yield
    finally:
        if started:
            ray.shutdown()


def fit_on_ray(recipe: Recipe, dataset, show_progress: bool = True, on_epoch=None):
    """Train on `workers` Ray workers (a local Ray started for it, or the cluster at RAY_ADDRESS) and
    return the model with the trained weights, built in this process, and the training history.
    Epochs are shown (and given to `on_epoch`) here as the first worker finishes them."""
    ray = _ray()
    # The workers' own logs stay with Ray (Ray Train is chatty); their epochs come through a queue.
    with ray_session(ray, None, f"RAY_ADDRESS {os.environ.get('RAY_ADDRESS')}", EdgeCNNError, include_dashboard=False,
                     log_to_driver=False, logging_level="WARNING", runtime_env={"env_vars": WORKER_ENV}), \
            tempfile.TemporaryDirectory(prefix="edgecnn-train-") as storage:
        # Absolute: Ray reads a relative storage path as a URI (a run folder's scratch may be relative).
        result = _fit_watched(recipe, str(Path(storage).absolute()), show_progress, on_epoch)
        with result.checkpoint.as_directory() as folder:
            weights = np.load(Path(folder) / WEIGHTS_FILE, allow_pickle=False)
            arrays = [weights[f"w{i}"] for i in range(len(weights.files))]
            record = json.loads((Path(folder) / HISTORY_FILE).read_text(encoding="utf-8"))
    set_seed(recipe.seed)
    model = build_model(recipe, dataset)
    model.set_weights(arrays)
    return model, record


def _fit_watched(recipe: Recipe, storage: str, show_progress: bool, on_epoch):
    """Run the trainer in a thread; meanwhile show the epochs the first worker puts on a Ray queue."""
    from ray.train import RunConfig, ScalingConfig  # lazy: Ray
    from ray.train.tensorflow import TensorflowTrainer  # lazy: Ray
    from ray.util.queue import Empty, Queue  # lazy: Ray

    settings = recipe.train.distributed
    epochs = Queue()
    trainer = TensorflowTrainer(
        _worker_loop, train_loop_config={"recipe": recipe.to_dict(), "epochs": epochs},
        scaling_config=ScalingConfig(num_workers=settings.workers, resources_per_worker={"CPU": settings.cpus_per_worker}),
        run_config=RunConfig(storage_path=storage, name="train"),
    )
    outcome = {}

    def fit():
        try:
            outcome["result"] = trainer.fit()
        except Exception as exc:  # Ray wraps a worker's error; said in one line below
            outcome["error"] = exc

    thread = threading.Thread(target=fit, daemon=True)
    thread.start()
    bar = progress_callback(keras(), recipe.train.epochs, 1, label=f"train x{settings.workers}") if show_progress else None
    if bar:
        bar.on_train_begin()
    while thread.is_alive() or not epochs.empty():
        try:
            epoch, logs = epochs.get(timeout=0.5)
        except Empty:
            continue
        if bar:
            bar.on_epoch_end(epoch, logs)
        if on_epoch is not None:
            on_epoch(epoch, logs)
    thread.join()
    if bar:
        bar.on_train_end()
    if "error" in outcome:
        raise EdgeCNNError(f"distributed training ({settings.workers} workers) failed: {_cause(outcome['error'])}")
    return outcome["result"]


def _worker_loop(config: dict) -> None:
    """One Ray Train worker: the recipe's training under MultiWorkerMirroredStrategy."""
    import ray.train  # lazy: in the worker

    from edgecnn.data import load_dataset
    from edgecnn.recipe import validate_recipe

    # The strategy comes first: it must exist before any other TensorFlow op runs in the process.
    strategy = tensorflow().distribute.MultiWorkerMirroredStrategy()
    recipe = validate_recipe(config["recipe"], source="distributed training")
    dataset = load_dataset(recipe.data, recipe.seed)
    first = ray.train.get_context().get_world_rank() == 0

    class ReportEpoch(keras().callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs = {key: float(value) for key, value in (logs or {}).items()}
            if first:  # the metrics are reduced over all workers: one copy is enough
                config["epochs"].put((epoch, logs))
            ray.train.report({"epoch": epoch + 1, **logs})

    model, record = fit_model(recipe, dataset, show_progress=False, strategy=strategy, callbacks=[ReportEpoch()])
    weights = model.get_weights()  # every worker holds the same (mirrored) values
    with tempfile.TemporaryDirectory() as folder:
        checkpoint = None
        if first:
            np.savez(Path(folder) / WEIGHTS_FILE, **{f"w{i}": array for i, array in enumerate(weights)})
            (Path(folder) / HISTORY_FILE).write_text(json.dumps(record), encoding="utf-8")
            checkpoint = ray.train.Checkpoint.from_directory(folder)
        ray.train.report({"epoch": len(record.get("loss", [])), "done": True}, checkpoint=checkpoint)


def _cause(exc: BaseException) -> str:
    """The innermost error's last line: what went wrong in the worker, not Ray's wrapping."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__
