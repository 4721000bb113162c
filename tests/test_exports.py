"""Every export read back by its real consumer: open3d + trimesh (PLY), evo (TUM), pycolmap
(COLMAP text model), nerfstudio's transforms.json convention (by projection), depth maps."""

from __future__ import annotations

import json

import numpy as np
import pytest

from blur4d import exports
from blur4d import geometry as geo
from blur4d.errors import OutputExistsError
from blur4d.types import Cameras, Intervals, PointCloud


@pytest.fixture
def cams(rng) -> Cameras:
    T = 5
    K = np.array([[300.0, 0, 159.5], [0, 310.0, 119.5], [0, 0, 1]])
    poses = np.stack([geo.pose_matrix(geo.rodrigues(rng.normal(scale=0.1, size=3)), rng.normal(size=3))
                      for _ in range(T)])
    reg = np.ones(T, bool)
    reg[3] = False
    poses[3] = np.nan
    return Cameras(K=np.repeat(K[None], T, 0), cam_from_world=poses, image_size=(320, 240),
                   intervals=Intervals.present(T), registered=reg)


@pytest.fixture
def cloud(rng) -> PointCloud:
    n = 200
    return PointCloud(xyz=rng.normal(size=(n, 3)).astype(np.float32),
                      rgb=rng.integers(0, 256, (n, 3)).astype(np.uint8),
                      normals=rng.normal(size=(n, 3)).astype(np.float32),
                      frame=rng.integers(-1, 5, n).astype(np.int32),
                      confidence=rng.uniform(0, 1, n).astype(np.float32),
                      dynamic=rng.uniform(size=n) < 0.3)


def test_ply_read_by_open3d_and_trimesh(tmp_path, cloud):
    o3d = pytest.importorskip("open3d")
    trimesh = pytest.importorskip("trimesh")
    p = cloud.save(tmp_path / "c.ply")
    pc = o3d.io.read_point_cloud(str(p))
    assert np.allclose(np.asarray(pc.points), cloud.xyz, atol=1e-6)
    assert np.allclose(np.asarray(pc.colors) * 255, cloud.rgb, atol=0.5)
    assert np.allclose(np.asarray(pc.normals), cloud.normals, atol=1e-6)
    tm = trimesh.load(p)
    assert np.allclose(np.asarray(tm.vertices), cloud.xyz, atol=1e-6)
    assert np.array_equal(np.asarray(tm.colors)[:, :3], cloud.rgb)
    back = PointCloud.load(p)
    assert np.array_equal(back.frame, cloud.frame) and np.array_equal(back.dynamic, cloud.dynamic)


def test_tum_read_by_evo(tmp_path, cams):
    pytest.importorskip("evo")
    from evo.tools import file_interface

    p = exports.write_tum(tmp_path / "t.tum", cams, fps=20.0)
    traj = file_interface.read_tum_trajectory_file(str(p))
    reg = np.flatnonzero(cams.registered)
    assert traj.num_poses == len(reg)
    assert np.allclose(traj.timestamps, reg / 20.0)
    assert np.allclose(traj.positions_xyz, cams.centers[reg], atol=1e-8)
    assert np.allclose(np.stack(traj.poses_se3), cams.world_from_cam[reg], atol=1e-8)
    t, wfc = exports.read_tum(p)
    assert np.allclose(wfc, cams.world_from_cam[reg], atol=1e-8)


def test_colmap_text_model_read_by_pycolmap(tmp_path, cams, cloud):
    pycolmap = pytest.importorskip("pycolmap")
    folder = exports.write_colmap_text(tmp_path / "colmap", cams, points=cloud)
    rec = pycolmap.Reconstruction(str(folder))
    reg = np.flatnonzero(cams.registered)
    assert rec.num_images() == len(reg) and rec.num_points3D() == len(cloud)
    cam = next(iter(rec.cameras.values()))
    assert cam.model.name == "PINHOLE" and (cam.width, cam.height) == (320, 240)
    # COLMAP's pixel origin is the top-left corner: principal point + 0.5
    assert np.allclose(cam.params, [300.0, 310.0, 160.0, 120.0])
    for image in rec.images.values():
        t = int(image.name.split("_")[1].split(".")[0])
        M = np.eye(4)
        M[:3, :] = image.cam_from_world().matrix()
        assert np.allclose(M, cams.cam_from_world[t], atol=1e-8)
    X = np.array([rec.points3D[k].xyz for k in sorted(rec.points3D)])
    assert np.allclose(X, cloud.xyz, atol=1e-5)
    with pytest.raises(OutputExistsError):
        exports.write_colmap_text(tmp_path / "colmap", cams, overwrite=False)


def test_transforms_json_opengl_round_trip_and_projection(tmp_path, cams, rng):
    p = exports.write_transforms_json(tmp_path / "transforms.json", cams, ply_path="scene.ply")
    d = json.loads(p.read_text())
    assert d["camera_model"] == "OPENCV" and d["ply_file_path"] == "scene.ply"
    assert len(d["frames"]) == int(cams.registered.sum())
    X = rng.uniform([-1, -1, 3], [1, 1, 5], (10, 3))
    for fr in d["frames"]:
        t = int(fr["file_path"].split("_")[1].split(".")[0])
        c2w_gl = np.array(fr["transform_matrix"])
        # round trip to OpenCV
        assert np.allclose(geo.invert(geo.opencv_to_opengl(c2w_gl)), cams.cam_from_world[t], atol=1e-10)
        # nerfstudio's camera model: OpenGL camera looks down -z, y up; pixel = f * (x/-z) + c with
        # the top-left pixel's corner at 0 -> our pixel + 0.5
        world_pts_in_cam = (X - c2w_gl[:3, 3]) @ c2w_gl[:3, :3]
        u = d["fl_x"] * world_pts_in_cam[:, 0] / -world_pts_in_cam[:, 2] + d["cx"]
        v = -d["fl_y"] * world_pts_in_cam[:, 1] / -world_pts_in_cam[:, 2] + d["cy"]
        uv, _ = geo.project(cams.K[t], cams.cam_from_world[t], X)
        assert np.allclose(np.stack([u, v], 1), uv + 0.5, atol=1e-8)


def test_depth_npz_and_png_round_trip(tmp_path, rng):
    import cv2

    depth = rng.uniform(0.5, 7.0, (3, 24, 32)).astype(np.float32)
    depth[0, :4] = np.nan
    folder = exports.write_depth(tmp_path / "depth", depth)
    assert np.array_equal(exports.read_depth(folder), depth, equal_nan=True)
    idx = json.loads((folder / "index.json").read_text())
    png = cv2.imread(str(folder / idx["png"][0]), cv2.IMREAD_UNCHANGED)
    assert png.dtype == np.uint16 and (png[:4] == 0).all()
    assert np.allclose(png[4:] * idx["depth_scale"], depth[0, 4:], atol=idx["depth_scale"])


def test_depth_stored_at_its_source_resolution_round_trips_bitwise(tmp_path, rng):
    import cv2

    small = rng.uniform(0.5, 7.0, (2, 9, 16)).astype(np.float32)
    small[1, :3] = np.nan
    depth = np.stack([cv2.resize(d, (37, 21), interpolation=cv2.INTER_NEAREST) for d in small])
    folder = exports.write_depth(tmp_path / "small", depth, png=False, stored_size=(16, 9))
    with np.load(folder / "depth.npz") as data:
        assert data["depth"].shape == (2, 9, 16) and list(data["full_shape"]) == [2, 21, 37]
    assert np.array_equal(exports.read_depth(folder), depth, equal_nan=True)
    depth[0, 5, 5] += 1.0  # no longer an upsampling: stored in full
    folder = exports.write_depth(tmp_path / "full", depth, png=False, stored_size=(16, 9))
    with np.load(folder / "depth.npz") as data:
        assert "full_shape" not in data.files and data["depth"].shape == depth.shape
    assert np.array_equal(exports.read_depth(folder), depth, equal_nan=True)


def test_frame_points_index(tmp_path, cloud):
    empty = PointCloud(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.uint8))
    folder = exports.write_frame_points(tmp_path / "points", [cloud, empty], intervals=Intervals.present(2).bounds)
    idx = json.loads((folder / "index.json").read_text())
    assert [e["points"] for e in idx["frames"]] == [len(cloud), 0]
    assert len(PointCloud.load(folder / "frame_001.ply")) == 0
    assert np.allclose(PointCloud.load(folder / "frame_000.ply").xyz, cloud.xyz)
