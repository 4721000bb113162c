"""The classical generator on small synthetic scenes with exact ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from blur4d.errors import InputError
from blur4d.exposure import average_linear, decode, encode_uint8
from blur4d.generate.classical import ClassicalGenerator, _guidance_vectors
from blur4d.metrics import blur_consistency, psnr_p
from blur4d.progress import Recorder
from blur4d.synthetic import benchmark_scenes, ground_truth_case
from blur4d.types import Intervals, Video


@pytest.fixture(scope="module")
def case():
    return ground_truth_case(benchmark_scenes(240, 136, blur=1.0)["rotation"], "rotation", subframes=7)


@pytest.fixture(scope="module")
def translation():
    return ground_truth_case(benchmark_scenes(240, 136, blur=1.0)["translation"], "translation", subframes=7)


def _gen(**kw):
    return ClassicalGenerator(max_side=240, estimate_side=240, tile=48, iterations=10, **kw)


def test_shapes_types_and_progress(case):
    rec = Recorder()
    res = _gen()(case.photo, case.intervals, samples=2, seed=0, progress=rec)
    assert len(res.samples) == 2 and len(res.choices) == 2
    v = res.video
    assert v.frames.shape == case.frames.shape and v.frames.dtype == np.uint8
    assert v.intervals == case.intervals
    assert res.ambiguity.shape == case.photo.shape[:2] and res.ambiguity.dtype == np.float32
    assert 0.0 <= res.ambiguity.min() and res.ambiguity.max() <= 1.0
    assert rec.calls[-1][1] == rec.calls[-1][2]
    assert res.provenance.backend == "classical" and "total" in res.provenance.timings


def test_beats_repeated_photo_and_is_blur_consistent(translation):
    case = translation
    res = _gen()(case.photo, case.intervals, samples=1, seed=0)
    pres = case.present
    pred = res.video.frames[pres]
    photo_rep = np.repeat(case.photo[None], pres.sum(), 0)
    ours = psnr_p(pred, case.frames[pres])["psnr_p"]
    base = psnr_p(photo_rep, case.frames[pres])["psnr_p"]
    assert ours > base + 2.0, (ours, base)
    bc = blur_consistency(Video(pred, Intervals(case.intervals.bounds[pres])), case.photo)
    assert bc > 35.0
    # not a collapse to the photo: the frames differ from one another
    assert np.abs(pred[0].astype(int) - pred[-1].astype(int)).mean() > 3.0


def test_half_exposure_frame_is_the_blur_of_that_half(case):
    ivs = Intervals(np.array([[-0.5, 0.0], [0.0, 0.5]]))
    res = _gen()(case.photo, ivs, seed=0)
    avg = encode_uint8(average_linear(res.video))
    assert np.abs(avg.astype(int) - case.photo.astype(int)).mean() < 2.0
    # each half is blurred less than the photo and differs from the other half
    a, b = res.video.frames.astype(int)
    assert np.abs(a - b).mean() > 3.0


def test_past_future_gaps_and_instants(case):
    ivs = Intervals(np.array([[-1.0, -0.8], [-0.3, -0.3], [-0.1, 0.1], [0.7, 1.2]]))
    res = _gen()(case.photo, ivs, seed=0)
    f = res.video.frames.astype(int)
    assert res.video.num_frames == 4
    # extrapolated frames move further than present ones
    assert np.abs(f[0] - f[2]).mean() > np.abs(f[1] - f[2]).mean()


def test_linear_in_frames_and_output_size(case):
    gen = _gen(output_size=(120, 68))
    res = gen(case.photo, Intervals.present(3), seed=0)
    assert res.video.frames.shape == (3, 68, 120, 3)
    assert res.ambiguity.shape == (68, 120)


def test_seed_reproducible_and_samples_differ(translation):
    gen = _gen()
    r1 = gen(translation.photo, Intervals.present(5), samples=3, seed=7)
    r2 = gen(translation.photo, Intervals.present(5), samples=3, seed=7)
    for a, b in zip(r1.samples, r2.samples):
        np.testing.assert_array_equal(a.frames, b.frames)
    assert r1.choices == r2.choices
    signs = [tuple(r["sign"] for r in c["regions"]) for c in r1.choices]
    if len(r1.choices[0]["regions"]) >= 1:
        assert len(set(signs[:2])) == 2
        assert not np.array_equal(r1.samples[0].frames, r1.samples[1].frames)


def test_direction_guidance_flips_time(translation):
    gen = _gen()
    ivs = Intervals.present(5)
    lr = gen(translation.photo, ivs, seed=0, direction="left-to-right")
    rl = gen(translation.photo, ivs, seed=0, direction="right-to-left")
    ang = gen(translation.photo, ivs, seed=0, direction=180.0)
    np.testing.assert_array_equal(rl.video.frames, ang.video.frames)
    cam = [r for r in lr.choices[0]["regions"] if r["kind"] == "camera"][0]
    assert cam["guided"] and (cam["direction_deg"] < 45 or cam["direction_deg"] > 315)
    # right-to-left is the time reversal of left-to-right (same blur, opposite direction)
    fwd, rev = lr.video.frames.astype(int), rl.video.frames.astype(int)
    assert np.abs(fwd - rev[::-1]).mean() < 0.5 * np.abs(fwd - rev).mean()
    # the true camera moves +x, so the content moves right-to-left in the image: that guidance wins
    full = ground_truth_case(translation.scene, "t", present=5, past=0, future=0, subframes=10)
    e_lr = np.mean((lr.video.frames.astype(float) - full.frames) ** 2)
    e_rl = np.mean((rl.video.frames.astype(float) - full.frames) ** 2)
    assert e_rl < 0.5 * e_lr
    # a colour guidance map (red = rightwards) gives the same as left-to-right
    red = np.zeros(translation.photo.shape, np.uint8)
    red[..., 0] = 255
    np.testing.assert_array_equal(gen(translation.photo, ivs, seed=0, direction=red).video.frames, lr.video.frames)


def test_guidance_encodings():
    g = _guidance_vectors("top-to-bottom", 4, 3)
    np.testing.assert_allclose(g[0, 0], [0, 1], atol=1e-6)
    m = np.zeros((3, 4, 3), np.uint8)
    m[:, :2] = (0, 0, 255)  # blue = leftwards
    g = _guidance_vectors(m, 4, 3)
    np.testing.assert_allclose(g[0, 0], [-1, 0], atol=1e-6)
    assert np.isnan(_guidance_vectors(m, 4, 3)[0, 3]).all()
    ang = np.full((3, 4), 90.0)
    np.testing.assert_allclose(_guidance_vectors(ang, 4, 3)[1, 1], [0, 1], atol=1e-6)
    with pytest.raises(InputError, match="direction"):
        _guidance_vectors("sideways", 4, 3)
    with pytest.raises(InputError, match="guidance map"):
        _guidance_vectors(np.zeros((3, 4, 2)), 4, 3)


def test_sharp_photo_gives_static_video():
    scene = benchmark_scenes(200, 120)["object"]
    sharp = encode_uint8(scene.render(0.0))
    res = _gen()(sharp, Intervals.present(4), seed=0)
    diff = np.abs(res.video.frames.astype(int) - sharp.astype(int)).mean()
    assert diff < 3.0
    assert float(res.ambiguity.mean()) < 0.5


def test_bad_options_and_input():
    with pytest.raises(InputError, match="max_side"):
        ClassicalGenerator(max_side=4)
    with pytest.raises(InputError, match="output_size"):
        ClassicalGenerator(output_size=(3, 3))
    with pytest.raises(InputError, match="photo"):
        ClassicalGenerator()(np.zeros((10, 10), np.uint8), Intervals.present(2))
    with pytest.raises(InputError, match="samples"):
        ClassicalGenerator()(np.zeros((64, 64, 3), np.uint8), Intervals.present(2), samples=0)


def test_registry_and_api(example_photo):
    from blur4d import api

    res = api.generate(example_photo, frames=3, seed=0, max_side=160, estimate_side=160, tile=32, iterations=5)
    assert res.video.frames.shape == (3,) + example_photo.shape
    assert decode(res.video.frames).shape == (3,) + example_photo.shape


def test_tv_regularised_deconvolution_runs(translation):
    plain = _gen()(translation.photo, Intervals.present(2), seed=0).video.frames
    tv = _gen(tv=0.02)(translation.photo, Intervals.present(2), seed=0).video.frames
    assert tv.shape == plain.shape and not np.array_equal(tv, plain)
