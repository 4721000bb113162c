"""Faces over time: stable ids (Hungarian matching on predicted boxes), One-Euro smoothing,
detections -> FaceTracks.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from blur4d.types import FaceTracks, Video

from .config import FaceMeshConfig
from .detection import NUM_LANDMARKS, _dedupe, _landmark_boxes
from .model import FaceModel
from .pose import solve_head_pose


def _box_centre_size(b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    b = np.asarray(b, np.float64).reshape(-1, 4)
    c = np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2], axis=1)
    s = np.sqrt(np.maximum(b[:, 2] - b[:, 0], 1e-3) * np.maximum(b[:, 3] - b[:, 1], 1e-3))
    return c, s


def assign_ids(boxes: Sequence[np.ndarray], *, max_gap: int = 5, max_cost: float = 1.0,
               momentum: float = 0.6) -> list[np.ndarray]:
    """Stable track indices for per-frame detections.

    ``boxes[t]`` (n_t, 4) x0, y0, x1, y1. Returns per frame (n_t,) int track indices, numbered in
    order of first appearance. Each live track predicts its centre and log-size at frame t with
    a constant velocity; detections are matched by the Hungarian algorithm on
    ``|centre - predicted| / predicted size + |log(size / predicted size)|`` (after a gap, the
    smaller of that and the same cost against the last seen box), pairs costing more
    than ``max_cost`` (twice that for a track seen once, which has no velocity yet) are not
    matched, unmatched detections start tracks, and tracks unseen for more than ``max_gap`` frames
    are closed.
    """
    from scipy.optimize import linear_sum_assignment

    centre: list[np.ndarray] = []
    logsize: list[float] = []
    vel: list[np.ndarray] = []
    vlog: list[float] = []
    last: list[int] = []
    seen: list[int] = []
    out: list[np.ndarray] = []
    for t, bt in enumerate(boxes):
        c, s = _box_centre_size(bt)
        n = len(c)
        ids = np.full(n, -1, int)
        live = [j for j in range(len(last)) if t - last[j] - 1 <= max_gap]
        if n and live:
            cost = np.empty((len(live), n))
            for r, j in enumerate(live):
                dt = t - last[j]
                pc = centre[j] + vel[j] * dt
                pls = logsize[j] + vlog[j] * dt
                cost[r] = np.linalg.norm(c - pc, axis=1) / math.exp(pls) + np.abs(np.log(s) - pls)
                if dt > 1:  # across a gap the velocity may be stale (a face lost while its box drifted):
                    # a detection where the face was last seen continues it too
                    still = np.linalg.norm(c - centre[j], axis=1) / math.exp(logsize[j]) + np.abs(np.log(s) - logsize[j])
                    cost[r] = np.minimum(cost[r], still)
            rows, cols = linear_sum_assignment(np.minimum(cost, 1e6))
            for r, i in zip(rows, cols):
                gate = max_cost * (2.0 if seen[live[r]] == 1 else 1.0)  # no velocity yet: wider gate
                if cost[r, i] <= gate:
                    ids[i] = live[r]
        for i in range(n):
            j = int(ids[i])
            if j < 0:
                centre.append(c[i].copy())
                logsize.append(float(np.log(s[i])))
                vel.append(np.zeros(2))
                vlog.append(0.0)
                last.append(t)
                seen.append(1)
                ids[i] = len(last) - 1
                continue
            dt = t - last[j]
            v_new = (c[i] - centre[j]) / dt
            vl_new = (float(np.log(s[i])) - logsize[j]) / dt
            k = 1.0 if seen[j] == 1 else momentum
            vel[j] = k * v_new + (1 - k) * vel[j]
            vlog[j] = k * vl_new + (1 - k) * vlog[j]
            centre[j] = c[i].copy()
            logsize[j] = float(np.log(s[i]))
            last[j] = t
            seen[j] += 1
        out.append(ids)
    return out


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


def one_euro(t: np.ndarray, x: np.ndarray, *, min_cutoff: float = 1.0, beta: float = 0.0,
             d_cutoff: float = 1.0) -> np.ndarray:
    """Causal One-Euro filter (Casiez, Roussel, Vogel 2012) of samples ``x`` (T, D) at increasing
    times ``t`` (T,) seconds; each of the D components is filtered on its own."""
    t = np.asarray(t, np.float64)
    x = np.asarray(x, np.float64).reshape(len(t), -1)
    y = np.empty_like(x)
    if len(t) == 0:
        return y
    y[0] = x[0]
    dx = np.zeros(x.shape[1])
    for k in range(1, len(t)):
        dt = max(float(t[k] - t[k - 1]), 1e-6)
        a_d = _alpha(d_cutoff, dt)
        dx = a_d * (x[k] - y[k - 1]) / dt + (1 - a_d) * dx
        a = _alpha(min_cutoff + beta * np.abs(dx), dt)
        y[k] = a * x[k] + (1 - a) * y[k - 1]
    return y


def smooth_series(t: np.ndarray, x: np.ndarray, valid: np.ndarray, *, mode: str = "forward-backward",
                  **params: float) -> np.ndarray:
    """Smooth (T, D) samples over each run of consecutive ``valid`` frames (a gap restarts the
    filter); invalid rows are returned unchanged. ``mode``: forward-backward, causal or none."""
    x = np.asarray(x, np.float64)
    out = x.copy()
    if mode == "none":
        return out
    t = np.asarray(t, np.float64)
    idx = np.flatnonzero(valid)
    if len(idx) == 0:
        return out
    runs = np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1)
    for r in runs:
        if len(r) < 2:
            continue
        fwd = one_euro(t[r], x[r], **params)
        if mode == "causal":
            out[r] = fwd.reshape(x[r].shape)
            continue
        out[r] = _forward_backward(t[r], x[r].reshape(len(r), -1), params).reshape(x[r].shape)
    return out


def _forward_backward(t: np.ndarray, x: np.ndarray, params: dict[str, float]) -> np.ndarray:
    """Mean of a forward and a backward One-Euro pass (their lags cancel), over the run extended
    at both ends by odd reflection (as filtfilt does), so neither pass starts cold at an end."""
    n = len(t)
    pad = min(n - 1, 8)
    xp = np.concatenate([2 * x[0] - x[pad:0:-1], x, 2 * x[-1] - x[-2:-pad - 2:-1]]) if pad else x
    tp = np.concatenate([2 * t[0] - t[pad:0:-1], t, 2 * t[-1] - t[-2:-pad - 2:-1]]) if pad else t
    fwd = one_euro(tp, xp, **params)
    bwd = one_euro(tp[-1] - tp[::-1], xp[::-1], **params)[::-1]
    return (0.5 * (fwd + bwd))[pad:pad + n]


def _drop_short_tracks(dets: list[np.ndarray], ids: list[np.ndarray],
                       min_frames: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Temporal consistency: drop the detections of ids seen in fewer than ``min_frames`` frames
    (a face does not flash into one frame) and renumber the rest in order of appearance."""
    counts = np.bincount(np.concatenate([np.asarray(i, int) for i in ids] + [np.zeros(0, int)]))
    keep_ids = np.flatnonzero(counts >= max(1, min_frames))
    new = {int(j): k for k, j in enumerate(keep_ids)}
    out_d, out_i = [], []
    for d, i in zip(dets, ids):
        sel = np.array([int(j) in new for j in i], bool).reshape(-1)
        out_d.append(d[sel])
        out_i.append(np.array([new[int(j)] for j in np.asarray(i)[sel]], int))
    return out_d, out_i


def _build_tracks(dets: list[np.ndarray], video: Video, Ks: np.ndarray, model: FaceModel,
                  cfg: FaceMeshConfig) -> FaceTracks:
    from scipy.spatial.transform import Rotation

    T = video.num_frames
    dets = [_dedupe(d) for d in dets]
    ids = assign_ids([_landmark_boxes(d) for d in dets], max_gap=int(cfg.max_gap),
                     max_cost=float(cfg.max_match_cost))
    dets, ids = _drop_short_tracks(dets, ids, min(int(cfg.min_track_frames), T))
    M = int(max((int(i.max()) + 1 for i in ids if len(i)), default=0))
    present = np.zeros((T, M), bool)
    lm_raw = np.full((T, M, NUM_LANDMARKS, 3), np.nan, np.float32)
    for t in range(T):
        for k, m in enumerate(ids[t]):
            present[t, m] = True
            lm_raw[t, m] = dets[t][k]
    pose_raw = np.full((T, M, 4, 4), np.nan)
    for t, m in zip(*np.nonzero(present)):
        pose = solve_head_pose(lm_raw[t, m], model, Ks[t])
        if pose is not None:
            pose_raw[t, m] = pose
    times = np.arange(T) / float(video.fps)
    lm = lm_raw.copy()
    pose = pose_raw.copy()
    p_common = {"min_cutoff": float(cfg.min_cutoff), "d_cutoff": float(cfg.d_cutoff)}
    for m in range(M):
        rows = present[:, m]
        if cfg.smoothing == "none" or rows.sum() < 2:
            continue
        size = float(np.nanmedian(np.linalg.norm(np.diff(_landmark_boxes(lm_raw[rows, m]).reshape(-1, 2, 2),
                                                         axis=1)[:, 0], axis=1)))
        size = max(size, 1.0)
        flat = lm_raw[:, m].reshape(T, -1).astype(np.float64) / size
        sm = smooth_series(times, flat, rows, mode=cfg.smoothing, beta=float(cfg.beta_landmarks), **p_common)
        lm[:, m] = (sm * size).reshape(T, NUM_LANDMARKS, 3).astype(np.float32)
        ok = rows & np.isfinite(pose_raw[:, m, 0, 0])
        if ok.sum() < 2:
            continue
        q = np.zeros((T, 4))
        q[ok] = Rotation.from_matrix(pose_raw[ok, m, :3, :3]).as_quat()
        prev = None
        for t in np.flatnonzero(ok):  # one hemisphere, so components vary continuously
            if prev is not None and q[t] @ prev < 0:
                q[t] = -q[t]
            prev = q[t]
        qs = smooth_series(times, q, ok, mode=cfg.smoothing, beta=float(cfg.beta_rotation), **p_common)
        tr = smooth_series(times, pose_raw[:, m, :3, 3], ok, mode=cfg.smoothing,
                           beta=float(cfg.beta_translation), **p_common)
        pose[ok, m, :3, :3] = Rotation.from_quat(qs[ok]).as_matrix()
        pose[ok, m, :3, 3] = tr[ok]
    bbox = np.full((T, M, 4), np.nan, np.float32)
    if M:
        bbox[present] = _landmark_boxes(lm[present]).astype(np.float32)
    constant_K = bool(np.allclose(Ks, Ks[:1]))
    return FaceTracks(
        ids=np.arange(M, dtype=np.int32), present=present, landmarks=lm, bbox=bbox, cam_from_head=pose,
        cam_from_head_raw=pose_raw, K=Ks[0].copy() if constant_K else Ks.copy(),
        image_size=(video.width, video.height), intervals=video.intervals, landmarks_raw=lm_raw,
    )
