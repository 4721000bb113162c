"""Typed result containers shared by every stage.

Conventions (see README):

* exposure intervals are in units of the photo's exposure, which is ``[-0.5, 0.5]``;
* pixel coordinates put the centre of the top-left pixel at ``(0, 0)``;
* cameras are ``cam_from_world`` 4x4 in OpenCV axes (x right, y down, z forward);
* quaternions are ``wxyz`` unless a file format says otherwise (TUM is ``xyzw``).

Every container is a frozen dataclass that validates shapes in ``__post_init__`` and saves to
plain formats (npz, JSON, PLY, PNG/mp4) — never pickle.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from ._checks import check_finite, check_shape
from ._fs import read_json, read_npz, write_json, write_npz
from .errors import InputError

__all__ = [
    "Provenance", "Intervals", "Video", "Generation", "Tracks", "Cameras", "PointCloud",
    "ConsistencyReport", "FaceTracks", "Scene",
]


# --------------------------------------------------------------------------------------------
# Provenance
# --------------------------------------------------------------------------------------------
def package_versions(names: Iterable[str] = ()) -> dict[str, str]:
    """Installed versions of ``names`` (plus numpy and blur4d); absent packages are skipped."""
    from importlib import metadata

    out: dict[str, str] = {"python": platform.python_version()}
    for name in ("blur4d", "numpy", *names):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


@dataclass(frozen=True)
class Provenance:
    """Where a result came from: backend, versions, resolved config, seed and timings (s)."""

    backend: str = "unknown"
    config: Mapping[str, Any] = field(default_factory=dict)
    seed: int | None = None
    timings: Mapping[str, float] = field(default_factory=dict)
    packages: Mapping[str, str] = field(default_factory=dict)
    created: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def capture(cls, backend: str, config: Mapping[str, Any] | Any = None, *, seed: int | None = None,
                packages: Iterable[str] = (), timings: Mapping[str, float] | None = None,
                **extra: Any) -> "Provenance":
        """Build a provenance record now; ``config`` may be a dataclass or a mapping."""
        from dataclasses import asdict, is_dataclass

        if config is None:
            cfg: dict[str, Any] = {}
        elif is_dataclass(config):
            cfg = asdict(config)
        else:
            cfg = dict(config)
        return cls(
            backend=backend, config=cfg, seed=seed, timings=dict(timings or {}),
            packages=package_versions(packages),
            created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            extra=dict(extra),
        )

    def with_timings(self, **timings: float) -> "Provenance":
        return replace(self, timings={**self.timings, **timings})

    def to_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend, "config": dict(self.config), "seed": self.seed,
            "timings": dict(self.timings), "packages": dict(self.packages),
            "created": self.created, "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> "Provenance":
        d = dict(d or {})
        return cls(
            backend=d.get("backend", "unknown"), config=d.get("config", {}) or {},
            seed=d.get("seed"), timings=d.get("timings", {}) or {},
            packages=d.get("packages", {}) or {}, created=d.get("created", ""),
            extra=d.get("extra", {}) or {},
        )


# --------------------------------------------------------------------------------------------
# Intervals
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Intervals:
    """Exposure intervals ``bounds`` (F, 2) float64 ``[start, end]`` in units of the photo's
    exposure, which is ``[-0.5, 0.5]``. ``end == start`` is an instantaneous frame."""

    bounds: np.ndarray

    def __post_init__(self) -> None:
        b = np.asarray(self.bounds, dtype=np.float64)
        if b.ndim == 1 and b.shape == (2,):
            b = b[None]
        check_shape(b, "F 2", name="intervals")
        check_finite(b, name="intervals")
        if len(b) == 0:
            raise InputError("intervals: need at least one interval")
        if np.any(b[:, 1] < b[:, 0]):
            i = int(np.argmax(b[:, 1] < b[:, 0]))
            raise InputError(f"intervals: interval {i} ends before it starts: {b[i].tolist()}")
        b = b.copy()
        b.setflags(write=False)
        object.__setattr__(self, "bounds", b)

    # presets ---------------------------------------------------------------------------------
    @classmethod
    def present(cls, n: int) -> "Intervals":
        """``n`` equal sub-intervals tiling the exposure ``[-0.5, 0.5]``."""
        return cls.uniform(n, -0.5, 0.5)

    @classmethod
    def past_present_future(cls, n: int = 16, start: float = -1.0, end: float = 1.0) -> "Intervals":
        """``n`` equal sub-intervals of ``[start, end]`` (default ``[-1, 1]``: twice the exposure,
        the published model's ``past_present_and_future`` preset for n=16)."""
        return cls.uniform(n, start, end)

    @classmethod
    def uniform(cls, n: int, start: float, end: float) -> "Intervals":
        if int(n) < 1:
            raise InputError(f"intervals: number of frames must be >= 1, got {n}")
        if not end > start:
            raise InputError(f"intervals: end ({end}) must be after start ({start})")
        edges = np.linspace(start, end, int(n) + 1)
        return cls(np.stack([edges[:-1], edges[1:]], axis=1))

    @classmethod
    def from_centers(cls, centers: Sequence[float], duration: float) -> "Intervals":
        """Frames of equal ``duration`` centred at ``centers`` (gaps when spacing > duration)."""
        c = np.asarray(centers, dtype=np.float64)
        return cls(np.stack([c - duration / 2, c + duration / 2], axis=1))

    @classmethod
    def parse(cls, spec: str) -> "Intervals":
        """Parse ``present:16``, ``ppf:16`` / ``past-present-future:16[:A:B]``, or an explicit
        list ``"-0.5,-0.25;-0.25,0"`` (pairs separated by ``;``)."""
        s = spec.strip()
        head, _, rest = s.partition(":")
        try:
            if head == "present":
                return cls.present(int(rest or 16))
            if head in ("ppf", "past-present-future", "past_present_future"):
                parts = [p for p in rest.split(":") if p]
                n = int(parts[0]) if parts else 16
                a, b = (float(parts[1]), float(parts[2])) if len(parts) == 3 else (-1.0, 1.0)
                return cls.past_present_future(n, a, b)
            pairs = [p for p in s.replace(" ", "").split(";") if p]
            return cls(np.array([[float(v) for v in p.split(",")] for p in pairs]))
        except (ValueError, IndexError) as err:
            raise InputError(
                f"intervals: cannot parse {spec!r}; use present:N, ppf:N[:A:B] or 'a,b;c,d'"
            ) from err

    # properties -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.bounds.shape[0])

    @property
    def starts(self) -> np.ndarray:
        return self.bounds[:, 0]

    @property
    def ends(self) -> np.ndarray:
        return self.bounds[:, 1]

    @property
    def centers(self) -> np.ndarray:
        return self.bounds.mean(axis=1)

    @property
    def durations(self) -> np.ndarray:
        return self.bounds[:, 1] - self.bounds[:, 0]

    @property
    def span(self) -> tuple[float, float]:
        return float(self.bounds[:, 0].min()), float(self.bounds[:, 1].max())

    def inside_exposure(self, tol: float = 1e-9) -> np.ndarray:
        """(F,) bool: the frame lies within the photo's exposure [-0.5, 0.5]."""
        return (self.starts >= -0.5 - tol) & (self.ends <= 0.5 + tol)

    def labels(self) -> list[str]:
        """'past' / 'present' / 'future' / 'straddles' per frame."""
        out = []
        for s, e in self.bounds:
            if e <= -0.5 + 1e-9 and s < -0.5:
                out.append("past")
            elif s >= 0.5 - 1e-9 and e > 0.5:
                out.append("future")
            elif s >= -0.5 - 1e-9 and e <= 0.5 + 1e-9:
                out.append("present")
            else:
                out.append("straddles")
        return out

    def gaps(self) -> np.ndarray:
        """(F-1,) dead time between consecutive frames (negative = overlap)."""
        return self.starts[1:] - self.ends[:-1]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Intervals) and np.array_equal(self.bounds, other.bounds)

    def __hash__(self) -> int:
        return hash(self.bounds.tobytes())

    def to_list(self) -> list[list[float]]:
        return self.bounds.tolist()

    def save(self, path: str | os.PathLike, *, overwrite: bool = True) -> Path:
        return write_json(path, {"units": "photo exposure; the exposure is [-0.5, 0.5]",
                                 "intervals": self.to_list()}, overwrite=overwrite)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Intervals":
        d = read_json(path)
        return cls(np.asarray(d["intervals"] if isinstance(d, dict) else d, dtype=np.float64))


# --------------------------------------------------------------------------------------------
# Video
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Video:
    """``frames`` (F, H, W, 3) uint8 sRGB, one per exposure interval.

    ``fps`` is the playback rate of the written mp4 (the generated clip's timing is given by
    ``intervals``, not by fps).
    """

    frames: np.ndarray
    intervals: Intervals
    fps: float = 20.0
    provenance: Provenance = field(default_factory=Provenance)

    def __post_init__(self) -> None:
        dims = check_shape(self.frames, "F H W 3", name="frames", dtype=np.uint8)
        if len(self.intervals) != dims["F"]:
            raise InputError(f"video: {dims['F']} frames but {len(self.intervals)} intervals")
        if not self.fps > 0:
            raise InputError(f"video: fps must be > 0, got {self.fps}")

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def height(self) -> int:
        return int(self.frames.shape[1])

    @property
    def width(self) -> int:
        return int(self.frames.shape[2])

    def __len__(self) -> int:
        return self.num_frames

    def to_linear(self, response: str | float = "srgb") -> np.ndarray:
        """(F, H, W, 3) float32 linear light in [0, 1]."""
        from .exposure import decode

        return decode(self.frames, response)

    @classmethod
    def from_linear(cls, linear: np.ndarray, intervals: Intervals, *, response: str | float = "srgb",
                    fps: float = 20.0, provenance: Provenance | None = None) -> "Video":
        from .exposure import encode_uint8

        return cls(encode_uint8(linear, response), intervals, fps, provenance or Provenance())

    def select(self, index: Sequence[int] | np.ndarray) -> "Video":
        idx = np.asarray(index)
        return replace(self, frames=self.frames[idx], intervals=Intervals(self.intervals.bounds[idx]))

    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write an mp4 (H.264) or a folder of PNGs (a path without suffix), plus
        ``<stem>.intervals.json`` beside an mp4 or ``intervals.json`` inside a folder, plus the
        provenance JSON."""
        from . import media

        return media.save_video(self, path, overwrite=overwrite)

    @classmethod
    def load(cls, path: str | os.PathLike, intervals: Intervals | None = None) -> "Video":
        from . import media

        return media.load_video(path, intervals=intervals)

    def _repr_html_(self) -> str:
        from .display import video_html

        return video_html(self)


@dataclass(frozen=True)
class Generation:
    """What a generator returns: ``samples`` (K plausible videos), a per-pixel ``ambiguity`` map
    (H, W) float32 in [0, 1] (1 = the time direction there is undetermined by the photo), and per
    sample the per-region ``choices`` made (JSON-able dicts)."""

    samples: tuple[Video, ...]
    ambiguity: np.ndarray | None = None
    choices: tuple[Mapping[str, Any], ...] = ()
    provenance: Provenance = field(default_factory=Provenance)

    def __post_init__(self) -> None:
        if not self.samples:
            raise InputError("generation: no samples")
        object.__setattr__(self, "samples", tuple(self.samples))
        if self.ambiguity is not None:
            check_shape(self.ambiguity, "H W", name="ambiguity")

    @property
    def video(self) -> Video:
        """The first (or guided) sample."""
        return self.samples[0]

    def _repr_html_(self) -> str:
        from .display import generation_html

        return generation_html(self)


# --------------------------------------------------------------------------------------------
# Tracks
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Tracks:
    """2D point tracks.

    xy: (T, N, 2) float32 pixels, origin at the centre of the top-left pixel.
    visible: (T, N) bool.
    confidence: (T, N) float32 in [0, 1], or None.
    query_frame: (N,) int32 frame at which each point was queried.
    query_xy: (N, 2) float32 query position in that frame.
    """

    xy: np.ndarray
    visible: np.ndarray
    query_frame: np.ndarray
    query_xy: np.ndarray
    confidence: np.ndarray | None = None
    intervals: Intervals | None = None
    image_size: tuple[int, int] | None = None  # (W, H)
    provenance: Provenance = field(default_factory=Provenance)

    def __post_init__(self) -> None:
        d = check_shape(self.xy, "T N 2", name="xy", dtype=np.float32)
        check_shape(self.visible, "T N", name="visible", dtype=bool, dims=d)
        check_shape(self.query_frame, "N", name="query_frame", dtype=np.int32, dims=d)
        check_shape(self.query_xy, "N 2", name="query_xy", dtype=np.float32, dims=d)
        if self.confidence is not None:
            check_shape(self.confidence, "T N", name="confidence", dtype=np.float32, dims=d)
        if self.intervals is not None and len(self.intervals) != d["T"]:
            raise InputError(f"tracks: {d['T']} frames but {len(self.intervals)} intervals")

    @property
    def num_frames(self) -> int:
        return int(self.xy.shape[0])

    @property
    def num_points(self) -> int:
        return int(self.xy.shape[1])

    def save(self, path: str | os.PathLike, *, overwrite: bool = True) -> Path:
        """npz with tracks, visibility, confidence, queries (t, x, y) and intervals; a ``.csv``
        path writes one row per (frame, point) instead."""
        path = Path(path)
        if path.suffix.lower() == ".csv":
            return self._save_csv(path, overwrite=overwrite)
        arrays: dict[str, np.ndarray] = {
            "tracks": self.xy, "visibility": self.visible,
            "queries": np.concatenate([self.query_frame[:, None].astype(np.float32), self.query_xy], 1),
            "query_frame": self.query_frame, "query_xy": self.query_xy,
        }
        if self.confidence is not None:
            arrays["confidence"] = self.confidence
        if self.intervals is not None:
            arrays["intervals"] = self.intervals.bounds
        if self.image_size is not None:
            arrays["image_size"] = np.asarray(self.image_size, np.int64)
        arrays["provenance_json"] = np.array(_provenance_json(self.provenance))
        return write_npz(path, overwrite=overwrite, **arrays)

    def _save_csv(self, path: Path, *, overwrite: bool) -> Path:
        from ._fs import atomic_path

        T, N = self.visible.shape
        conf = self.confidence if self.confidence is not None else np.full((T, N), np.nan, np.float32)
        with atomic_path(path, overwrite=overwrite) as tmp:
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write("frame,point,x,y,visible,confidence\n")
                for t in range(T):
                    for n in range(N):
                        fh.write(f"{t},{n},{self.xy[t, n, 0]:.4f},{self.xy[t, n, 1]:.4f},"
                                 f"{int(self.visible[t, n])},{conf[t, n]:.4f}\n")
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Tracks":
        d = read_npz(path)
        try:
            return cls(
                xy=d["tracks"].astype(np.float32), visible=d["visibility"].astype(bool),
                query_frame=d["query_frame"].astype(np.int32), query_xy=d["query_xy"].astype(np.float32),
                confidence=d["confidence"].astype(np.float32) if "confidence" in d else None,
                intervals=Intervals(d["intervals"]) if "intervals" in d else None,
                image_size=tuple(int(v) for v in d["image_size"]) if "image_size" in d else None,
                provenance=_provenance_from_json(d.get("provenance_json")),
            )
        except KeyError as err:
            raise InputError(f"{path}: not a blur4d tracks file (missing {err})") from err

    def _repr_html_(self) -> str:
        from .display import tracks_html

        return tracks_html(self)


# --------------------------------------------------------------------------------------------
# Cameras
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cameras:
    """Per-frame pinhole cameras.

    K: (T, 3, 3) float64 intrinsics in pixels (pixel centres at integer coordinates).
    cam_from_world: (T, 4, 4) float64, OpenCV axes.
    image_size: (W, H) of the frames the intrinsics refer to.
    registered: (T,) bool, False where a frame could not be posed (its pose is then NaN).
    scale_known: whether translation is metric (it almost never is).
    ok / reason: the stage's verdict: ``ok`` is False with a ``reason`` on a degenerate case
    (e.g. "pure rotation: no baseline, no depth").
    """

    K: np.ndarray
    cam_from_world: np.ndarray
    image_size: tuple[int, int]
    intervals: Intervals | None = None
    registered: np.ndarray | None = None
    scale_known: bool = False
    ok: bool = True
    reason: str = ""
    motion: str = ""  # "translation", "rotation-only", "static", "" (unknown)
    provenance: Provenance = field(default_factory=Provenance)

    def __post_init__(self) -> None:
        d = check_shape(self.K, "T 3 3", name="K", dtype=np.float64)
        check_shape(self.cam_from_world, "T 4 4", name="cam_from_world", dtype=np.float64, dims=d)
        if self.registered is None:
            object.__setattr__(self, "registered", np.ones(d["T"], bool))
        check_shape(self.registered, "T", name="registered", dtype=bool, dims=d)
        if self.intervals is not None and len(self.intervals) != d["T"]:
            raise InputError(f"cameras: {d['T']} frames but {len(self.intervals)} intervals")
        object.__setattr__(self, "image_size", (int(self.image_size[0]), int(self.image_size[1])))

    def __bool__(self) -> bool:
        return bool(self.ok)

    @property
    def num_frames(self) -> int:
        return int(self.K.shape[0])

    @property
    def world_from_cam(self) -> np.ndarray:
        return np.linalg.inv(self.cam_from_world)

    @property
    def centers(self) -> np.ndarray:
        """(T, 3) camera centres in world coordinates."""
        return self.world_from_cam[:, :3, 3]

    def to_dict(self) -> dict[str, Any]:
        frames = []
        for t in range(self.num_frames):
            frames.append({
                "index": t,
                "registered": bool(self.registered[t]),
                "K": self.K[t].tolist(),
                "cam_from_world": self.cam_from_world[t].tolist(),
                "world_from_cam": self.world_from_cam[t].tolist(),
                "interval": self.intervals.bounds[t].tolist() if self.intervals is not None else None,
            })
        return {
            "convention": "cam_from_world, OpenCV axes (x right, y down, z forward); pixel centres at integers",
            "image_size": list(self.image_size), "scale_known": self.scale_known,
            "ok": self.ok, "reason": self.reason, "motion": self.motion,
            "frames": frames, "provenance": self.provenance.to_dict(),
        }

    def save(self, path: str | os.PathLike, *, overwrite: bool = True) -> Path:
        """``cameras.json``; other formats (TUM, COLMAP, nerfstudio) live in ``blur4d.exports``."""
        return write_json(path, self.to_dict(), overwrite=overwrite)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Cameras":
        d = read_json(path)
        try:
            frames = d["frames"]
            ints = [f["interval"] for f in frames]
            return cls(
                K=np.array([f["K"] for f in frames], np.float64).reshape(-1, 3, 3),
                cam_from_world=np.array(
                    [[[np.nan if v is None else v for v in row] for row in f["cam_from_world"]] for f in frames],
                    np.float64).reshape(-1, 4, 4),
                image_size=tuple(d["image_size"]),
                intervals=Intervals(np.array(ints)) if ints and all(i is not None for i in ints) else None,
                registered=np.array([f.get("registered", True) for f in frames], bool),
                scale_known=bool(d.get("scale_known", False)), ok=bool(d.get("ok", True)),
                reason=d.get("reason", ""), motion=d.get("motion", ""),
                provenance=Provenance.from_dict(d.get("provenance")),
            )
        except (KeyError, TypeError) as err:
            raise InputError(f"{path}: not a blur4d cameras file ({err})") from err

    def _repr_html_(self) -> str:
        from .display import cameras_html

        return cameras_html(self)


# --------------------------------------------------------------------------------------------
# PointCloud
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PointCloud:
    """Coloured points in world coordinates.

    xyz: (N, 3) float32; rgb: (N, 3) uint8; normals: (N, 3) float32 or None;
    frame: (N,) int32 source frame (-1 = fused over frames); confidence: (N,) float32 in [0, 1];
    dynamic: (N,) bool, True on independently moving content.
    """

    xyz: np.ndarray
    rgb: np.ndarray
    normals: np.ndarray | None = None
    frame: np.ndarray | None = None
    confidence: np.ndarray | None = None
    dynamic: np.ndarray | None = None
    provenance: Provenance = field(default_factory=Provenance)

    def __post_init__(self) -> None:
        d = check_shape(self.xyz, "N 3", name="xyz", dtype=np.float32)
        check_shape(self.rgb, "N 3", name="rgb", dtype=np.uint8, dims=d)
        n = d["N"]
        if self.normals is not None:
            check_shape(self.normals, "N 3", name="normals", dtype=np.float32, dims=d)
        defaults = {"frame": np.full(n, -1, np.int32), "confidence": np.ones(n, np.float32),
                    "dynamic": np.zeros(n, bool)}
        dtypes = {"frame": np.int32, "confidence": np.float32, "dynamic": bool}
        for name, default in defaults.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, default)
            check_shape(getattr(self, name), "N", name=name, dtype=dtypes[name], dims=d)

    def __len__(self) -> int:
        return int(self.xyz.shape[0])

    def select(self, mask: np.ndarray) -> "PointCloud":
        return replace(
            self, xyz=self.xyz[mask], rgb=self.rgb[mask],
            normals=None if self.normals is None else self.normals[mask],
            frame=self.frame[mask], confidence=self.confidence[mask], dynamic=self.dynamic[mask],
        )

    @staticmethod
    def concatenate(clouds: Sequence["PointCloud"]) -> "PointCloud":
        if not clouds:
            raise InputError("concatenate: no point clouds")
        has_normals = all(c.normals is not None for c in clouds)
        return PointCloud(
            xyz=np.concatenate([c.xyz for c in clouds]), rgb=np.concatenate([c.rgb for c in clouds]),
            normals=np.concatenate([c.normals for c in clouds]) if has_normals else None,
            frame=np.concatenate([c.frame for c in clouds]),
            confidence=np.concatenate([c.confidence for c in clouds]),
            dynamic=np.concatenate([c.dynamic for c in clouds]), provenance=clouds[0].provenance,
        )

    def save(self, path: str | os.PathLike, *, overwrite: bool = True) -> Path:
        """Binary little-endian PLY: x y z [nx ny nz] red green blue confidence frame dynamic."""
        from ._ply import write_ply

        fields: dict[str, np.ndarray] = {"x": self.xyz[:, 0], "y": self.xyz[:, 1], "z": self.xyz[:, 2]}
        if self.normals is not None:
            fields.update(nx=self.normals[:, 0], ny=self.normals[:, 1], nz=self.normals[:, 2])
        fields.update(red=self.rgb[:, 0], green=self.rgb[:, 1], blue=self.rgb[:, 2],
                      confidence=self.confidence, frame=self.frame,
                      dynamic=self.dynamic.astype(np.uint8))
        return write_ply(path, fields, overwrite=overwrite, comments=("written by blur4d",))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "PointCloud":
        from ._ply import read_ply

        f = read_ply(path)
        try:
            xyz = np.stack([f["x"], f["y"], f["z"]], 1).astype(np.float32)
        except KeyError as err:
            raise InputError(f"{path}: PLY has no x/y/z") from err
        n = len(xyz)
        rgb = (np.stack([f["red"], f["green"], f["blue"]], 1).astype(np.uint8)
               if "red" in f else np.full((n, 3), 255, np.uint8))
        normals = np.stack([f["nx"], f["ny"], f["nz"]], 1).astype(np.float32) if "nx" in f else None
        return cls(
            xyz=xyz, rgb=rgb, normals=normals,
            frame=f["frame"].astype(np.int32) if "frame" in f else None,
            confidence=f["confidence"].astype(np.float32) if "confidence" in f else None,
            dynamic=f["dynamic"].astype(bool) if "dynamic" in f else None,
        )

    def _repr_html_(self) -> str:
        from .display import points_html

        return points_html(self)


# --------------------------------------------------------------------------------------------
# ConsistencyReport
# --------------------------------------------------------------------------------------------
VERDICTS = ("homography", "parallax", "independent motion", "insufficient texture")


@dataclass(frozen=True)
class ConsistencyReport:
    """3D-consistency analysis of a clip.

    verdict: one of ``VERDICTS``; confidence in [0, 1]; reason: one line of evidence.
    pairs: per analysed frame pair a JSON-able dict (``i``, ``j``, ``ok``, ``reason``, match and
    inlier counts, errors, GRIC scores, residual parallax, ...).
    maps: named images for the report (e.g. ``residual_vectors``, ``warp_difference``,
    ``epipolar_lines``, ``independent_motion_mask``): uint8 arrays (H, W[, 3]).
    """

    verdict: str
    confidence: float
    reason: str = ""
    pairs: tuple[Mapping[str, Any], ...] = ()
    summary: Mapping[str, Any] = field(default_factory=dict)
    maps: Mapping[str, np.ndarray] = field(default_factory=dict)
    provenance: Provenance = field(default_factory=Provenance)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise InputError(f"consistency: verdict must be one of {VERDICTS}, got {self.verdict!r}")
        if not 0.0 <= float(self.confidence) <= 1.0:
            raise InputError(f"consistency: confidence must be in [0, 1], got {self.confidence}")
        object.__setattr__(self, "pairs", tuple(self.pairs))

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "confidence": float(self.confidence), "reason": self.reason,
                "summary": dict(self.summary), "pairs": [dict(p) for p in self.pairs],
                "maps": sorted(self.maps), "provenance": self.provenance.to_dict()}

    def save(self, path: str | os.PathLike, *, overwrite: bool = True) -> Path:
        """``consistency.json``; maps go to ``<stem>_maps/<name>.png`` beside it."""
        path = Path(path)
        if self.maps:
            from .media import write_image

            folder = path.with_name(path.stem + "_maps")
            folder.mkdir(parents=True, exist_ok=True)
            for name, img in self.maps.items():
                write_image(folder / f"{name}.png", img, overwrite=True)
        return write_json(path, self.to_dict(), overwrite=overwrite)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "ConsistencyReport":
        path = Path(path)
        d = read_json(path)
        maps: dict[str, np.ndarray] = {}
        folder = path.with_name(path.stem + "_maps")
        if d.get("maps") and folder.is_dir():
            from .media import read_image

            for name in d["maps"]:
                p = folder / f"{name}.png"
                if p.is_file():
                    maps[name] = read_image(p, keep_gray=True).pixels
        try:
            return cls(verdict=d["verdict"], confidence=float(d["confidence"]), reason=d.get("reason", ""),
                       pairs=tuple(d.get("pairs", ())), summary=d.get("summary", {}), maps=maps,
                       provenance=Provenance.from_dict(d.get("provenance")))
        except KeyError as err:
            raise InputError(f"{path}: not a blur4d consistency file (missing {err})") from err

    def _repr_html_(self) -> str:
        from .display import consistency_html

        return consistency_html(self)


# --------------------------------------------------------------------------------------------
# FaceTracks
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FaceTracks:
    """Faces tracked through a clip, M identities over T frames.

    ids: (M,) int32 stable face ids.
    present: (T, M) bool, whether face m was found in frame t.
    landmarks: (T, M, L, 3) float32 — x, y in pixels (pixel centres at integers), z relative
    depth in pixels (MediaPipe's z times the image width; negative is nearer); NaN where absent.
    bbox: (T, M, 4) float32 x0, y0, x1, y1 pixels; NaN where absent.
    cam_from_head: (T, M, 4, 4) float64 head pose (canonical face model -> camera, OpenCV axes,
    translation in cm); NaN where absent. ``cam_from_head_raw`` keeps the unsmoothed values.
    landmarks_raw: (T, M, L, 3) float32 unsmoothed landmarks (``landmarks`` may be smoothed), or None.
    """

    ids: np.ndarray
    present: np.ndarray
    landmarks: np.ndarray
    bbox: np.ndarray
    cam_from_head: np.ndarray
    cam_from_head_raw: np.ndarray | None = None
    K: np.ndarray | None = None  # (3, 3) intrinsics used for the poses
    image_size: tuple[int, int] | None = None  # (W, H)
    intervals: Intervals | None = None
    provenance: Provenance = field(default_factory=Provenance)
    landmarks_raw: np.ndarray | None = None

    def __post_init__(self) -> None:
        d = check_shape(self.ids, "M", name="ids", dtype=np.int32)
        check_shape(self.present, "T M", name="present", dtype=bool, dims=d)
        check_shape(self.landmarks, "T M L 3", name="landmarks", dtype=np.float32, dims=d)
        check_shape(self.bbox, "T M 4", name="bbox", dtype=np.float32, dims=d)
        check_shape(self.cam_from_head, "T M 4 4", name="cam_from_head", dtype=np.float64, dims=d)
        if self.cam_from_head_raw is not None:
            check_shape(self.cam_from_head_raw, "T M 4 4", name="cam_from_head_raw", dtype=np.float64, dims=d)
        if self.landmarks_raw is not None:
            check_shape(self.landmarks_raw, "T M L 3", name="landmarks_raw", dtype=np.float32, dims=d)

    @property
    def num_frames(self) -> int:
        return int(self.present.shape[0])

    @property
    def num_faces(self) -> int:
        return int(self.ids.shape[0])

    def to_dict(self) -> dict[str, Any]:
        faces = []
        for m, fid in enumerate(self.ids.tolist()):
            frames = []
            for t in np.flatnonzero(self.present[:, m]).tolist():
                frames.append({"frame": t, "bbox": self.bbox[t, m].tolist(),
                               "cam_from_head": self.cam_from_head[t, m].tolist(),
                               "landmarks": self.landmarks[t, m].round(2).tolist()})
            faces.append({"id": fid, "num_frames": len(frames), "frames": frames})
        return {
            "convention": "landmarks: pixels (x, y) + relative depth z in pixels; cam_from_head: OpenCV axes, cm",
            "num_frames": self.num_frames, "image_size": list(self.image_size) if self.image_size else None,
            "K": None if self.K is None else np.asarray(self.K).tolist(),
            "frames_without_face": np.flatnonzero(~self.present.any(axis=1)).tolist(),
            "faces": faces, "provenance": self.provenance.to_dict(),
        }

    def save(self, path: str | os.PathLike, *, overwrite: bool = True) -> Path:
        """``faces.json`` plus ``<stem>.npz`` with the full arrays (the npz is what ``load`` reads)."""
        path = Path(path)
        arrays = {"ids": self.ids, "present": self.present, "landmarks": self.landmarks,
                  "bbox": self.bbox, "cam_from_head": self.cam_from_head,
                  "provenance_json": np.array(_provenance_json(self.provenance))}
        if self.cam_from_head_raw is not None:
            arrays["cam_from_head_raw"] = self.cam_from_head_raw
        if self.landmarks_raw is not None:
            arrays["landmarks_raw"] = self.landmarks_raw
        if self.K is not None:
            arrays["K"] = np.asarray(self.K, np.float64)
        if self.image_size is not None:
            arrays["image_size"] = np.asarray(self.image_size, np.int64)
        if self.intervals is not None:
            arrays["intervals"] = self.intervals.bounds
        write_npz(path.with_suffix(".npz"), overwrite=overwrite, **arrays)
        # compact: 478 landmarks per face and frame make an indented file ~5x larger
        return write_json(path, self.to_dict(), overwrite=overwrite, indent=None)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "FaceTracks":
        d = read_npz(Path(path).with_suffix(".npz"))
        return cls(
            ids=d["ids"].astype(np.int32), present=d["present"].astype(bool),
            landmarks=d["landmarks"].astype(np.float32), bbox=d["bbox"].astype(np.float32),
            cam_from_head=d["cam_from_head"].astype(np.float64),
            cam_from_head_raw=d["cam_from_head_raw"] if "cam_from_head_raw" in d else None,
            K=d.get("K"), image_size=tuple(int(v) for v in d["image_size"]) if "image_size" in d else None,
            intervals=Intervals(d["intervals"]) if "intervals" in d else None,
            provenance=_provenance_from_json(d.get("provenance_json")),
            landmarks_raw=d["landmarks_raw"].astype(np.float32) if "landmarks_raw" in d else None,
        )

    def _repr_html_(self) -> str:
        from .display import faces_html

        return faces_html(self)


# --------------------------------------------------------------------------------------------
# Scene
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scene:
    """Everything ``reconstruct`` produces; any stage may be None when skipped or unavailable."""

    video: Video | None = None
    generation: Generation | None = None
    tracks: Tracks | None = None
    cameras: Cameras | None = None
    points: PointCloud | None = None
    dynamic_points: tuple[PointCloud, ...] = ()
    depth: np.ndarray | None = None  # (T, H, W) float32, NaN where unknown
    consistency: ConsistencyReport | None = None
    faces: FaceTracks | None = None
    provenance: Provenance = field(default_factory=Provenance)
    path: Path | None = None

    def _repr_html_(self) -> str:
        from .display import scene_html

        return scene_html(self)

    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write the scene in the ``reconstruct`` layout (``<stem>.ply`` + ``<stem>/``)."""
        from .pipeline import save_scene

        return save_scene(self, path, overwrite=overwrite)

    def view(self, **options: Any) -> Any:
        """Open the scene in the interactive 4D viewer (viser; ``pip install "blur4d[view]"``): inline
        in a notebook, else it prints the URL. Returns the running viewer (``.url``, ``.stop()``);
        it stops with the kernel. Options: ``height``, ``host``, ``port``, ``point_budget``."""
        import importlib

        # the viewer sits above this module: reach it by name at call time, never by an import
        return getattr(importlib.import_module(_VIEWER_MODULE), "show")(self, **options)


_VIEWER_MODULE = "blur4d.viewer"


# --------------------------------------------------------------------------------------------
def _provenance_json(p: Provenance) -> str:
    from ._fs import to_json_text

    return to_json_text(p.to_dict())


def _provenance_from_json(arr: np.ndarray | None) -> Provenance:
    import json

    if arr is None:
        return Provenance()
    try:
        return Provenance.from_dict(json.loads(str(arr)))
    except json.JSONDecodeError:
        return Provenance()
