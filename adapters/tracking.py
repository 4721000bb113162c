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
   points that moved like them before they were lost (their displacement since the frame where
   the point was last verified, ``carry_anchor``), and every later frame tries to re-acquire
   them against the template, so a track keeps its identity through occlusions.

An occluded point is re-acquired either by LK against its query patch or, where that patch held
part of the occluder, when the small patch at its carried position matches again
(``match_carried``).

How each point was found in each frame (verified, chained, matched, lost) is evidence, not the
answer: ``visible`` is a calibrated probability p(visible) >= 0.5 (TAP-Vid's occlusion flag: is
the point in view, wherever the track puts it) and ``confidence`` is the calibrated probability
that the point is visible AND within 4 px of where the track says (at TAP-Vid's 256x256), so a
point can be visible with a low confidence: in view, position unsure
(:mod:`blur4d.adapters.track_visibility`; ``visibility="thresholds"`` gives the old pass/fail
flags and internal score). Every Lucas-Kanade solve iterates to convergence.

A query is not tracked from one point (``query_cell``, 1 px at the tracking size by default):
the lattice of that spacing is cut into triangles and the query's track is the barycentric
blend of the tracks from its triangle's three corners (:func:`~blur4d.adapters.track_runs.triangle`, all in one call).
The tracker's hard decisions (verified / chained / lost, which window, LK's convergence on weak
texture) flip chaotically under any change of its input, so a track from the exact query jumps
when its query moves by a thousandth of a pixel; the blend is a continuous function of the
query instead: moving it by e moves the track by at most (|e_x| + |e_y|) / query_cell times the
corners' disagreement (plus e), whatever decisions each corner's run took. Where the corners'
displacements part by more than ``max_spread`` * ``query_cell`` / ``doubt_shift`` (8 px), the
confidence is at most ``doubt_cap`` (0.45): a track called confident moves by at most
``max_spread`` (1 px) beyond the query's own move when its query moves by up to ``doubt_shift``
(|dx| + |dy| <= 1/8 px). Lost corners are carried by a fixed grid of helper tracks
(``support_grid``), not by the other queries, so a track depends on its own query only. The
blended track's features (its patches where it says the point is; the corners' states and
scores, weighted) feed the visibility and position models, with the corners' disagreement
(``spread``) and whether they took different decisions (``flipped``).

``query_cell=0`` gives the path before the blend: queries tracked from the nearest point of a
1/16 px lattice and moved by the rounding's rest (``query_grid``), tracks that a hard decision
steered run again from queries moved by 1/16 px along x and y (``stability_offset``,
``stability_runs``), the confidence capped where the runs part (``in_doubt``) or a check was
decided at its threshold's edge (``edge_band``); there a 0.05 px query change still moved
0.2-1.7 % of the confident tracks by over a pixel on real clips.

Frames whose long side exceeds ``max_side`` are tracked at a reduced size; positions are
returned in the input's pixels (pixel centres at integer coordinates). ``method="dis"`` takes the
frame-to-frame guess from dense DIS optical flow instead.

:func:`write_overlay` draws colour-coded tracks with fading tails into an mp4;
:func:`write_summary` draws every trajectory over the query frame into a PNG (both live in
:mod:`blur4d.adapters.track_drawings` and are re-exported here).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict
from typing import Any

import numpy as np

from blur4d._checks import build_config
from blur4d.errors import InputError
from blur4d.progress import NO_PROGRESS, Progress
from blur4d.types import Provenance, Tracks, Video

from .track_config import TrackerConfig
from .track_runs import compare_runs, fragile, on_lattice, triangle
from .track_queries import default_query_frame, grid_points, resolve_queries  # noqa: F401
from .track_visibility import (CHAINED, LOST, MATCHED, POSITION_FEATURES, QUERY, VERIFIED, adapt_prior, in_doubt,
                               position_features, position_probability, visibility_features,
                               visibility_probability)
from .track_drawings import (render_overlay, render_summary, summary_magnification, track_colors,  # noqa: F401
                             write_overlay, write_summary)

log = logging.getLogger("blur4d.adapters.tracking")

__all__ = ["BuiltinTracker", "TrackerConfig", "resolve_queries", "default_query_frame", "grid_points",
           "write_overlay", "write_summary", "render_overlay", "render_summary", "summary_magnification",
           "track_colors"]


# ------------------------------------------------------------------------------------------
# The tracker
# ------------------------------------------------------------------------------------------
_LK_ITERATIONS, _LK_EPS = 100, 1e-4


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
        features = np.zeros((T, N, len(POSITION_FEATURES)), np.float32) if cfg.visibility == "calibrated" else None
        evidence = {k: np.zeros((T, N), bool if k in ("flipped", "unstable") else np.float32)
                    for k in ("p", "flipped", "carried", "unstable")}
        groups = np.unique(qframe)
        total = len(groups) * max(T - 1, 1)
        done = 0
        progress("track", 0, total)
        calibrated = cfg.visibility == "calibrated"
        self.last_visible_share = None
        runs = []
        edges, blends = [], []
        self._scale = scale
        for q in groups:
            sel = np.flatnonzero(qframe == q)
            exact = (qxy[sel].astype(np.float64) + 0.5) * scale - 0.5
            # track from queries on a 1/query_grid px lattice and move the whole track by the
            # rest: a query change below the lattice step leaves every decision as it was
            if cfg.query_cell > 0:
                # the track is a blend of the tracks from the query's three lattice corners
                b = self._blended(pyr, int(q), exact, T)
                edges.append(None)  # no decision can make a blended track jump: no edge doubt
                blends.append(b)
                xy[:, sel] = ((b["xy"] + 0.5) / scale - 0.5).astype(np.float32)
                runs.append((int(q), sel, None, b["xy"], b["gv"], b["gc"], b["gs"], None, b["feats"], b["p"]))
                continue
            pts = on_lattice(exact, int(cfg.query_grid))
            gx, gv, gc, gs, gw = self._track_group(pyr, int(q), pts, T)
            edges.append(self._last_edge)
            blends.append(None)
            xy[:, sel] = ((gx + (exact - pts) + 0.5) / scale - 0.5).astype(np.float32)
            feats = visibility_features(pyr.grey, int(q), pts, gx, gc, gs) if calibrated else None
            p = visibility_probability(feats) if calibrated else None
            runs.append((int(q), sel, pts, gx, gv, gc, gs, gw, feats, p))
        if calibrated and cfg.clip_prior:
            # the clip's own share of visible points (not the calibration clips'): one estimate
            # over every tracked sample away from its query frame
            use = np.concatenate([(np.arange(T)[:, None] != r[0]) & (r[9] > 0) for r in runs], axis=1)
            adjusted, self.last_visible_share = adapt_prior(np.concatenate([r[9] for r in runs], axis=1), use)
            at = np.cumsum([0] + [len(r[1]) for r in runs])
            runs = [r[:9] + (adjusted[:, at[i]:at[i + 1]],) for i, r in enumerate(runs)]
        for (q, sel, pts, gx, gv, gc, gs, gw, feats, p), edge, blend in zip(runs, edges, blends):
            if blend is not None:  # blended corners: compared with each other already
                found, carried, flipped = blend["found"], blend["carried"], blend["flipped"]
            else:
                # a carried (lost) position that the model calls visible is a claim on a position
                # no patch fixed: such tracks are run again too
                claimed = ((gs == LOST) & (p >= float(cfg.visible_threshold))).any(0) if calibrated else None
                found, carried, flipped = self._unstable(pyr, q, pts, T, gx, gv, gs, gw, claimed)
            found, carried = found / scale, carried / scale
            # with the blend, a spread D moves the track by at most |change| / query_cell * D
            limit = cfg.max_spread * (cfg.query_cell / cfg.doubt_shift if blend is not None else 1.0)
            unstable = (carried if cfg.stability_carried else found) > limit
            if calibrated:
                if cfg.unstable_hides:
                    p = np.where(unstable, np.minimum(p, 0.25), p)
                vis[:, sel] = p >= float(cfg.visible_threshold)
                # confidence: the probability that the point is visible AND where the track says
                # (within 4 px at TAP-Vid's 256x256), from a model that also reads the stability
                # runs' spread and flipped decisions; below 0.5 wherever a sub-pixel query change
                # could move the position by a pixel (in_doubt)
                if blend is not None:  # the blended track's position probability
                    features[:, sel] = feats
                    c = np.minimum(blend["c"], p)
                else:
                    feats = position_features(feats, carried, flipped)
                    features[:, sel] = feats
                    c = np.minimum(position_probability(feats), p)
                if cfg.stability_flips:
                    c = np.where(flipped, np.minimum(c, 0.45), c)
                lost = gs == LOST if blend is None else blend["lost"]
                c = np.where(lost, np.minimum(c, float(cfg.carried_cap)), c)
                if blend is None:
                    doubt = in_doubt(lost, carried, found, cfg.max_spread)
                else:
                    doubt = (carried > limit) | (found > limit)
                if cfg.edge_doubt:
                    doubt |= edge
                conf[:, sel] = np.where(doubt | unstable, np.minimum(c, float(cfg.doubt_cap)), c)
                evidence["p"][:, sel], evidence["flipped"][:, sel] = p, flipped
                evidence["carried"][:, sel], evidence["unstable"][:, sel] = carried, unstable
            else:
                vis[:, sel] = gv & ~unstable
                conf[:, sel] = gc
            done += max(T - 1, 1)
            progress("track", done, total)
        self.last_visibility_features = features  # for benchmarks/tracking.py --calibrate
        self.last_evidence = evidence
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
    def _blended(self, pyr: _Frames, q: int, exact: np.ndarray, T: int) -> dict[str, np.ndarray]:
        """Track each query as the barycentric blend of the tracks from its three corners on a
        lattice of ``query_cell`` px (:func:`~blur4d.adapters.track_runs.triangle`, in one call): a track is then a
        continuous function of its query, and moving a query by e moves it by at most
        e / query_cell times the corners' disagreement. The corners' pairwise disagreement
        (``found``, ``carried``, ``flipped``, as between stability runs) says how far that can be."""
        cfg = self.config
        h, w = pyr.grey(q).shape
        corners, wts = triangle(exact, float(cfg.query_cell), (w, h))
        n = len(exact)
        uniq, inv = np.unique(corners.reshape(-1, 2), axis=0, return_inverse=True)
        inv = inv.reshape(3, n)
        helpers = None
        if int(cfg.support_grid) > 0:
            # lost points are carried by a fixed grid of helper points only, so a track depends
            # on its own query alone, not on which other points were asked for
            step = max(w, h) / int(cfg.support_grid)
            if cfg.support_max > 0:
                # as dense as the queries (their number, not their positions), up to support_max
                step = min(step, max(np.sqrt(w * h / min(n, int(cfg.support_max))), 1.0))
            gy_, gx_ = np.mgrid[step / 2:h:step, step / 2:w:step]
            sup = np.c_[gx_.ravel(), gy_.ravel()]
            helpers = np.r_[np.ones(len(sup), bool), np.zeros(len(uniq), bool)]
            inv = inv + len(sup)
            uniq = np.r_[sup, uniq]
        gx, gv, gc, gs, gw = self._track_group(pyr, q, uniq, T, helpers=helpers)
        used = wts > 1e-12
        blend = np.einsum("kn,tknd->tnd", wts, gx[:, inv]) + (exact - np.einsum("kn,knd->nd", wts, corners))
        out = {"xy": blend, "gv": np.einsum("kn,tkn->tn", wts, gv[:, inv]) >= 0.5,
               "gc": np.einsum("kn,tkn->tn", wts, gc[:, inv]),
               "lost": (np.where(used[None], gs[:, inv] == LOST, False)).any(1)}
        # the dominant corner's state stands for the track's where one state is needed
        top = inv[np.argmax(wts, axis=0), np.arange(n)]
        out["gs"] = gs[:, top]
        found = np.zeros((T, n))
        carried = np.zeros((T, n))
        flipped = np.zeros((T, n), bool)
        for a, b in ((0, 1), (0, 2), (1, 2)):
            ia, ib = inv[a], inv[b]
            # the corners' displacements are compared (they start a lattice step apart)
            df, dc, fl = compare_runs(q, gx[:, ia] - uniq[ia], gv[:, ia], gs[:, ia], gw[:, ia],
                                      gx[:, ib] - uniq[ib], gv[:, ib], gs[:, ib], gw[:, ib])
            found, carried, flipped = np.maximum(found, df), np.maximum(carried, dc), flipped | fl
        out.update(found=found, carried=carried, flipped=flipped)
        if cfg.visibility == "calibrated":
            # features of the blended track: its patches where it says the point is, the
            # corners' states and scores blended with their weights (one set per query)
            s = self._scale
            feats = visibility_features(pyr.grey, q, exact, blend, out["gc"], gs[:, inv], weights=wts)
            out["p"] = visibility_probability(feats)
            out["feats"] = position_features(feats, carried / s, flipped)
            out["c"] = position_probability(out["feats"])
        else:
            out["p"] = out["feats"] = None
        return out

    def _unstable(self, pyr: _Frames, q: int, pts: np.ndarray, T: int, gx: np.ndarray, gv: np.ndarray,
                  gs: np.ndarray, gw: np.ndarray, claimed: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Distances (T, n) in tracking pixels between this run and second ones from queries
        moved by ``stability_offset`` (along x, then y: ``stability_runs``) -> ``(found, carried,
        flipped)``, the largest over the second runs.

        ``found``: the largest distance where both runs find the point, from the query frame up
        to each frame (once two runs part, later frames stay in doubt). ``carried``: every
        position is compared (found or carried: a carried position can be called visible too);
        once the runs part, the track stays in doubt on that side of the query frame until both
        verify it against its query patch again. ``flipped`` (T, n) bool: from the first frame
        where a second run found the point another way (``state``, or the small window ``gw``
        instead of the large one) on, on that side of the query frame.

        Only tracks that were ever not verified (or only by the small window), or whose carried
        positions are ``claimed`` visible, are run again (a track verified by the large window
        refines against its own query patch every frame); the others get 0."""
        found = np.zeros(gv.shape)
        carried = np.zeros(gv.shape)
        flipped = np.zeros(gv.shape, bool)
        off = float(self.config.stability_offset)
        hard = fragile(gs, gv, q, gw)
        frag = hard | claimed if claimed is not None else hard
        if off <= 0 or not frag.any():
            return found, carried, flipped
        shifts = ((off, 0.0), (0.0, off))[: int(self.config.stability_runs)]
        # the second (y) run only for the tracks a hard decision steered, unless
        # claimed_runs=2: a track run again only because its carried positions are claimed
        # visible gets the x run
        sets = [np.flatnonzero(frag)]
        sets += [np.flatnonzero(frag if int(self.config.claimed_runs) > 1 else hard)] * (len(shifts) - 1)
        at = np.cumsum([0] + [len(s) for s in sets])
        # the runs in one call (points are tracked independently; a lost copy may be carried by
        # its twin): one pass over the frames, whose cost is mostly per frame, not per point
        # lost points are tried again only where this run found them (the same re-acquisition
        # chances)
        ax, av, _, as_, aw = self._track_group(pyr, q, np.concatenate([pts[f] + np.array(sh) for f, sh in zip(sets, shifts)]),
                                               T, np.concatenate([gv[:, f] for f in sets], axis=1))
        for r, frag in enumerate(sets):
            if not len(frag):
                continue
            part = slice(at[r], at[r + 1])
            bx, bv, bs, bw = ax[:, part], av[:, part], as_[:, part], aw[:, part]
            df, dc, fl = compare_runs(q, gx[:, frag], gv[:, frag], gs[:, frag], gw[:, frag], bx, bv, bs, bw)
            found[:, frag] = np.maximum(found[:, frag], df)
            carried[:, frag] = np.maximum(carried[:, frag], dc)
            flipped[:, frag] |= fl
        return found, carried, flipped

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
        # iterate to convergence (a step below 1e-4 px, up to 100 iterations): stopping at 30
        # iterations or at 0.01 px left points wherever an unconverged (oscillating) solve
        # happened to be, so a 0.001 px change of a query could move its track by tenths of a pixel
        criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, _LK_ITERATIONS, _LK_EPS)
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

    def _verify(self, pyr: _Frames, q: int, t: int, ref: np.ndarray, guess: np.ndarray, lim: float | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Refine ``guess`` in frame t against the query patch at ``ref`` in frame q and check it
        by tracking back -> (position, passed, confidence, passed by the small window only).
        Points that fail are tried once more with a window of ``small_win`` (near an occlusion
        boundary a smaller patch stays on the point's own surface). A refined position farther
        than ``lim`` from ``guess`` fails too.

        Also sets ``self._edge`` (n,) bool: the decision was taken near a threshold (``edge_band``)
        and its alternative (the other window's position, or ``guess`` where both fail) lies more
        than ``max_spread`` away, so a small change of the query could move the point that far."""
        cfg = self.config
        pos, passed, conf, sc = self._verify_win(pyr, q, t, ref, guess, int(cfg.refine_win), lim)
        small = int(cfg.small_win)
        f = np.flatnonzero(~passed)
        by_small = np.zeros(len(passed), bool)
        band = float(cfg.edge_band)
        far = float(cfg.max_spread) * getattr(self, "_scale", 1.0)
        pos_l = pos.copy()
        alt = np.where((sc < 1.0)[:, None], guess, pos_l)  # the large window's other outcome
        near = (sc > 1.0 / band) & (sc < band)
        if small and small < int(cfg.refine_win) and len(f):
            p2, ok2, c2, sc2 = self._verify_win(pyr, q, t, ref[f], guess[f], small, lim)
            pos[f[ok2]], passed[f[ok2]], conf[f[ok2]] = p2[ok2], True, c2[ok2]
            by_small[f[ok2]] = True
        if lim is not None:
            passed &= np.linalg.norm(pos - guess, axis=1) < lim
        final = np.where(passed[:, None], pos, guess)
        edge = near & (np.linalg.norm(alt - final, axis=1) > far)
        if small and small < int(cfg.refine_win) and len(f):
            alt_s = np.where((sc2 < 1.0)[:, None], guess[f], p2)
            edge[f] |= (sc2 > 1.0 / band) & (sc2 < band) & (np.linalg.norm(alt_s - final[f], axis=1) > far)
        self._edge = edge
        return pos, passed, conf, by_small

    def _verify_win(self, pyr: _Frames, q: int, t: int, ref: np.ndarray, guess: np.ndarray, win: int,
                    lim: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        cfg = self.config
        lv = int(cfg.refine_levels)
        pos, ok, res = self._lk(pyr, q, t, ref, guess, lv, win)
        back, ok_b, _ = self._lk(pyr, t, q, pos, ref, lv, win)
        fb = np.linalg.norm(back - ref, axis=1)
        h, w = pyr.grey(t).shape
        inside = (pos[:, 0] >= -0.5) & (pos[:, 0] < w - 0.5) & (pos[:, 1] >= -0.5) & (pos[:, 1] < h - 0.5)
        # how far each check is from its threshold (< 1: passes)
        score = np.maximum(fb / cfg.fb_threshold, res / cfg.residual_threshold)
        score = np.where(ok & ok_b & inside & np.isfinite(score), score, np.inf)
        passed = score < 1.0
        if lim is not None:  # the caller's distance check (applied after both windows)
            score = np.maximum(score, np.linalg.norm(pos - guess, axis=1) / lim)
        conf = np.exp(-np.log(2) * ((fb / cfg.fb_threshold) ** 2 + (res / cfg.residual_threshold) ** 2))
        conf = np.where(ok & ok_b & inside, conf, 0.0)
        return pos, passed, conf, score

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
               last_seen: np.ndarray, anchor: np.ndarray | None = None, helpers: np.ndarray | None = None
               ) -> np.ndarray:
        """Positions at frame t of the ``lost`` points, moved like nearby visible points that
        moved like them before they were lost.

        With ``anchor`` (n,) (the frame each point was last verified against its query patch):
        the point's position there plus its neighbours' median displacement from there to t, so
        a carried position does not depend on the path the point took after its last
        verification (chained steps, the frame it was lost at) nor on per-frame changes of the
        neighbour set: a sub-pixel change of a query that flips one of those decisions does not
        move it. Without: frame-to-frame median steps from the previous position."""
        out = xy[prev, lost].copy()
        if anchor is None:
            a_of = np.full(len(lost), prev)
        else:
            a_of = anchor[lost]
        for a in np.unique(a_of):
            sub = np.flatnonzero(a_of == a)
            moved = self._carry_from(xy, vis, q, t, int(a), lost[sub], last_seen, helpers)
            if moved is not None:
                out[sub] = moved
        return out

    def _carry_from(self, xy: np.ndarray, vis: np.ndarray, q: int, t: int, a: int, lost: np.ndarray,
                    last_seen: np.ndarray, helpers: np.ndarray | None = None) -> np.ndarray | None:
        from scipy.spatial import cKDTree

        support = np.flatnonzero(vis[a] & vis[t] & (True if helpers is None else helpers))
        if len(support) == 0 or len(lost) == 0:
            return None
        k = min(len(support), int(self.config.carry_pool) or 12 * int(self.config.neighbours))
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
        step = xy[t, chosen] - xy[a, chosen]
        return xy[a, lost] + np.median(step, axis=1)

    def _step(self, pyr: _Frames, q: int, t: int, prev: int, a: np.ndarray, ref: np.ndarray, xy: np.ndarray,
              vis: np.ndarray, conf: np.ndarray, state: np.ndarray, small: np.ndarray, edge: np.ndarray) -> None:
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
        # the chain check at its threshold's edge: its other outcome (carried instead of chained
        # on, or the reverse) is compared once the carried positions are known
        band = float(cfg.edge_band)
        with np.errstate(invalid="ignore"):
            s_c = np.where(ok_f & ok_b, np.maximum(fb_c / cfg.fb_threshold, res_f / cfg.residual_threshold), np.inf)
        near_c = (s_c > 1.0 / band) & (s_c < band) & np.isfinite(s_c)
        self._chain_edge = (a[near_c], g[near_c])
        sel = np.flatnonzero(chain_ok)
        if not len(sel):
            return
        A, G = a[sel], g[sel]
        pos, passed, c, by_small = self._verify(pyr, q, t, ref[A], G, cfg.refine_win / 2)
        edge[t, A] |= self._edge
        st = np.where(passed, VERIFIED, LOST).astype(np.int8)
        if cfg.chain_check and prev != q:
            fall = ~passed
            c_chain = 0.5 * np.exp(-np.log(2) * ((fb_c[sel] / cfg.fb_threshold) ** 2
                                                 + (res_f[sel] / cfg.residual_threshold) ** 2))
            pos[fall], c[fall], passed[fall] = G[fall], c_chain[fall], True
            st[fall] = CHAINED
        xy[t, A] = np.where(passed[:, None], pos, G)
        vis[t, A] = passed
        conf[t, A] = c
        state[t, A] = st
        small[t, A] = passed & by_small & (st == VERIFIED)

    def _track_group(self, pyr: _Frames, q: int, ref: np.ndarray, T: int, retry_where: np.ndarray | None = None,
                     helpers: np.ndarray | None = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Positions (T, n, 2), found (T, n), confidence (T, n), how each was found (T, n)
        int8: QUERY, VERIFIED, CHAINED, MATCHED or LOST (carried by neighbours), and verified by
        the small window only (T, n). Lost points are tried again only where ``retry_where``
        (T, n) is true, if given."""
        cfg = self.config
        n = len(ref)
        xy = np.zeros((T, n, 2))
        vis = np.zeros((T, n), bool)
        conf = np.zeros((T, n))
        state = np.full((T, n), LOST, np.int8)
        small = np.zeros((T, n), bool)
        edge = np.zeros((T, n), bool)
        xy[q], vis[q], conf[q], state[q] = ref, True, 1.0, QUERY
        pyr.pinned = {q}
        for d in (1, -1):
            last_seen = np.full(n, q)
            anchor = np.full(n, q)
            for t in range(q + d, T if d > 0 else -1, d):
                prev = t - d
                was = vis[prev]
                a = np.flatnonzero(was)
                if len(a):
                    self._step(pyr, q, t, prev, a, ref, xy, vis, conf, state, small, edge)
                lost = np.flatnonzero(~vis[t])
                ce, cg = self._chain_edge if len(a) else (np.zeros(0, int), np.zeros((0, 2)))
                self._chain_edge = (np.zeros(0, int), np.zeros((0, 2)))
                if len(ce) and cfg.edge_doubt and len(lost) < n:
                    # where the chain check decided at its edge: the other outcome's position
                    alt = self._carry(xy, vis, q, t, prev, ce, last_seen,
                                      anchor if cfg.carry_anchor else None, helpers)
                    chained = vis[t, ce]
                    other = np.where(chained[:, None], alt, cg)
                    here = np.where(chained[:, None], xy[t, ce], alt)
                    far = float(cfg.max_spread) * getattr(self, "_scale", 1.0)
                    edge[t, ce] |= np.linalg.norm(other - here, axis=1) > far
                if len(lost):
                    # lost now (or earlier): carried by neighbours; then try to find it again
                    xy[t, lost] = self._carry(xy, vis, q, t, prev, lost, last_seen,
                                              anchor if cfg.carry_anchor else None, helpers)
                    retry = lost if cfg.reacquire else lost[was[lost]]
                    if retry_where is not None:
                        retry = retry[retry_where[t, retry]]
                    if len(retry):
                        pos, passed, c, by_small = self._verify(pyr, q, t, ref[retry], xy[t, retry], cfg.refine_win)
                        edge[t, retry] |= self._edge
                        xy[t, retry[passed]] = pos[passed]
                        vis[t, retry] = passed
                        conf[t, retry] = c
                        state[t, retry[passed]] = VERIFIED
                        small[t, retry[passed]] = by_small[passed]
                        if cfg.match_carried:
                            # the query patch held part of an occluder, so LK cannot lock on; but
                            # the carried position shows the query's own small patch again
                            f = retry[~passed]
                            res, contrast = self._patch_residual(pyr, q, t, ref[f], xy[t, f], int(cfg.small_win or 5))
                            # a flat patch matches anywhere: it cannot confirm a carried position
                            seen = (res < cfg.residual_threshold / 2) & (contrast >= cfg.min_texture)
                            vis[t, f[seen]] = True
                            conf[t, f[seen]] = 0.25 * np.exp(-np.log(2) * (res[seen] / cfg.residual_threshold) ** 2)
                            state[t, f[seen]] = MATCHED
                last_seen = np.where(vis[t], t, last_seen)
                anchor = np.where(state[t] == VERIFIED, t, anchor)
        # a decision taken at a threshold's edge keeps its alternative's offset until the point
        # is verified by the large window clear of the edge (chained steps carry it on)
        for d in (1, -1):
            for t in range(q + 2 * d, T if d > 0 else -1, d):
                keep = ~((state[t] == VERIFIED) & ~small[t] & ~edge[t])
                edge[t] |= edge[t - d] & keep
        self._last_edge = edge
        return xy, vis, conf, state, small
