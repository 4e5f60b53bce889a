"""The one place TensorFlow is imported.

tensorflow-model-optimization needs Keras 2, so `TF_USE_LEGACY_KERAS=1` must be set before
TensorFlow is first imported; every module that needs TensorFlow calls `tensorflow()` or `keras()`
here instead of importing it at module level, which also keeps `edgecnn --help` instant.
"""

import os

from edgecnn.errors import MissingDependency
from edgecnn.fileio import captured_native_stderr

TRAIN_EXTRA_HINT = 'install it with: pip install "edgecnn[train]"'


def tensorflow():
    """Return the `tensorflow` module, configured for Keras 2 and quiet logs."""
    os.environ["TF_USE_LEGACY_KERAS"] = "1"  # forced: Keras 3 would break tfmot and the converters
    # Level 3 also hides the harmless "failed call to cuInit" on machines without a GPU.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1" if os.environ.get("EDGECNN_DEBUG") else "3")
    try:
        # TF 2.21 logs oneDNN/CUDA notices before absl is initialised, ignoring TF_CPP_MIN_LOG_LEVEL.
        with captured_native_stderr():
            import tensorflow as tf  # lazy: TensorFlow (8 s) only where a model is built or converted
    except ImportError as exc:
        raise MissingDependency(f"this step needs TensorFlow, which is not installed; {TRAIN_EXTRA_HINT}") from exc
    tf.get_logger().setLevel("ERROR")
    return tf


def keras():
    """Return `tf_keras` (Keras 2). Never `keras`, which is Keras 3."""
    tensorflow()
    try:
        with captured_native_stderr():
            import tf_keras  # lazy: TensorFlow (8 s) only where a model is built or converted
    except ImportError as exc:
        raise MissingDependency(f"this step needs tf_keras, which is not installed; {TRAIN_EXTRA_HINT}") from exc
    return tf_keras


def model_optimization():
    """Return `tensorflow_model_optimization` (tfmot), imported after TensorFlow is configured for Keras 2."""
    tensorflow()
    try:
        with captured_native_stderr():
            # lazy: TensorFlow (8 s) only where a model is built or converted
            import tensorflow_model_optimization as tfmot
    except ImportError as exc:
        raise MissingDependency(f"quantization-aware training and pruning need tensorflow-model-optimization; "
                                f"{TRAIN_EXTRA_HINT}") from exc
    return tfmot
