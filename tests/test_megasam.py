"""MegaSaM adapter: the npz parser and the failure paths, on files written in its format, and
the subprocess runner against a stand-in checkout whose scripts write that format."""

from __future__ import annotations

import sys
import textwrap

import numpy as np
import pytest

from blur4d import geometry as geo
from blur4d.adapters.megasam import MegaSamCameras, parse_output, slam_size
from blur4d.errors import BackendError, MissingDependencyError
from blur4d.types import Intervals, Video

W, H, T = 160, 90, 5


@pytest.fixture
def frames(rng):
    import cv2

    base = cv2.resize(rng.integers(0, 256, (12, 20, 3)).astype(np.uint8), (W + 40, H), interpolation=cv2.INTER_CUBIC)
    return np.stack([base[:, 8 * t:8 * t + W] for t in range(T)])  # distinct, textured frames


def write_npz(path, frames, *, poses_for=None, drop=(), extra=None):
    """A MegaSaM-format npz: images/depths at the SLAM size, one 3x3 intrinsic, cam_c2w."""
    import cv2

    w1, h1, wc, hc = slam_size(W, H)
    idx = list(range(len(frames))) if poses_for is None else list(poses_for)
    imgs = np.stack([cv2.resize(frames[t], (w1, h1), interpolation=cv2.INTER_AREA)[:hc, :wc] for t in idx])
    depths = np.full((len(idx), hc, wc), 2.0, np.float32)
    depths[:, :4] = 100.0  # CVD's clip bound: unknown
    f = 0.8 * w1
    K = np.array([[f, 0, (w1 - 1) / 2], [0, f, (h1 - 1) / 2], [0, 0, 1.0]])
    c2w = np.stack([geo.pose_matrix(geo.rodrigues(np.array([0, 0.01 * t, 0])), np.array([0.05 * t, 0, 0]))
                    for t in idx])
    data = {"images": imgs, "depths": depths, "intrinsic": K, "cam_c2w": c2w, **(extra or {})}
    for k in drop:
        data.pop(k)
    np.savez(path, **data)
    return K, c2w, (w1, h1)


def test_parse_full_output(tmp_path, frames):
    Kout, c2w, (w1, h1) = write_npz(tmp_path / "a_droid.npz", frames)
    cams, depth, points, info = parse_output(tmp_path / "a_droid.npz", frames, intervals=Intervals.present(T))
    assert cams.registered.all() and cams.image_size == (W, H) and not cams.scale_known
    assert np.allclose(cams.cam_from_world, geo.invert(c2w))
    # a world point projects to corresponding pixels at both resolutions
    X = np.array([[0.2, -0.1, 3.0]])
    uv_ours, _ = geo.project(cams.K[2], cams.cam_from_world[2], X)
    uv_slam, _ = geo.project(Kout, geo.invert(c2w[2]), X)
    assert np.allclose((uv_ours + 0.5) * [w1 / W, h1 / H] - 0.5, uv_slam)
    assert depth.shape == (T, H, W)
    assert np.isnan(depth[:, :1]).all()  # clip-bound rows are unknown
    assert np.nanmax(np.abs(depth - 2.0)) == 0.0
    assert len(points) > 0 and info["pose_mapping"] == "one pose per frame"


def test_keyframe_only_poses_are_matched_to_their_frames(tmp_path, frames):
    _, c2w, _ = write_npz(tmp_path / "k.npz", frames, poses_for=[0, 2, 4])
    cams, depth, _, info = parse_output(tmp_path / "k.npz", frames)
    assert cams.registered.tolist() == [True, False, True, False, True]
    assert np.allclose(cams.cam_from_world[[0, 2, 4]], geo.invert(c2w))
    assert np.isnan(cams.cam_from_world[1]).all() and np.isnan(depth[1]).all()
    assert "keyframe" in info["pose_mapping"] and "2 of" not in cams.reason and "3 of 5" in cams.reason


def test_keyframe_timestamps_are_used(tmp_path, frames):
    write_npz(tmp_path / "t.npz", frames, poses_for=[1, 3], extra={"tstamps": np.array([1.0, 3.0])})
    cams, *_ = parse_output(tmp_path / "t.npz", frames)
    assert cams.registered.tolist() == [False, True, False, True, False]


def test_pose_image_count_mismatch_is_a_clear_error(tmp_path, frames):
    write_npz(tmp_path / "m.npz", frames, poses_for=[0, 1, 2])
    with np.load(tmp_path / "m.npz") as z:
        d = dict(z)
    d["cam_c2w"] = d["cam_c2w"][:2]
    np.savez(tmp_path / "m.npz", **d)
    with pytest.raises(BackendError, match="cannot tell which frame"):
        parse_output(tmp_path / "m.npz", frames)


@pytest.mark.parametrize("key", ["images", "cam_c2w", "intrinsic", "depths"])
def test_missing_key(tmp_path, frames, key):
    write_npz(tmp_path / "x.npz", frames, drop=(key,))
    with pytest.raises(BackendError, match=key):
        parse_output(tmp_path / "x.npz", frames)


def test_unreadable_and_absent_outputs(tmp_path, frames):
    with pytest.raises(BackendError, match="not written"):
        parse_output(tmp_path / "none.npz", frames)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(BackendError, match="not a readable npz"):
        parse_output(tmp_path / "bad.npz", frames)


def test_no_installation(monkeypatch, frames, tmp_path):
    monkeypatch.delenv("BLUR4D_MEGASAM", raising=False)
    video = Video(frames, Intervals.present(T))
    with pytest.raises(MissingDependencyError, match="BLUR4D_MEGASAM"):
        MegaSamCameras()(video)
    with pytest.raises(MissingDependencyError, match="not a MegaSaM checkout"):
        MegaSamCameras(path=str(tmp_path))(video)


def _fake_checkout(root, *, fail_step: str | None = None):
    """Stand-in scripts with MegaSaM's command lines; the tracking step writes a real-format npz."""
    (root / "camera_tracking_scripts").mkdir(parents=True)
    (root / "Depth-Anything").mkdir()
    (root / "UniDepth" / "scripts").mkdir(parents=True)
    ok = "import sys\nsys.exit(0)\n"
    (root / "Depth-Anything" / "run_videos.py").write_text(ok)
    (root / "UniDepth" / "scripts" / "demo_mega-sam.py").write_text(
        "import sys\nprint('unidepth exploded', file=sys.stderr)\nsys.exit(3)\n" if fail_step == "unidepth" else ok)
    (root / "camera_tracking_scripts" / "test_demo.py").write_text(textwrap.dedent(f"""
        import argparse, glob, os, sys
        import numpy as np
        from PIL import Image
        sys.path.insert(0, {str(root)!r})
        p = argparse.ArgumentParser()
        p.add_argument("--datapath"); p.add_argument("--weights"); p.add_argument("--scene_name")
        p.add_argument("--mono_depth_path"); p.add_argument("--metric_depth_path")
        p.add_argument("--disable_vis", action="store_true")
        p.add_argument("--filter_thresh", type=float); p.add_argument("--warmup", type=int)
        a = p.parse_args()
        assert a.filter_thresh < 2.0 and a.warmup < 8
        files = sorted(glob.glob(os.path.join(a.datapath, "*.png")))
        frames = np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files])
        from fake_writer import write
        os.makedirs("outputs", exist_ok=True)
        write(os.path.join("outputs", a.scene_name + "_droid.npz"), frames)
    """))
    (root / "fake_writer.py").write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(__import__('pathlib').Path(__file__).parent)!r})
        from test_megasam import write_npz
        def write(path, frames):
            write_npz(path, frames)
    """))


def test_runs_a_checkout_as_a_subprocess(tmp_path, frames):
    root = tmp_path / "mega-sam"
    _fake_checkout(root)
    video = Video(frames, Intervals.present(T))
    res = MegaSamCameras(path=str(root), python=sys.executable)(video)
    assert res.cameras.registered.all() and res.depth.shape == (T, H, W) and len(res.points) > 0
    assert res.cameras.provenance.backend == "megasam"


def test_failing_step_is_reported(tmp_path, frames):
    root = tmp_path / "mega-sam"
    _fake_checkout(root, fail_step="unidepth")
    video = Video(frames, Intervals.present(T))
    with pytest.raises(BackendError, match=r"demo_mega-sam.py failed \(exit 3\).*unidepth exploded"):
        MegaSamCameras(path=str(root), python=sys.executable)(video)


def test_existing_npz_option(tmp_path, frames):
    write_npz(tmp_path / "s.npz", frames)
    res = MegaSamCameras(npz=str(tmp_path / "s.npz"), dense=False)(Video(frames, Intervals.present(T)))
    assert res.points is None and res.cameras.ok
