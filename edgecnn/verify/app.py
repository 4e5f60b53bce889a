"""What an app gets: the test split's source images (at their own size, before edgecnn resized them) and camera
frames k times larger, prepared only as the model card tells the app, classified by MediaPipe Tasks'
ImageClassifier itself (the C++ core of the Android and iOS SDKs) when the `clients` extra is installed.

A camera frame k times larger is, for generated shapes, the same scene drawn k times larger with the same noise
per pixel; for photos and scans, the source image enlarged k times with Pillow's bicubic filter, a smooth
stand-in for a sharper camera. The app then hands it over whole (stretch), with the centred region of interest
(crop), or letterboxed onto black by hand (pad: MediaPipe's Tasks API cannot pad), and MediaPipe samples it.
NumPy, Pillow and MediaPipe only: no TensorFlow.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from edgecnn.artifacts.runners import predict_pixels
from edgecnn.data.frames import centre_region, letterbox
from edgecnn.data.images import ImageFormat, open_image, to_model_pixels
from edgecnn.errors import VerificationError
from edgecnn.verify.record import AppResult, AppView

if TYPE_CHECKING:  # annotations only: no import at run time
    from edgecnn.recipe import DataConfig, VerifyConfig


@dataclass
class AppFrames:
    """The test split as an app meets it: source images at their own size, and camera frames `scale` times larger."""

    own_size: list[np.ndarray]
    camera: list[np.ndarray]
    scale: float
    labels: np.ndarray

    @classmethod
    def of(cls, data_config: DataConfig, dataset, seed: int, scale: float) -> AppFrames:
        own = source_images(data_config, dataset, seed)
        return cls(own, camera_frames(data_config, dataset, seed, own, scale), scale, dataset.y_test)


def app_frames_for(settings: VerifyConfig, data_config: DataConfig, dataset, seed: int) -> AppFrames | None:
    """The frames to measure apps on, or None: no labelled data, `app_check: never`, or (auto) no MediaPipe."""
    if settings.app_check == "never" or dataset is None:
        return None
    if not mediapipe_available():
        if settings.app_check == "always":
            raise VerificationError("verify.app_check: always needs MediaPipe Tasks; install it with "
                                    "pip install 'edgecnn[clients]', or set app_check: auto")
        return None
    return AppFrames.of(data_config, dataset, seed, settings.camera_scale)


def add_app_results(pairs, frames: AppFrames | None) -> None:
    """`result.app` for every (artifact, result) pair that is a `.tflite` MediaPipe loads."""
    if frames is None:
        return
    for artifact, result in pairs:
        if artifact.kind != "tflite":
            continue
        checked = result.readiness.mediapipe if result.readiness else None
        if checked is not None and not checked.loads:
            result.app = AppResult(skipped="MediaPipe Tasks refuses this file (see its readiness)")
            continue
        result.app = measure_app(artifact, frames, result.accuracy)


def measure_app(artifact, frames: AppFrames, accuracy: float | None) -> AppResult:
    """MediaPipe Tasks' accuracy on the source images and the camera frames, each prepared as the card says;
    the top-1 agreement with `edgecnn predict`'s pre-processing of the same frames; the gap to `accuracy`."""
    contract = artifact.contract()
    views = {}
    with MediaPipeClassifier(artifact.path) as classifier:
        for view, images in (("own_size", frames.own_size), ("camera", frames.camera)):
            theirs = classifier.app_top1(images, contract)
            ours = predict_top1(artifact, contract, images)
            views[view] = AppView(accuracy=float((theirs == frames.labels).mean()),
                                  agreement=float((theirs == ours).mean()))
    lowest = min(view.accuracy for view in views.values())
    return AppResult(client=f"MediaPipe Tasks {mediapipe_tasks().__version__}", camera_scale=frames.scale, **views,
                     accuracy=lowest, gap=None if accuracy is None else round(accuracy - lowest, 6))


def predict_top1(artifact, contract, frames: list[np.ndarray]) -> np.ndarray:
    """Top-1 of `edgecnn predict`'s path on decoded frames: the one pre-processing, the file's own runtime."""
    fmt = ImageFormat((contract.height, contract.width), contract.channels, contract.resize)
    runner = artifact.runner(1)
    pixels = np.stack([to_model_pixels(Image.fromarray(frame), fmt) for frame in frames])
    return predict_pixels(runner, pixels, contract).argmax(1)


def mediapipe_tasks():
    """The `mediapipe` package, imported without TensorFlow. MediaPipe imports TensorFlow when it is installed only
    for a no-op decorator of its API docs (`tensorflow.tools.docs.doc_controls`, in
    `mediapipe/tasks/python/core/optional_dependencies.py`): 3.1 s, and verifying a file must not need TensorFlow.
    Without TensorFlow MediaPipe uses its own stand-in; this hands it that stand-in whether TensorFlow is there
    or not."""
    name = "mediapipe.tasks.python.core.optional_dependencies"
    if name not in sys.modules:
        stand_in = types.ModuleType(name, "MediaPipe's own fallback when TensorFlow is absent (see mediapipe_tasks)")
        stand_in.doc_controls = types.SimpleNamespace(do_not_generate_docs=lambda documented: documented)
        sys.modules[name] = stand_in
    import mediapipe

    return mediapipe


def mediapipe_available() -> bool:
    """Whether the clients extra is installed (found, not imported: importing MediaPipe takes seconds)."""
    return importlib.util.find_spec("mediapipe") is not None


def source_images(data_config: DataConfig, dataset, seed: int) -> list[np.ndarray]:
    """The test split's images as the source stores them (RGB uint8, grayscale repeated: what a phone frame
    holds): files decoded at their own size; array sources (digits, npz, shapes) at their stored size."""
    test = dataset.test
    if hasattr(test, "paths"):
        return [_rgb(np.asarray(open_image(path).convert("RGB"))) for path in test.paths]
    from edgecnn.data.sources import read_source

    stored = read_source(data_config, seed, native=True).images
    return [_rgb(stored[i]) for i in test.ids]


def camera_frames(data_config: DataConfig, dataset, seed: int, own: list[np.ndarray], scale: float) -> list[np.ndarray]:
    """The test split as camera frames `scale` times larger than its source images `own`: generated shapes are
    drawn again at that resolution with the same noise per pixel (`shape_camera_frames` says why); photos and
    scans, which hold no more detail than they have, are enlarged (`camera_frame`)."""
    if scale != 1 and data_config.source == "shapes":
        from edgecnn.data.shapes import shape_camera_frames

        options = data_config.shapes
        frames = shape_camera_frames(options.count, tuple(data_config.image_size), data_config.channels,
                                     options.classes, seed, options.noise, (options.min_size, options.max_size),
                                     dataset.test.ids, scale)
        return [_rgb(frame) for frame in frames]
    return [camera_frame(image, scale) for image in own]


def camera_frame(image: np.ndarray, scale: float) -> np.ndarray:
    """`image` enlarged `scale` times (bicubic), as a camera with that many more pixels would see it."""
    if scale == 1:
        return image
    height, width = image.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BICUBIC))


def app_request(frame: np.ndarray, contract) -> tuple[np.ndarray, tuple | None]:
    """The frame and region of interest an app following the card hands MediaPipe, for the file's resize policy
    (`contract`: the file's InputContract)."""
    size = (contract.height, contract.width)
    if contract.resize == "crop":
        return frame, centre_region(frame.shape[:2], size)
    if contract.resize == "pad":
        return letterbox(frame, size[1] / size[0]), None
    return frame, None


class MediaPipeClassifier:
    """MediaPipe Tasks' ImageClassifier on one `.tflite`: all scores per frame, in label order."""

    def __init__(self, path: Path):
        mediapipe_tasks()
        from mediapipe.tasks.python import BaseOptions, vision

        options = vision.ImageClassifierOptions(base_options=BaseOptions(model_asset_path=str(path)), max_results=-1)
        self._classifier = vision.ImageClassifier.create_from_options(options)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._classifier.close()

    def app_top1(self, frames: list[np.ndarray], contract) -> np.ndarray:
        """Top-1 index of each frame, handed over as the model card tells an app (`app_request`)."""
        return np.array([self.scores(*app_request(frame, contract)).argmax() for frame in frames])

    def scores(self, frame: np.ndarray, region: tuple | None = None) -> np.ndarray:
        mp = mediapipe_tasks()
        from mediapipe.tasks.python import vision
        from mediapipe.tasks.python.components.containers.rect import RectF

        extra = {}
        if region is not None:
            left, top, right, bottom = region
            extra["image_processing_options"] = vision.ImageProcessingOptions(
                region_of_interest=RectF(left=left, top=top, right=right, bottom=bottom))
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(frame))
        categories = self._classifier.classify(image, **extra).classifications[0].categories
        out = np.zeros(len(categories), dtype=np.float32)
        for category in categories:
            out[category.index] = category.score
        return out


def _rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        image = image[..., None]
    return np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image
