"""The input contract: what an app must feed the model. Recorded in every artifact."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

# Normalization as (pixel - mean) / std in pixel units, so every scheme is one formula an app can copy.
NORMALIZATIONS = {
    "unit": (0.0, 255.0),  # [0, 1]
    "symmetric": (127.5, 127.5),  # [-1, 1]
}


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

    @classmethod
    def from_config(cls, data_config, labels: list[str]) -> "InputContract":
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
        record["preprocessing"] = (f"{self.color}, {resize} to {self.height}x{self.width} bilinear, "
                                   f"x = (pixel - {_text(self.mean)}) / {_text(self.std)}, pixel in 0..255, {self.layout}")
        return record

    @classmethod
    def from_dict(cls, record: dict) -> "InputContract":
        names = cls.__dataclass_fields__
        return cls(**{key: value for key, value in record.items() if key in names})


def _text(value) -> str:
    return f"{value:g}" if np.isscalar(value) else "[" + ", ".join(f"{v:g}" for v in value) + "]"


def normalize(images: np.ndarray, contract: InputContract) -> np.ndarray:
    """uint8 pixels -> the float32 model input the contract describes (per channel if mean/std are lists)."""
    mean = np.asarray(contract.mean, dtype=np.float32)
    std = np.asarray(contract.std, dtype=np.float32)
    return ((images.astype(np.float32) - mean) / std).astype(np.float32)
