"""The check's SIFT proxy, key frames and the SIFT cache it shares with the camera stage."""

from __future__ import annotations

import threading

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")


def _texture(h=120, w=160, seed=0):
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.integers(0, 255, (h, w, 3)).astype(np.uint8), (0, 0), 1.2)
    return cv2.normalize(img, None, 0, 255, cv2.NORM_MINMAX)


def test_sift_cache_returns_what_opencv_computes_once_per_image():
    from blur4d.adapters import _features

    _features.clear()
    g = cv2.cvtColor(_texture(), cv2.COLOR_RGB2GRAY)
    kps, desc = cv2.SIFT_create(nfeatures=4000).detectAndCompute(g, None)
    assert 50 < len(kps) < 1000
    xy, d = _features.sift(g, 4000)
    np.testing.assert_array_equal(xy, cv2.KeyPoint_convert(kps))
    np.testing.assert_array_equal(d, desc)
    assert _features.sift(g.copy(), 4000)[0] is xy  # same pixels: reused
    assert _features.sift(g, 2000)[0] is xy  # under both caps: OpenCV keeps every keypoint either way
    assert _features.stats == {"hits": 2, "misses": 1}
    capped, _ = _features.sift(g, 20)  # a binding cap is another extraction...
    assert len(capped) == 20 and _features.stats["misses"] == 2
    c30 = cv2.SIFT_create(nfeatures=30).detect(g, None)  # ...and a capped one never serves another cap
    assert len(_features.sift(g, 30)[0]) == len(c30) >= 30  # (OpenCV keeps ties at the cap)
    assert _features.stats["misses"] == 3
    _features.sift(255 - g, 4000)  # other pixels: computed
    assert _features.stats["misses"] == 4
    _features.clear()


def test_sift_cache_lets_a_second_thread_wait_for_the_first():
    from blur4d.adapters import _features

    _features.clear()
    g = cv2.cvtColor(_texture(480, 640, seed=1), cv2.COLOR_RGB2GRAY)
    out = []
    threads = [threading.Thread(target=lambda: out.append(_features.sift(g, 4000))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out[0][0] is out[1][0] and _features.stats == {"hits": 1, "misses": 1}
    _features.clear()


def test_check_and_camera_stage_share_the_sift_of_first_and_last_frames():
    """The check reduces frames as the camera stage does (INTER_AREA on colour, then grey), so
    the camera stage's first-last SIFT comes from the cache, with the same correspondences as
    its own extraction."""
    from blur4d.adapters import _features
    from blur4d.adapters.epipolar.config import EpipolarConfig
    from blur4d.adapters.epipolar.matching import _detect
    from blur4d.adapters.sfm import _sift_pair

    a = _texture(240, 320, seed=2)
    b = np.roll(a, (3, 5), axis=(0, 1))
    gray = [cv2.cvtColor(cv2.resize(f, (160, 120), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY) for f in (a, b)]
    _features.clear()
    own = _sift_pair(gray[0], gray[1], 2000)
    _features.clear()
    cfg = EpipolarConfig(max_side=160)
    fa = _detect(a, cfg)
    _detect(b, cfg)
    assert fa.scale == 0.5 and fa.tscale == 1.0  # thresholds stay in input pixels (threshold_side 1280)
    shared = _sift_pair(gray[0], gray[1], 2000)
    assert _features.stats == {"hits": 2, "misses": 2}
    assert len(own[0]) > 20
    np.testing.assert_array_equal(shared[0], own[0])
    np.testing.assert_array_equal(shared[1], own[1])
    _features.clear()


def test_pixel_thresholds_follow_threshold_side_not_the_sift_proxy():
    """A SIFT proxy must not inflate the thresholds in input pixels (realblur 000249-000272 lost
    its moving person when they grew with 1/scale)."""
    from blur4d.adapters.epipolar import EpipolarChecker

    a = _texture(240, 320, seed=3)
    b = np.roll(a, (2, 4), axis=(0, 1))
    rep = EpipolarChecker(max_side=160).check_frames([a, b])
    assert rep.summary["analysis_scale"] == 0.5 and rep.summary["threshold_px"] == pytest.approx(1.0)
    old = EpipolarChecker(max_side=160, threshold_side=160).check_frames([a, b])  # the earlier coupling
    assert old.summary["threshold_px"] == pytest.approx(2.0)
    with pytest.raises(Exception, match="threshold_side"):
        EpipolarChecker(threshold_side=8)


def test_parallax_growth_uses_neighbouring_key_frames_as_the_short_pairs():
    from blur4d.adapters.epipolar.verdict import _parallax_growth

    def rec(i, j, motion, excess_px, noise=0.25):
        return {"i": i, "j": j, "ok": True, "label": "parallax", "displacement_p90_px": motion,
                "parallax_p90_px": excess_px + 2.15 * noise, "noise_sigma_px": noise, "parallax_evidence": 1.0}

    keys = [0, 2, 4, 6, 8, 10, 12, 15]  # key frames of a 16-frame clip: no pair with j - i = 1
    short = [rec(i, j, 3.0, 0.5) for i, j in zip(keys[:-1], keys[1:])]
    local = short + [rec(0, 15, 24.0, 0.7), rec(0, 8, 12.0, 0.6)]
    g = _parallax_growth(local, keys)
    assert g is not None and g["ratio"] < 0.25
    assert _parallax_growth(local)["ratio"] == pytest.approx(g["ratio"])  # frames default to the records'
