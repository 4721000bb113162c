"""Pure geometry: rotations, Sim(3) alignment, trajectory errors, triangulation."""

from __future__ import annotations

import numpy as np
import pytest

from blur4d import geometry as geo


def _random_rotations(rng: np.random.Generator, n: int) -> np.ndarray:
    return geo.rodrigues(rng.normal(size=(n, 3)))


def test_quaternion_round_trip_and_known_value(rng):
    R = _random_rotations(rng, 50)
    q = geo.quat_wxyz_from_matrix(R)
    assert np.allclose(np.linalg.norm(q, axis=1), 1)
    assert (q[:, 0] >= 0).all()
    assert np.allclose(geo.matrix_from_quat_wxyz(q), R, atol=1e-12)
    Rz = geo.rodrigues(np.array([0, 0, np.pi / 2]))
    assert np.allclose(geo.quat_wxyz_from_matrix(Rz), [np.cos(np.pi / 4), 0, 0, np.sin(np.pi / 4)])
    # near 180 degrees (the numerically hard case)
    R180 = geo.rodrigues(np.array([np.pi - 1e-9, 0, 0]))
    assert np.allclose(geo.matrix_from_quat_wxyz(geo.quat_wxyz_from_matrix(R180)), R180, atol=1e-9)


def test_so3_log_inverts_rodrigues(rng):
    w = rng.normal(size=(20, 3))
    w *= (np.pi * 0.9 / np.linalg.norm(w, axis=1))[:, None] * rng.uniform(0, 1, (20, 1))
    assert np.allclose(geo.so3_log(geo.rodrigues(w)), w, atol=1e-9)


def test_invert_matches_numpy(rng):
    T = geo.pose_matrix(_random_rotations(rng, 5), rng.normal(size=(5, 3)))
    assert np.allclose(geo.invert(T), np.linalg.inv(T))


@pytest.mark.parametrize("with_scale", [True, False])
def test_umeyama_recovers_similarity(rng, with_scale):
    X = rng.normal(size=(30, 3))
    R = _random_rotations(rng, 1)[0]
    s = 1.234 if with_scale else 1.0
    t = np.array([0.3, -2.0, 5.0])
    Y = s * X @ R.T + t
    sim = geo.umeyama(X, Y, with_scale=with_scale)
    assert sim.s == pytest.approx(s, rel=1e-10)
    assert np.allclose(sim.R, R) and np.allclose(sim.t, t)
    assert np.allclose(sim.apply(X), Y)


def test_ate_is_zero_after_alignment_and_detects_error(rng):
    gt = np.cumsum(rng.normal(size=(16, 3)), 0)
    R = _random_rotations(rng, 1)[0]
    est = (gt - 1.0) @ R.T * 0.37
    err, sim = geo.ate(est, gt)
    assert err < 1e-10
    noisy = est.copy()
    noisy[5] += 0.37 * np.array([1.0, 0, 0])
    err2, _ = geo.ate(noisy, gt)
    assert 0.1 < err2 < 1.0


def test_heading_and_rotation_errors(rng):
    R = _random_rotations(rng, 1)[0]
    gt = np.stack([geo.pose_matrix(R, -R @ np.array([0.1 * k, 0, 0])) for k in range(5)])
    assert geo.heading_error_deg(gt, gt) == pytest.approx(0, abs=1e-6)
    est = np.stack([geo.pose_matrix(R, -R @ np.array([0.1 * k, 0.1 * k * np.tan(np.radians(3)), 0])) for k in range(5)])
    assert geo.heading_error_deg(est, gt) == pytest.approx(3.0, abs=1e-6)
    assert np.allclose(geo.rotation_errors_deg(est, gt), 0, atol=1e-6)


def test_sim3_apply_pose_keeps_projections(rng):
    K = np.array([[500, 0, 320], [0, 500, 240], [0, 0, 1.0]])
    T = geo.pose_matrix(_random_rotations(rng, 1)[0] * 0 + np.eye(3), np.array([0.1, 0, 0]))
    X = rng.uniform([-1, -1, 4], [1, 1, 6], (10, 3))
    sim = geo.Sim3(2.5, _random_rotations(rng, 1)[0], np.array([1.0, 2, 3]))
    uv0, _ = geo.project(K, T, X)
    uv1, _ = geo.project(K, sim.apply_pose(T), sim.apply(X))
    assert np.allclose(uv0, uv1)


def test_project_unproject_round_trip(rng):
    K = np.array([[400, 0, 159.5], [0, 410, 119.5], [0, 0, 1.0]])
    T = geo.pose_matrix(_random_rotations(rng, 1)[0], rng.normal(size=3))
    uv = rng.uniform(0, 300, (20, 2))
    d = rng.uniform(1, 10, 20)
    X = geo.unproject(K, T, uv, d)
    uv2, d2 = geo.project(K, T, X)
    assert np.allclose(uv2, uv) and np.allclose(d2, d)


def test_triangulation_recovers_points(rng):
    K = np.array([[500, 0, 320], [0, 500, 240], [0, 0, 1.0]])
    X = rng.uniform([-1, -1, 4], [1, 1, 8], (50, 3))
    Ts = np.stack([geo.pose_matrix(geo.rodrigues(np.array([0, 0.01 * k, 0])), np.array([-0.1 * k, 0.02 * k, 0]))
                   for k in range(5)])
    uvs = np.stack([geo.project(K, T, X)[0] for T in Ts])
    wfc = geo.invert(Ts)
    rays = np.concatenate([uvs, np.ones(uvs.shape[:2] + (1,))], -1) @ np.linalg.inv(K).T
    dirs = np.einsum("vij,vnj->nvi", wfc[:, :3, :3], rays)
    Xm = geo.triangulate_midpoint(wfc[:, :3, 3], dirs)
    assert np.allclose(Xm, X, atol=1e-8)
    z, rms, n, sens = geo.triangulate_along_rays(K, Ts[0], uvs[0], np.repeat(K[None], 4, 0), Ts[1:], uvs[1:],
                                                  np.ones((4, 50), bool))
    assert np.allclose(z, X[:, 2], rtol=1e-5) and (rms < 1e-3).all() and (n == 4).all() and (sens > 0).all()
    valid = rng.random((4, 50)) > 0.3  # solved in blocks of pixels: the same numbers up to float32 round-off
    whole = geo.triangulate_along_rays(K, Ts[0], uvs[0], np.repeat(K[None], 4, 0), Ts[1:], uvs[1:], valid,
                                       return_per_view=True)
    blocks = geo.triangulate_along_rays(K, Ts[0], uvs[0], np.repeat(K[None], 4, 0), Ts[1:], uvs[1:], valid,
                                        return_per_view=True, block=7)
    assert all(np.allclose(a, b, rtol=1e-5, atol=1e-5, equal_nan=True) for a, b in zip(whole, blocks, strict=True))
    # one view only: depth still defined from two equations; no views: NaN
    z1, *_ = geo.triangulate_along_rays(K, Ts[0], uvs[0], K[None], Ts[1:2], uvs[1:2], np.zeros((1, 50), bool))
    assert np.isnan(z1).all()


def test_sampson_distance_and_fundamental(rng):
    K = np.array([[500, 0, 320], [0, 500, 240], [0, 0, 1.0]])
    T1 = np.eye(4)
    T2 = geo.pose_matrix(geo.rodrigues(np.array([0.02, -0.05, 0.01])), np.array([-0.3, 0.05, 0.02]))
    X = rng.uniform([-1, -1, 4], [1, 1, 8], (40, 3))
    x1, _ = geo.project(K, T1, X)
    x2, _ = geo.project(K, T2, X)
    F = geo.fundamental_from_poses(K, T1, K, T2)
    assert np.max(geo.sampson_distance(F, x1, x2)) < 1e-8
    moved = x2 + np.array([0.0, 3.0])  # off the (mostly horizontal) epipolar lines
    assert np.median(geo.sampson_distance(F, x1, moved)) > 1.0


def test_opencv_to_opengl_is_an_involution():
    T = geo.pose_matrix(geo.rodrigues(np.array([0.1, 0.2, 0.3])), np.array([1.0, 2, 3]))
    G = geo.opencv_to_opengl(T)
    assert np.allclose(geo.opencv_to_opengl(G), T)
    # the OpenCV forward axis (+z) is OpenGL's -z
    assert np.allclose(G[:3, 2], -T[:3, 2]) and np.allclose(G[:3, 0], T[:3, 0])


def test_umeyama_rejects_bad_input():
    from blur4d.errors import InputError

    with pytest.raises(InputError):
        geo.umeyama(np.zeros((3, 2)), np.zeros((3, 2)))


def test_align_poses_on_a_straight_path(rng):
    gt = np.stack([geo.pose_matrix(np.eye(3), -np.array([0.1 * k, 0, 0])) for k in range(6)])
    sim = geo.Sim3(0.5, geo.rodrigues(np.array([0.3, -0.2, 0.1])), np.array([1.0, 2.0, 3.0]))
    est = sim.apply_pose(gt)
    back = geo.align_poses(est, gt)
    assert back.s == pytest.approx(2.0)
    assert np.allclose(back.apply_pose(est), gt, atol=1e-10)
