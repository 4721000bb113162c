"""Coloured point clouds."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from .._checks import check_shape
from ..errors import InputError
from ..registry import html_of
from .provenance import Provenance


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
        from .._ply import write_ply

        fields: dict[str, np.ndarray] = {"x": self.xyz[:, 0], "y": self.xyz[:, 1], "z": self.xyz[:, 2]}
        if self.normals is not None:
            fields.update(nx=self.normals[:, 0], ny=self.normals[:, 1], nz=self.normals[:, 2])
        fields.update(red=self.rgb[:, 0], green=self.rgb[:, 1], blue=self.rgb[:, 2],
                      confidence=self.confidence, frame=self.frame,
                      dynamic=self.dynamic.astype(np.uint8))
        return write_ply(path, fields, overwrite=overwrite, comments=("written by blur4d",))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "PointCloud":
        from .._ply import read_ply

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
        return html_of(self)  # the renderer lives in blur4d.display (see registry.HTML_RENDERERS)


