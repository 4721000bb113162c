"""The ``video`` backend: an existing video (made elsewhere) plus its exposure intervals.

It lets videos from other generators, e.g. the official blur2vid code (16 equal intervals of
[-0.5, 0.5] at 1280x720), enter the analysis stages unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..media import load_video
from ..progress import NO_PROGRESS, Progress
from ..types import Generation, Intervals, Provenance


@dataclass
class ExistingVideo:
    """Wraps a video file or frame folder as a generation result.

    path: the video (mp4/mov/webm/gif) or folder of frames.
    intervals: their exposure intervals; default: from the file's sidecar JSON, else the frames
    tile [-0.5, 0.5] equally.
    """

    path: str | None = None
    intervals: str | None = None

    def __call__(self, photo: Any, intervals: Intervals, *, samples: int = 1, seed: int | None = None,
                 direction: Any = None, progress: Progress = NO_PROGRESS) -> Generation:
        if not self.path:
            raise InputError("video backend: pass path=VIDEO (CLI: --video VIDEO)")
        own = Intervals.parse(self.intervals) if self.intervals else None
        video = load_video(Path(self.path), intervals=own)
        prov = Provenance.capture("video", {"path": self.path, "intervals": video.intervals.to_list()})
        return Generation(samples=(video,), provenance=prov)
