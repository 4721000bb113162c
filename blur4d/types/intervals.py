"""Exposure intervals, in units of the photo's exposure ``[-0.5, 0.5]``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .._checks import check_finite, check_shape
from .._fs import read_json, write_json
from ..errors import InputError


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


