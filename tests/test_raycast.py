"""blur4d.raycast: open3d ray-cast ground truth (geometry checked against its own K, poses, depth)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("open3d")
cv2 = pytest.importorskip("cv2")

from blur4d import raycast as rc  # noqa: E402


def _unproject(K, cam_from_world, depth, uv):
    z = depth[uv[:, 1], uv[:, 0]]
    x_cam = np.concatenate([uv, np.ones((len(uv), 1))], 1) @ np.linalg.inv(K).T * z[:, None]
    R, t = cam_from_world[:3, :3], cam_from_world[:3, 3]
    return (x_cam - t) @ R  # R^T (x - t)


def _project(K, cam_from_world, X):
    x = X @ cam_from_world[:3, :3].T + cam_from_world[:3, 3]
    p = x @ K.T
    return p[:, :2] / p[:, 2:], x[:, 2]


def test_plane_depth_is_exact_on_the_optical_axis():
    scene = rc.plane_scene()
    K = rc.intrinsics(64, 36)
    rgb, depth, idx = rc.render(scene, K, rc.look_at((0, 0, 0)), (64, 36), supersample=1)
    assert rgb.shape == (36, 64, 3) and depth.shape == (36, 64) and idx.shape == (36, 64)
    assert np.allclose(depth, 4.0, atol=1e-4)  # a fronto-parallel plane: z-depth is constant
    assert (idx == 0).all()
    rgb2, depth2, _ = rc.render(scene, K, rc.look_at((0, 0, 1.0)), (64, 36), supersample=1)
    assert np.allclose(depth2, 3.0, atol=1e-4)


@pytest.mark.parametrize("kind", ["sideways", "handheld"])
def test_depth_and_poses_are_consistent_across_frames(kind):
    clip = rc.raycast_clip(kind, 160, 90, frames=3, noise=0.0, supersample=1)
    assert clip.frames.shape == (3, 90, 160, 3) and clip.frames.dtype == np.uint8
    assert clip.expected == "parallax" and np.isfinite(clip.depth).all()
    rng = np.random.default_rng(0)
    uv = np.stack([rng.integers(10, 150, 300), rng.integers(10, 80, 300)], 1)
    X = _unproject(clip.K, clip.cam_from_world[0], clip.depth[0], uv)
    p, z = _project(clip.K, clip.cam_from_world[2], X)
    inside = (p[:, 0] > 1) & (p[:, 0] < 158) & (p[:, 1] > 1) & (p[:, 1] < 88)
    q = np.rint(p[inside]).astype(int)
    # the reprojected depth equals frame 2's own depth where the point is not occluded
    rel = np.abs(clip.depth[2][q[:, 1], q[:, 0]] - z[inside]) / z[inside]
    assert np.median(rel) < 0.01 and np.mean(rel < 0.02) > 0.8
    moved = np.linalg.norm(p - uv, axis=1)
    assert np.percentile(moved, 90) > 1.0  # the camera does move


def test_pure_rotation_frames_are_related_by_the_rotation_homography():
    clip = rc.raycast_clip("rotation", 160, 90, frames=3, noise=0.0, supersample=2)
    assert np.allclose(clip.cam_from_world[:, :3, 3], 0)
    R0, R2 = clip.cam_from_world[0, :3, :3], clip.cam_from_world[2, :3, :3]
    H = clip.K @ R2 @ R0.T @ np.linalg.inv(clip.K)  # frame 0 -> frame 2
    warped = cv2.warpPerspective(clip.frames[2], H, (160, 90), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
    valid = cv2.warpPerspective(np.ones((90, 160), np.uint8), H, (160, 90),
                                flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP).astype(bool)
    valid = cv2.erode(valid.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    diff = np.abs(warped.astype(float) - clip.frames[0].astype(float)).mean(axis=2)[valid]
    unwarped = np.abs(clip.frames[2].astype(float) - clip.frames[0].astype(float)).mean(axis=2)[valid]
    assert diff.mean() < 0.35 * unwarped.mean() and np.median(diff) < 6


def test_moving_object_and_labels():
    clip = rc.raycast_clip("object", 96, 54, frames=2, noise=0.0, supersample=1)
    assert clip.expected == "independent motion" and clip.moving == ("near box",)
    k = clip.object_names.index("near box")
    a, b = (clip.object_index[0] == k), (clip.object_index[1] == k)
    assert a.any() and b.any()
    assert np.nonzero(b)[1].mean() < np.nonzero(a)[1].mean() - 3  # it slides to the left
    assert np.allclose(clip.cam_from_world[0], clip.cam_from_world[1])
    with pytest.raises(ValueError, match="kind"):
        rc.raycast_clip("bogus")
    assert set(rc.RAYCAST_KINDS) == set(rc.EXPECTED)


def test_seeded_and_reproducible():
    a = rc.raycast_clip("handheld", 64, 36, frames=2, seed=3, supersample=1)
    b = rc.raycast_clip("handheld", 64, 36, frames=2, seed=3, supersample=1)
    c = rc.raycast_clip("handheld", 64, 36, frames=2, seed=4, supersample=1)
    np.testing.assert_array_equal(a.frames, b.frames)
    assert not np.allclose(a.cam_from_world, c.cam_from_world)
