"""reconstruct's cameras and the 3D check must not contradict each other on the same clip.

The case that did: a classical-generator clip from a real blurry photo (real 240 fps GoPro
frames averaged in linear light, ../shared/data/realblur). Its per-region motion leaves a
residual after the best homography that runs along epipolar lines but is as large over one frame
as over the whole clip: the check called it parallax (confidence 0.71-0.99) while the cameras
called the clip rotation-only."""

from __future__ import annotations

import numpy as np
import pytest

from blur4d.geometry import parallax_band


def test_parallax_band_reads_the_excess_the_same_way_for_both_stages():
    assert [parallax_band(x) for x in (0.0, 0.99, 1.0, 1.9, 2.0, 5.0)] == [
        "none", "none", "ambiguous", "ambiguous", "parallax", "parallax"]
    assert parallax_band(float("nan")) == "none"


def _rec(i, j, motion, excess_px, evidence=1.0, noise=0.25):
    return {"i": i, "j": j, "ok": True, "label": "parallax", "displacement_p90_px": motion,
            "parallax_p90_px": excess_px + 2.15 * noise, "noise_sigma_px": noise, "parallax_evidence": evidence}


def test_parallax_growth_separates_rigid_from_time_local_residuals():
    from blur4d.adapters.epipolar.verdict import _parallax_growth

    short = [_rec(k, k + 1, 3.0, 0.5) for k in range(8)]
    rigid = short + [_rec(0, 8, 24.0, 4.0), _rec(0, 6, 18.0, 3.0)]  # parallax grows with the baseline
    local = short + [_rec(0, 8, 24.0, 0.7), _rec(0, 6, 18.0, 0.6)]  # as large over 1 frame as over 8
    assert _parallax_growth(rigid)["ratio"] == pytest.approx(1.0)
    assert _parallax_growth(local)["ratio"] < 0.25
    # consecutive pairs without parallax, or no wide pair: nothing to judge
    assert _parallax_growth([dict(r, parallax_evidence=0.0) for r in local]) is None
    assert _parallax_growth(short) is None


@pytest.mark.filterwarnings("ignore")
def test_generated_clip_from_real_blur_check_and_cameras_agree(shared_data):
    pytest.importorskip("pycolmap")
    import cv2

    from blur4d import api
    from blur4d.adapters.colmap import ColmapCameras
    from blur4d.adapters.epipolar import EpipolarChecker
    from blur4d.media import Photo, read_image

    folder = shared_data / "realblur" / "gopro_GOPR0477_11_00_f000249-000272"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    lin = np.stack([read_image(folder / f"{k:06d}.png").pixels for k in range(252, 265)]).astype(np.float64) / 255
    photo = np.clip(np.mean(lin ** 2.2, 0) ** (1 / 2.2) * 255 + 0.5, 0, 255).astype(np.uint8)
    photo = cv2.resize(photo, (480, 270), interpolation=cv2.INTER_AREA)
    video = api.generate(Photo(pixels=photo), frames=9, seed=0).video
    rep = EpipolarChecker()(video)
    cams = ColmapCameras(dense=False)(video, seed=0).cameras
    # the residual does not grow with the baseline: not a rigid scene's parallax
    assert rep.summary["parallax_growth"]["ratio"] < 0.5
    confident = rep.confidence >= 0.5
    assert not (confident and rep.verdict == "parallax" and cams.motion in ("rotation-only", "static")), (
        rep.verdict, rep.confidence, cams.motion)
    assert not (confident and rep.verdict == "homography" and cams.motion == "translation"), (
        rep.verdict, rep.confidence, cams.motion)
