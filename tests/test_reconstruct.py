"""``blur4d reconstruct`` end to end: the output layout, atomic writes, overwrite/reuse, graceful
degradation when a stage is unavailable, reading the scene back, and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("pycolmap")

from blur4d import pipeline  # noqa: E402
from blur4d.errors import BackendError, InputError, OutputExistsError  # noqa: E402
from blur4d.synthetic import CameraPath, Scene, example_scene  # noqa: E402
from blur4d.types import Intervals, Video  # noqa: E402

STATUSES = {"done", "reused", "skipped", "unavailable", "failed", "empty", "input video"}


@pytest.fixture(scope="module")
def video() -> Video:
    base = example_scene(192, 144)
    scene = Scene(base.layers, base.K, base.size, CameraPath.linear(velocity=(0.3, 0.0, 0.05)))
    s = np.linspace(-0.5, 0.5, 6)
    iv = Intervals(np.stack([s, s], 1))
    return Video(scene.video(iv), iv, fps=12.0)


@pytest.fixture(scope="module")
def written(video, tmp_path_factory):
    out = tmp_path_factory.mktemp("rec") / "scene.ply"
    scene = pipeline.reconstruct(video, out=out, skip=("faces",), seed=0)
    return out, scene


def test_layout(written, video):
    out, scene = written
    folder = out.with_suffix("")
    assert out.is_file() and folder.is_dir()
    for name in ("frames", "video.mp4", "intervals.json", "cameras.json", "trajectory.tum", "colmap/cameras.txt",
                 "colmap/images.txt", "colmap/points3D.txt", "transforms.json", "depth/depth.npz",
                 "depth/index.json", "points/index.json", "points/frame_000.ply", "run.json"):
        assert (folder / name).exists(), name
    run = json.loads((folder / "run.json").read_text())
    assert set(run["stages"]) >= {"generate", "track", "cameras", "dense", "check", "faces", "report"}
    assert all(r["status"] in STATUSES for r in run["stages"].values())
    assert run["stages"]["cameras"]["status"] == "done" and run["stages"]["faces"]["status"] == "skipped"
    assert run["timings"]["total"] > 0 and run["cameras"]["ok"]
    # the other stages land in parallel: when they are there, so are their files
    for stage, name in (("track", "tracks.npz"), ("check", "consistency.json"), ("report", "report.html")):
        assert (run["stages"][stage]["status"] == "done") == (folder / name).is_file(), stage
    assert not list(out.parent.glob(".scene*")), "temporary folders left behind"
    assert scene.cameras.ok and scene.points is not None and len(scene.dynamic_points) == video.num_frames
    assert scene.path == folder


def test_load_scene_round_trip(written):
    out, scene = written
    back = pipeline.load_scene(out)
    assert np.allclose(back.cameras.cam_from_world, scene.cameras.cam_from_world)
    assert len(back.points) == len(scene.points)
    assert [len(p) for p in back.dynamic_points] == [len(p) for p in scene.dynamic_points]
    assert np.array_equal(back.depth, scene.depth, equal_nan=True)
    assert back.video.num_frames == scene.video.num_frames
    assert back.provenance.extra["stages"]["cameras"]["status"] == "done"
    lines = pipeline.summary_lines(back)
    assert any(line.startswith("cameras: 6/6 posed") for line in lines)
    assert pipeline.load_scene(out.with_suffix("")).cameras is not None


def test_refuses_to_overwrite_then_reuses(written, video):
    out, scene = written
    with pytest.raises(OutputExistsError):
        pipeline.reconstruct(video, out=out)
    again = pipeline.reconstruct(video, out=out, reuse=True, skip=("faces", "report"))
    run = json.loads((out.with_suffix("") / "run.json").read_text())
    assert run["stages"]["cameras"]["status"] == "reused" and run["stages"]["generate"]["status"] == "reused"
    assert np.allclose(again.cameras.cam_from_world, scene.cameras.cam_from_world)
    assert len(again.points) == len(scene.points)


def test_unavailable_stage_is_recorded_not_fatal(video, tmp_path, monkeypatch):
    from blur4d import registry  # make_backend moved from blur4d.api (which re-exports it) to the registry

    real = registry.make_backend

    def fake(stage, backend, options=None):
        if stage in ("faces", "check"):
            raise BackendError(f"{stage} backend 'x' is not available in this version of blur4d")
        return real(stage, backend, options)

    monkeypatch.setattr(registry, "make_backend", fake)
    out = tmp_path / "s.ply"
    pipeline.reconstruct(video, out=out, skip=("dense", "report"))
    run = json.loads((tmp_path / "s" / "run.json").read_text())
    assert run["stages"]["faces"]["status"] == "unavailable" and "not available" in run["stages"]["faces"]["note"]
    assert run["stages"]["check"]["status"] == "unavailable"
    assert run["stages"]["dense"]["status"] == "skipped"
    assert not (tmp_path / "s" / "depth").exists() and (tmp_path / "s" / "cameras.json").is_file()
    # overwrite replaces the folder atomically
    pipeline.reconstruct(video, out=out, skip=("dense", "report", "track"), overwrite=True)
    run = json.loads((tmp_path / "s" / "run.json").read_text())
    assert run["stages"]["track"]["status"] == "skipped" and not (tmp_path / "s" / "tracks.npz").exists()


def test_bad_arguments(video, tmp_path):
    with pytest.raises(InputError, match="--skip"):
        pipeline.reconstruct(video, out=tmp_path / "a.ply", skip=("nope",))
    with pytest.raises(InputError, match=".ply"):
        pipeline.reconstruct(video, out=tmp_path / "a.obj")
    with pytest.raises(InputError, match="no such file"):
        pipeline.reconstruct(tmp_path / "missing.jpg", out=tmp_path / "b.ply")
    assert not (tmp_path / "b").exists()


def test_cli_one_line_error_and_run_on_a_frame_folder(video, tmp_path, capsys):
    from blur4d.cli.main import main

    assert main(["reconstruct", str(tmp_path / "missing.jpg"), "--out", str(tmp_path / "x.ply")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing.jpg" in err[0]
    video.save(tmp_path / "clip")
    rc = main(["-q", "reconstruct", str(tmp_path / "clip"), "--out", str(tmp_path / "y.ply"),
               "--skip", "faces", "--skip", "report", "--skip", "check"])
    assert rc == 0 and (tmp_path / "y" / "cameras.json").is_file()
    # run.json accounts for the whole command: the process's start-up and the publishing are timed too
    t = json.loads((tmp_path / "y" / "run.json").read_text())["timings"]
    assert t["startup"] > 0 and t["publish"] >= 0
    parts = sum(v for k, v in t.items() if k not in ("total", "dense"))  # dense runs inside cameras
    assert t["total"] == pytest.approx(parts, rel=0.05, abs=0.05)


def test_exif_focal_reaches_the_camera_backend(tmp_path):
    from PIL import Image

    from blur4d.media import read_image

    img = Image.fromarray(np.full((40, 60, 3), 128, np.uint8))
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0xA405] = 26  # FocalLengthIn35mmFilm
    img.save(tmp_path / "p.jpg", exif=exif)
    photo = read_image(tmp_path / "p.jpg")
    assert photo.exif.get("focal_length_35mm") == 26.0
    assert pipeline._camera_options("colmap", photo.exif, None, False, None) == {"focal_35mm": 26.0}
    assert pipeline._camera_options("colmap", {}, None, True, {"fov_deg": 50}) == {"dense": False, "fov_deg": 50}
    assert pipeline._camera_options("megasam", {}, "/x", False, None) == {"path": "/x"}


def test_megasam_path_selects_megasam_and_fails_clearly(video, tmp_path):
    from blur4d.errors import MissingDependencyError

    with pytest.raises(MissingDependencyError, match="not a MegaSaM checkout"):
        pipeline.reconstruct(video, out=tmp_path / "m.ply", megasam=str(tmp_path), skip=("faces", "check", "report"))
    assert not (tmp_path / "m").exists() and not list(tmp_path.glob(".m.*"))


def test_scene_save_and_load_roundtrip(tmp_path):
    """A Scene built in a notebook saves in the reconstruct layout and loads back."""
    from blur4d import Cameras, Intervals, PointCloud, Scene, Video, load
    from blur4d.synthetic import example_scene

    sc = example_scene(96, 72)
    iv = Intervals.present(4)
    video = Video(sc.video(iv, samples_per_unit=4), iv)
    cams = Cameras(np.tile(sc.K, (4, 1, 1)), sc.cam_from_world(iv.centers), (96, 72), intervals=iv)
    pts = PointCloud(np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32), np.full((50, 3), 200, np.uint8))
    folder = Scene(video=video, cameras=cams, points=pts).save(tmp_path / "nb.ply")
    assert folder == tmp_path / "nb" and (folder / "report.html").is_file() and (folder / "trajectory.tum").is_file()
    back = load(tmp_path / "nb.ply")
    np.testing.assert_allclose(back.cameras.cam_from_world, cams.cam_from_world, atol=1e-9)
    np.testing.assert_array_equal(back.video.frames, video.frames)
    assert len(back.points) == 50
    with pytest.raises(Exception, match="already exists"):
        Scene(video=video).save(tmp_path / "nb.ply")
