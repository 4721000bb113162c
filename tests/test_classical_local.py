"""Local independent motion in the classical generator: a small object blurred over a sharp, static
background moves on its own pixels only (opt-in ``_blurfield.LOCAL_MASKS``), and a sharp scene stays
the photo."""

from __future__ import annotations

import numpy as np
import pytest

from blur4d.exposure import decode, encode_uint8
from blur4d.generate import _blurfield
from blur4d.generate._local import MAX_ANISOTROPY, region_support
from blur4d.types import Intervals

H, W, L = 240, 320, 14
BOX = (slice(95, 175), slice(165, 265))  # the object's smear (rows, cols) with a 5 px margin


def _scene(moving: bool) -> tuple[np.ndarray, np.ndarray]:
    """(photo, K=7 truth frames): sharp random rectangles, a 70 px textured object at rows 100-170
    moving L px along x during the exposure (or standing still)."""
    rng = np.random.default_rng(0)
    bg = np.full((H, W, 3), 0.5, np.float32)
    for _ in range(120):
        x, y = rng.integers(0, W), rng.integers(0, H)
        w, h = rng.integers(4, 30, 2)
        bg[y:y + h, x:x + w] = rng.random(3)
    obj = np.zeros((70, 70, 3), np.float32)
    for _ in range(40):
        x, y = rng.integers(0, 70), rng.integers(0, 70)
        w, h = rng.integers(3, 15, 2)
        obj[y:y + h, x:x + w] = rng.random(3)
    lin_bg, lin_obj = decode(encode_uint8(bg, "srgb"), "srgb"), decode(encode_uint8(obj, "srgb"), "srgb")
    raw = []
    for s in np.linspace(-L / 2, L / 2, 29) if moving else np.zeros(29):
        f = lin_bg.copy()
        x0 = int(round(180 + s))
        f[100:170, x0:x0 + 70] = lin_obj
        raw.append(f)
    truth = np.stack([encode_uint8(np.mean(raw[i * 4:i * 4 + 5], 0), "srgb") for i in range(7)])
    return encode_uint8(np.mean(raw, 0), "srgb"), truth


def _seven() -> Intervals:
    return Intervals(np.stack([-0.5 + np.arange(7) / 7, -0.5 + (np.arange(7) + 1) / 7], 1))


@pytest.fixture
def local_masks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_blurfield, "LOCAL_MASKS", True)


def test_small_blurred_object_moves_only_on_its_pixels(local_masks: None) -> None:
    from blur4d.generate.classical import ClassicalGenerator
    from blur4d.metrics import blur_consistency, psnr_p
    from blur4d.types import Video

    photo, truth = _scene(moving=True)
    res = ClassicalGenerator()(photo, _seven(), seed=0)
    frames = res.video.frames
    assert not res.provenance.extra["no_blur"]
    d = np.abs(frames.astype(int) - photo[None].astype(int)).max(axis=(0, 3))
    box = np.zeros((H, W), bool)
    box[BOX] = True
    changed = d > 2
    assert changed[box].mean() > 0.3  # the object's smear moves
    assert changed[~box].mean() < 0.01  # the sharp background stays the photo
    # closer to the truth than the photo repeated
    ours = psnr_p(frames, truth)["psnr_p"]
    still = psnr_p(np.repeat(photo[None], 7, 0), truth)["psnr_p"]
    assert ours > still + 0.5
    # blur consistency: frames tiling the exposure average back to the photo in linear light
    assert blur_consistency(Video(frames, _seven()), photo) > 35.0


def test_sharp_scene_frames_are_the_photo(local_masks: None) -> None:
    from blur4d.generate.classical import ClassicalGenerator

    photo, _ = _scene(moving=False)
    res = ClassicalGenerator()(photo, _seven(), seed=0)
    assert res.provenance.extra["no_blur"]
    assert np.array_equal(res.video.frames, np.repeat(photo[None], 7, 0))


def test_isotropic_softness_is_not_a_motion() -> None:
    """A Gaussian-blurred patch is soft in every direction: no motion support; the same patch
    box-blurred along x is soft along x only."""
    import cv2

    rng = np.random.default_rng(1)
    img = np.zeros((128, 128), np.float32)
    for _ in range(60):
        x, y = rng.integers(0, 128, 2)
        w, h = rng.integers(4, 20, 2)
        img[y:y + h, x:x + w] = rng.random()
    tiles = np.zeros_like(img, bool)
    tiles[16:112, 16:112] = True
    soft = cv2.GaussianBlur(img, (0, 0), 4.0)
    moved = cv2.blur(img, (12, 1))
    _, _, a_soft, _ = region_support(soft, np.array([12.0, 0.0]), tiles)
    _, _, a_moved, share = region_support(moved, np.array([12.0, 0.0]), tiles)
    assert a_moved < MAX_ANISOTROPY < a_soft
    assert share > 0.3
