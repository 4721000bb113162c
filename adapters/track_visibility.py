"""Visibility of tracked points as a calibrated probability.

The tracker (:mod:`blur4d.adapters.tracking`) records how it found each point in each frame
(verified against the query patch, only chained frame to frame, re-found by a patch match at a
carried position, or lost and carried by its neighbours) with its internal score. Those hard
decisions are tuned thresholds, not probabilities: on fast real motion they call most visible
points occluded. Here they become evidence for one logistic model, together with how the point's
patch now compares to its query patch (normalised cross-correlation at two sizes, grey-level
difference), how long ago it was last verified, how far the frame is from the query frame, and
how textured the query patch is:

    p(visible) = sigmoid(COEF . features)

``COEF`` was fitted (maximum likelihood) by ``python benchmarks/tracking.py --calibrate`` on
ray-cast occluder clips whose seeds are never used for evaluation
(``benchmarks/tracking.py: RAYCAST_CALIB``); the benchmark prints the reliability table
(predicted probability against the observed visible fraction) on the evaluation clips. A point
outside the frame is not visible (TAP-Vid's convention). ``visible`` is ``p >= 0.5``: the
decision that maximises the expected number of right flags when ``p`` is calibrated.

A second model of the same form (:data:`COEF_POSITION`, with the stability run's spread as one
more input) gives ``Tracks.confidence``: p(visible and within 4 px of the truth at TAP-Vid's
256x256). A point can thus be visible (in view) with a low confidence (its position unsure, e.g.
carried by its neighbours, or moved by a sub-pixel change of its query).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

__all__ = ["QUERY", "VERIFIED", "CHAINED", "MATCHED", "LOST", "FEATURES", "COEF", "POSITION_FEATURES",
           "COEF_POSITION", "visibility_features", "visibility_probability", "position_features",
           "position_probability"]

QUERY, VERIFIED, CHAINED, MATCHED, LOST = 0, 1, 2, 3, 4
"""How the tracker found a point in a frame (``state`` codes)."""

FEATURES = ("bias", "score", "chained", "matched", "lost", "ncc11", "ncc5", "diff5", "since", "dt", "texture",
            "border")
"""Names of the model's inputs, in order."""

COEF = np.array([1.4333, 2.9134, -1.0014, -0.0915, -2.4610, 0.9110, 0.8738, -0.0577, 0.6173, -0.3126, -0.3589,
                 0.9142])
"""Logistic weights for :data:`FEATURES` (see the module docstring for how they were fitted)."""

POSITION_FEATURES = FEATURES + ("spread",)
"""Inputs of the position model: :data:`FEATURES` and how far (log1p of input pixels) a second run
from a query moved by a fraction of a pixel put the point (0 where it was not run)."""

COEF_POSITION: np.ndarray | None = np.array([-0.5222, 1.8543, -1.0337, -0.1311, -2.3282, 1.1777, 2.0804, 0.1560, 0.1160,
                                              -0.2728, -0.3510, 2.1386, -0.3232])
"""Logistic weights for :data:`POSITION_FEATURES`: p(visible and within 4 px at 256x256), fitted
(maximum likelihood) by ``python benchmarks/tracking.py --calibrate --modes first`` on the
calibration clips (196 k samples, 72 % within 4 px), never on the evaluation clips. ``Tracks.confidence``
is min(this, p(visible)), at most 0.25 where a second run from a sub-pixel-moved query put the
point more than ``max_spread`` away."""


def _patches(grey: np.ndarray, centres: np.ndarray, win: int) -> np.ndarray:
    """(N, win*win) bilinear samples of ``grey`` around ``centres`` (N, 2); NaN outside."""
    import cv2

    r = (win - 1) / 2
    o = np.stack(np.meshgrid(np.linspace(-r, r, win), np.linspace(-r, r, win)), -1).reshape(1, -1, 2)
    img = grey.astype(np.float32)
    out = np.empty((len(centres), win * win), np.float32)
    for s in range(0, len(centres), 30000):  # remap maps are limited to 32767 rows
        p = (centres[s:s + 30000, None, :] + o).astype(np.float32)
        out[s:s + 30000] = cv2.remap(img, p[..., 0], p[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                     borderValue=np.nan)
    return out


def _ncc(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ok = np.isfinite(a).all(1) & np.isfinite(b).all(1)
    a = np.where(ok[:, None], a, 0.0)
    b = np.where(ok[:, None], b, 0.0)
    a = a - a.mean(1, keepdims=True)
    b = b - b.mean(1, keepdims=True)
    den = np.sqrt((a * a).sum(1) * (b * b).sum(1))
    return np.where(ok & (den > 1e-6), (a * b).sum(1) / np.maximum(den, 1e-6), 0.0)


def _since_verified(state: np.ndarray, q: int) -> np.ndarray:
    """Frames since the point was last verified (or queried), counted away from the query frame."""
    T, n = state.shape
    out = np.zeros((T, n))
    good = (state == VERIFIED) | (state == QUERY)
    for d in (1, -1):
        last = np.full(n, float(q))
        for t in range(q + d, T if d > 0 else -1, d):
            out[t] = abs(t - last)
            last = np.where(good[t], float(t), last)
    return out


def visibility_features(grey: Callable[[int], np.ndarray], q: int, ref: np.ndarray, xy: np.ndarray,
                        score: np.ndarray, state: np.ndarray) -> np.ndarray:
    """Features (T, n, len(FEATURES)) of points queried at frame ``q`` at ``ref`` (n, 2), found
    at ``xy`` (T, n, 2) with the tracker's ``score`` and ``state`` (T, n); ``grey(t)`` gives
    frame t in the tracker's grey scale (same pixels as ``xy``)."""
    T, n = state.shape
    g_q = grey(q)
    h, w = g_q.shape
    a11, a5 = _patches(g_q, ref, 11), _patches(g_q, ref, 5)
    texture = np.log1p(np.nan_to_num(np.nanstd(a11, axis=1), nan=0.0))
    F = np.zeros((T, n, len(FEATURES)))
    F[..., 0] = 1.0
    F[..., 1] = score
    F[..., 2] = state == CHAINED
    F[..., 3] = state == MATCHED
    F[..., 4] = state == LOST
    F[..., 8] = np.log1p(_since_verified(state, q))
    F[..., 9] = np.log1p(np.abs(np.arange(T) - q))[:, None]
    F[..., 10] = texture[None]
    for t in range(T):
        if t == q:
            F[t, :, 5:8] = (1.0, 1.0, 0.0)
        else:
            g = grey(t)
            b11, b5 = _patches(g, xy[t], 11), _patches(g, xy[t], 5)
            F[t, :, 5] = _ncc(a11, b11)
            F[t, :, 6] = _ncc(a5, b5)
            d = np.abs(a5 - b5).mean(1)
            F[t, :, 7] = np.where(np.isfinite(d), d, 255.0) / 20.0
    x, y = xy[..., 0], xy[..., 1]
    margin = np.minimum.reduce([x + 0.5, w - 0.5 - x, y + 0.5, h - 0.5 - y])
    F[..., 11] = np.clip(margin, -1.0, 8.0) / 8.0
    return F


def visibility_probability(F: np.ndarray, coef: np.ndarray = COEF) -> np.ndarray:
    """p(visible) for features (..., len(FEATURES)); 0 outside the frame."""
    coef = np.asarray(coef, np.float64)
    z = F[..., :len(coef)] @ coef
    p = 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))
    return np.where(F[..., 11] > 0, p, 0.0)


def position_features(F: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """:data:`FEATURES` (T, n, k) with the stability-run ``spread`` (T, n, input pixels) appended."""
    return np.concatenate([F[..., :len(FEATURES)], np.log1p(np.asarray(spread, np.float64))[..., None]], axis=-1)


def position_probability(F: np.ndarray, coef: np.ndarray | None = None) -> np.ndarray:
    """p(visible and within 4 px of the truth at TAP-Vid's 256x256) for :data:`POSITION_FEATURES`
    (..., len(POSITION_FEATURES)); 0 outside the frame."""
    coef = COEF_POSITION if coef is None else coef
    if coef is None:
        return visibility_probability(F[..., :len(FEATURES)])
    return visibility_probability(F, coef)
