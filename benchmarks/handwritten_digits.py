"""The digits job written by hand, as a competent engineer would with the same libraries and no edgecnn:
the recipe's data split, model, training and verification, plain `model.fit`, converter defaults.

    python benchmarks/handwritten_digits.py recipes/digits.yaml --out /tmp/by-hand

It reads the recipe (YAML) so that it follows any change to it: data split fractions and image size, the
dscnn_s blocks at the recipe's width, dropout, L2, epochs, batch size, learning rate and schedule, label smoothing,
early stopping, augmentation, calibration samples, timed runs. It writes model_float32.tflite,
model_int8.tflite and model_float32.onnx and prints one JSON line: each file's test accuracy and p50 (ms),
and the seconds each part took. `benchmarks/vs_handwritten.py` times it against `edgecnn build`.
"""

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
START = time.perf_counter()

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402
import yaml  # noqa: E402

# dscnn_s: a 3x3 convolution stem, then depthwise-separable blocks (kernel, stride, channels).
STEM_CHANNELS = 32
BLOCKS = [(3, 1, 32), (3, 2, 64), (3, 1, 64), (3, 2, 128)]


def channels(count: int, alpha: float) -> int:
    """MobileNet's rounding to a multiple of 8, never more than 10% below."""
    rounded = max(8, int(count * alpha + 4) // 8 * 8)
    return rounded + 8 if rounded < 0.9 * count * alpha else rounded


def load_data(recipe: dict):
    from sklearn.datasets import load_digits

    digits = load_digits()
    size = recipe["data"]["image_size"]
    images = tf.image.resize(digits.images[..., None] / 16.0, size).numpy().astype(np.float32)
    labels = digits.target
    split = recipe["data"]["split"]
    rng = np.random.default_rng(recipe.get("seed", 0))
    parts = {"train": [], "val": [], "test": []}
    for label in range(10):  # stratified, like any careful split
        members = rng.permutation(np.flatnonzero(labels == label))
        n_test, n_val = round(len(members) * split["test"]), round(len(members) * split["val"])
        parts["test"].append(members[:n_test])
        parts["val"].append(members[n_test:n_test + n_val])
        parts["train"].append(members[n_test + n_val:])
    return {name: (images[np.concatenate(idx)], labels[np.concatenate(idx)]) for name, idx in parts.items()}


def build_model(recipe: dict, input_shape) -> keras.Model:
    cfg = recipe["model"]
    alpha, l2 = cfg.get("alpha", 1.0), keras.regularizers.l2(cfg.get("l2", 1e-4))
    inputs = keras.Input(input_shape)
    x = keras.layers.Conv2D(channels(STEM_CHANNELS, alpha), 3, padding="same", use_bias=False,
                            kernel_initializer="he_normal", kernel_regularizer=l2)(inputs)
    x = keras.layers.ReLU(6.0)(keras.layers.BatchNormalization(momentum=0.9)(x))
    for kernel, stride, out in BLOCKS:
        x = keras.layers.DepthwiseConv2D(kernel, stride, padding="same", use_bias=False,
                                         depthwise_initializer="he_normal", depthwise_regularizer=l2)(x)
        x = keras.layers.ReLU(6.0)(keras.layers.BatchNormalization(momentum=0.9)(x))
        x = keras.layers.Conv2D(channels(out, alpha), 1, use_bias=False, kernel_initializer="he_normal",
                                kernel_regularizer=l2)(x)
        x = keras.layers.ReLU(6.0)(keras.layers.BatchNormalization(momentum=0.9)(x))
    x = keras.layers.Dropout(cfg.get("dropout", 0.1))(keras.layers.GlobalAveragePooling2D()(x))
    outputs = keras.layers.Dense(10, activation="softmax", kernel_regularizer=l2)(x)
    return keras.Model(inputs, outputs)


def train(model, data, recipe: dict):
    cfg = recipe["train"]
    epochs, peak, warmup = cfg["epochs"], cfg["learning_rate"], cfg.get("warmup_epochs", 1)

    def schedule(epoch):
        if epoch < warmup:
            return peak * (epoch + 1) / (warmup + 1)
        done = (epoch - warmup) / max(1, epochs - warmup)
        return peak * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * done)))

    aug = cfg.get("augment", {})
    augment = keras.Sequential([
        keras.layers.RandomRotation(aug.get("rotation", 0.0), fill_mode="nearest"),
        keras.layers.RandomZoom(aug.get("zoom", 0.0), fill_mode="nearest"),
        keras.layers.RandomTranslation(aug.get("translation", 0.0), aug.get("translation", 0.0), fill_mode="nearest"),
    ])
    x, y = data["train"]
    train_ds = (tf.data.Dataset.from_tensor_slices((x, keras.utils.to_categorical(y, 10)))
                .shuffle(len(x), seed=0).batch(cfg["batch_size"])
                .map(lambda images, labels: (augment(images, training=True), labels)).prefetch(tf.data.AUTOTUNE))
    val = (data["val"][0], keras.utils.to_categorical(data["val"][1], 10))
    loss = keras.losses.CategoricalCrossentropy(label_smoothing=cfg.get("label_smoothing", 0.0))
    model.compile(keras.optimizers.Adam(peak), loss, metrics=["accuracy"])
    stopping = cfg.get("early_stopping", {})
    callbacks = [keras.callbacks.LearningRateScheduler(schedule),
                 keras.callbacks.EarlyStopping(monitor=stopping.get("monitor", "val_loss"),
                                               patience=stopping.get("patience", epochs), restore_best_weights=True)]
    model.fit(train_ds, validation_data=val, batch_size=cfg["batch_size"], epochs=epochs, callbacks=callbacks,
              verbose=0)


def export(model, data, recipe: dict, out: Path) -> dict:
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    (out / "model_float32.tflite").write_bytes(converter.convert())

    samples = recipe["export"].get("calibration", {}).get("samples", 300)
    calibration = data["train"][0][:samples]
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([image[None]] for image in calibration)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    (out / "model_int8.tflite").write_bytes(converter.convert())

    import tf2onnx

    spec = (tf.TensorSpec((None, *model.input_shape[1:]), tf.float32, name="input"),)
    tf2onnx.convert.from_keras(model, input_signature=spec, output_path=str(out / "model_float32.onnx"))
    return {name: out / name for name in ("model_float32.tflite", "model_int8.tflite", "model_float32.onnx")}


def evaluate(files: dict, data, runs: int) -> dict:
    from ai_edge_litert.interpreter import Interpreter
    import onnxruntime as ort

    x, y = data["test"]
    results = {}
    for name, path in files.items():
        if path.suffix == ".tflite":
            interpreter = Interpreter(str(path), num_threads=1)
            interpreter.allocate_tensors()
            inp, outp = interpreter.get_input_details()[0], interpreter.get_output_details()[0]

            def run(image, interpreter=interpreter, inp=inp, outp=outp):
                interpreter.set_tensor(inp["index"], image)
                interpreter.invoke()
                return interpreter.get_tensor(outp["index"])
        else:
            options = ort.SessionOptions()
            options.intra_op_num_threads = 1
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

            def run(image, session=session):
                return session.run(None, {"input": image})[0]
        predictions = np.array([run(image[None]).argmax() for image in x])
        for image in x[:20]:
            run(image[None])
        times = []
        for i in range(runs):
            start = time.perf_counter()
            run(x[i % len(x)][None])
            times.append(time.perf_counter() - start)
        results[name] = {"accuracy": float((predictions == y).mean()), "p50_ms": 1000 * float(np.median(times))}
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipe")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    recipe = yaml.safe_load(Path(args.recipe).read_text())
    if recipe["data"]["source"] != "digits" or recipe["model"]["name"] != "dscnn_s":
        sys.exit("this script is the digits job: data.source digits, model dscnn_s")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    seconds = {"import": time.perf_counter() - START}
    mark = time.perf_counter()
    keras.utils.set_random_seed(recipe.get("seed", 0))
    data = load_data(recipe)
    seconds["data"], mark = time.perf_counter() - mark, time.perf_counter()
    model = build_model(recipe, data["train"][0].shape[1:])
    train(model, data, recipe)
    seconds["train"], mark = time.perf_counter() - mark, time.perf_counter()
    files = export(model, data, recipe, out)
    seconds["export"], mark = time.perf_counter() - mark, time.perf_counter()
    results = evaluate(files, data, recipe.get("verify", {}).get("runs", 300))
    seconds["verify"] = time.perf_counter() - mark
    print(json.dumps({"params": model.count_params(), "files": results,
                      "seconds": {k: round(v, 2) for k, v in seconds.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
