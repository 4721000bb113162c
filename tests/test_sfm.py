"""The built-in camera backend on synthetic layered-plane clips with exact ground truth."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pycolmap")

from blur4d import geometry as geo  # noqa: E402
from blur4d.synthetic import CameraPath, Scene, example_scene  # noqa: E402
from blur4d.types import Intervals, Video  # noqa: E402

W, H, T = 320, 240, 8


def clip(path: CameraPath, object_motion=(0.0, 0.0), width: int = W, height: int = H, frames: int = T):
    base = example_scene(width, height, object_motion=object_motion)
    scene = Scene(base.layers, base.K, base.size, path)
    s = np.linspace(-0.5, 0.5, frames)
    iv = Intervals(np.stack([s, s], 1))  # instantaneous: sharp frames
    return Video(scene.video(iv), iv), scene, scene.cam_from_world(s)


@pytest.fixture(scope="module")
def sideways():
    from blur4d.adapters.colmap import ColmapCameras

    video, scene, gt = clip(CameraPath.linear(velocity=(0.3, 0.0, 0.0)))
    return video, scene, gt, ColmapCameras(dense=True, dense_long_side=W)(video, seed=0)


def test_sideways_motion_trajectory(sideways):
    video, scene, gt, res = sideways
    cams = res.cameras
    assert cams.ok and cams.motion == "translation" and cams.registered.all()
    err, _ = geo.ate(cams.centers, geo.invert(gt)[:, :3, 3])
    assert err < 0.01 * 5.0  # 1 % of the scene depth
    assert geo.heading_error_deg(cams.cam_from_world, gt) < 2.0
    assert geo.rotation_errors_deg(cams.cam_from_world, gt).max() < 0.5
    assert cams.K[0, 0, 0] == pytest.approx(scene.K[0, 0], rel=0.02)
    assert cams.image_size == (W, H) and not cams.scale_known


def test_sideways_dense_points_accuracy(sideways):
    video, scene, gt, res = sideways
    cams = res.cameras
    sim = geo.align_poses(cams.cam_from_world, gt)
    ref = int(res.info["dense"]["ref"])
    X = sim.apply(res.points.xyz.astype(np.float64))
    uv, z = geo.project(scene.K, gt[ref], X)
    d_gt = scene.depth_map(gt[ref])
    xi, yi = np.round(uv).astype(int).T
    inside = (xi >= 0) & (xi < W) & (yi >= 0) & (yi < H)
    err = np.abs(z[inside] - d_gt[yi[inside], xi[inside]])
    assert len(res.points) > 0.3 * W * H
    assert np.median(err) < 0.01 * 5.0
    assert res.depth.shape == (T, H, W) and np.isfinite(res.depth[ref]).mean() > 0.3
    assert (res.points.frame == ref).all() and (res.points.confidence > 0).all()
    assert len(res.dynamic) == T


def test_forward_motion_heading():
    from blur4d.adapters.colmap import ColmapCameras

    video, scene, gt = clip(CameraPath.linear(velocity=(0.05, 0.02, 0.6)))
    res = ColmapCameras(dense=False)(video, seed=0)
    assert res.cameras.ok and res.cameras.motion == "translation"
    assert geo.heading_error_deg(res.cameras.cam_from_world, gt) < 2.0
    err, _ = geo.ate(res.cameras.centers, geo.invert(gt)[:, :3, 3])
    assert err < 0.05
    assert res.points is None and res.depth is None


def test_pure_rotation_is_reported_not_triangulated():
    from blur4d.adapters.colmap import ColmapCameras

    video, scene, gt = clip(CameraPath.linear(angular=(0.0, 0.03, 0.01)))
    res = ColmapCameras()(video, seed=0)
    cams = res.cameras
    assert not cams.ok and cams.motion == "rotation-only"
    assert "pure rotation" in cams.reason and "no depth" in cams.reason
    assert np.allclose(cams.cam_from_world[:, :3, 3], 0)
    assert geo.rotation_errors_deg(cams.cam_from_world, gt).max() < 0.1
    assert res.points is None and res.depth is None


def test_static_camera_is_reported():
    from blur4d.adapters.colmap import ColmapCameras

    video, _, _ = clip(CameraPath.linear(), frames=4)
    res = ColmapCameras()(video, seed=0)
    assert not res.cameras.ok and res.cameras.motion == "static"


def test_too_few_inliers_on_noise(rng):
    from blur4d.adapters.colmap import ColmapCameras

    frames = rng.integers(0, 256, (5, 96, 128, 3)).astype(np.uint8)
    res = ColmapCameras()(Video(frames, Intervals.present(5)), seed=0)
    assert not res.cameras.ok
    assert "too few" in res.cameras.reason


def test_deterministic_across_runs():
    from blur4d.adapters.colmap import ColmapCameras

    video, _, _ = clip(CameraPath.linear(velocity=(0.2, 0.05, 0.1)), frames=6)
    a = ColmapCameras(dense=False)(video, seed=3)
    b = ColmapCameras(dense=False)(video, seed=3)
    assert np.array_equal(a.cameras.cam_from_world, b.cameras.cam_from_world)
    assert np.array_equal(a.cameras.K, b.cameras.K)


def test_independent_motion_is_flagged_dynamic():
    from blur4d.adapters.colmap import ColmapCameras

    # the near panel (right half, lower part) slides left on its own
    video, scene, gt = clip(CameraPath.linear(velocity=(0.3, 0.0, 0.0)), object_motion=(-40.0, 25.0))
    res = ColmapCameras(dense_long_side=W)(video, seed=0)
    assert res.cameras.ok
    dyn = [d for d in res.dynamic if len(d)]
    assert dyn, "no moving points found"
    ref = int(res.info["dense"]["ref"])
    # the moving points of the reference frame sit on the moving panel
    d = res.dynamic[ref]
    uv, _ = geo.project(res.cameras.K[ref], res.cameras.cam_from_world[ref], d.xyz.astype(np.float64))
    import cv2

    inside = cv2.dilate(scene.layer_mask(-1, -0.5 + ref / (T - 1)).astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    xi = np.clip(np.round(uv[:, 0]).astype(int), 0, W - 1)
    yi = np.clip(np.round(uv[:, 1]).astype(int), 0, H - 1)
    assert inside[yi, xi].mean() > 0.8
    assert d.dynamic.all() and (d.frame == ref).all()
    # and the static cloud is mostly off the panel
    assert not res.points.dynamic.any()


def test_focal_prior_sources():
    from blur4d.adapters.colmap import focal_prior

    f, src = focal_prior(1280, 720, fov_deg=60.0)
    assert f == pytest.approx(640 / np.tan(np.radians(30))) and "field-of-view" in src
    f, src = focal_prior(1280, 720, focal_35mm=26.0)
    assert f == pytest.approx(26.0 * np.hypot(1280, 720) / np.hypot(36, 24)) and "EXIF" in src
    f, _ = focal_prior(1280, 720, focal_px=999.0)
    assert f == 999.0


def test_bad_options_are_input_errors():
    from blur4d.adapters.colmap import ColmapCameras
    from blur4d.errors import InputError

    with pytest.raises(InputError):
        ColmapCameras(refine_focal="sometimes")
    with pytest.raises(InputError):
        ColmapCameras(fov_deg=0)


def test_wrong_focal_prior_is_kept_when_not_observable():
    """Sideways translation cannot tell focal length from depth: the prior stays, and says so;
    the trajectory is still right."""
    from blur4d.adapters.colmap import ColmapCameras, focal_prior

    video, scene, gt = clip(CameraPath.linear(velocity=(0.3, 0.0, 0.0)), frames=6)
    res = ColmapCameras(fov_deg=50.0, dense=False)(video, seed=0)
    assert res.cameras.K[0, 0, 0] == pytest.approx(focal_prior(W, H, fov_deg=50.0)[0])
    assert "not observable" in res.info["focal_note"]
    assert geo.heading_error_deg(res.cameras.cam_from_world, gt) < 2.0


def test_rank_deficient_point_blocks_do_not_raise():
    """A point constrained along one direction only (e.g. observed along parallel rays) has a
    singular 3x3 Hessian block; the bundle adjustment's inverse must not raise on it."""
    from blur4d.adapters._bundle import _inv_blocks  # moved out of colmap.py (split by responsibility)

    good = np.diag([2.0, 3.0, 4.0])
    v = np.array([1.0, 2.0, 2.0]) / 3.0
    singular = 1e6 * np.outer(v, v)  # rank 1, large entries: a tiny ridge would vanish
    out = _inv_blocks(np.stack([good, singular]))
    np.testing.assert_allclose(out[0], np.linalg.inv(good))
    np.testing.assert_allclose(out[1], np.linalg.pinv(singular), atol=1e-15)


def test_static_camera_with_a_moving_object_is_static():
    """Still points satisfy any translational epipolar geometry, so a large moving object (here
    ~36 % of the view, enough to own the 80th-percentile parallax) must not make a static
    camera look like a translating one."""
    from blur4d.adapters.colmap import ColmapCameras
    from blur4d.synthetic import Layer, panel_layers

    base = example_scene(W, H)
    back, panel = panel_layers(W, H, 8.0, (("astronaut", 3.0, (0.1, 0.1, 0.7, 0.7)),))
    moving = Layer(panel.texture, panel.depth, panel.alpha, motion=lambda s: (30.0 * s, 12.0 * s))
    scene = Scene((back, moving), base.K, base.size, CameraPath.linear())
    s = np.linspace(-0.5, 0.5, T)
    iv = Intervals(np.stack([s, s], 1))
    res = ColmapCameras()(Video(scene.video(iv), iv), seed=0)
    cams = res.cameras
    assert not cams.ok and cams.motion == "static", cams.reason
    assert "independent motion" in cams.reason and "no depth" in cams.reason
    assert np.allclose(cams.cam_from_world, np.eye(4))
    assert res.points is None and res.depth is None
