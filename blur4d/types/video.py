"""A clip (``Video``) and what a generator returns (``Generation``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from .._checks import check_shape
from ..errors import InputError
from ..registry import html_of, resolve
from .intervals import Intervals
from .provenance import Provenance


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
        return resolve("blur4d.exposure:decode")(self.frames, response)

    @classmethod
    def from_linear(cls, linear: np.ndarray, intervals: Intervals, *, response: str | float = "srgb",
                    fps: float = 20.0, provenance: Provenance | None = None) -> "Video":
        encode_uint8 = resolve("blur4d.exposure:encode_uint8")
        return cls(encode_uint8(linear, response), intervals, fps, provenance or Provenance())

    def select(self, index: Sequence[int] | np.ndarray) -> "Video":
        idx = np.asarray(index)
        return replace(self, frames=self.frames[idx], intervals=Intervals(self.intervals.bounds[idx]))

    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write an mp4 (H.264) or a folder of PNGs (a path without suffix), plus
        ``<stem>.intervals.json`` beside an mp4 or ``intervals.json`` inside a folder, plus the
        provenance JSON."""
        return resolve("blur4d.media:save_video")(self, path, overwrite=overwrite)

    @classmethod
    def load(cls, path: str | os.PathLike, intervals: Intervals | None = None) -> "Video":
        return resolve("blur4d.media:load_video")(path, intervals=intervals)

    def _repr_html_(self) -> str:
        return html_of(self)  # the renderer lives in blur4d.display (see registry.HTML_RENDERERS)


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
        return html_of(self)  # the renderer lives in blur4d.display (see registry.HTML_RENDERERS)


