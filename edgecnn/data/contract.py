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
    mean: float
    std: float
    labels: list[str] = field(default_factory=list)
    layout: str = "NHWC"
    color: str = "grayscale"

    @classmethod
    def from_config(cls, data_config, labels: list[str]) -> "InputContract":
        mean, std = NORMALIZATIONS[data_config.normalization]
        height, width = data_config.image_size
        color = "grayscale" if data_config.channels == 1 else "rgb"
        return cls(height, width, data_config.channels, data_config.normalization, mean, std, list(labels), color=color)

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.height, self.width, self.channels)

    @property
    def value_range(self) -> tuple[float, float]:
        return ((0.0 - self.mean) / self.std, (255.0 - self.mean) / self.std)

    def to_dict(self) -> dict:
        """The JSON an app developer reads: shape, layout, dtype and the exact pre-processing."""
        record = asdict(self)
        del record["labels"]  # stored once, at the top level of the metadata
        record["shape"] = [1, self.height, self.width, self.channels]
        record["dtype"] = "float32"
        record["value_range"] = list(self.value_range)
        record["preprocessing"] = f"x = (pixel - {self.mean:g}) / {self.std:g}, pixel in 0..255, {self.color}, {self.layout}"
        return record

    @classmethod
    def from_dict(cls, record: dict) -> "InputContract":
        names = cls.__dataclass_fields__
        return cls(**{key: value for key, value in record.items() if key in names})


def normalize(images: np.ndarray, contract: InputContract) -> np.ndarray:
    """uint8 pixels -> the float32 model input the contract describes."""
    return ((images.astype(np.float32) - contract.mean) / contract.std).astype(np.float32)
