"""Per-frame pinhole cameras (cam_from_world, OpenCV axes)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import check_shape
from .._fs import read_json, write_json
from ..errors import InputError
from ..registry import html_of
from .intervals import Intervals
from .provenance import Provenance


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
        return html_of(self)  # the renderer lives in blur4d.display (see registry.HTML_RENDERERS)


