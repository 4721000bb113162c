"""Deconvolution only where the blur evidence supports the motion: the per-tile support of the
blur field, the Richardson-Lucy damping map made from it, and the generator option."""

from __future__ import annotations

import numpy as np
import pytest

from blur4d.errors import InputError
from blur4d.generate._blurfield import estimate_field
from blur4d.generate._render import Warper, richardson_lucy, sample_times
from blur4d.generate.classical import ClassicalGenerator, support_damping
from _blur_scenes import box_x, rectangles  # noqa: E402 (tests/ is on sys.path)


def _rectangles(W: int = 256, H: int = 128, seed: int = 5) -> np.ndarray:
    return rectangles(W, H, seed, count=400, sizes=(4, 24))


def test_support_is_high_where_the_blur_shows_and_low_where_it_does_not():
    # left part blurred 10 px along x, right part sharp: the camera field covers the blur
    sharp = _rectangles()
    gray = sharp.copy()
    gray[:, :160] = box_x(sharp, 10)[:, :160]
    bf = estimate_field(gray, tile=32, coarse=0.0)
    assert bf.support is not None and bf.support.shape == bf.labels.shape
    left = bf.centers_x < 120
    right = bf.centers_x > 190
    assert np.median(bf.support[:, left]) > 0.15
    assert np.median(bf.support[:, right]) < 0.05
    damp = support_damping(bf, 256, 128, (0.03, 0.10))[..., 0]
    assert damp.shape == (128, 256)
    assert damp[:, :100].mean() < 0.2 and damp[:, 200:].mean() > 0.5


def test_damping_one_leaves_the_photo_and_zero_is_plain_rl():
    rng = np.random.default_rng(0)
    photo = rng.uniform(0.1, 0.9, (40, 60, 3)).astype(np.float32)
    V = np.zeros((40, 60, 2), np.float32)
    V[..., 0] = 6.0
    w = Warper(V)
    t = sample_times(-0.5, 0.5, w.max_len)
    damp = np.zeros((40, 60, 1), np.float32)
    damp[:, 30:] = 1.0
    out = richardson_lucy(photo, w, t, iters=5, damping=damp)
    assert np.array_equal(out[:, 30:], photo[:, 30:])
    np.testing.assert_allclose(richardson_lucy(photo, w, t, iters=5, damping=np.zeros_like(damp)),
                               richardson_lucy(photo, w, t, iters=5), atol=1e-6)


def test_support_option_is_checked_and_recorded():
    with pytest.raises(InputError, match="support"):
        ClassicalGenerator(support=(0.2, 0.1))
    assert ClassicalGenerator()._config()["support"] == [0.03, 0.10]
    assert ClassicalGenerator(support=None)._config()["support"] is None


def test_generator_does_not_sharpen_content_that_does_not_show_the_motion():
    """Do no harm inside a region: the left part of the photo is blurred 10 px along x, the right
    part is sharp (it moved with the camera, or not at all). With the region-level no-blur check
    off (``min_confidence=0``, so the camera field covers the sharp part too), the damped
    deconvolution leaves the sharp part near the photo where plain Richardson-Lucy rings on it,
    and sharpens the blurred part alike; the frames there stay closer to the photo."""
    from blur4d.exposure import decode, encode_uint8
    from blur4d.types import Intervals

    sharp = _rectangles()
    gray = sharp.copy()
    gray[:, :160] = box_x(sharp, 10)[:, :160]
    photo = encode_uint8(np.repeat(gray[..., None], 3, 2))
    lin = decode(photo)
    dev, frames = {}, {}
    for key, sup in (("damped", (0.03, 0.10)), ("plain", None)):
        gen = ClassicalGenerator(max_side=256, estimate_side=256, tile=32, iterations=20, support=sup, min_confidence=0.0)
        res = gen(photo, Intervals.present(5), seed=0)
        d = np.abs(gen._last["latent"] - lin).mean(2)
        dev[key] = (float(d[:, 16:144].mean()), float(d[:, 176:].mean()))
        frames[key] = float(np.abs(res.video.frames[:, :, 176:].astype(float) - photo[None, :, 176:]).mean())
    (left_d, right_d), (left_p, right_p) = dev["damped"], dev["plain"]
    assert right_d < 0.6 * right_p, dev  # measured 0.053 vs 0.123
    assert left_d > 0.8 * left_p, dev  # the blurred part is still deconvolved (0.028 vs 0.032)
    assert frames["damped"] < frames["plain"], frames
