"""The input contract: what an app must feed the model. Recorded in every artifact."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from edgecnn.data.frames import app_steps

if TYPE_CHECKING:  # annotations only: no import at run time
    from edgecnn.recipe import DataConfig

# Normalization as (pixel - mean) / std in pixel units, so every scheme is one formula an app can copy.
NORMALIZATIONS = {
    "unit": (0.0, 255.0),  # [0, 1]
    "symmetric": (127.5, 127.5),  # [-1, 1]
    "raw": (0.0, 1.0),  # pixels 0..255 unchanged: exported files normalize inside the graph
}
# ITU-R BT.601 luma, the weights Pillow's convert("L") uses, so RGB fed to a grayscale model through
# them matches the grayscale images it was trained on.
LUMINANCE = (0.299, 0.587, 0.114)
# The name of the 1x1 convolution exported files start with: luminance and normalization, folded.
PIXEL_INPUT_LAYER = "input_pixels"


def is_pixel_input(layer_name: str) -> bool:
    """Whether a layer or tensor name belongs to the pixel convolution, not to the trained model."""
    return PIXEL_INPUT_LAYER in layer_name.split("/")


@dataclass
class InputContract:
    height: int
    width: int
    channels: int
    normalization: str
    mean: float | list[float]  # one value, or one per channel
    std: float | list[float]
    labels: list[str] = field(default_factory=list)
    layout: str = "NHWC"
    color: str = "grayscale"
    resize: str = "stretch"
    inside: dict | None = None  # pre-processing the file does in its graph (exported files)

    @classmethod
    def from_config(cls, data_config: DataConfig, labels: list[str]) -> "InputContract":
        mean, std = data_config.mean_std()
        height, width = data_config.image_size
        color = "grayscale" if data_config.channels == 1 else "rgb"
        return cls(height, width, data_config.channels, data_config.normalization, mean, std, list(labels),
                   color=color, resize=data_config.resize)

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.height, self.width, self.channels)

    @property
    def value_range(self) -> tuple[float, float]:
        low = (0.0 - np.asarray(self.mean)) / np.asarray(self.std)
        high = (255.0 - np.asarray(self.mean)) / np.asarray(self.std)
        return (float(np.min(low)), float(np.max(high)))

    def to_dict(self) -> dict:
        """The JSON an app developer reads: shape, layout, dtype and the exact pre-processing."""
        record = asdict(self)
        del record["labels"]  # stored once, at the top level of the metadata
        record["shape"] = [1, self.height, self.width, self.channels]
        record["dtype"] = "float32"
        record["value_range"] = list(self.value_range)
        resize = {"stretch": "resized (aspect ignored)", "crop": "centre-cropped to the aspect, then resized",
                  "pad": "padded with black to the aspect, then resized"}[self.resize]
        formula = (f"x = (pixel - {_text(self.mean)}) / {_text(self.std)}, pixel in 0..255" if self.normalization != "raw"
                   else "x = pixel, 0..255 as decoded (the model normalizes inside)")
        record["preprocessing"] = (f"{self.color}, {resize} to {self.height}x{self.width} by MediaPipe Tasks' sampling "
                                   f"(bilinear, corner-aligned, no anti-aliasing), {formula}, {self.layout}")
        record["app_steps"] = app_steps(self.resize, self.height, self.width)
        if record["inside"] is None:
            del record["inside"]
        return record

    @classmethod
    def from_dict(cls, record: dict) -> "InputContract":
        names = cls.__dataclass_fields__
        return cls(**{key: value for key, value in record.items() if key in names})


def pixel_contract(contract: InputContract, rgb_input: bool) -> InputContract:
    """The contract of an exported file: 0..255 pixels in, RGB for a grayscale model when `rgb_input`;
    the training normalization (and luminance) happen inside the graph, as `input_affine` gives them."""
    channels = 3 if rgb_input else contract.channels
    inside = {"normalization": contract.normalization, "mean": contract.mean, "std": contract.std,
              "formula": f"x = (pixel - {_text(contract.mean)}) / {_text(contract.std)}"}
    if channels != contract.channels:
        inside["color"] = "grayscale = 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601, as Pillow converts)"
    return replace(contract, channels=channels, normalization="raw", mean=0.0, std=1.0,
                   color="rgb" if channels == 3 else "grayscale", inside=inside)


def input_affine(contract: InputContract, file_channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Kernel (file channels x model channels) and bias of the 1x1 convolution that turns 0..255 pixels
    into the model's normalized input: per-channel mean/std and luminance folded into one operator."""
    model_channels = contract.channels
    mean = np.broadcast_to(np.asarray(contract.mean, np.float64), (model_channels,))
    std = np.broadcast_to(np.asarray(contract.std, np.float64), (model_channels,))
    if file_channels == model_channels:
        kernel = np.diag(1.0 / std)
    elif (model_channels, file_channels) == (1, 3):
        kernel = np.asarray(LUMINANCE)[:, None] / std
    else:
        raise ValueError(f"cannot feed {file_channels} channels to a {model_channels}-channel model")
    return kernel.astype(np.float32), (-mean / std).astype(np.float32)


def _text(value) -> str:
    return f"{value:g}" if np.isscalar(value) else "[" + ", ".join(f"{v:g}" for v in value) + "]"


def normalize(images: np.ndarray, contract: InputContract) -> np.ndarray:
    """uint8 pixels -> the float32 model input the contract describes (per channel if mean/std are lists).
    Grayscale images given to a file that takes RGB are repeated over the three channels (luminance
    weights sum to one, so the model sees the grayscale image unchanged)."""
    if images.shape[-1] == 1 and contract.channels == 3:
        images = np.repeat(images, 3, axis=-1)
    mean = np.asarray(contract.mean, dtype=np.float32)
    std = np.asarray(contract.std, dtype=np.float32)
    return ((images.astype(np.float32) - mean) / std).astype(np.float32)
