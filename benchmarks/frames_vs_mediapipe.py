"""edgecnn's pre-processing (edgecnn.data.frames) against MediaPipe Tasks' own, pixel by pixel: an identity model
whose scores are its input tensor (tests/clients.py identity_probe) is fed random RGB frames of many sizes,
whole and with the centred region of interest; prints one JSON line per (model size, frame size) with the
maximum absolute difference and the share of differing values. Needs the clients extra and TensorFlow.

    python benchmarks/frames_vs_mediapipe.py
"""

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from edgecnn.data.frames import centre_region, sample_region  # noqa: E402
from tests.clients import identity_probe, mediapipe_input_tensor  # noqa: E402

MODEL_SIZES = [(16, 16), (64, 64), (24, 40)]
FRAME_SIZES = [(8, 8), (16, 16), (17, 23), (23, 17), (32, 32), (64, 64), (100, 37), (128, 128), (256, 256),
               (240, 320), (480, 640), (333, 777), (720, 1280), (1080, 1920)]


def compare(probe: Path, size: tuple[int, int], frame: np.ndarray, region) -> dict:
    theirs = mediapipe_input_tensor(probe, frame, region).reshape(*size, 3)
    ours = sample_region(frame, size, region or (0.0, 0.0, 1.0, 1.0)).astype(np.float32)
    return {"max_abs_diff": float(np.abs(theirs - ours).max()), "differing": round(float((theirs != ours).mean()), 5)}


def main() -> None:
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        for size in MODEL_SIZES:
            probe = identity_probe(Path(folder) / f"probe_{size[0]}x{size[1]}.tflite", *size)
            for frame_size in FRAME_SIZES:
                frame = rng.integers(0, 256, (*frame_size, 3), dtype=np.uint8)
                print(json.dumps({"model": list(size), "frame": list(frame_size),
                                  "whole": compare(probe, size, frame, None),
                                  "centre_region": compare(probe, size, frame, centre_region(frame_size, size))}),
                      flush=True)


if __name__ == "__main__":
    main()
