"""Everything ``reconstruct`` produces."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..registry import html_of, resolve
from .cameras import Cameras
from .consistency import ConsistencyReport
from .faces import FaceTracks
from .points import PointCloud
from .provenance import Provenance
from .tracks import Tracks
from .video import Generation, Video


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
        return html_of(self)  # the renderer lives in blur4d.display (see registry.HTML_RENDERERS)

    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write the scene in the ``reconstruct`` layout (``<stem>.ply`` + ``<stem>/``)."""
        return resolve("blur4d.pipeline:save_scene")(self, path, overwrite=overwrite)



    def view(self, **options: Any) -> Any:
        """Open the scene in the interactive 4D viewer (viser; ``pip install "blur4d[view]"``): inline
        in a notebook, else it prints the URL. Returns the running viewer (``.url``, ``.stop()``);
        it stops with the kernel. Options: ``height``, ``host``, ``port``, ``point_budget``."""
        # the viewer sits above this module: reached by name at call time, never by an import
        return resolve("blur4d.viewer:show")(self, **options)
