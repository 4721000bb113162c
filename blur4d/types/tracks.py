"""2D point tracks."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._checks import check_shape
from .._fs import read_npz, write_npz
from ..errors import InputError
from ..registry import html_of
from .intervals import Intervals
from .provenance import Provenance, _provenance_from_json, _provenance_json


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
        from .._fs import atomic_path

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
        return html_of(self)  # the renderer lives in blur4d.display (see registry.HTML_RENDERERS)


