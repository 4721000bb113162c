"""The paper's bidirectional metrics, validated on hand-built cases."""

from __future__ import annotations

import json

import numpy as np
import pytest

from blur4d.errors import InputError
from blur4d.metrics import EvalResult, blur_consistency, epe, evaluate, psnr_p, ssim_p
from blur4d.synthetic import benchmark_scenes, ground_truth_case
from blur4d.types import Intervals, Video


@pytest.fixture(scope="module")
def gt_case():
    return ground_truth_case(benchmark_scenes(160, 80)["translation"], "t", present=5, past=0, future=0, subframes=10)


@pytest.fixture(scope="module")
def noisy(gt_case):
    rng = np.random.default_rng(0)
    return np.clip(gt_case.frames.astype(int) + rng.integers(-12, 13, gt_case.frames.shape), 0, 255).astype(np.uint8)


def test_psnr_by_hand():
    gt = np.zeros((2, 4, 4, 3), np.uint8)
    pred = gt.copy()
    pred[0] += 10  # frame 0: MSE 100; frame 1 perfect (capped at 100 dB)
    r = psnr_p(pred, gt)
    assert r["psnr_forward"] == pytest.approx((10 * np.log10(255 ** 2 / 100) + 100) / 2)
    # reversed: frame 1 of the reversal is the bad one -> the same average
    assert r["psnr_reverse"] == pytest.approx(r["psnr_forward"])


def test_time_reversed_prediction_scores_the_same(gt_case, noisy):
    gt = gt_case.frames
    fwd, rev = evaluate(noisy, gt, blurry=gt_case.photo), evaluate(noisy[::-1].copy(), gt, blurry=gt_case.photo)
    for k in ("psnr_p", "ssim_p", "epe", "blur_consistency"):
        assert fwd[k] == pytest.approx(rev[k], rel=1e-6, abs=1e-6), k
    assert fwd["psnr_forward"] == pytest.approx(rev["psnr_reverse"])
    assert fwd["psnr_forward"] > fwd["psnr_reverse"] + 3  # the moving scene makes direction matter
    assert fwd["ssim_forward"] > fwd["ssim_reverse"]


def test_per_region_reversal_scores_the_same(gt_case, noisy):
    gt = gt_case.frames
    mixed = noisy.copy()
    mixed[:, :, :80] = noisy[::-1, :, :80]  # left half (two 40-px SSIM patches) reversed in time
    a, b = psnr_p(noisy, gt), psnr_p(mixed, gt)
    assert b["psnr_p"] == pytest.approx(a["psnr_p"], rel=1e-6)  # ties may break either way
    assert b["psnr_forward"] < a["psnr_forward"] - 1
    sa, sb = ssim_p(noisy, gt, patch=40), ssim_p(mixed, gt, patch=40)
    assert sb["ssim_p"] == pytest.approx(sa["ssim_p"], abs=1e-9)
    assert sb["ssim_forward"] < sa["ssim_forward"]
    assert ssim_p(noisy, gt, patch=32)["ssim_patches"] == (80 // 32) * (160 // 32)


def test_perfect_prediction(gt_case):
    r = evaluate(gt_case.frames, gt_case.frames, blurry=gt_case.photo)
    assert r["psnr_p"] == 100.0 and r["ssim_p"] == pytest.approx(1.0)
    assert r["epe"] == pytest.approx(0.0, abs=1e-6)
    assert r["blur_consistency"] > 45  # the GT is blur-consistent up to quantisation


def test_epe_detects_wrong_motion(gt_case):
    gt = gt_case.frames
    still = np.repeat(gt[2:3], len(gt), 0)
    r = epe(still, gt)
    assert r["gt_flow_mean"] > 3
    assert r["epe"] > 0.5 * r["gt_flow_mean"]


def test_blur_consistency_of_repeated_photo(gt_case):
    v = Video(np.repeat(gt_case.photo[None], 4, 0), Intervals.present(4))
    assert blur_consistency(v, gt_case.photo) == 100.0


def test_skips_and_table_and_save(gt_case, noisy, tmp_path):
    r = evaluate(noisy, gt_case.frames)
    assert "lpips_p" in r.skipped and "blur_consistency" in r.skipped
    t = r.table()
    assert "PSNR_p" in t and "skipped lpips_p" in t and "forward" in t
    out = r.save(tmp_path / "m.json")
    d = json.loads(out.read_text())
    assert d["metrics"]["psnr_p"] == pytest.approx(r["psnr_p"])
    with pytest.raises(InputError):
        r.save(tmp_path / "m.json")
    assert isinstance(r, EvalResult)


def test_missing_weights_and_bad_shapes(gt_case, tmp_path):
    with pytest.raises(InputError):
        psnr_p(gt_case.frames[:2], gt_case.frames)
    import importlib.util

    if importlib.util.find_spec("lpips") is None:
        from blur4d.errors import MissingDependencyError

        with pytest.raises(MissingDependencyError, match="lpips"):
            evaluate(gt_case.frames, gt_case.frames, lpips_weights=str(tmp_path / "w.pth"))
    if importlib.util.find_spec("torchvision") is None:
        from blur4d.errors import MissingDependencyError

        with pytest.raises(MissingDependencyError, match="torchvision"):
            evaluate(gt_case.frames, gt_case.frames, raft_weights=str(tmp_path / "raft.pth"))


def test_paths(gt_case, noisy, tmp_path):
    from blur4d.media import write_image

    Video(noisy, Intervals.present(len(noisy))).save(tmp_path / "pred")
    Video(gt_case.frames, Intervals.present(len(noisy))).save(tmp_path / "gt")
    write_image(tmp_path / "photo.png", gt_case.photo)
    r = evaluate(tmp_path / "pred", tmp_path / "gt", blurry=tmp_path / "photo.png")
    assert r["psnr_p"] == pytest.approx(psnr_p(noisy, gt_case.frames)["psnr_p"])
