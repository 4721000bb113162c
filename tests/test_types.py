"""Every container round-trips through save/load; shapes are checked."""

from __future__ import annotations

import numpy as np
import pytest

from blur4d import Cameras, ConsistencyReport, FaceTracks, Intervals, PointCloud, Provenance, Tracks, Video
from blur4d.errors import InputError


def test_interval_presets():
    p = Intervals.present(16)
    assert len(p) == 16 and p.span == (-0.5, 0.5)
    np.testing.assert_allclose(p.bounds[0], [-0.5, -0.4375])
    assert np.allclose(p.durations, 1 / 16) and np.allclose(p.gaps(), 0)
    ppf = Intervals.past_present_future(16)
    np.testing.assert_allclose(ppf.bounds[4], [-0.5, -0.375])  # frame 4 is the first inside the exposure
    assert ppf.labels()[:4] == ["past"] * 4 and ppf.labels()[4:12] == ["present"] * 8
    assert ppf.labels()[12:] == ["future"] * 4
    gaps = Intervals.from_centers([-0.4, 0.0, 0.4], 0.1)  # dead time between frames
    np.testing.assert_allclose(gaps.gaps(), [0.3, 0.3])
    assert Intervals.parse("present:7") == Intervals.present(7)
    assert Intervals.parse("ppf:8:-2:2") == Intervals.past_present_future(8, -2, 2)
    assert len(Intervals.parse("-0.5,0; 0,0.25")) == 2


@pytest.mark.parametrize("bad", [[[0.5, 0.0]], [[np.nan, 0.0]], np.zeros((0, 2)), np.zeros((3, 3))])
def test_interval_validation(bad):
    with pytest.raises(InputError):
        Intervals(np.asarray(bad, float))


def test_intervals_roundtrip(tmp_path):
    iv = Intervals(np.array([[-0.5, -0.1], [0.0, 0.0], [0.2, 0.9]]))
    iv.save(tmp_path / "i.json")
    assert Intervals.load(tmp_path / "i.json") == iv


def test_video_roundtrip_png_folder(tmp_path, rng):
    frames = rng.integers(0, 256, (3, 33, 47, 3), dtype=np.uint8)
    v = Video(frames, Intervals.present(3), fps=12.0, provenance=Provenance.capture("test", {"a": 1}, seed=3))
    v.save(tmp_path / "clip")
    w = Video.load(tmp_path / "clip")
    np.testing.assert_array_equal(w.frames, frames)  # PNG is lossless
    assert w.intervals == v.intervals and w.fps == 12.0 and w.provenance.seed == 3


def test_video_roundtrip_mp4(tmp_path):
    x = np.linspace(0, 255, 64).astype(np.uint8)
    frames = np.stack([np.stack([np.tile(np.roll(x, 4 * i), (48, 1))] * 3, -1) for i in range(5)])
    v = Video(frames, Intervals.past_present_future(5))
    v.save(tmp_path / "clip.mp4")
    w = Video.load(tmp_path / "clip.mp4")
    assert w.frames.shape == frames.shape and w.intervals == v.intervals
    assert np.abs(w.frames.astype(int) - frames).mean() < 4  # lossy but close


def test_video_checks():
    with pytest.raises(InputError, match="frames"):
        Video(np.zeros((2, 8, 8), np.uint8), Intervals.present(2))
    with pytest.raises(InputError, match="intervals"):
        Video(np.zeros((2, 8, 8, 3), np.uint8), Intervals.present(3))
    with pytest.raises(InputError, match="dtype"):
        Video(np.zeros((2, 8, 8, 3), np.float32), Intervals.present(2))


def test_video_linear_roundtrip(rng):
    frames = rng.integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
    v = Video(frames, Intervals.present(2))
    for resp in ("srgb", "gamma2.2", "linear", 1.8):
        w = Video.from_linear(v.to_linear(resp), v.intervals, response=resp)
        np.testing.assert_array_equal(w.frames, frames)


def _tracks(rng, T=4, N=5):
    return Tracks(xy=rng.random((T, N, 2)).astype(np.float32) * 50, visible=rng.random((T, N)) > 0.3,
                  query_frame=np.zeros(N, np.int32), query_xy=rng.random((N, 2)).astype(np.float32),
                  confidence=rng.random((T, N)).astype(np.float32), intervals=Intervals.present(T),
                  image_size=(64, 48), provenance=Provenance.capture("builtin", seed=1))


def test_tracks_roundtrip(tmp_path, rng):
    t = _tracks(rng)
    t.save(tmp_path / "t.npz")
    u = Tracks.load(tmp_path / "t.npz")
    for name in ("xy", "visible", "query_frame", "query_xy", "confidence"):
        np.testing.assert_array_equal(getattr(u, name), getattr(t, name))
    assert u.intervals == t.intervals and u.image_size == (64, 48) and u.provenance.backend == "builtin"
    t.save(tmp_path / "t.csv")
    lines = (tmp_path / "t.csv").read_text().splitlines()
    assert lines[0].startswith("frame,point,x,y") and len(lines) == 1 + 4 * 5


def test_tracks_shape_mismatch(rng):
    with pytest.raises(InputError, match="visible"):
        Tracks(xy=np.zeros((4, 5, 2), np.float32), visible=np.zeros((4, 6), bool),
               query_frame=np.zeros(5, np.int32), query_xy=np.zeros((5, 2), np.float32))


def test_cameras_roundtrip(tmp_path, rng):
    T = 3
    K = np.tile(np.array([[500.0, 0, 319.5], [0, 500.0, 239.5], [0, 0, 1]]), (T, 1, 1))
    P = np.tile(np.eye(4), (T, 1, 1))
    P[:, 0, 3] = [0.0, 0.1, 0.2]
    c = Cameras(K, P, (640, 480), intervals=Intervals.present(T), ok=False, reason="pure rotation", motion="rotation-only")
    c.save(tmp_path / "cameras.json")
    d = Cameras.load(tmp_path / "cameras.json")
    np.testing.assert_allclose(d.cam_from_world, P)
    np.testing.assert_allclose(d.K, K)
    assert not d and d.reason == "pure rotation" and d.intervals == c.intervals
    np.testing.assert_allclose(d.centers[:, 0], [0.0, -0.1, -0.2])


def test_pointcloud_roundtrip(tmp_path, rng):
    n = 100
    pc = PointCloud(xyz=rng.normal(size=(n, 3)).astype(np.float32), rgb=rng.integers(0, 256, (n, 3), dtype=np.uint8),
                    normals=rng.normal(size=(n, 3)).astype(np.float32), frame=np.arange(n, dtype=np.int32) % 4,
                    confidence=rng.random(n).astype(np.float32), dynamic=rng.random(n) > 0.5)
    pc.save(tmp_path / "p.ply")
    q = PointCloud.load(tmp_path / "p.ply")
    for name in ("xyz", "rgb", "normals", "frame", "confidence", "dynamic"):
        np.testing.assert_array_equal(getattr(q, name), getattr(pc, name))


def test_pointcloud_read_by_trimesh_and_open3d(tmp_path, rng):
    n = 50
    pc = PointCloud(xyz=rng.normal(size=(n, 3)).astype(np.float32), rgb=rng.integers(0, 256, (n, 3), dtype=np.uint8))
    pc.save(tmp_path / "p.ply")
    trimesh = pytest.importorskip("trimesh")
    tm = trimesh.load(tmp_path / "p.ply")
    np.testing.assert_allclose(np.asarray(tm.vertices), pc.xyz, atol=1e-6)
    o3d = pytest.importorskip("open3d")
    cloud = o3d.io.read_point_cloud(str(tmp_path / "p.ply"))
    np.testing.assert_allclose(np.asarray(cloud.points), pc.xyz, atol=1e-6)
    np.testing.assert_allclose(np.asarray(cloud.colors) * 255, pc.rgb, atol=0.5)


def test_consistency_roundtrip(tmp_path):
    maps = {"warp_difference": np.arange(64 * 48, dtype=np.uint8).reshape(48, 64)}
    r = ConsistencyReport("parallax", 0.8, "F explains 90% of matches", pairs=({"i": 0, "j": 1, "ok": True},),
                          summary={"pairs": 1}, maps=maps)
    r.save(tmp_path / "c.json")
    s = ConsistencyReport.load(tmp_path / "c.json")
    assert s.verdict == "parallax" and s.pairs[0]["j"] == 1
    np.testing.assert_array_equal(s.maps["warp_difference"], maps["warp_difference"])
    with pytest.raises(InputError):
        ConsistencyReport("maybe", 0.5)


def test_facetracks_roundtrip(tmp_path, rng):
    T, M, L = 3, 2, 478
    lm = rng.random((T, M, L, 3)).astype(np.float32)
    present = np.array([[1, 0], [1, 1], [0, 1]], bool)
    lm[~present] = np.nan
    f = FaceTracks(ids=np.array([0, 1], np.int32), present=present, landmarks=lm,
                   bbox=rng.random((T, M, 4)).astype(np.float32), cam_from_head=np.tile(np.eye(4), (T, M, 1, 1)),
                   K=np.eye(3), image_size=(64, 48))
    f.save(tmp_path / "faces.json")
    g = FaceTracks.load(tmp_path / "faces.json")
    np.testing.assert_array_equal(g.landmarks, lm)
    np.testing.assert_array_equal(g.present, present)
    import json

    d = json.loads((tmp_path / "faces.json").read_text())
    assert [face["num_frames"] for face in d["faces"]] == [2, 2]
