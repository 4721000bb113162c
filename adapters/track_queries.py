"""Which points to track: a grid (optionally inside a mask), or query files/arrays of (x, y) or
(t, x, y). Shared by the built-in tracker and the CoTracker adapter; re-exported by
:mod:`blur4d.adapters.tracking`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from blur4d.errors import InputError
from blur4d.types import Video

__all__ = ["default_query_frame", "grid_points", "resolve_queries"]


def default_query_frame(video: Video) -> int:
    """The frame whose interval centre is closest to 0, the centre of the exposure."""
    return int(np.argmin(np.abs(video.intervals.centers)))


def grid_points(width: int, height: int, grid_size: int, mask: np.ndarray | None = None) -> np.ndarray:
    """``grid_size`` x ``grid_size`` integer pixel positions spread over the image (a margin of
    half a cell at each side), or over the bounding box of ``mask`` and kept where it is
    non-zero -> (N, 2) float32 (x, y)."""
    if grid_size < 1:
        raise InputError(f"grid_size: must be >= 1, got {grid_size}")
    x0, y0, x1, y1 = 0.0, 0.0, width - 1.0, height - 1.0
    if mask is not None:
        ys, xs = np.nonzero(mask)
        if len(xs) == 0:
            raise InputError("mask: has no non-zero pixels; nothing to track")
        x0, x1, y0, y1 = float(xs.min()), float(xs.max()), float(ys.min()), float(ys.max())
    xs = np.rint(x0 + (np.arange(grid_size) + 0.5) * (x1 - x0 + 1) / grid_size - 0.5)
    ys = np.rint(y0 + (np.arange(grid_size) + 0.5) * (y1 - y0 + 1) / grid_size - 0.5)
    gx, gy = np.meshgrid(xs, ys)
    pts = np.stack([gx.ravel(), gy.ravel()], axis=1)
    _, first = np.unique(pts, axis=0, return_index=True)  # tiny images: drop repeated positions
    pts = pts[np.sort(first)]
    if mask is not None:
        keep = mask[pts[:, 1].astype(int), pts[:, 0].astype(int)] != 0
        pts = pts[keep]
    return pts.astype(np.float32)


def _load_mask(mask: Any, width: int, height: int) -> np.ndarray:
    if isinstance(mask, (str, os.PathLike)):
        from blur4d.media import read_image

        m = read_image(mask, keep_gray=True, min_side=1).pixels
        if m.ndim == 3:
            m = m.max(axis=2)
    else:
        m = np.asarray(mask)
        if m.ndim == 3:
            m = m.max(axis=2)
    if m.shape != (height, width):
        raise InputError(f"mask: expected a {width}x{height} image (the video's size), got {m.shape[1]}x{m.shape[0]}"
                         if m.ndim == 2 else f"mask: expected an (H, W) array, got shape {m.shape}")
    return m


def _load_query_array(queries: Any) -> np.ndarray:
    if isinstance(queries, (str, os.PathLike)):
        path = Path(queries)
        if not path.is_file():
            raise InputError(f"--queries {path}: no such file")
        suffix = path.suffix.lower()
        try:
            if suffix == ".npy":
                arr = np.load(path, allow_pickle=False)
            elif suffix in (".csv", ".txt"):
                text = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
                if text and any(c.isalpha() for c in text[0]):
                    text = text[1:]  # a header row
                arr = np.array([[float(v) for v in ln.replace(";", ",").split(",")] for ln in text])
            else:
                raise InputError(f"--queries {path}: expected a .npy or .csv file, got {suffix!r}")
        except (ValueError, OSError) as err:
            raise InputError(f"--queries {path}: cannot read ({err}); expected rows of x,y or t,x,y") from err
    else:
        arr = np.asarray(queries)
    arr = np.asarray(arr, np.float64)
    if arr.ndim == 1 and arr.shape[0] in (2, 3):
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] not in (2, 3) or len(arr) == 0:
        raise InputError(f"queries: expected (N, 2) rows of x, y or (N, 3) rows of t, x, y, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InputError("queries: contain NaN or infinite values")
    return arr


def resolve_queries(video: Video, *, grid_size: int = 32, queries: Any = None, query_frame: int | None = None,
                    mask: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """The points to track -> ``(query_frame (N,) int32, query_xy (N, 2) float32)``.

    ``queries`` (a .npy/.csv path or an array) of rows (x, y) at ``query_frame`` or (t, x, y);
    otherwise a ``grid_size`` grid at ``query_frame`` (default: the centre of the exposure),
    restricted to the non-zero pixels of ``mask`` when given.
    """
    T, W, H = video.num_frames, video.width, video.height
    if query_frame is None:
        qf = default_query_frame(video)
    else:
        qf = int(query_frame)
        if qf < 0:
            qf += T
        if not 0 <= qf < T:
            raise InputError(f"--query-frame: must be in [0, {T - 1}] for this {T}-frame video, got {query_frame}")
    if queries is not None:
        if mask is not None:
            raise InputError("--mask: applies to the query grid; pass either --queries or --mask, not both")
        arr = _load_query_array(queries)
        if arr.shape[1] == 3:
            t = arr[:, 0]
            if np.any(t != np.round(t)) or t.min() < 0 or t.max() > T - 1:
                raise InputError(f"queries: frame indices (first column) must be integers in [0, {T - 1}], "
                                 f"got [{t.min():g}, {t.max():g}]")
            frames, xy = t.astype(np.int32), arr[:, 1:]
        else:
            frames, xy = np.full(len(arr), qf, np.int32), arr
        bad = (xy[:, 0] < -0.5) | (xy[:, 0] > W - 0.5) | (xy[:, 1] < -0.5) | (xy[:, 1] > H - 0.5)
        if bad.any():
            i = int(np.argmax(bad))
            raise InputError(f"queries: point {i} ({xy[i, 0]:g}, {xy[i, 1]:g}) lies outside the {W}x{H} frame")
        return frames, xy.astype(np.float32)
    m = _load_mask(mask, W, H) if mask is not None else None
    xy = grid_points(W, H, int(grid_size), m)
    if len(xy) == 0:
        raise InputError(f"--mask: no point of the {grid_size}x{grid_size} grid falls inside the mask; "
                         "pass a larger --grid")
    return np.full(len(xy), qf, np.int32), xy
