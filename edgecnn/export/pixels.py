"""The input every exported file takes: camera pixels 0..255, as phone SDKs hand them over.

The model was trained on normalized images (and grayscale ones, for digits-like data). Exported files
put one fixed 1x1 convolution in front of it, named `input_pixels`, that applies the training
normalization per channel and, for a grayscale model taking RGB, the luminance conversion: one mean/std
pair of (0, 1) is then all the metadata has to describe, which MediaPipe and ML Kit accept (they cannot
describe per-channel normalization), and a uint8 input quantized with scale 1 is exactly the pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from edgecnn._tf import tensorflow
from edgecnn.data.contract import PIXEL_INPUT_LAYER, InputContract, input_affine, normalize, pixel_contract

if TYPE_CHECKING:  # annotations only: no import at run time
    from edgecnn.recipe import Recipe


@dataclass(frozen=True)
class FileInput:
    contract: InputContract  # what the file takes: 0..255 pixels, its channels, the training pre-processing inside
    kernel: np.ndarray  # (file channels, model channels)
    bias: np.ndarray  # (model channels,)

    @classmethod
    def for_recipe(cls, recipe: Recipe, model_contract: InputContract) -> "FileInput":
        contract = pixel_contract(model_contract, recipe.export.takes_rgb(model_contract.channels))
        kernel, bias = input_affine(model_contract, contract.channels)
        return cls(contract, kernel, bias)

    def prepare(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 images (the data's channels) -> the float32 pixels the file takes."""
        return normalize(pixels, self.contract)

    def serving_function(self, model):
        """`model` behind the pixel convolution, as a function TensorFlow can trace for a converter."""
        tf = tensorflow()

        def serve(image):
            # Constants made while tracing are graph constants; eager ones would be captured as extra inputs.
            with tf.name_scope(PIXEL_INPUT_LAYER):
                kernel, bias = tf.constant(self.kernel[None, None]), tf.constant(self.bias)
                normalized = tf.nn.bias_add(tf.nn.conv2d(image, kernel, 1, "VALID"), bias)
            return model(normalized, training=False)

        return serve
