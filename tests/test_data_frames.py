"""The one pre-processing from a camera frame to the model input (edgecnn.data.frames): its geometry, its
arithmetic, and that every stage reads images through it. MediaPipe itself is compared in
test_frames_mediapipe.py."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from edgecnn.data.frames import (
    FRAME_SCALES, RESIZERS, centre_region, frame_matrices, frame_to_input, letterbox, resize_matrix, sample_region,
    sampling_matrix,
)
from edgecnn.data.images import ImageFormat, load_image


def noise(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def test_a_frame_of_the_model_size_passes_unchanged():
    frame = noise((16, 24, 3))
    np.testing.assert_array_equal(sample_region(frame, (16, 24)), frame)


def test_enlarging_twice_puts_every_other_pixel_on_a_source_pixel_and_repeats_the_last_edge():
    # MediaPipe's corner-aligned grid: output i samples the frame at i * 8 / 16 = i / 2
    frame = noise((8, 8, 1))
    out = sample_region(frame, (16, 16)).astype(int)
    np.testing.assert_array_equal(out[::2, ::2], frame)
    np.testing.assert_array_equal(out[1::2, 0, 0][:-1], (frame[:-1, 0, 0].astype(int) + frame[1:, 0, 0] + 1) // 2)
    np.testing.assert_array_equal(out[-1], out[-2])  # 7.5 lies past the last pixel: the edge is repeated


def test_shrinking_reads_two_pixels_per_axis_without_anti_aliasing():
    # a one-pixel-wide stripe every 4 columns: a shrink by 4 that samples columns 0, 4, 8, ... sees only stripes
    frame = np.zeros((64, 64, 1), dtype=np.uint8)
    frame[:, ::4] = 255
    assert (sample_region(frame, (16, 16)) == 255).all()
    assert np.asarray(Image.fromarray(frame[..., 0]).resize((16, 16), Image.BILINEAR)).max() < 255  # Pillow averages


@pytest.mark.parametrize("size, expected", [
    ((100, 200), (0.25, 0.0, 0.75, 1.0)),   # wide: trim the sides
    ((300, 100), (0.0, 1 / 3, 1.0, 2 / 3)),  # tall: trim top and bottom
    ((50, 50), (0.0, 0.0, 1.0, 1.0)),
])
def test_the_centre_region_is_the_centred_box_of_the_model_aspect(size, expected):
    np.testing.assert_allclose(centre_region(size, (32, 32)), expected)


def test_crop_samples_only_the_centre_region():
    frame = np.zeros((40, 120, 3), dtype=np.uint8)
    frame[:, 40:80] = 200  # the centred 40x40 square
    assert (frame_to_input(frame, (10, 10), "crop") == 200).all()
    assert (frame_to_input(frame, (10, 10), "stretch") == 0).any()


def test_letterbox_centres_the_frame_on_black():
    frame = np.full((10, 30, 3), 77, dtype=np.uint8)
    boxed = letterbox(frame, 1.0)
    assert boxed.shape == (30, 30, 3) and (boxed[10:20] == 77).all() and (boxed[:10] == 0).all()
    assert (boxed[20:] == 0).all()


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 90), st.integers(1, 90), st.integers(1, 40), st.integers(1, 40), st.integers(0, 2**32 - 1))
def test_the_sampling_matrices_are_the_sampler_before_rounding(frame_h, frame_w, out_h, out_w, seed):
    frame = noise((frame_h, frame_w, 1), seed)
    exact = sampling_matrix(out_h, frame_h) @ frame[..., 0].astype(float) @ sampling_matrix(out_w, frame_w).T
    np.testing.assert_array_equal(np.floor(exact + 0.5), sample_region(frame, (out_h, out_w))[..., 0])


@pytest.mark.parametrize("resizer", RESIZERS)
def test_every_resizer_keeps_a_flat_image_flat(resizer):
    matrix = resize_matrix(16, 100, resizer)
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0, atol=1e-6)


def test_the_camera_frame_matrices_recover_a_stored_image_at_scale_one_and_differ_beyond():
    # digits: stored 8x8, model 16x16; at scale 1 MediaPipe's own enlargement is the training image itself
    rows, cols = frame_matrices((16, 16), (8, 8))
    assert rows.shape == (len(FRAME_SCALES) * len(RESIZERS), 16, 16)
    stored = noise((8, 8, 1)).astype(float)
    image = sample_region(stored.astype(np.uint8), (16, 16))[..., 0].astype(float)
    at_scale_one = rows[RESIZERS.index("mediapipe")] @ image @ cols[RESIZERS.index("mediapipe")].T
    np.testing.assert_allclose(at_scale_one, image, atol=0.5 + 1e-3)  # the training image was rounded to bytes
    far = len(RESIZERS) * FRAME_SCALES.index(8.0) + RESIZERS.index("mediapipe")
    assert np.abs(rows[far] @ image @ cols[far].T - image).max() > 10


def test_files_are_read_through_the_frame_pre_processing(tmp_path):
    frame = noise((37, 53, 3))
    Image.fromarray(frame).save(tmp_path / "frame.png")
    for policy in ("stretch", "crop", "pad"):
        np.testing.assert_array_equal(load_image(tmp_path / "frame.png", ImageFormat((16, 16), 3, policy)),
                                      frame_to_input(frame, (16, 16), policy))
