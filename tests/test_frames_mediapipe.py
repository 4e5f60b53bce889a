"""edgecnn's pre-processing against MediaPipe Tasks' own, pixel by pixel: an identity model (its scores are its
input tensor) shows what MediaPipe's ImageClassifier feeds a model for a frame, whole or with the centred region
of interest, and edgecnn.data.frames must give the same bytes. benchmarks/frames_vs_mediapipe.py prints the
figures per frame size."""

import importlib.util

import numpy as np
import pytest

from edgecnn.data.frames import centre_region, sample_region
from tests.clients import identity_probe, mediapipe_input_tensor

# Found, not imported: importing MediaPipe imports TensorFlow, which a unit run must not load at collection.
pytestmark = [pytest.mark.build,  # TensorFlow converts the probe models
              pytest.mark.skipif(importlib.util.find_spec("mediapipe") is None, reason="needs the clients extra")]

# Round sizes, and odd sides whose samples fall exactly halfway between two 1/32-pixel steps (37 pixels onto 64:
# 18.5 steps), where only reproducing OpenCV's floating-point noise lands them as MediaPipe does
FRAMES = [(8, 8), (16, 16), (17, 23), (32, 32), (37, 100), (64, 64), (100, 37), (97, 131), (128, 128), (240, 320),
          (333, 777), (480, 640), (720, 1280), (1080, 1920)]
# Two sizes where MediaPipe's matrix carries less noise than edgecnn's emulation of it (1e-18 in a perspective
# term), so a few exact halves round the other way: (frame size, with the centre region)
RESIDUAL = [((51, 49), False), ((23, 17), True)]


@pytest.fixture(scope="module")
def probes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("probes")
    return {size: identity_probe(folder / f"probe_{size[0]}x{size[1]}.tflite", *size) for size in [(16, 16), (64, 64), (24, 40)]}


def mediapipe_pixels(probe, size, frame, region=None):
    return mediapipe_input_tensor(probe, frame, region).reshape(*size, 3)


@pytest.mark.parametrize("frame_size", FRAMES)
@pytest.mark.parametrize("size", [(16, 16), (64, 64), (24, 40)])
def test_the_model_input_is_mediapipes_byte_for_byte(probes, size, frame_size):
    frame = np.random.default_rng(sum(frame_size)).integers(0, 256, (*frame_size, 3), dtype=np.uint8)
    region = centre_region(frame_size, size)
    np.testing.assert_array_equal(mediapipe_pixels(probes[size], size, frame), sample_region(frame, size))
    np.testing.assert_array_equal(mediapipe_pixels(probes[size], size, frame, region), sample_region(frame, size, region))


def tie_taps(out_len, first, length, frame_len, down):
    """Ideal positions along one axis in 1/32 pixels, exact halves rounded down or up."""
    steps = (first + np.arange(out_len) * (length / out_len)) * 32
    fixed = (np.ceil(steps - 0.5) if down else np.floor(steps + 0.5)).astype(np.int64)
    return np.clip(fixed >> 5, 0, frame_len - 1), np.clip((fixed >> 5) + 1, 0, frame_len - 1), fixed & 31


@pytest.mark.parametrize("frame_size, with_region", RESIDUAL)
def test_where_the_noise_differs_only_exact_halves_round_the_other_way(probes, frame_size, with_region):
    size = (64, 64)
    frame = np.random.default_rng(2).integers(0, 256, (*frame_size, 3), dtype=np.uint8)
    region = centre_region(frame_size, size) if with_region else (0.0, 0.0, 1.0, 1.0)
    theirs = mediapipe_pixels(probes[size], size, frame, region if with_region else None)
    (top, bottom), (left, right) = (region[1] * frame_size[0], region[3] * frame_size[0]), (
        region[0] * frame_size[1], region[2] * frame_size[1])
    options = []
    for rows_down in (False, True):
        for cols_down in (False, True):
            rows = [np.repeat(t[:, None], 64, axis=1) for t in tie_taps(64, top, bottom - top, frame_size[0], rows_down)]
            cols = [np.repeat(t[None, :], 64, axis=0) for t in tie_taps(64, left, right - left, frame_size[1], cols_down)]
            options.append(frames_bilinear(frame, rows, cols))
    assert (theirs != sample_region(frame, size, region)).any()
    assert np.any([theirs == option for option in options], axis=0).all()


def frames_bilinear(frame, rows, cols):
    from edgecnn.data.frames import _bilinear

    return _bilinear(frame, rows, cols)
