"""Faces tracked through a clip."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import check_shape
from .._fs import read_npz, write_json, write_npz
from ..registry import html_of
from .intervals import Intervals
from .provenance import Provenance, _provenance_from_json, _provenance_json


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
        return html_of(self)  # the renderer lives in blur4d.display (see registry.HTML_RENDERERS)


