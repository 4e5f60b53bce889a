"""The real clients an app developer uses, driven from the tests: MediaPipe Tasks' ImageClassifier (the
C++ core of the Android and iOS SDKs), onnxruntime-node through the handoff bundle's Node snippet, and
`edgecnn predict` on image files, the reference they are compared with."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image

NODE_MODULES = Path(__file__).resolve().parent / "node" / "node_modules"


def rgb(images: np.ndarray) -> np.ndarray:
    """uint8 NHWC images as the RGB an app hands over (grayscale repeated over three channels)."""
    return np.repeat(images, 3, axis=-1) if images.shape[-1] == 1 else images


def write_pngs(images, folder: Path, suffixes: list[str] = (".png",)) -> list[Path]:
    """uint8 HxWxC images (an array or a list of any sizes) as files, PNG by default; with several suffixes, each
    kind in turn (JPEG at quality 95)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, image in enumerate(images):
        paths.append(folder / f"{i:04d}{suffixes[i % len(suffixes)]}")
        Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(paths[-1], quality=95)
    return paths


def predict_top1(model: Path, paths: list[Path]) -> np.ndarray:
    from edgecnn.predict import predict_files

    return np.array([r["predictions"][0]["index"] for r in predict_files(model, paths, top_k=1)])


def mediapipe_refusal(model: Path) -> str | None:
    """MediaPipe's error when it refuses to load `model`, or None when it loads."""
    from mediapipe.tasks.python import BaseOptions, vision

    options = vision.ImageClassifierOptions(base_options=BaseOptions(model_asset_path=str(model)))
    try:
        vision.ImageClassifier.create_from_options(options).close()
    except Exception as exc:  # MediaPipe raises RuntimeError, ValueError or FileNotFoundError by cause
        return str(exc)
    return None


def node_top1(snippet: Path, model: Path, paths: list[Path], app_dir: Path) -> np.ndarray:
    """Run the bundle's Node snippet, copied with its package.json into `app_dir` (the tests' installed
    node_modules standing in for its `npm install`), on `model` with the image files, as its usage line says."""
    app_dir.mkdir(parents=True, exist_ok=True)
    for name in (snippet.name, "package.json"):
        shutil.copy(snippet.parent / name, app_dir / name)
    if not (app_dir / "node_modules").exists():
        (app_dir / "node_modules").symlink_to(NODE_MODULES, target_is_directory=True)
    done = subprocess.run([shutil.which("node"), snippet.name, str(model), *map(str, paths)], cwd=app_dir,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return np.array([json.loads(line)["predictions"][0]["index"] for line in done.stdout.splitlines()])


def mediapipe_metadata(model: Path) -> dict:
    """The standard metadata as MediaPipe's own generated schema modules read it (not edgecnn's copy):
    model fields, the input's colour space and normalization, the output's labels file, the zip's files."""
    import zipfile

    from mediapipe.tasks.metadata import metadata_schema_py_generated as meta_fb
    from mediapipe.tasks.metadata import schema_py_generated as model_fb

    data = model.read_bytes()
    flatbuffer = model_fb.Model.GetRootAsModel(data, 0)
    entry = next(flatbuffer.Metadata(i) for i in range(flatbuffer.MetadataLength())
                 if flatbuffer.Metadata(i).Name() == b"TFLITE_METADATA")
    buffer = flatbuffer.Buffers(entry.Buffer()).DataAsNumpy().tobytes()
    assert meta_fb.ModelMetadata.ModelMetadataBufferHasIdentifier(buffer, 0)
    metadata = meta_fb.ModelMetadataT.InitFromObj(meta_fb.ModelMetadata.GetRootAsModelMetadata(buffer, 0))
    image, scores = metadata.subgraphMetadata[0].inputTensorMetadata[0], metadata.subgraphMetadata[0].outputTensorMetadata[0]
    normalization = next(unit.options for unit in image.processUnits
                         if unit.optionsType == meta_fb.ProcessUnitOptions.NormalizationOptions)
    labels_file = next(f for f in scores.associatedFiles if f.type == meta_fb.AssociatedFileType.TENSOR_AXIS_LABELS)
    with zipfile.ZipFile(model) as archive:
        labels = archive.read(labels_file.name.decode()).decode().splitlines()
        packed = sorted(archive.namelist())
    return {
        "name": metadata.name.decode(), "version": metadata.version.decode(), "author": metadata.author.decode(),
        "description": metadata.description.decode(), "min_parser_version": metadata.minParserVersion.decode(),
        "color_space": image.content.contentProperties.colorSpace == meta_fb.ColorSpaceType.RGB and "RGB" or "other",
        "mean": list(normalization.mean), "std": list(normalization.std), "labels": labels, "packed": packed,
    }


def identity_probe(path: Path, height: int, width: int) -> Path:
    """A `.tflite` MediaPipe's ImageClassifier loads whose "scores" are its own input tensor, flattened: what
    MediaPipe's pre-processing feeds a model, read back category by category (float input, mean 0 and std 1 in
    the standard metadata, so the tensor holds the sampled pixel values themselves). Needs TensorFlow."""
    from edgecnn._tf import keras, tensorflow
    from edgecnn.export.tflite_metadata import ModelDescription, populate

    K, tf = keras(), tensorflow()
    inputs = K.Input((height, width, 3), batch_size=1)
    model = K.Model(inputs, K.layers.Reshape((height * width * 3,))(inputs))
    flatbuffer = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    description = ModelDescription("probe", "identity", "1", "edgecnn tests", None, "rgb", [0.0], [1.0], (0.0, 255.0),
                                   "labels.txt")
    labels = "\n".join(str(i) for i in range(height * width * 3)).encode()
    path.write_bytes(populate(flatbuffer, description, {"labels.txt": labels}))
    return path


def mediapipe_input_tensor(probe: Path, frame: np.ndarray, region: tuple | None = None) -> np.ndarray:
    """The (height, width, 3) tensor MediaPipe Tasks makes of an RGB frame (and normalized region of interest)."""
    from edgecnn.verify.app import MediaPipeClassifier

    with MediaPipeClassifier(probe) as classifier:
        return classifier.scores(frame, region)
