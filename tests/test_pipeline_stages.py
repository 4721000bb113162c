"""The pipeline as one declared list of stages: every stage is read back by ``--reuse`` (and by
``load_scene``) exactly as it was written, a stage whose files are gone runs again, and the
files a run records are the ones its stage declares.

The backends here are small deterministic stand-ins (substituted through
``registry.make_backend``), so the test exercises the pipeline's bookkeeping, not the methods."""

from __future__ import annotations

import json
import shutil
from typing import Any

import numpy as np
import pytest

from blur4d import pipeline, registry
from blur4d.adapters._dense import CameraResult
from blur4d.types import Cameras, ConsistencyReport, FaceTracks, Intervals, PointCloud, Provenance, Tracks, Video

T, H, W = 4, 32, 40


def _cloud(n: int, seed: int) -> PointCloud:
    r = np.random.default_rng(seed)
    return PointCloud(r.normal(size=(n, 3)).astype(np.float32), r.integers(0, 255, (n, 3)).astype(np.uint8))


class _Backends:
    """Deterministic results for every backend kind; counts the calls."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, stage: str, backend: str | None, options: Any = None) -> Any:
        self.calls.append(stage)
        return getattr(self, f"_{stage}")

    def _track(self, video: Video, *, seed: int, progress: Any) -> Tracks:
        r = np.random.default_rng(1)
        n = 7
        return Tracks(xy=r.uniform(0, W - 1, (T, n, 2)).astype(np.float32), visible=r.random((T, n)) > 0.2,
                      query_frame=np.zeros(n, np.int32), query_xy=r.uniform(0, 9, (n, 2)).astype(np.float32),
                      confidence=r.random((T, n)).astype(np.float32), intervals=video.intervals, image_size=(W, H))

    def _cameras(self, video: Video, *, tracks: Any, seed: int, progress: Any) -> CameraResult:
        K = np.tile(np.array([[30.0, 0, 15.5], [0, 30.0, 11.5], [0, 0, 1]]), (T, 1, 1))
        pose = np.tile(np.eye(4), (T, 1, 1))
        pose[:, 0, 3] = np.linspace(0, 0.3, T)
        cams = Cameras(K, pose, (W, H), intervals=video.intervals, motion="translation",
                       provenance=Provenance(timings={"dense": 0.25}))
        depth = np.random.default_rng(2).uniform(1, 3, (T, H, W)).astype(np.float32)
        depth[0, 0, 0] = np.nan
        return CameraResult(cams, points=_cloud(50, 3), dynamic=tuple(_cloud(t + 1, 10 + t) for t in range(T)),
                             depth=depth, sparse=_cloud(9, 4))

    def _check(self, video: Video, *, progress: Any) -> ConsistencyReport:
        return ConsistencyReport("parallax", 0.75, reason="stand-in", pairs=({"i": 0, "j": 3, "ok": True},),
                                 maps={"residual_vectors": np.full((H, W, 3), 90, np.uint8)})

    def _faces(self, video: Video, *, K: Any, progress: Any) -> FaceTracks:
        r = np.random.default_rng(5)
        present = np.array([[True], [True], [False], [True]])
        lm = r.uniform(0, W, (T, 1, 5, 3)).astype(np.float32)
        lm[~present] = np.nan
        return FaceTracks(ids=np.array([0], np.int32), present=present, landmarks=lm,
                          bbox=r.uniform(0, W, (T, 1, 4)).astype(np.float32),
                          cam_from_head=np.tile(np.eye(4), (T, 1, 1, 1)), K=K, image_size=(W, H))


class _NoBackends:
    def __call__(self, stage: str, backend: str | None, options: Any = None) -> Any:
        raise AssertionError(f"stage {stage} ran again although its files were there to reuse")


@pytest.fixture
def video() -> Video:
    frames = np.random.default_rng(0).integers(0, 255, (T, H, W, 3)).astype(np.uint8)
    return Video(frames, Intervals.present(T), fps=8.0)


def _same(a: Any, b: Any) -> None:
    """Two scenes hold the same results, stage by stage."""
    assert np.array_equal(a.video.frames, b.video.frames) and a.video.intervals == b.video.intervals
    assert np.array_equal(a.tracks.xy, b.tracks.xy) and np.array_equal(a.tracks.visible, b.tracks.visible)
    assert np.allclose(a.cameras.cam_from_world, b.cameras.cam_from_world) and np.allclose(a.cameras.K, b.cameras.K)
    assert np.array_equal(a.points.xyz, b.points.xyz) and np.array_equal(a.points.rgb, b.points.rgb)
    assert [len(p) for p in a.dynamic_points] == [len(p) for p in b.dynamic_points] == [1, 2, 3, 4]
    assert np.array_equal(a.depth, b.depth, equal_nan=True)
    assert (a.consistency.verdict, a.consistency.confidence) == (b.consistency.verdict, b.consistency.confidence)
    assert np.array_equal(a.consistency.maps["residual_vectors"], b.consistency.maps["residual_vectors"])
    assert np.array_equal(a.faces.landmarks, b.faces.landmarks, equal_nan=True)
    assert np.array_equal(a.faces.present, b.faces.present)


def _run(path) -> dict[str, Any]:
    return json.loads((path.with_suffix("") / "run.json").read_text())


@pytest.fixture
def first(video, tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "make_backend", _Backends())
    out = tmp_path / "scene.ply"
    scene = pipeline.reconstruct(video, out=out)
    stages = _run(out)["stages"]
    assert {k: v["status"] for k, v in stages.items()} == {
        "generate": "input video", "track": "done", "cameras": "done", "dense": "done", "check": "done",
        "faces": "done", "report": "done"}
    return out, scene


def test_every_stage_is_reused(first, video, monkeypatch):
    out, scene = first
    monkeypatch.setattr(registry, "make_backend", _NoBackends())
    again = pipeline.reconstruct(video, out=out, reuse=True)
    stages = _run(out)["stages"]
    statuses = {k: v["status"] for k, v in stages.items()}
    assert statuses == {name: "reused" for name in statuses if name != "report"} | {"report": "done"}
    # a reused stage keeps what the run that made it recorded
    assert stages["track"]["points"] == 7 and stages["check"]["verdict"] == "parallax"
    assert stages["cameras"]["motion"] == "translation" and stages["dense"]["points"] == 50
    assert stages["faces"]["faces"] == 1 and stages["generate"]["backend"] == "video"
    _same(scene, again)
    _same(scene, pipeline.load_scene(out))


@pytest.mark.parametrize("stage", [s.name for s in pipeline.STAGES if s.load is not None])
def test_a_stage_whose_files_are_gone_runs_again(first, video, monkeypatch, stage):
    out, scene = first
    folder = out.with_suffix("")
    declared = next(s for s in pipeline.STAGES if s.name == stage)
    for name in declared.files:
        p = folder / name.rstrip("/")
        shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
    if stage == "dense":  # the dense stage's static points are scene.ply; it is read back with the cameras
        declared = next(s for s in pipeline.STAGES if s.name == "cameras")
        for name in declared.files:
            p = folder / name.rstrip("/")
            shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
    backends = _Backends()
    monkeypatch.setattr(registry, "make_backend", backends)
    again = pipeline.reconstruct(video, out=out, reuse=True)
    statuses = {k: v["status"] for k, v in _run(out)["stages"].items()}
    rerun = {"dense": ["cameras"]}.get(stage, [stage] if stage != "generate" else [])
    assert backends.calls == rerun
    together = {"cameras", "dense"} if stage in ("cameras", "dense") else {stage}  # one backend makes both
    for name, status in statuses.items():
        ran = name in together or name == "report"
        assert status == ("reused" if not ran else ("input video" if name == "generate" else "done")), name
    _same(scene, again)
    _same(scene, pipeline.load_scene(out))


def test_reuse_keeps_a_finished_stage_that_is_skipped_now(first, video, monkeypatch):
    out, scene = first
    monkeypatch.setattr(registry, "make_backend", _NoBackends())
    again = pipeline.reconstruct(video, out=out, reuse=True, skip=("dense", "faces", "report"))
    stages = _run(out)["stages"]
    assert [stages[k]["status"] for k in ("dense", "faces", "report")] == ["reused", "reused", "skipped"]
    _same(scene, again)
    _same(scene, pipeline.load_scene(out))  # scene.ply still holds the static points


def test_recorded_files_are_the_declared_ones(first):
    out, _ = first
    stages = _run(out)["stages"]
    folder = out.with_suffix("")
    for s in pipeline.STAGES:
        written = stages[s.name].get("files", [])
        assert set(written) <= set(s.files), s.name
        for name in written:
            assert (folder / name.rstrip("/")).exists(), name


def test_stage_list_shape():
    names = [s.name for s in pipeline.STAGES]
    assert len(set(names)) == len(names)
    assert pipeline.SKIPPABLE == ("track", "cameras", "dense", "check", "faces", "report")
    kinds = {s.backend for s in pipeline.STAGES if s.backend}
    assert kinds <= set(registry.STAGES)
    produced: set[str] = set()
    for s in pipeline.STAGES:  # a stage needs only what an earlier one produces
        assert set(s.needs) <= produced, s.name
        produced |= set(s.produces)


def test_save_and_load_round_trip_through_the_list(first, tmp_path):
    _, scene = first
    folder = scene.save(tmp_path / "copy.ply")
    back = pipeline.load_scene(folder)
    _same(scene, back)
    files = json.loads((folder / "run.json").read_text())["files"]
    declared = {f for s in pipeline.STAGES for f in s.files}
    assert set(files) <= declared and "report.html" in files


def _failing_write(stage: str, monkeypatch, error: Exception) -> None:
    import dataclasses

    def boom(state, folder, ctx):
        (folder / "half_written.tmp").write_bytes(b"x")
        raise error

    monkeypatch.setattr(pipeline, "STAGES", tuple(dataclasses.replace(s, write=boom) if s.name == stage else s
                                                  for s in pipeline.STAGES))


def test_a_failed_background_write_fails_the_run_and_publishes_nothing(video, tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "make_backend", _Backends())
    _failing_write("track", monkeypatch, OSError("disk full"))
    out = tmp_path / "scene.ply"
    with pytest.raises(OSError, match="disk full"):
        pipeline.reconstruct(video, out=out)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no scene.ply, no folder, no temporary folder


def test_a_failed_write_of_a_downstream_stage_is_recorded(video, tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "make_backend", _Backends())
    _failing_write("check", monkeypatch, OSError("disk full"))
    out = tmp_path / "scene.ply"
    pipeline.reconstruct(video, out=out)
    run = _run(out)
    assert run["stages"]["check"]["status"] == "failed" and "writing: OSError: disk full" in run["stages"]["check"]["note"]
    assert run["stages"]["faces"]["status"] == "done" and (out.with_suffix("") / "faces.json").is_file()


def test_writes_are_recorded_and_timed(first):
    out, _ = first
    run = _run(out)
    assert "write" in run["timings"] and "dense_write" not in run["timings"]
    for name in ("generate", "track", "cameras", "dense", "check", "faces", "report"):
        assert run["stages"][name]["files"] and run["stages"][name]["write_seconds"] >= 0
    # dense: inside cameras; concurrent: the seconds during which stages overlapped (counted twice)
    stage_sum = sum(v for k, v in run["timings"].items() if k not in ("total", "dense", "concurrent"))
    assert stage_sum - run["timings"]["concurrent"] <= run["timings"]["total"] + 1e-3
    spans = [run["stages"][k]["interval"] for k in ("generate", "track", "cameras", "check", "faces")]
    assert all(0 <= a <= b <= run["timings"]["total"] for a, b in spans)


class _HandingOver(_Backends):
    """A camera backend that hands its cameras over before its dense points (``on_cameras``) and
    optionally fails afterwards; faces record the K they get."""

    def __init__(self, fail: Exception | None = None) -> None:
        super().__init__()
        self.fail, self.events, self.faces_K = fail, [], []

    def _cameras(self, video: Video, *, tracks: Any, seed: int, progress: Any, on_cameras: Any) -> CameraResult:
        import time

        result = super()._cameras(video, tracks=tracks, seed=seed, progress=progress)
        on_cameras(result.cameras)
        for _ in range(500):  # the dense points take a while: faces has started meanwhile
            if "faces" in self.events:
                break
            time.sleep(0.01)
        time.sleep(0.02)  # run.json rounds times to 1 ms: end measurably after faces began
        self.events.append("dense")
        if self.fail is not None:
            raise self.fail
        return result

    def _faces(self, video: Video, *, K: Any, progress: Any) -> FaceTracks:
        self.events.append("faces")
        self.faces_K.append(K)
        return super()._faces(video, K=K, progress=progress)


def test_faces_start_when_the_cameras_are_handed_over(video, tmp_path, monkeypatch):
    backends = _HandingOver()
    monkeypatch.setattr(registry, "make_backend", backends)
    out = tmp_path / "scene.ply"
    pipeline.reconstruct(video, out=out)
    run = _run(out)
    assert backends.events[:2] == ["faces", "dense"]  # faces ran beside the dense points
    assert run["stages"]["faces"]["interval"][0] < run["stages"]["cameras"]["interval"][1]
    assert run["stages"]["faces"]["status"] == "done" and len(backends.faces_K) == 1
    assert np.array_equal(backends.faces_K[0], pipeline.load_scene(out).cameras.K[0])


def test_faces_started_early_run_again_when_the_cameras_fail_afterwards(video, tmp_path, monkeypatch):
    from blur4d.errors import MissingDependencyError

    backends = _HandingOver(fail=MissingDependencyError("pycolmap is not installed"))
    monkeypatch.setattr(registry, "make_backend", backends)
    out = tmp_path / "scene.ply"
    pipeline.reconstruct(video, out=out)
    run = _run(out)
    assert run["stages"]["cameras"]["status"] == "unavailable"
    # the early result (with the handed-over focal) is dropped: faces ran again without cameras
    assert run["stages"]["faces"]["status"] == "done" and backends.faces_K[-1] is None and len(backends.faces_K) == 2


def test_backend_availability_while_another_thread_imports_its_module(monkeypatch):
    """OpenCV's loader leaves ``cv2.__spec__`` None for a moment while it imports; a stage thread that
    asked ``available()`` then failed the whole run with ``ValueError: cv2.__spec__ is None``."""
    import sys
    import types

    half = types.ModuleType("half_imported_mod")
    half.__spec__ = None
    monkeypatch.setitem(sys.modules, "half_imported_mod", half)
    spec = registry.BackendSpec("track", "probe", "x:y", "probe", requires=("half_imported_mod", "json"))
    assert spec.available() == (True, "")
    gone = registry.BackendSpec("track", "probe2", "x:y", "probe", requires=("no_such_module_xyz",))
    assert gone.available()[0] is False
