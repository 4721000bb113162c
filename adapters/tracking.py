"""The built-in point tracker (the default ``track`` backend), and the track drawings.

:class:`BuiltinTracker` tracks query points forward and backward from their query frame with
OpenCV's pyramidal Lucas-Kanade:

1. a *frame-to-frame* step from the previous frame gives a guess (it copes with large motion);
   it must survive a forward-backward check started from scratch (no initial flow), so a guess
   that jumped (say, along an edge) and does not track back to where it came from is rejected;
2. the guess is *refined against the query frame's patch* (a template that never drifts) with a
   small window and few pyramid levels, then tracked back into the query frame: it must land on
   the query (forward-backward error) with a low patch residual; a 5-pixel window is tried where
   the 11-pixel one fails (near an occlusion boundary the small patch stays on its surface);
3. where the template no longer matches but the frame-to-frame step was consistent, the point
   stays visible at half the confidence (``chain_check``);
4. points that fail are occluded: their position follows the median motion of nearby visible
   points that moved like them before they were lost, and every later frame tries to re-acquire
   them against the template, so a track keeps its identity through occlusions.

``visible`` therefore means "found and verified"; an occluded point is re-acquired either by
LK against its query patch or, where that patch held part of the occluder, when the small patch at
its carried position matches again (``match_carried``, confidence <= 0.25). Points on
textureless surfaces cannot be verified and are reported not visible, with a low confidence.

Frames whose long side exceeds ``max_side`` are tracked at a reduced size; positions are
returned in the input's pixels (pixel centres at integer coordinates). ``method="dis"`` takes the
frame-to-frame guess from dense DIS optical flow instead.

:func:`write_overlay` draws colour-coded tracks with fading tails into an mp4;
:func:`write_summary` draws every trajectory over the query frame into a PNG.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from blur4d._checks import build_config
from blur4d.errors import InputError
from blur4d.progress import NO_PROGRESS, Progress
from blur4d.types import Provenance, Tracks, Video

log = logging.getLogger("blur4d.adapters.tracking")

__all__ = ["BuiltinTracker", "TrackerConfig", "resolve_queries", "default_query_frame", "grid_points",
           "write_overlay", "write_summary", "track_colors"]


# ------------------------------------------------------------------------------------------
# Queries (shared with the CoTracker adapter)
# ------------------------------------------------------------------------------------------
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


# ------------------------------------------------------------------------------------------
# The tracker
# ------------------------------------------------------------------------------------------
@dataclass
class TrackerConfig:
    """Options of the built-in tracker (``blur4d track --backend builtin``)."""

    grid_size: int = 32
    """Query grid points per side (grid_size**2 points) when no queries are given."""
    queries: Any = None
    """Query points: a .npy/.csv path or an array of (x, y) at query_frame, or (t, x, y)."""
    query_frame: int | None = None
    """Frame of the grid / of (x, y) queries; default: the frame at the centre of the exposure."""
    mask: Any = None
    """Only put grid points where this (H, W) image/array is non-zero."""
    method: str = "lk"
    """Initial guess from the previous frame: 'lk' (chained Lucas-Kanade) or 'dis' (dense DIS flow)."""
    win_size: int = 15
    """Lucas-Kanade window of the frame-to-frame step (pixels, odd)."""
    refine_win: int = 11
    """Lucas-Kanade window of the refinement and check against the query frame (pixels, odd;
    small windows mix less of a neighbouring surface into the patch at occlusion boundaries)."""
    levels: int = 3
    """Pyramid levels above the full-resolution image for the frame-to-frame step."""
    refine_levels: int = 1
    """Pyramid levels for the refinement against the query frame, which starts from a good guess
    (few levels keep a small moving object's patch from being pulled by its surroundings)."""
    fb_threshold: float = 1.0
    """Forward-backward error (pixels, at the tracking size) above which a point is occluded."""
    residual_threshold: float = 12.0
    """Mean absolute grey-level patch difference (0-255) above which a point is occluded."""
    small_win: int = 5
    """A second, smaller refinement window tried where ``refine_win`` fails (0 = off)."""
    chain_check: bool = True
    """Where the query-frame patch no longer matches (it held part of an occluder, or the
    appearance changed), still call a point visible if the frame-to-frame step is
    forward-backward consistent (at half the confidence)."""
    match_carried: bool = True
    """Also call an occluded point visible again where the patch at its carried position matches
    its small query patch (re-acquisition when the large query patch held part of the occluder)."""
    min_texture: float = 3.0
    """Grey-level standard deviation a query patch needs for ``match_carried`` (flat patches
    match anywhere)."""
    reacquire: bool = True
    """Try to find occluded points again in later frames (against the query-frame patch)."""
    neighbours: int = 8
    """Nearby points whose motion carries an occluded point."""
    max_side: int = 1280
    """Track on frames downscaled so the longer side is at most this (0 = full size)."""

    def __post_init__(self) -> None:
        if self.method not in ("lk", "dis"):
            raise InputError(f"method: expected 'lk' or 'dis', got {self.method!r}")
        if int(self.small_win) != 0 and int(self.small_win) < 3:
            raise InputError(f"small_win: must be 0 (off) or >= 3, got {self.small_win}")
        for name in ("win_size", "refine_win"):
            if int(getattr(self, name)) < 5:
                raise InputError(f"{name}: must be >= 5, got {getattr(self, name)}")
        for name in ("levels", "refine_levels"):
            if not 0 <= int(getattr(self, name)) <= 8:
                raise InputError(f"{name}: must be in [0, 8], got {getattr(self, name)}")
        if not self.fb_threshold > 0 or not self.residual_threshold > 0:
            raise InputError("fb_threshold and residual_threshold must be > 0")
        if int(self.neighbours) < 1:
            raise InputError(f"neighbours: must be >= 1, got {self.neighbours}")
        if int(self.max_side) < 0:
            raise InputError(f"max_side: must be >= 0, got {self.max_side}")


class _Frames:
    """Grey frames at the tracking scale, converted on demand; a few are kept (the query frame
    always), so long videos do not hold every grey frame in memory."""

    def __init__(self, video: Video, scale: float, keep: int = 6) -> None:
        self.video, self.scale, self.keep = video, scale, keep
        self._grey: dict[int, np.ndarray] = {}
        self.pinned: set[int] = set()

    def grey(self, t: int) -> np.ndarray:
        import cv2

        g = self._grey.get(t)
        if g is None:
            g = cv2.cvtColor(self.video.frames[t], cv2.COLOR_RGB2GRAY)
            if self.scale != 1.0:
                h, w = g.shape
                g = cv2.resize(g, (max(1, round(w * self.scale)), max(1, round(h * self.scale))),
                               interpolation=cv2.INTER_AREA)
            while len(self._grey) >= self.keep:
                victim = next((k for k in self._grey if k not in self.pinned), None)
                if victim is None:
                    break
                del self._grey[victim]
            self._grey[t] = g
        return g


class BuiltinTracker:
    """Offline CPU point tracker: pyramidal Lucas-Kanade chained through the frames, refined
    against the query frame, with forward-backward occlusion checks (see the module docstring).

    ``BuiltinTracker(**options)(video, seed=..., progress=...) -> Tracks``; options are the fields
    of :class:`TrackerConfig`.
    """

    name = "builtin"

    def __init__(self, **options: Any) -> None:
        self.config = build_config(TrackerConfig, options, backend="track backend 'builtin'")

    # -- public -----------------------------------------------------------------------------
    def __call__(self, video: Video, *, seed: int | None = 0, progress: Progress = NO_PROGRESS) -> Tracks:
        import cv2

        if not isinstance(video, Video):
            raise InputError(f"track: expected a blur4d Video, got {type(video).__name__}")
        cfg = self.config
        t0 = time.perf_counter()
        qframe, qxy = resolve_queries(video, grid_size=cfg.grid_size, queries=cfg.queries,
                                      query_frame=cfg.query_frame, mask=cfg.mask)
        T, N = video.num_frames, len(qxy)
        W, H = video.width, video.height
        scale = 1.0
        if cfg.max_side and max(W, H) > cfg.max_side:
            scale = cfg.max_side / max(W, H)
        pyr = _Frames(video, scale)
        xy = np.zeros((T, N, 2), np.float32)
        vis = np.zeros((T, N), bool)
        conf = np.zeros((T, N), np.float32)
        groups = np.unique(qframe)
        total = len(groups) * max(T - 1, 1)
        done = 0
        progress("track", 0, total)
        for q in groups:
            sel = np.flatnonzero(qframe == q)
            pts = (qxy[sel].astype(np.float64) + 0.5) * scale - 0.5
            gx, gv, gc = self._track_group(pyr, int(q), pts, T)
            xy[:, sel] = ((gx + 0.5) / scale - 0.5).astype(np.float32)
            vis[:, sel] = gv
            conf[:, sel] = gc
            done += max(T - 1, 1)
            progress("track", done, total)
        # the query itself is exact and visible
        xy[qframe, np.arange(N)] = qxy
        vis[qframe, np.arange(N)] = True
        conf[qframe, np.arange(N)] = 1.0
        elapsed = time.perf_counter() - t0
        config = asdict(cfg)
        for key in ("queries", "mask"):
            val = config[key]
            if val is not None and not isinstance(val, (str, os.PathLike)):
                config[key] = f"array {tuple(np.shape(val))}"
            elif val is not None:
                config[key] = str(val)
        prov = Provenance.capture("track.builtin", config, seed=seed, timings={"track": elapsed},
                                  opencv=cv2.__version__, tracking_scale=scale, num_points=N)
        return Tracks(xy=xy, visible=vis, query_frame=qframe.astype(np.int32), query_xy=qxy.astype(np.float32),
                      confidence=conf, intervals=video.intervals, image_size=(W, H), provenance=prov)

    # -- internals ----------------------------------------------------------------------------
    def _lk(self, pyr: _Frames, a: int, b: int, pts: np.ndarray, init: np.ndarray | None,
            levels: int | None = None, win: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """LK from frame a at ``pts`` into frame b -> (positions, ok, residual)."""
        import cv2

        if len(pts) == 0:
            return np.zeros((0, 2)), np.zeros(0, bool), np.zeros(0)
        p0 = np.ascontiguousarray(pts, np.float32).reshape(-1, 1, 2)
        flags = 0
        p1 = None
        if init is not None:
            p1 = np.ascontiguousarray(init, np.float32).reshape(-1, 1, 2).copy()
            flags = cv2.OPTFLOW_USE_INITIAL_FLOW
        win = int(self.config.win_size if win is None else win)
        levels = int(self.config.levels if levels is None else levels)
        ga, gb = pyr.grey(a), pyr.grey(b)
        # a few points in a big frame: LK on the region around them only (it rebuilds the whole
        # pyramid per call); the crop is aligned to the pyramid and keeps the window's reach
        h, w = ga.shape
        both = p0.reshape(-1, 2) if p1 is None else np.concatenate([p0.reshape(-1, 2), p1.reshape(-1, 2)])
        align = 2 ** (levels + 1)
        margin = (win // 2 + 2) * 2 ** levels + 16
        x0 = max(0, int(np.floor(np.nanmin(both[:, 0]))) - margin) // align * align
        y0 = max(0, int(np.floor(np.nanmin(both[:, 1]))) - margin) // align * align
        x1 = min(w, int(np.ceil(np.nanmax(both[:, 0]))) + margin + 1)
        y1 = min(h, int(np.ceil(np.nanmax(both[:, 1]))) + margin + 1)
        off = np.zeros(2, np.float32)
        if 0 < (x1 - x0) * (y1 - y0) < 0.6 * h * w:
            ga, gb = ga[y0:y1, x0:x1], gb[y0:y1, x0:x1]
            off = np.array([x0, y0], np.float32)
            p0 = p0 - off
            p1 = None if p1 is None else p1 - off
        criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 30, 0.01)
        p1, st, err = cv2.calcOpticalFlowPyrLK(ga, gb, p0, p1, winSize=(win, win), maxLevel=levels,
                                               criteria=criteria, flags=flags)
        p1 = p1.reshape(-1, 2).astype(np.float64) + off
        ok = st.reshape(-1).astype(bool) & np.all(np.isfinite(p1), axis=1)
        with np.errstate(invalid="ignore"):  # OpenCV leaves garbage in err where status is 0
            res = err.reshape(-1).astype(np.float64)
        res[~ok | ~np.isfinite(res)] = np.inf
        p1[~np.isfinite(p1)] = 0.0
        return p1, ok, res

    def _dis_guess(self, pyr: _Frames, a: int, b: int, pts: np.ndarray) -> np.ndarray:
        import cv2

        if not hasattr(self, "_dis"):
            self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
        flow = self._dis.calc(pyr.grey(a), pyr.grey(b), None)
        fx = cv2.remap(flow[..., 0], pts[:, 0].astype(np.float32).reshape(-1, 1),
                       pts[:, 1].astype(np.float32).reshape(-1, 1), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        fy = cv2.remap(flow[..., 1], pts[:, 0].astype(np.float32).reshape(-1, 1),
                       pts[:, 1].astype(np.float32).reshape(-1, 1), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return pts + np.concatenate([fx, fy], axis=1)

    def _verify(self, pyr: _Frames, q: int, t: int, ref: np.ndarray, guess: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Refine ``guess`` in frame t against the query patch at ``ref`` in frame q and check it
        by tracking back -> (position, passed, confidence). Points that fail are tried once more
        with a window of ``small_win`` (near an occlusion boundary a smaller patch stays on the
        point's own surface)."""
        cfg = self.config
        pos, passed, conf = self._verify_win(pyr, q, t, ref, guess, int(cfg.refine_win))
        small = int(cfg.small_win)
        f = np.flatnonzero(~passed)
        if small and small < int(cfg.refine_win) and len(f):
            p2, ok2, c2 = self._verify_win(pyr, q, t, ref[f], guess[f], small)
            pos[f[ok2]], passed[f[ok2]], conf[f[ok2]] = p2[ok2], True, c2[ok2]
        return pos, passed, conf

    def _verify_win(self, pyr: _Frames, q: int, t: int, ref: np.ndarray, guess: np.ndarray, win: int
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cfg = self.config
        lv = int(cfg.refine_levels)
        pos, ok, res = self._lk(pyr, q, t, ref, guess, lv, win)
        back, ok_b, _ = self._lk(pyr, t, q, pos, ref, lv, win)
        fb = np.linalg.norm(back - ref, axis=1)
        h, w = pyr.grey(t).shape
        inside = (pos[:, 0] >= -0.5) & (pos[:, 0] < w - 0.5) & (pos[:, 1] >= -0.5) & (pos[:, 1] < h - 0.5)
        passed = ok & ok_b & inside & (fb < cfg.fb_threshold) & (res < cfg.residual_threshold)
        conf = np.exp(-np.log(2) * ((fb / cfg.fb_threshold) ** 2 + (res / cfg.residual_threshold) ** 2))
        conf = np.where(ok & ok_b & inside, conf, 0.0)
        return pos, passed, conf

    @staticmethod
    def _patch_residual(pyr: _Frames, q: int, t: int, ref: np.ndarray, pos: np.ndarray, win: int
                        ) -> tuple[np.ndarray, np.ndarray]:
        """Mean absolute grey difference between win x win patches at ``ref`` in frame q and at
        ``pos`` in frame t (bilinear; outside the frame counts as a mismatch), and the standard
        deviation of the query patch (its texture)."""
        import cv2

        if len(ref) == 0:
            return np.zeros(0), np.zeros(0)
        r = (win - 1) / 2
        o = np.stack(np.meshgrid(np.linspace(-r, r, win), np.linspace(-r, r, win)), -1).reshape(1, -1, 2)

        def sample(img: np.ndarray, c: np.ndarray) -> np.ndarray:
            p = (c[:, None, :] + o).astype(np.float32)
            return cv2.remap(img.astype(np.float32), p[..., 0], p[..., 1], cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=-1e4)

        a, b = sample(pyr.grey(q), ref), sample(pyr.grey(t), pos)
        return np.abs(a - b).mean(axis=1), a.std(axis=1)

    def _carry(self, xy: np.ndarray, vis: np.ndarray, q: int, t: int, prev: int, lost: np.ndarray,
               last_seen: np.ndarray) -> np.ndarray:
        """Positions at frame t of the ``lost`` points, moved like nearby visible points that
        moved like them before they were lost."""
        from scipy.spatial import cKDTree

        support = np.flatnonzero(vis[prev] & vis[t])
        out = xy[prev, lost].copy()
        if len(support) == 0 or len(lost) == 0:
            return out
        k = min(len(support), 12 * int(self.config.neighbours))
        tree = cKDTree(xy[q, support])
        _, nb = tree.query(xy[q, lost], k=k)
        nb = support[np.asarray(nb).reshape(len(lost), k)]
        ls = last_seen[lost]
        # motion since the query frame up to where the lost point was last seen: similar = same surface
        d_self = xy[ls, lost] - xy[q, lost]
        d_nb = xy[ls[:, None], nb] - xy[q, nb]
        seen = vis[ls[:, None], nb]
        spatial = np.linalg.norm(xy[q, nb] - xy[q, lost][:, None], axis=2)
        cost = spatial + 10.0 * np.linalg.norm(d_nb - d_self[:, None], axis=2) + np.where(seen, 0.0, 1e6)
        order = np.argsort(cost, axis=1)[:, : int(self.config.neighbours)]
        chosen = np.take_along_axis(nb, order, axis=1)
        step = xy[t, chosen] - xy[prev, chosen]
        return out + np.median(step, axis=1)

    def _step(self, pyr: _Frames, q: int, t: int, prev: int, a: np.ndarray, ref: np.ndarray, xy: np.ndarray,
              vis: np.ndarray, conf: np.ndarray) -> None:
        """Points ``a`` (visible at ``prev``) into frame t: a frame-to-frame guess, checked
        forward-backward from scratch (no initial flow, so a point that slid along an edge does
        not pass); then refined and checked against the query patch."""
        cfg = self.config
        p_prev = xy[prev, a]
        if cfg.method == "dis":
            g = self._dis_guess(pyr, prev, t, p_prev)
            ok_f, res_f = np.ones(len(a), bool), np.zeros(len(a))
        else:
            g, ok_f, res_f = self._lk(pyr, prev, t, p_prev, None)
        back, ok_b, _ = self._lk(pyr, t, prev, g, None)
        fb_c = np.linalg.norm(back - p_prev, axis=1)
        chain_ok = ok_f & ok_b & (fb_c < cfg.fb_threshold) & (res_f < cfg.residual_threshold)
        sel = np.flatnonzero(chain_ok)
        if not len(sel):
            return
        A, G = a[sel], g[sel]
        pos, passed, c = self._verify(pyr, q, t, ref[A], G)
        passed &= np.linalg.norm(pos - G, axis=1) < cfg.refine_win / 2
        if cfg.chain_check and prev != q:
            fall = ~passed
            c_chain = 0.5 * np.exp(-np.log(2) * ((fb_c[sel] / cfg.fb_threshold) ** 2
                                                 + (res_f[sel] / cfg.residual_threshold) ** 2))
            pos[fall], c[fall], passed[fall] = G[fall], c_chain[fall], True
        xy[t, A] = np.where(passed[:, None], pos, G)
        vis[t, A] = passed
        conf[t, A] = c

    def _track_group(self, pyr: _Frames, q: int, ref: np.ndarray, T: int
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cfg = self.config
        n = len(ref)
        xy = np.zeros((T, n, 2))
        vis = np.zeros((T, n), bool)
        conf = np.zeros((T, n))
        xy[q], vis[q], conf[q] = ref, True, 1.0
        pyr.pinned = {q}
        for d in (1, -1):
            last_seen = np.full(n, q)
            for t in range(q + d, T if d > 0 else -1, d):
                prev = t - d
                was = vis[prev]
                a = np.flatnonzero(was)
                if len(a):
                    self._step(pyr, q, t, prev, a, ref, xy, vis, conf)
                lost = np.flatnonzero(~vis[t])
                if len(lost):
                    # lost now (or earlier): carried by neighbours; then try to find it again
                    xy[t, lost] = self._carry(xy, vis, q, t, prev, lost, last_seen)
                    retry = lost if cfg.reacquire else lost[was[lost]]
                    if len(retry):
                        pos, passed, c = self._verify(pyr, q, t, ref[retry], xy[t, retry])
                        passed &= np.linalg.norm(pos - xy[t, retry], axis=1) < cfg.refine_win
                        xy[t, retry[passed]] = pos[passed]
                        vis[t, retry] = passed
                        conf[t, retry] = c
                        if cfg.match_carried:
                            # the query patch held part of an occluder, so LK cannot lock on; but
                            # the carried position shows the query's own small patch again
                            f = retry[~passed]
                            res, contrast = self._patch_residual(pyr, q, t, ref[f], xy[t, f], int(cfg.small_win or 5))
                            # a flat patch matches anywhere: it cannot confirm a carried position
                            seen = (res < cfg.residual_threshold / 2) & (contrast >= cfg.min_texture)
                            vis[t, f[seen]] = True
                            conf[t, f[seen]] = 0.25 * np.exp(-np.log(2) * (res[seen] / cfg.residual_threshold) ** 2)
                last_seen = np.where(vis[t], t, last_seen)
        return xy, vis, conf


# ------------------------------------------------------------------------------------------
# Drawings
# ------------------------------------------------------------------------------------------
def track_colors(tracks: Tracks) -> np.ndarray:
    """(N, 3) uint8 RGB per track, coloured by query position (hue by x, brightness by y), so
    neighbouring points share a colour family and the colours are stable across runs."""
    import cv2

    W, H = tracks.image_size or (int(np.nanmax(tracks.query_xy[:, 0])) + 1, int(np.nanmax(tracks.query_xy[:, 1])) + 1)
    x = np.clip(tracks.query_xy[:, 0] / max(W - 1, 1), 0, 1)
    y = np.clip(tracks.query_xy[:, 1] / max(H - 1, 1), 0, 1)
    hsv = np.stack([x * 170, np.full_like(x, 230), 255 - 90 * y], 1)
    hsv = np.clip(np.rint(hsv), 0, 255).astype(np.uint8)[None]
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0]


def _check_match(video: Video, tracks: Tracks) -> None:
    if tracks.num_frames != video.num_frames:
        raise InputError(f"tracks: {tracks.num_frames} frames but the video has {video.num_frames}")
    if tracks.image_size is not None and tuple(tracks.image_size) != (video.width, video.height):
        raise InputError(f"tracks: made on {tracks.image_size[0]}x{tracks.image_size[1]} frames but the video is "
                         f"{video.width}x{video.height}")


def _draw_scale(video: Video) -> tuple[int, int]:
    """(line thickness, radius) for the frame size."""
    s = max(video.width, video.height)
    return max(1, round(s / 640)), max(2, round(s / 450))


def render_overlay(video: Video, tracks: Tracks, *, tail: int = 8, max_points: int = 2000) -> np.ndarray:
    """Frames with colour-coded tracks: a dot per visible point (a ring where occluded) and a
    tail over the last ``tail`` frames that fades with age -> (T, H, W, 3) uint8."""
    import cv2

    _check_match(video, tracks)
    idx = _subsample(tracks, max_points)
    cols = track_colors(tracks)[idx].astype(np.float64)
    xy = tracks.xy[:, idx].astype(np.float64)
    vis = tracks.visible[:, idx]
    thick, rad = _draw_scale(video)
    shift = 4
    fx = lambda p: np.rint(p * (1 << shift)).astype(np.int32)  # noqa: E731 - subpixel drawing
    out = np.empty_like(video.frames)
    for t in range(video.num_frames):
        base = video.frames[t].astype(np.float32)
        canvas = base.copy()
        for age in range(min(tail, t), 0, -1):
            a, b = t - age, t - age + 1
            layer = canvas.copy()
            seg = vis[a] & vis[b]
            for i in np.flatnonzero(seg):
                cv2.line(layer, tuple(fx(xy[a, i])), tuple(fx(xy[b, i])), cols[i].tolist(), thick,
                         cv2.LINE_AA, shift)
            w = 1.0 - (age - 1) / tail
            canvas = cv2.addWeighted(layer, w, canvas, 1 - w, 0)
        for i in range(len(idx)):
            c = tuple(fx(xy[t, i]))
            if vis[t, i]:
                cv2.circle(canvas, c, rad << shift, cols[i].tolist(), -1, cv2.LINE_AA, shift)
            else:
                cv2.circle(canvas, c, rad << shift, cols[i].tolist(), max(1, thick // 2), cv2.LINE_AA, shift)
        out[t] = np.clip(canvas, 0, 255).astype(np.uint8)
    return out


def _subsample(tracks: Tracks, max_points: int) -> np.ndarray:
    n = tracks.num_points
    if n <= max_points:
        return np.arange(n)
    return np.linspace(0, n - 1, max_points).round().astype(np.int64)


def write_overlay(path: str | os.PathLike, video: Video, tracks: Tracks, *, overwrite: bool = False,
                  tail: int = 8) -> Path:
    """An mp4 of the video with colour-coded tracks and fading tails (see :func:`render_overlay`)."""
    from blur4d.media import write_mp4

    path = Path(path)
    if path.suffix.lower() != ".mp4":
        raise InputError(f"--overlay {path}: expected an .mp4 path")
    return write_mp4(path, render_overlay(video, tracks, tail=tail), video.fps, overwrite=overwrite)


def summary_magnification(tracks: Tracks, target: float = 0.03, limit: int = 20) -> int:
    """How much to magnify displacements so that the largest visible displacement from the
    query point spans about ``target`` of the image width: generated clips often move by about a
    pixel everywhere, which is invisible at true scale. 1 when anything already moves that far
    (a video with a few fast movers stays at true scale); at most ``limit``."""
    W = (tracks.image_size or (1000, 0))[0]
    disp = np.linalg.norm(tracks.xy - tracks.xy[tracks.query_frame, np.arange(tracks.num_points)][None], axis=-1)
    disp = disp[tracks.visible]
    big = float(disp.max()) if disp.size else 0.0
    if big <= 1e-3:
        return 1
    return int(np.clip(np.floor(target * W / big), 1, limit))


def render_summary(video: Video, tracks: Tracks, *, magnify: float | None = None, max_points: int = 4000
                   ) -> np.ndarray:
    """All trajectories over the (dimmed) query frame: a line through each track's visible
    positions (occluded stretches are left out) and a dot at its query point -> (H, W, 3) uint8.

    Displacements from the query point are drawn ``magnify`` times longer (default: automatic,
    see :func:`summary_magnification`); the caption states the factor.
    """
    import cv2

    _check_match(video, tracks)
    q = int(np.bincount(tracks.query_frame).argmax()) if tracks.num_points else 0
    canvas = (video.frames[q].astype(np.float32) * 0.55).astype(np.uint8)
    k = float(summary_magnification(tracks) if magnify is None else magnify)
    if not k > 0:
        raise InputError(f"magnify: must be > 0, got {magnify}")
    idx = _subsample(tracks, max_points)
    cols = track_colors(tracks)[idx]
    xy = tracks.xy[:, idx].astype(np.float64)
    anchor = xy[tracks.query_frame[idx], np.arange(len(idx))]
    xy = anchor[None] + k * (xy - anchor[None])
    vis = tracks.visible[:, idx]
    thick, rad = _draw_scale(video)
    shift = 4
    fx = lambda p: np.rint(p * (1 << shift)).astype(np.int32)  # noqa: E731
    for i in range(len(idx)):
        col = cols[i].tolist()
        for t in range(video.num_frames - 1):
            if vis[t, i] and vis[t + 1, i]:
                cv2.line(canvas, tuple(fx(xy[t, i])), tuple(fx(xy[t + 1, i])), col, thick, cv2.LINE_AA, shift)
        cv2.circle(canvas, tuple(fx(anchor[i])), max(1, rad - 1) << shift, col, -1, cv2.LINE_AA, shift)
    text = (f"{tracks.num_points} tracks, {tracks.num_frames} frames, query frame {q}, "
            f"{tracks.visible.mean():.0%} visible" + (f", motion drawn x{k:g}" if k != 1 else ""))
    scale = max(0.4, video.width / 1600)
    org = (8, int(24 * scale + 6))
    cv2.putText(canvas, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), max(2, round(scale * 5)), cv2.LINE_AA)
    cv2.putText(canvas, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), max(1, round(scale * 2)),
                cv2.LINE_AA)
    return canvas


def write_summary(path: str | os.PathLike, video: Video, tracks: Tracks, *, overwrite: bool = False,
                  magnify: float | None = None) -> Path:
    """A PNG of every trajectory over the query frame (see :func:`render_summary`)."""
    from blur4d.media import write_image

    return write_image(path, render_summary(video, tracks, magnify=magnify), overwrite=overwrite)

