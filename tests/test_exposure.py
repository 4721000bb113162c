"""Eq. 1 on frames with known motion, camera responses, and the published interval encoding."""

from __future__ import annotations

import numpy as np
import pytest

from blur4d.exposure import decode, encode, group_intervals, interval_encoding, synthesize_blur
from blur4d.synthetic import CameraPath, Layer, Scene, intrinsics
from blur4d.types import Intervals


def _moving_patch_frames(n=48, size=64):
    """A bright square moving right by 1 px per frame over a textured background."""
    rng = np.random.default_rng(1)
    bg = rng.integers(0, 120, (size, size, 3), dtype=np.uint8)
    frames = np.repeat(bg[None], n, 0)
    for i in range(n):
        frames[i, 20:30, 5 + i // 2: 15 + i // 2] = (250, 200, 40)
    return frames


def test_subinterval_blurs_average_to_the_whole():
    frames = _moving_patch_frames(48)
    iv = Intervals.present(48)
    whole = decode(synthesize_blur(frames, iv), "srgb")
    halves = [decode(synthesize_blur(frames, iv, interval=(a, b)), "srgb") for a, b in ((-0.5, 0.0), (0.0, 0.5))]
    # the average of the two half-exposure photos (in linear light) is the full-exposure photo
    np.testing.assert_allclose((halves[0] + halves[1]) / 2, whole, atol=2.5 / 255)
    quarters = Intervals.present(4).bounds
    q = [decode(synthesize_blur(frames, iv, interval=tuple(b)), "srgb") for b in quarters]
    np.testing.assert_allclose(np.mean(q, 0), whole, atol=2.5 / 255)


def test_blur_is_linear_light_average_not_srgb_average():
    frames = np.zeros((2, 32, 32, 3), np.uint8)
    frames[1] = 255
    blur = synthesize_blur(frames, Intervals.present(2))
    # half black, half white in linear light is 0.5 linear -> sRGB 188, not 128
    assert abs(int(blur[0, 0, 0]) - 188) <= 1
    blur_g = synthesize_blur(frames, Intervals.present(2), response="gamma2.2")
    assert abs(int(blur_g[0, 0, 0]) - round(255 * 0.5 ** (1 / 2.2))) <= 1


def test_blur_of_rendered_scene_matches_subframe_average():
    scene = Scene((Layer(np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8), 4.0),),
                  intrinsics(64, 48), (64, 48), CameraPath.linear(velocity=(0.3, 0, 0)))
    gt = scene.video(Intervals.present(8), samples_per_unit=64)
    photo = scene.photo(64)
    np.testing.assert_allclose(decode(synthesize_blur(gt, Intervals.present(8))), decode(photo), atol=3 / 255)


def test_partial_and_instantaneous_weights():
    frames = np.stack([np.full((32, 32, 3), v, np.uint8) for v in (0, 100, 200, 255)])
    inst = Intervals(np.array([[-0.5, -0.5], [-0.1, -0.1], [0.2, 0.2], [0.5, 0.5]]))
    out = synthesize_blur(frames, inst, response="linear", interval=(-0.2, 0.3))
    assert abs(int(out[0, 0, 0]) - 150) <= 1  # frames 1 and 2 only
    with pytest.raises(Exception, match="does not overlap"):
        synthesize_blur(frames, Intervals.present(4), interval=(2.0, 3.0))


@pytest.mark.parametrize("resp", ["srgb", "gamma2.2", "linear", 2.4])
def test_response_roundtrip(resp):
    x = np.linspace(0, 1, 101, dtype=np.float32)
    np.testing.assert_allclose(decode(encode(x, resp), resp), x, atol=1e-5)
    assert decode(np.array([0.04045]), "srgb")[0] == pytest.approx(0.04045 / 12.92, rel=1e-5)


def _published_grouping(intervals: Intervals) -> np.ndarray:
    inp = group_intervals(Intervals(np.array([[-0.5, 0.5]])), pad_to=4)
    out = group_intervals(intervals, pad_to=17)
    return np.concatenate([inp, out])[None]


def test_interval_encoding_matches_published_test_vectors():
    # test vectors from the published model's specification (shared/reference/blur2vid-model.md)
    present = _published_grouping(Intervals.present(16))
    assert present.shape == (1, 6, 8)
    np.testing.assert_allclose(present[0, 5], [0.3125, 0.375, 0.375, 0.4375, 0.4375, 0.5, 0.4375, 0.5])
    feats = interval_encoding(present)
    assert feats.shape == (1, 6, 192)
    assert feats.sum() == pytest.approx(568.5217949136, abs=1e-8)
    np.testing.assert_allclose(feats[0, 1, :3], [-0.4794255386, -0.2300017117, -0.1075135220], atol=1e-9)
    ppf = interval_encoding(_published_grouping(Intervals.past_present_future(16)))
    assert ppf.sum() == pytest.approx(557.5402219363, abs=1e-8)
