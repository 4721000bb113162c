"""What each ``reconstruct`` stage does: the code behind the declarations in
:data:`blur4d.pipeline.STAGES`.

A stage is three small functions over the scene being built (a dict keyed by
:class:`~blur4d.types.Scene` field names, plus private ``_keys`` a later stage may read):

* ``run(state, ctx) -> Outcome``: compute (usually: call a backend from the registry);
* ``write(state, folder, ctx) -> [file names]``: write its part of the scene folder;
* ``load(folder, ply) -> {field: value}``: read that part back (``{}`` when it is not there).

``load`` serves both ``load_scene`` and ``reconstruct(reuse=True)``, so the two can never read
different files. Backends are created through ``registry.make_backend`` (looked up on the
module at call time, so tests can substitute it).
"""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from . import registry
from ._fs import read_json, write_json
from .errors import BackendError, InputError, MissingDependencyError
from .media import DEFAULT_MAX_PIXELS, IMAGE_SUFFIXES, Photo
from .progress import NO_PROGRESS, Progress
from .types import Cameras, ConsistencyReport, FaceTracks, Generation, Intervals, PointCloud, Scene, Tracks, Video

PathLike = str | os.PathLike
State = dict[str, Any]


@dataclass
class Outcome:
    """What a stage's ``run`` returns: the scene fields it filled, its run.json status and note."""

    fields: Mapping[str, Any] = field(default_factory=dict)
    status: str = "done"  # "done", "input video", "empty"
    note: str = ""


@dataclass
class Context:
    """The options of one ``reconstruct`` call, as the stages see them."""

    source: Any = None
    generate_options: Mapping[str, Any] | None = None
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    tracker: str | None = None
    cam_name: str = "colmap"
    megasam: str | None = None
    camera_options: Mapping[str, Any] | None = None
    skip: tuple[str, ...] = ()
    seed: int = 0
    progress: Progress = NO_PROGRESS
    ply_path: Path | None = None  # the scene.ply beside the folder (transforms.json points to it)
    timings: Callable[[], dict[str, float]] = dict  # stage seconds so far (for the report)
    early: Callable[[str, Mapping[str, Any]], None] = lambda stage, fields: None
    """A running stage hands over fields that are already final for the stages declared ``after``
    it (the cameras before the dense points): the pipeline starts those on worker threads now."""


def unavailable(err: BaseException) -> bool:
    """A backend that is not installed / not in this version (as opposed to one that failed)."""
    return isinstance(err, MissingDependencyError) or (isinstance(err, BackendError) and "not available" in str(err))


# ---------------------------------------------------------------------------------------------
# generate: the clip
# ---------------------------------------------------------------------------------------------
def resolve_intervals(frames: int | None = None, past_future: bool = False,
                      intervals: Intervals | str | Sequence[Sequence[float]] | None = None) -> Intervals:
    """Requested output intervals: explicit ones win; else ``frames`` equal sub-intervals of the
    exposure, or of [-1, 1] with ``past_future``."""
    if intervals is not None:
        if isinstance(intervals, Intervals):
            return intervals
        if isinstance(intervals, str):
            return Intervals.parse(intervals)
        return Intervals(np.asarray(intervals, np.float64))
    n = 16 if frames is None else int(frames)
    if n < 1:
        raise InputError(f"--frames: must be >= 1, got {n}")
    return Intervals.past_present_future(n) if past_future else Intervals.present(n)


def as_photo(photo: PathLike | np.ndarray | Photo, max_pixels: int | None) -> Photo:
    from .media import read_image

    if isinstance(photo, Photo):
        return photo
    if isinstance(photo, np.ndarray):
        if photo.ndim != 3 or photo.shape[2] != 3 or photo.dtype != np.uint8:
            raise InputError(f"photo: expected (H, W, 3) uint8, got shape {photo.shape} {photo.dtype}")
        return Photo(pixels=photo)
    return read_image(photo, max_pixels=max_pixels)


def generate(photo: PathLike | np.ndarray | Photo, *, frames: int | None = 16, past_future: bool = False,
             intervals: Intervals | str | Sequence[Sequence[float]] | None = None, backend: str | None = None,
             samples: int = 1, seed: int | None = 0, direction: Any = None,
             max_pixels: int | None = DEFAULT_MAX_PIXELS, progress: Progress = NO_PROGRESS,
             **options: Any) -> Generation:
    """A blurry photo -> ``samples`` plausible videos (the body of :func:`blur4d.generate`)."""
    if int(samples) < 1:
        raise InputError(f"--samples: must be >= 1, got {samples}")
    ph = as_photo(photo, max_pixels)
    ivs = resolve_intervals(frames, past_future, intervals)
    gen = registry.make_backend("generate", backend, options)
    return gen(ph, ivs, samples=int(samples), seed=seed, direction=direction, progress=progress)


def source_video(source: Any, generate_options: Mapping[str, Any] | None, max_pixels: int | None,
                 progress: Progress) -> tuple[Video, Generation | None, dict[str, Any]]:
    """The clip and, for a photo, the generation and the photo's EXIF."""
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
    gen = generate(photo, max_pixels=max_pixels, progress=progress, **dict(generate_options or {}))
    return gen.video, gen, dict(photo.exif)


def run_generate(s: State, ctx: Context) -> Outcome:
    video, gen, exif = source_video(ctx.source, ctx.generate_options, ctx.max_pixels, ctx.progress)
    return Outcome({"video": video, "generation": gen, "_exif": exif},
                   status="done" if gen is not None else "input video")


def record_generate(s: State, ctx: Context) -> dict[str, Any]:
    gen, exif = s.get("generation"), s.get("_exif") or {}
    rec: dict[str, Any] = {"backend": gen.provenance.backend if gen is not None else "video"}
    if exif:
        rec["exif"] = {k: v for k, v in exif.items() if isinstance(v, (int, float, str))}
    return rec


def write_video(s: State, folder: Path, ctx: Context) -> list[str]:
    from .media import save_video, write_mp4

    video: Video = s["video"]
    save_video(video, folder / "frames", overwrite=True)
    # a preview beside the lossless frames/: x264's veryfast preset, a third of medium's CPU
    write_mp4(folder / "video.mp4", video.frames, video.fps, overwrite=True, preset="veryfast")
    write_json(folder / "intervals.json", {
        "units": "photo exposure; the exposure is [-0.5, 0.5]", "fps": video.fps,
        "intervals": video.intervals.to_list(), "labels": video.intervals.labels()})
    return ["frames/", "video.mp4", "intervals.json"]


def load_video(folder: Path, ply: Path) -> State:
    from .media import load_video as _load

    return {"video": _load(folder / "frames")} if (folder / "frames").is_dir() else {}


# ---------------------------------------------------------------------------------------------
# track
# ---------------------------------------------------------------------------------------------
def run_track(s: State, ctx: Context) -> Outcome:
    tracks = registry.make_backend("track", ctx.tracker)(s["video"], seed=ctx.seed, progress=ctx.progress)
    return Outcome({"tracks": tracks})


def write_tracks(s: State, folder: Path, ctx: Context) -> list[str]:
    s["tracks"].save(folder / "tracks.npz")
    return ["tracks.npz"]


def load_tracks(folder: Path, ply: Path) -> State:
    return {"tracks": Tracks.load(folder / "tracks.npz")} if (folder / "tracks.npz").is_file() else {}


# ---------------------------------------------------------------------------------------------
# cameras (the camera backend also makes the dense points: see the "dense" stage)
# ---------------------------------------------------------------------------------------------
def camera_options(name: str, exif: Mapping[str, Any], megasam: str | None, skip_dense: bool,
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


def cameras_required(name: str) -> bool:
    """A camera backend the user asked for by name must work (MegaSaM without its install is an
    error); the default one degrades to 'unavailable' only when it is missing from this version."""
    return name == "megasam"


def run_cameras(s: State, ctx: Context) -> Outcome:
    opts = camera_options(ctx.cam_name, s.get("_exif") or {}, ctx.megasam, "dense" in ctx.skip, ctx.camera_options)
    backend = registry.make_backend("cameras", ctx.cam_name, opts)
    kw: dict[str, Any] = {}
    if "on_cameras" in inspect.signature(backend).parameters:
        # the poses and K are final before the dense points: faces (which needs the focal) starts then
        kw["on_cameras"] = lambda cams: ctx.early("cameras", {"cameras": cams})
    result = backend(s["video"], tracks=s.get("tracks"), seed=ctx.seed, progress=ctx.progress, **kw)
    cams: Cameras = result.cameras
    return Outcome({"cameras": cams, "points": result.points, "dynamic_points": tuple(result.dynamic),
                    "depth": result.depth, "_sparse": result.sparse, "_camera_info": dict(result.info or {})},
                   note=cams.reason or ("ok" if cams.ok else ""))


def depth_observable(cams: Cameras | None) -> tuple[bool | None, str]:
    """The camera backend's clip-level decision (None when it made none) and its reason."""
    info = (cams.provenance.extra or {}).get("info") if cams is not None else None
    if not isinstance(info, dict) or info.get("depth_observable") is None:
        return None, ""
    return bool(info["depth_observable"]), str(info.get("depth_observable_reason", ""))


def record_cameras(s: State, ctx: Context) -> dict[str, Any]:
    cams: Cameras = s["cameras"]
    obs, why = depth_observable(cams)
    K = cams.K[0]
    return {"ok": bool(cams.ok), "motion": cams.motion, "registered": int(cams.registered.sum()),
            "depth_observable": obs, "depth_observable_reason": why,
            "intrinsics": {"fx": float(K[0, 0]), "fy": float(K[1, 1]), "cx": float(K[0, 2]), "cy": float(K[1, 2]),
                           "given": given_K(ctx) is not None},
            "backend": ctx.cam_name, "timings": dict(cams.provenance.timings),
            "static_points": int(len(s["points"])) if s.get("points") is not None else 0,
            "dynamic_points": int(sum(len(c) for c in s.get("dynamic_points") or ()))}


def write_cameras(s: State, folder: Path, ctx: Context) -> list[str]:
    from . import exports

    cams: Cameras = s["cameras"]
    video: Video | None = s.get("video")
    cams.save(folder / "cameras.json")
    if video is None:  # a Scene built by hand: the other formats need the frames
        return ["cameras.json"]
    names = [f"frame_{t:03d}.png" for t in range(cams.num_frames)]
    sparse: PointCloud | None = s.get("_sparse")
    exports.write_tum(folder / "trajectory.tum", cams, fps=video.fps)
    exports.write_colmap_text(folder / "colmap", cams, points=sparse, image_names=names, overwrite=True)
    ply = ctx.ply_path
    exports.write_transforms_json(
        folder / "transforms.json", cams, image_paths=[f"frames/{n}" for n in names],
        ply_path=f"../{ply.name}" if ply is not None and s.get("points") is not None else None)
    files = ["cameras.json", "trajectory.tum", "colmap/", "transforms.json"]
    if sparse is not None and len(sparse):
        sparse.save(folder / "sparse.ply")
        files.append("sparse.ply")
    return files


def load_cameras(folder: Path, ply: Path) -> State:
    if not (folder / "cameras.json").is_file():
        return {}
    sparse = PointCloud.load(folder / "sparse.ply") if (folder / "sparse.ply").is_file() else None
    return {"cameras": Cameras.load(folder / "cameras.json"), "_sparse": sparse}


# ---------------------------------------------------------------------------------------------
# dense: static points (the scene.ply beside the folder), per-frame depth and moving points
# ---------------------------------------------------------------------------------------------
def run_dense(s: State, ctx: Context) -> Outcome:
    """The camera backend computed them; this stage judges and records what it got."""
    if s.get("points") is None:
        info = s.get("_camera_info", {}).get("dense")
        note = info.get("skipped", "no dense points") if isinstance(info, dict) else "no dense points"
        return Outcome(status="empty", note=note)
    return Outcome(note="runs inside the camera backend: its seconds are part of the cameras stage's")


def record_dense(s: State, ctx: Context) -> dict[str, Any]:
    if s.get("points") is None:
        return {}
    seconds = s["cameras"].provenance.timings.get("dense")
    return {"seconds": seconds, "points": int(len(s["points"]))}


def write_dense(s: State, folder: Path, ctx: Context) -> list[str]:
    from . import exports

    files: list[str] = []
    if s.get("depth") is not None:
        size = (s.get("_camera_info", {}).get("dense") or {}).get("depth_size")
        exports.write_depth(folder / "depth", s["depth"], overwrite=True, stored_size=size)
        files.append("depth/")
    if s.get("dynamic_points"):
        video: Video | None = s.get("video")
        exports.write_frame_points(folder / "points", s["dynamic_points"],
                                   intervals=video.intervals.bounds if video is not None else None, overwrite=True)
        files.append("points/")
    return files


def load_dense(folder: Path, ply: Path) -> State:
    from .exports import read_depth

    out: State = {}
    if ply.is_file():
        points = PointCloud.load(ply)
        out["points"] = points if len(points) else None
    if (folder / "depth" / "depth.npz").is_file():
        out["depth"] = read_depth(folder / "depth")
    idx = folder / "points" / "index.json"
    if idx.is_file():
        entries = read_json(idx).get("frames", [])
        out["dynamic_points"] = tuple(PointCloud.load(folder / "points" / e["file"]) for e in entries)
    return out


# ---------------------------------------------------------------------------------------------
# check: 3D consistency
# ---------------------------------------------------------------------------------------------
def run_check(s: State, ctx: Context) -> Outcome:
    return Outcome({"consistency": registry.make_backend("check", None)(s["video"], progress=ctx.progress)})


def record_check(s: State, ctx: Context) -> dict[str, Any]:
    c: ConsistencyReport = s["consistency"]
    return {"verdict": c.verdict, "confidence": float(c.confidence)}


def write_consistency(s: State, folder: Path, ctx: Context) -> list[str]:
    c: ConsistencyReport = s["consistency"]
    c.save(folder / "consistency.json")
    return ["consistency.json"] + (["consistency_maps/"] if c.maps else [])


def load_consistency(folder: Path, ply: Path) -> State:
    f = folder / "consistency.json"
    return {"consistency": ConsistencyReport.load(f)} if f.is_file() else {}


# ---------------------------------------------------------------------------------------------
# faces
# ---------------------------------------------------------------------------------------------
def given_K(ctx: Context) -> np.ndarray | None:
    """The user's intrinsics (camera option ``intrinsics``), as a 3x3 K, or None."""
    k = (ctx.camera_options or {}).get("intrinsics")
    if k is None:
        return None
    from .adapters.colmap import parse_intrinsics

    fx, fy, cx, cy = parse_intrinsics(k)
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def run_faces(s: State, ctx: Context) -> Outcome:
    cams: Cameras | None = s.get("cameras")
    K = given_K(ctx)
    if K is None:
        K = cams.K[0] if cams is not None and np.isfinite(cams.K[0]).all() else None
    faces: FaceTracks = registry.make_backend("faces", None)(s["video"], K=K, progress=ctx.progress)
    if faces.num_faces == 0 or not faces.present.any():
        return Outcome({"faces": None}, status="empty", note="no faces found; faces.json not written")
    return Outcome({"faces": faces})


def write_faces(s: State, folder: Path, ctx: Context) -> list[str]:
    s["faces"].save(folder / "faces.json")  # also writes faces.npz, which load reads
    return ["faces.json", "faces.npz"]


def load_faces(folder: Path, ply: Path) -> State:
    return {"faces": FaceTracks.load(folder / "faces.json")} if (folder / "faces.npz").is_file() else {}


# ---------------------------------------------------------------------------------------------
# summary lines (the CLI prints them)
# ---------------------------------------------------------------------------------------------
def summary_generate(scene: Scene) -> list[str]:
    v = scene.video
    if v is None:
        return []
    lo, hi = v.intervals.span
    return [f"clip: {v.num_frames} frames {v.width}x{v.height} over [{lo:g}, {hi:g}] exposures"]


def summary_track(scene: Scene) -> list[str]:
    return [f"tracks: {scene.tracks.num_points} points"] if scene.tracks is not None else []


def summary_cameras(scene: Scene) -> list[str]:
    c = scene.cameras
    if c is None:
        return []
    state = "ok" if c.ok else "NOT OK"
    lines = [f"cameras: {int(c.registered.sum())}/{c.num_frames} posed, motion {c.motion or 'unknown'}, "
             f"focal {float(c.K[0, 0, 0]):.0f} px, {state}" + (f" ({c.reason})" if c.reason else "")]
    obs, why = depth_observable(c)
    if obs is not None:
        lines.append(f"depth: {'observable' if obs else 'NOT observable'} ({why})")
    return lines


def summary_dense(scene: Scene) -> list[str]:
    lines = [f"points: {len(scene.points)} static (fused)"] if scene.points is not None else []
    if scene.dynamic_points:
        n = sum(len(p) for p in scene.dynamic_points)
        busy = sum(1 for p in scene.dynamic_points if len(p))
        lines.append(f"moving points: {n} over {busy} of {len(scene.dynamic_points)} frames")
    return lines


def summary_check(scene: Scene) -> list[str]:
    c = scene.consistency
    return [f"3D check: {c.verdict} (confidence {c.confidence:.2f})"] if c is not None else []


def summary_faces(scene: Scene) -> list[str]:
    return [f"faces: {scene.faces.num_faces}"] if scene.faces is not None else []


# ---------------------------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------------------------
def write_report(s: State, folder: Path, ctx: Context) -> list[str]:
    try:
        from .report.html import write_report as _write
    except ImportError as err:
        raise BackendError("the HTML report is not available in this version of blur4d") from err
    _write(folder / "report.html", consistency=s.get("consistency"), video=s.get("video"), tracks=s.get("tracks"),
           cameras=s.get("cameras"), points=s.get("points"), faces=s.get("faces"), timings=ctx.timings(),
           overwrite=True)
    return ["report.html"]


__all__ = ["Outcome", "Context", "State", "unavailable", "depth_observable", "given_K", "generate", "resolve_intervals", "as_photo",
           "source_video", "camera_options", "cameras_required"]
