"""``reconstruct``: photo -> video -> tracks -> cameras + dense points -> checks -> faces -> report,
written as ``scene.ply`` plus a sibling folder ``scene/``.

Layout of ``scene/`` (every file optional when its stage was skipped or unavailable; ``run.json``
says which and why)::

    frames/ video.mp4 intervals.json      the clip (from the generator or the input video)
    tracks.npz                            2D point tracks
    cameras.json trajectory.tum colmap/ transforms.json   cameras in four formats
    sparse.ply                            bundle-adjusted track points
    depth/                                per-frame depth (npz + 16-bit PNG)
    points/frame_XXX.ply points/index.json   points on independently moving content, per frame
    consistency.json faces.json report.html run.json

The folder is built in a temporary folder beside the destination and renamed into place; an
existing destination is refused unless ``overwrite=True``. With ``reuse=True`` the stages whose
files exist in the destination are read back instead of recomputed.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ._fs import atomic_path, read_json, write_json
from .errors import BackendError, Blur4DError, InputError, MissingDependencyError, OutputExistsError
from .media import DEFAULT_MAX_PIXELS, IMAGE_SUFFIXES, Photo
from .progress import NO_PROGRESS, Progress
from .types import (Cameras, ConsistencyReport, FaceTracks, Generation, PointCloud, Provenance, Scene,
                    Tracks, Video)

log = logging.getLogger("blur4d.pipeline")

__all__ = ["reconstruct", "load_scene", "save_scene", "summary_lines", "scene_paths", "SKIPPABLE"]

SKIPPABLE = ("track", "cameras", "dense", "check", "faces", "report")
PathLike = str | os.PathLike


def scene_paths(out: PathLike) -> tuple[Path, Path]:
    """(``scene.ply``, ``scene/``) for an output named ``scene.ply``."""
    out = Path(out)
    if out.suffix.lower() != ".ply":
        raise InputError(f"--out: expected a .ply file name (e.g. scene.ply), got {out}")
    return out, out.with_suffix("")


class _Stages:
    """Bookkeeping for run.json: status, seconds and a note per stage."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}

    def set(self, name: str, status: str, seconds: float | None = None, note: str = "", **extra: Any) -> None:
        rec: dict[str, Any] = {"status": status}
        if seconds is not None:
            rec["seconds"] = round(float(seconds), 3)
        if note:
            rec["note"] = note
        rec.update(extra)
        self.records[name] = rec

    @property
    def timings(self) -> dict[str, float]:
        return {k: v["seconds"] for k, v in self.records.items() if "seconds" in v}


def _unavailable(err: BaseException) -> bool:
    return isinstance(err, (MissingDependencyError, BackendError)) and (
        isinstance(err, MissingDependencyError) or "not available" in str(err))


def _source_video(source: Any, generate_options: Mapping[str, Any] | None, max_pixels: int | None,
                  progress: Progress) -> tuple[Video, Generation | None, dict[str, Any]]:
    """The clip and, for a photo, the generation and the photo's EXIF."""
    from . import api
    from .media import load_video, read_image

    if isinstance(source, Video):
        return source, None, {}
    if isinstance(source, Generation):
        return source.video, source, {}
    photo: Photo | None = None
    if isinstance(source, Photo):
        photo = source
    elif isinstance(source, np.ndarray):
        if source.ndim != 3 or source.shape[2] != 3 or source.dtype != np.uint8:
            raise InputError(f"input: expected an (H, W, 3) uint8 photo, got shape {source.shape} {source.dtype}")
        photo = Photo(pixels=source)
    else:
        path = Path(source)
        if not path.exists():
            raise InputError(f"input {path}: no such file or folder")
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and path.suffix.lower() != ".gif":
            photo = read_image(path, max_pixels=max_pixels)
        else:
            return load_video(path), None, {}
    opts = dict(generate_options or {})
    gen = api.generate(photo, max_pixels=max_pixels, progress=progress, **opts)
    return gen.video, gen, dict(photo.exif)


def _camera_options(name: str, exif: Mapping[str, Any], megasam: str | None, skip_dense: bool,
                    extra: Mapping[str, Any] | None) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    if name == "colmap":
        if exif.get("focal_length_35mm"):
            opts["focal_35mm"] = float(exif["focal_length_35mm"])
        if skip_dense:
            opts["dense"] = False
    elif name == "megasam":
        if megasam:
            opts["path"] = str(megasam)
        if skip_dense:
            opts["dense"] = False
    opts.update(dict(extra or {}))
    return opts


def _save_video(video: Video, folder: Path) -> None:
    from .media import save_video, write_mp4

    save_video(video, folder / "frames", overwrite=True)
    write_mp4(folder / "video.mp4", video.frames, video.fps, overwrite=True)
    write_json(folder / "intervals.json", {
        "units": "photo exposure; the exposure is [-0.5, 0.5]", "fps": video.fps,
        "intervals": video.intervals.to_list(), "labels": video.intervals.labels()})


def _write_cameras(folder: Path, ply_path: Path, result: Any, video: Video) -> list[str]:
    from . import exports

    cams: Cameras = result.cameras
    names = [f"frame_{t:03d}.png" for t in range(cams.num_frames)]
    cams.save(folder / "cameras.json")
    exports.write_tum(folder / "trajectory.tum", cams, fps=video.fps)
    exports.write_colmap_text(folder / "colmap", cams, points=result.sparse, image_names=names, overwrite=True)
    exports.write_transforms_json(folder / "transforms.json", cams, image_paths=[f"frames/{n}" for n in names],
                                  ply_path=f"../{ply_path.name}" if result.points is not None else None)
    files = ["cameras.json", "trajectory.tum", "colmap/", "transforms.json"]
    if result.sparse is not None and len(result.sparse):
        result.sparse.save(folder / "sparse.ply")
        files.append("sparse.ply")
    if result.depth is not None:
        exports.write_depth(folder / "depth", result.depth, overwrite=True)
        files.append("depth/")
    if result.dynamic:
        exports.write_frame_points(folder / "points", result.dynamic, intervals=video.intervals.bounds, overwrite=True)
        files.append("points/")
    return files


def _load_dynamic(folder: Path) -> tuple[PointCloud, ...]:
    idx = folder / "points" / "index.json"
    if not idx.is_file():
        return ()
    d = read_json(idx)
    return tuple(PointCloud.load(folder / "points" / e["file"]) for e in d.get("frames", []))


class _Result:
    """A camera result read back from a scene folder (same fields as CameraResult)."""

    def __init__(self, cameras: Cameras, points: PointCloud | None, dynamic: tuple[PointCloud, ...],
                 depth: np.ndarray | None, sparse: PointCloud | None) -> None:
        self.cameras, self.points, self.dynamic, self.depth, self.sparse = cameras, points, dynamic, depth, sparse
        self.info: dict[str, Any] = {}


def reconstruct(
    source: PathLike | Video | Generation | np.ndarray | Photo,
    *,
    out: PathLike | None = None,
    generate_options: Mapping[str, Any] | None = None,
    tracker: str | None = None,
    cameras: str | None = None,
    skip: Sequence[str] = (),
    reuse: bool = False,
    overwrite: bool = False,
    seed: int | None = 0,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    megasam: str | None = None,
    camera_options: Mapping[str, Any] | None = None,
    progress: Progress = NO_PROGRESS,
) -> Scene:
    """Run every stage and, when ``out`` (a ``.ply``) is given, write ``out`` and its sibling
    folder (see the module docstring).

    ``tracker`` / ``cameras`` choose backends (defaults builtin / colmap); ``skip`` names stages
    from :data:`SKIPPABLE`; ``reuse`` reads finished stages back from an existing folder;
    ``megasam`` is the path of a MegaSaM installation (cameras backend ``megasam``; the
    environment variable ``BLUR4D_MEGASAM`` works too); ``camera_options`` go to the camera backend.
    A stage that is not installed or not available in this version is recorded in ``run.json``
    and the others go on.
    """
    from . import api
    from .registry import default_backend

    skip = tuple(skip or ())
    bad = [s for s in skip if s not in SKIPPABLE]
    if bad:
        raise InputError(f"--skip: unknown stage(s) {', '.join(bad)}; choose from {', '.join(SKIPPABLE)}")
    ply_path = folder = None
    if out is not None:
        ply_path, folder = scene_paths(out)
        if not (overwrite or reuse):
            for p in (ply_path, folder):
                if p.exists():
                    raise OutputExistsError(f"output {p} already exists; pass --overwrite to replace it "
                                            "(or --reuse to keep its finished stages)")
        if folder.exists() and not folder.is_dir():
            raise InputError(f"output folder {folder} exists and is not a folder; choose another --out")
        if isinstance(source, (str, os.PathLike)):
            src, dst = Path(source).resolve(), folder.resolve()
            if src == dst or dst in src.parents or src == ply_path.resolve():
                raise InputError(f"--out {ply_path}: its folder {folder} would replace the input {source}; "
                                 "choose another --out")
    reuse_dir = folder if (reuse and folder is not None and folder.is_dir()) else None
    stages = _Stages()
    t_all = time.perf_counter()
    seed = 0 if seed is None else int(seed)
    cam_name = cameras or ("megasam" if megasam else default_backend("cameras"))  # --megasam PATH implies it
    tmp: Path | None = None
    if folder is not None:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
        if reuse_dir is not None:
            shutil.rmtree(tmp)
            shutil.copytree(reuse_dir, tmp)
    try:
        scene = _run(source, tmp, ply_path, stages, generate_options=generate_options, tracker=tracker,
                     cam_name=cam_name, skip=skip, reuse_dir=reuse_dir, seed=seed, max_pixels=max_pixels,
                     megasam=megasam, camera_options=camera_options, progress=progress, api=api)
        total = time.perf_counter() - t_all
        if tmp is not None and folder is not None and ply_path is not None:
            run = {
                "what": "blur4d reconstruct", "input": str(source) if isinstance(source, (str, os.PathLike)) else
                type(source).__name__, "out": str(ply_path), "folder": str(folder), "seed": seed,
                "backends": {"generate": (generate_options or {}).get("backend") or default_backend("generate"),
                             "track": tracker or default_backend("track"), "cameras": cam_name},
                "skip": list(skip), "reuse": bool(reuse), "stages": stages.records,
                "timings": {**stages.timings, "total": round(total, 3)},
                "machine_note": "timings are wall-clock seconds on this machine",
            }
            if scene.cameras is not None:
                run["cameras"] = {"ok": scene.cameras.ok, "reason": scene.cameras.reason,
                                  "motion": scene.cameras.motion, "registered": int(scene.cameras.registered.sum()),
                                  "frames": scene.cameras.num_frames, "scale_known": scene.cameras.scale_known}
            prov = Provenance.capture("reconstruct", {"skip": list(skip), "tracker": tracker, "cameras": cam_name},
                                      seed=seed, packages=("pycolmap", "opencv-python", "scipy", "open3d"),
                                      timings=run["timings"])
            run["packages"] = prov.packages
            run["created"] = prov.created
            write_json(tmp / "run.json", run)
            _commit(tmp, folder, ply_path, scene.points)
            tmp = None
            scene = Scene(video=scene.video, generation=scene.generation, tracks=scene.tracks, cameras=scene.cameras,
                          points=scene.points, dynamic_points=scene.dynamic_points, depth=scene.depth,
                          consistency=scene.consistency, faces=scene.faces,
                          provenance=Provenance.from_dict({**prov.to_dict(), "extra": {"stages": stages.records}}),
                          path=folder)
        else:
            scene = Scene(video=scene.video, generation=scene.generation, tracks=scene.tracks, cameras=scene.cameras,
                          points=scene.points, dynamic_points=scene.dynamic_points, depth=scene.depth,
                          consistency=scene.consistency, faces=scene.faces,
                          provenance=Provenance.capture("reconstruct", {"skip": list(skip)}, seed=seed,
                                                        timings={**stages.timings, "total": total},
                                                        stages=stages.records))
        return scene
    finally:
        if tmp is not None and tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _run(source: Any, tmp: Path | None, ply_path: Path | None, stages: _Stages, *, generate_options: Any,
         tracker: str | None, cam_name: str, skip: tuple[str, ...], reuse_dir: Path | None, seed: int,
         max_pixels: int | None, megasam: str | None, camera_options: Any, progress: Progress, api: Any) -> Scene:
    from .media import load_video

    # 1. the clip -----------------------------------------------------------------------------
    t0 = time.perf_counter()
    gen: Generation | None = None
    exif: dict[str, Any] = {}
    if reuse_dir is not None and (reuse_dir / "frames").is_dir():
        video = load_video(reuse_dir / "frames")
        stages.set("generate", "reused", time.perf_counter() - t0)
    else:
        video, gen, exif = _source_video(source, generate_options, max_pixels, progress)
        stages.set("generate", "done" if gen is not None else "input video", time.perf_counter() - t0,
                   backend=gen.provenance.backend if gen is not None else "video")
        if tmp is not None:
            _save_video(video, tmp)
    if exif:
        stages.records["generate"]["exif"] = {k: v for k, v in exif.items() if isinstance(v, (int, float, str))}

    # 2. tracks -------------------------------------------------------------------------------
    tracks: Tracks | None = None
    t0 = time.perf_counter()
    if "track" in skip:
        stages.set("track", "skipped")
    elif reuse_dir is not None and (reuse_dir / "tracks.npz").is_file():
        tracks = Tracks.load(reuse_dir / "tracks.npz")
        stages.set("track", "reused", time.perf_counter() - t0)
    else:
        try:
            tracks = api.make_backend("track", tracker)(video, seed=seed, progress=progress)
            if tmp is not None:
                tracks.save(tmp / "tracks.npz")
            stages.set("track", "done", time.perf_counter() - t0, points=int(tracks.num_points))
        except Blur4DError as err:
            if not _unavailable(err) and tracker is not None:
                raise
            stages.set("track", "unavailable" if _unavailable(err) else "failed", time.perf_counter() - t0,
                       note=str(err))

    # 3. cameras + dense points ---------------------------------------------------------------
    result: Any = None
    t0 = time.perf_counter()
    if "cameras" in skip:
        stages.set("cameras", "skipped")
    elif reuse_dir is not None and (reuse_dir / "cameras.json").is_file() and ply_path is not None:
        from .exports import read_depth

        cams = Cameras.load(reuse_dir / "cameras.json")
        pts = PointCloud.load(ply_path) if ply_path.is_file() else None
        depth = read_depth(reuse_dir / "depth") if (reuse_dir / "depth" / "depth.npz").is_file() else None
        sparse = PointCloud.load(reuse_dir / "sparse.ply") if (reuse_dir / "sparse.ply").is_file() else None
        result = _Result(cams, pts, _load_dynamic(reuse_dir), depth, sparse)
        stages.set("cameras", "reused", time.perf_counter() - t0)
    else:
        opts = _camera_options(cam_name, exif, megasam, "dense" in skip, camera_options)
        try:
            backend = api.make_backend("cameras", cam_name, opts)
            result = backend(video, tracks=tracks, seed=seed, progress=progress)
        except Blur4DError as err:
            if not _unavailable(err) or cameras_required(cam_name):
                raise
            stages.set("cameras", "unavailable", time.perf_counter() - t0, note=str(err))
        if result is not None:
            cams = result.cameras
            note = cams.reason or ("ok" if cams.ok else "")
            stages.set("cameras", "done", time.perf_counter() - t0, note=note, ok=bool(cams.ok), motion=cams.motion,
                       registered=int(cams.registered.sum()), backend=cam_name,
                       timings=dict(cams.provenance.timings),
                       static_points=int(len(result.points)) if result.points is not None else 0,
                       dynamic_points=int(sum(len(c) for c in result.dynamic)))
            if "dense" in skip:
                stages.set("dense", "skipped")
            elif result.points is None:
                stages.set("dense", "empty", note=(result.info.get("dense") or {}).get("skipped", "no dense points")
                           if isinstance(result.info.get("dense"), dict) else "no dense points")
            else:
                stages.set("dense", "done", cams.provenance.timings.get("dense"), points=int(len(result.points)),
                           note="runs inside the camera backend: its seconds are part of the cameras stage's")
            if tmp is not None and ply_path is not None:
                stages.records["cameras"]["files"] = _write_cameras(tmp, ply_path, result, video)
    cams = result.cameras if result is not None else None

    # 4. 3D-consistency check -----------------------------------------------------------------
    consistency: ConsistencyReport | None = None
    t0 = time.perf_counter()
    if "check" in skip:
        stages.set("check", "skipped")
    elif reuse_dir is not None and (reuse_dir / "consistency.json").is_file():
        consistency = ConsistencyReport.load(reuse_dir / "consistency.json")
        stages.set("check", "reused", time.perf_counter() - t0)
    else:
        consistency = _optional(stages, "check", t0, lambda: api.make_backend("check", None)(video, progress=progress))
        if consistency is not None:
            if tmp is not None:
                consistency.save(tmp / "consistency.json")
            stages.set("check", "done", time.perf_counter() - t0, verdict=consistency.verdict,
                       confidence=float(consistency.confidence))

    # 5. faces --------------------------------------------------------------------------------
    faces: FaceTracks | None = None
    t0 = time.perf_counter()
    if "faces" in skip:
        stages.set("faces", "skipped")
    elif reuse_dir is not None and (reuse_dir / "faces.npz").is_file():
        faces = FaceTracks.load(reuse_dir / "faces.json")
        stages.set("faces", "reused", time.perf_counter() - t0)
    else:
        K = cams.K[0] if cams is not None and np.isfinite(cams.K[0]).all() else None
        faces = _optional(stages, "faces", t0, lambda: api.make_backend("faces", None)(video, K=K, progress=progress))
        if faces is not None:
            if faces.num_faces == 0 or not faces.present.any():
                stages.set("faces", "empty", time.perf_counter() - t0, note="no faces found; faces.json not written")
                faces = None
            else:
                if tmp is not None:
                    faces.save(tmp / "faces.json")
                stages.set("faces", "done", time.perf_counter() - t0, faces=int(faces.num_faces))

    scene = Scene(video=video, generation=gen, tracks=tracks, cameras=cams,
                  points=result.points if result is not None else None,
                  dynamic_points=tuple(result.dynamic) if result is not None else (),
                  depth=result.depth if result is not None else None, consistency=consistency, faces=faces)

    # 6. report -------------------------------------------------------------------------------
    t0 = time.perf_counter()
    if "report" in skip:
        stages.set("report", "skipped")
    elif tmp is None:
        stages.set("report", "skipped", note="no output folder")
    else:
        def write() -> Any:
            try:
                from .report.html import write_report
            except ImportError as err:
                raise BackendError("the HTML report is not available in this version of blur4d") from err
            return write_report(tmp / "report.html", consistency=consistency, video=video, tracks=tracks,
                                cameras=cams, points=scene.points, faces=faces, timings=stages.timings,
                                overwrite=True)
        if _optional(stages, "report", t0, write) is not None or (tmp / "report.html").is_file():
            stages.set("report", "done", time.perf_counter() - t0)
    return scene


def _commit(tmp: Path, folder: Path, ply_path: Path, points: PointCloud | None) -> None:
    """Publish a finished scene: the point cloud first, then the folder swap, both atomic."""
    static = points if points is not None else PointCloud(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.uint8))
    with atomic_path(ply_path, overwrite=True) as ptmp:
        static.save(ptmp)
    if folder.exists():
        backup = folder.with_name(f".{folder.name}.old-{os.getpid()}")
        os.replace(folder, backup)
        os.replace(tmp, folder)
        shutil.rmtree(backup, ignore_errors=True)
    else:
        os.replace(tmp, folder)


def save_scene(scene: Scene, out: PathLike, *, overwrite: bool = False) -> Path:
    """Write a :class:`Scene` (e.g. one built or edited in a notebook) in the ``reconstruct``
    layout: ``out`` (a .ply of the static points) plus the sibling folder. Returns the folder."""
    ply_path, folder = scene_paths(out)
    if not overwrite:
        for p in (ply_path, folder):
            if p.exists():
                raise OutputExistsError(f"output {p} already exists; pass overwrite=True to replace it")
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        files: list[str] = []
        if scene.video is not None:
            _save_video(scene.video, tmp)
            files += ["frames/", "video.mp4", "intervals.json"]
        if scene.tracks is not None:
            scene.tracks.save(tmp / "tracks.npz")
            files.append("tracks.npz")
        if scene.cameras is not None and scene.video is not None:
            result = _Result(scene.cameras, scene.points, tuple(scene.dynamic_points), scene.depth, None)
            files += _write_cameras(tmp, ply_path, result, scene.video)
        elif scene.cameras is not None:
            scene.cameras.save(tmp / "cameras.json")
            files.append("cameras.json")
        if scene.consistency is not None:
            scene.consistency.save(tmp / "consistency.json")
            files.append("consistency.json")
        if scene.faces is not None:
            scene.faces.save(tmp / "faces.json")
            files.append("faces.json")
        from .report.html import write_report

        write_report(tmp / "report.html", consistency=scene.consistency, video=scene.video, tracks=scene.tracks,
                     cameras=scene.cameras, points=scene.points, faces=scene.faces,
                     timings=dict(scene.provenance.timings), overwrite=True)
        files.append("report.html")
        write_json(tmp / "run.json", {"what": "blur4d Scene.save", "out": str(ply_path), "folder": str(folder),
                                      "seed": scene.provenance.seed, "timings": dict(scene.provenance.timings),
                                      "files": files, "provenance": scene.provenance.to_dict()})
        _commit(tmp, folder, ply_path, scene.points)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def cameras_required(name: str) -> bool:
    """A camera backend the user asked for by name must work (MegaSaM without its install is an
    error); the default one degrades to 'unavailable' only when it is missing from this version."""
    return name == "megasam"


def _optional(stages: _Stages, name: str, t0: float, fn: Any) -> Any:
    """Run an optional downstream stage; unavailable/failed are recorded, not raised."""
    try:
        return fn()
    except Blur4DError as err:
        stages.set(name, "unavailable" if _unavailable(err) else "failed", time.perf_counter() - t0, note=str(err))
    except Exception as err:  # noqa: BLE001 - a downstream stage's bug must not lose the cameras and points
        log.warning("stage %s failed: %s", name, err)
        stages.set(name, "failed", time.perf_counter() - t0, note=f"{type(err).__name__}: {err}",
                   traceback=traceback.format_exc(limit=3))
    return None


# ---------------------------------------------------------------------------------------------
def load_scene(path: PathLike) -> Scene:
    """Read what :func:`reconstruct` wrote: ``scene.ply`` or its ``scene/`` folder."""
    from .exports import read_depth
    from .media import load_video

    path = Path(path)
    if path.suffix.lower() == ".ply":
        ply, folder = path, path.with_suffix("")
    else:
        folder, ply = path, path.with_name(path.name + ".ply")
    if not folder.is_dir():
        raise InputError(f"scene {path}: no folder {folder} (write one with `blur4d reconstruct ... --out {ply}`)")
    video = load_video(folder / "frames") if (folder / "frames").is_dir() else None
    tracks = Tracks.load(folder / "tracks.npz") if (folder / "tracks.npz").is_file() else None
    cams = Cameras.load(folder / "cameras.json") if (folder / "cameras.json").is_file() else None
    points = PointCloud.load(ply) if ply.is_file() else None
    if points is not None and len(points) == 0:
        points = None
    depth = read_depth(folder / "depth") if (folder / "depth" / "depth.npz").is_file() else None
    cfile = folder / "consistency.json"
    consistency = ConsistencyReport.load(cfile) if cfile.is_file() else None
    faces = FaceTracks.load(folder / "faces.json") if (folder / "faces.npz").is_file() else None
    run = read_json(folder / "run.json") if (folder / "run.json").is_file() else {}
    prov = Provenance(backend="reconstruct", seed=run.get("seed"), timings=run.get("timings", {}) or {},
                      packages=run.get("packages", {}) or {}, created=run.get("created", ""),
                      extra={"stages": run.get("stages", {})})
    return Scene(video=video, tracks=tracks, cameras=cams, points=points, dynamic_points=_load_dynamic(folder),
                 depth=depth, consistency=consistency, faces=faces, provenance=prov, path=folder)


def summary_lines(scene: Scene) -> list[str]:
    """A few human-readable lines about a reconstructed scene (the CLI prints them)."""
    lines: list[str] = []
    v = scene.video
    if v is not None:
        lo, hi = v.intervals.span
        lines.append(f"clip: {v.num_frames} frames {v.width}x{v.height} over [{lo:g}, {hi:g}] exposures")
    if scene.tracks is not None:
        lines.append(f"tracks: {scene.tracks.num_points} points")
    c = scene.cameras
    if c is not None:
        state = "ok" if c.ok else "NOT OK"
        f = float(c.K[0, 0, 0])
        lines.append(f"cameras: {int(c.registered.sum())}/{c.num_frames} posed, motion {c.motion or 'unknown'}, "
                     f"focal {f:.0f} px, {state}" + (f" ({c.reason})" if c.reason else ""))
    if scene.points is not None:
        lines.append(f"points: {len(scene.points)} static (fused)")
    if scene.dynamic_points:
        n = sum(len(p) for p in scene.dynamic_points)
        busy = sum(1 for p in scene.dynamic_points if len(p))
        lines.append(f"moving points: {n} over {busy} of {len(scene.dynamic_points)} frames")
    if scene.consistency is not None:
        lines.append(f"3D check: {scene.consistency.verdict} (confidence {scene.consistency.confidence:.2f})")
    if scene.faces is not None:
        lines.append(f"faces: {scene.faces.num_faces}")
    stages = (scene.provenance.extra or {}).get("stages", {}) if scene.provenance else {}
    missing = [f"{k} {v['status']}" for k, v in stages.items()
               if v.get("status") in ("unavailable", "failed", "skipped", "empty")]
    if missing:
        lines.append("not produced: " + ", ".join(missing))
    if scene.path is not None:
        lines.append(f"wrote: {scene.path.with_suffix('.ply') if scene.path.suffix == '' else scene.path} "
                     f"and {scene.path}/")
    t = (scene.provenance.timings or {}).get("total") if scene.provenance else None
    if t:
        lines.append(f"time: {t:.1f} s")
    return lines
