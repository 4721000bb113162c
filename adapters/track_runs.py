"""Pure functions over the built-in tracker's runs (:mod:`blur4d.adapters.tracking`): where a
query's runs start (the 1/16 px lattice, the triangle of lattice corners whose tracks are
blended), how two runs of the same tracks differ, and which tracks a hard decision steered."""

from __future__ import annotations

import numpy as np

from .track_visibility import CHAINED, LOST, MATCHED, VERIFIED

__all__ = ["on_lattice", "triangle", "compare_runs", "fragile"]


def on_lattice(pts: np.ndarray, grid: int) -> np.ndarray:
    """``pts`` rounded to the nearest multiple of 1 / ``grid`` pixel (0: unchanged)."""
    return np.round(pts * grid) / grid if grid > 0 else pts


def triangle(exact: np.ndarray, cell: float, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Each point's three lattice corners (3, n, 2) and barycentric weights (3, n): the lattice
    of spacing ``cell`` is cut into triangles along each square's anti-diagonal, so the weights
    are continuous in the point's position (a point on a corner has weights (1, 0, 0), on an
    edge its two ends share it). Corners are clipped into the frame (``size`` = (w, h))."""
    g = exact / cell
    c = np.floor(g)
    u, v = (g - c).T
    upper = u + v >= 1.0
    base = c + upper[:, None]
    s = np.where(upper, -1.0, 1.0)
    corners = np.stack([base, base + np.c_[s, np.zeros_like(s)], base + np.c_[np.zeros_like(s), s]]) * cell
    corners[..., 0] = np.clip(corners[..., 0], 0.0, size[0] - 1.0)
    corners[..., 1] = np.clip(corners[..., 1], 0.0, size[1] - 1.0)
    w1, w2 = np.where(upper, 1.0 - u, u), np.where(upper, 1.0 - v, v)
    return corners, np.stack([1.0 - w1 - w2, w1, w2])


def compare_runs(q: int, gx: np.ndarray, gv: np.ndarray, gs: np.ndarray, gw: np.ndarray,
                 bx: np.ndarray, bv: np.ndarray, bs: np.ndarray, bw: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two runs of the same tracks (positions, found, state, small window; (T, n, ...)) ->
    ``(found, carried, flipped)`` (T, n), see :meth:`blur4d.adapters.tracking.BuiltinTracker._unstable`."""
    T = len(gx)
    d = np.linalg.norm(bx - gx, axis=-1)
    d[q] = 0.0
    dc = d.copy()
    both = (bs == VERIFIED) & (gs == VERIFIED)
    for step in (1, -1):
        for t in range(q + step, T if step > 0 else -1, step):
            dc[t] = np.where(both[t], dc[t], np.maximum(dc[t], dc[t - step]))
    df = np.where(bv & gv, d, 0.0)
    df[q:] = np.maximum.accumulate(df[q:], axis=0)
    df[:q + 1] = np.maximum.accumulate(df[q::-1], axis=0)[::-1]
    fl = (bs != gs) | (bw != gw)
    fl[q:] = np.logical_or.accumulate(fl[q:], axis=0)
    fl[:q + 1] = np.logical_or.accumulate(fl[q::-1], axis=0)[::-1]
    return df, dc, fl


def fragile(state: np.ndarray, found: np.ndarray, q: int, small: np.ndarray | None = None) -> np.ndarray:
    """(n,) tracks whose course hung on a hard decision: ever only chained or re-found by a patch
    match, verified only by the small window (``small``, (T, n): the large one failed), or lost
    and then found again (on the same side of the query frame). A track that is verified against
    its query patch by the large window until it is lost for good is not."""
    weak = ((state == CHAINED) | (state == MATCHED)).any(0)
    if small is not None:
        weak |= small.any(0)
    lost = state == LOST
    fwd = lost[q:] & np.flip(np.logical_or.accumulate(np.flip(found[q:], 0), 0), 0)
    bwd = lost[:q + 1] & np.logical_or.accumulate(found[:q + 1], 0)
    return weak | fwd.any(0) | bwd.any(0)
