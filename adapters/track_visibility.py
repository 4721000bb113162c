"""Visibility of tracked points as a calibrated probability.

The tracker (:mod:`blur4d.adapters.tracking`) records how it found each point in each frame
(verified against the query patch, only chained frame to frame, re-found by a patch match at a
carried position, or lost and carried by its neighbours) with its internal score. Those hard
decisions are tuned thresholds, not probabilities: on fast real motion they call most visible
points occluded. Here they become evidence for one logistic model, together with how the point's
patch now compares to its query patch (normalised cross-correlation at three sizes, grey-level
difference, contrast changed and contrast gained), how long ago it was last verified, how far the frame is from the query frame, and
how textured the query patch is:

    p(visible) = sigmoid(COEF . features)

``COEF`` was fitted (maximum likelihood) by ``python benchmarks/tracking.py --calibrate`` on
ray-cast occluder clips whose seeds are never used for evaluation
(``benchmarks/tracking.py: RAYCAST_CALIB``) and one real 240 fps clip against dense-flow
pseudo-truth (realblur 165; the features use no DIS flow, the pseudo-truth's method); the benchmark prints the reliability table
(predicted probability against the observed visible fraction) on the evaluation clips. A point
outside the frame is not visible (TAP-Vid's convention). ``visible`` is ``p >= 0.5``: the
decision that maximises the expected number of right flags when ``p`` is calibrated.

A second model of the same form (:data:`COEF_POSITION`, with the stability runs' spread and
flipped decisions as inputs) gives ``Tracks.confidence``: p(visible and within 4 px of the truth at TAP-Vid's
256x256). A point can thus be visible (in view) with a low confidence (its position unsure, e.g.
carried by its neighbours, or moved by a sub-pixel change of its query).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

__all__ = ["QUERY", "VERIFIED", "CHAINED", "MATCHED", "LOST", "FEATURES", "COEF", "POSITION_FEATURES",
           "COEF_POSITION", "TRAIN_VISIBLE", "visibility_features", "visibility_probability", "position_features",
           "position_probability", "in_doubt", "adapt_prior"]

QUERY, VERIFIED, CHAINED, MATCHED, LOST = 0, 1, 2, 3, 4
"""How the tracker found a point in a frame (``state`` codes)."""

FEATURES = ("bias", "score", "chained", "matched", "lost", "ncc11", "ncc5", "diff5", "since", "dt", "texture",
            "border", "ncc21", "contrast", "lost_texture", "lost_ncc21", "lost_contrast", "gain", "lost_gain")
"""Names of the model's inputs, in order."""

COEF = np.array([1.5125, 1.6916, -1.0861, 0.0699, -1.2322, 0.3359, 1.1693, 0.1130, 0.5421, -0.9945, 0.3521, 2.6341,
                 0.7606, -0.1299, -1.0879, 0.2214, 0.0180, -0.5251, -0.3857])
"""Logistic weights for :data:`FEATURES`, fitted (maximum likelihood) by ``python benchmarks/tracking.py
--calibrate --modes first --realblur-share 0.1`` on the ray-cast calibration seeds (196 k samples) and
the realblur clip 165 against its flow pseudo-truth (6.9 k samples, 10 % of the weight: real footage
has flat patches that the tracker loses while they stay in view; ``ncc21``, ``contrast`` and their
products with ``lost`` tell those from covered points; ``gain`` and ``lost_gain``, the contrast a
patch GAINED over its query patch, tell a textured occluder on a flat point from drift: blur,
lighting and deformation keep or lower a patch's contrast, while ``contrast`` is the absolute change
and mixed both). Never fitted on the evaluation seeds or on realblur 249. Refit (t13j) on the
blended tracks of the default ``query_cell``: the state features are then the corners' weighted
shares and the patch features are read at the blended position; with ``query_cell=0`` (one run
per query) the models are used as they are, not refitted for that path."""

TRAIN_VISIBLE = 0.803
"""Weighted visible share of the calibration samples (the prior :func:`adapt_prior` starts from)."""

POSITION_FEATURES = FEATURES + ("spread", "flipped")
"""Inputs of the position model: :data:`FEATURES`, how far (log1p of input pixels) the runs of a
track part (the blended corners' displacements, pairwise; with ``query_cell=0`` a second run from
a query moved by a fraction of a pixel, 0 where it was not run), and whether such a run found the
point another way (a flipped decision) from that frame on."""

COEF_POSITION: np.ndarray | None = np.array([0.5936, 1.5219, -1.2181, -0.0947, -0.7448, 0.2437, 1.6436, 0.1362,
                                             0.1983, -0.4343, -0.1674, 2.1427, 0.9319, 0.0136, -0.7774, 0.6548,
                                             -0.3701, -0.5651, -0.3412, -0.6789, 0.3915])
"""Logistic weights for :data:`POSITION_FEATURES`: p(visible and within 4 px at 256x256), fitted with
:data:`COEF` on the same samples. ``Tracks.confidence`` is min(this, p(visible)), at most
``doubt_cap`` (0.45) where a sub-pixel query change could move the position by a pixel (the
corners part by more than 8 px; with ``query_cell=0``, :func:`in_doubt`)."""


def _patches(grey: np.ndarray, centres: np.ndarray, win: int) -> np.ndarray:
    """(N, win*win) bilinear samples of ``grey`` around ``centres`` (N, 2); NaN outside."""
    import cv2

    r = (win - 1) / 2
    o = np.stack(np.meshgrid(np.linspace(-r, r, win), np.linspace(-r, r, win)), -1).reshape(1, -1, 2).astype(np.float32)
    img = grey.astype(np.float32)
    c32 = np.asarray(centres, np.float32)
    out = np.empty((len(centres), win * win), np.float32)
    for s in range(0, len(centres), 30000):  # remap maps are limited to 32767 rows
        p = c32[s:s + 30000, None, :] + o  # float32 throughout (a float64 sum cost 3x the remap)
        out[s:s + 30000] = cv2.remap(img, p[..., 0], p[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                     borderValue=np.nan)
    return out


def _nested_patches(grey: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 11, 5 and 21 px :func:`_patches` around ``centres``, from one 21 x 21 sampling (the
    smaller windows are its central rows and columns: the same sample positions)."""
    a21 = _patches(grey, centres, 21)
    sq = a21.reshape(len(centres), 21, 21)
    return sq[:, 5:16, 5:16].reshape(len(centres), -1), sq[:, 8:13, 8:13].reshape(len(centres), -1), a21


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
                        score: np.ndarray, state: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Features (T, n, len(FEATURES)) of points queried at frame ``q`` at ``ref`` (n, 2), found
    at ``xy`` (T, n, 2) with the tracker's ``score`` and ``state`` (T, n); ``grey(t)`` gives
    frame t in the tracker's grey scale (same pixels as ``xy``).

    With ``weights`` (k, n), ``state`` is (T, k, n): the states of k runs whose positions were
    blended into ``xy`` with those weights; the state features are blended likewise (the share
    of the weight that was chained, lost...), the patch features are read at ``xy``."""
    T, n = state.shape[0], state.shape[-1]
    g_q = grey(q)
    h, w = g_q.shape
    a11, a5, a21 = _nested_patches(g_q, ref)
    texture = np.log1p(np.nan_to_num(np.nanstd(a11, axis=1), nan=0.0))
    F = np.zeros((T, n, len(FEATURES)))
    F[..., 0] = 1.0
    F[..., 1] = score
    if weights is None:
        F[..., 2] = state == CHAINED
        F[..., 3] = state == MATCHED
        F[..., 4] = state == LOST
        F[..., 8] = np.log1p(_since_verified(state, q))
    else:
        F[..., 2] = np.einsum("kn,tkn->tn", weights, state == CHAINED)
        F[..., 3] = np.einsum("kn,tkn->tn", weights, state == MATCHED)
        F[..., 4] = np.einsum("kn,tkn->tn", weights, state == LOST)
        since = np.stack([_since_verified(state[:, k], q) for k in range(state.shape[1])], axis=1)
        F[..., 8] = np.einsum("kn,tkn->tn", weights, np.log1p(since))
    F[..., 9] = np.log1p(np.abs(np.arange(T) - q))[:, None]
    F[..., 10] = texture[None]
    for t in range(T):
        if t == q:
            F[t, :, 5:8] = (1.0, 1.0, 0.0)
            F[t, :, 12:14] = (1.0, 0.0)
        else:
            g = grey(t)
            b11, b5, b21 = _nested_patches(g, xy[t])
            F[t, :, 5] = _ncc(a11, b11)
            F[t, :, 6] = _ncc(a5, b5)
            d = np.abs(a5 - b5).mean(1)
            F[t, :, 7] = np.where(np.isfinite(d), d, 255.0) / 20.0
            # the point's wider surroundings, and whether its patch kept its contrast (a flat
            # patch stays flat where it is not covered; an occluder brings its own texture)
            F[t, :, 12] = _ncc(a21, b21)
            full = np.isfinite(b11).all(1)
            tb = np.log1p(np.where(full[:, None], b11, 0.0).std(axis=1))
            F[t, :, 13] = np.where(full, np.abs(tb - texture), 3.0)
            # contrast gained (signed): an occluder brings its own texture onto a flat point,
            # while blur, lighting and deformation (drift) keep or lower a patch's contrast
            F[t, :, 17] = np.where(full, np.maximum(tb - texture, 0.0), 0.0)
    x, y = xy[..., 0], xy[..., 1]
    margin = np.minimum.reduce([x + 0.5, w - 0.5 - x, y + 0.5, h - 0.5 - y])
    F[..., 11] = np.clip(margin, -1.0, 8.0) / 8.0
    lost = F[..., 4]
    F[..., 14], F[..., 15], F[..., 16] = lost * F[..., 10], lost * F[..., 12], lost * F[..., 13]
    F[..., 18] = lost * F[..., 17]
    return F


def visibility_probability(F: np.ndarray, coef: np.ndarray = COEF) -> np.ndarray:
    """p(visible) for features (..., len(FEATURES)); 0 outside the frame."""
    coef = np.asarray(coef, np.float64)
    z = F[..., :len(coef)] @ coef
    p = 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))
    return np.where(F[..., 11] > 0, p, 0.0)


def position_features(F: np.ndarray, spread: np.ndarray, flipped: np.ndarray | None = None) -> np.ndarray:
    """:data:`FEATURES` (T, n, k) with the stability-run ``spread`` (T, n, input pixels) and
    ``flipped`` (T, n, bool: a stability run took another decision for the point) appended."""
    spread = np.asarray(spread, np.float64)
    flipped = np.zeros(spread.shape) if flipped is None else np.asarray(flipped, np.float64)
    return np.concatenate([F[..., :len(FEATURES)], np.log1p(spread)[..., None], flipped[..., None]], axis=-1)


def in_doubt(lost: np.ndarray, spread: np.ndarray, found_spread: np.ndarray, max_spread: float) -> np.ndarray:
    """(T, n) where a confidence must stay below 0.5 whatever the model says: the stability runs
    put the point more than ``max_spread`` away (carried or found positions), or, for a carried
    (lost) position, more than half that (a carried position follows its neighbours' decisions;
    0.001 px query moves on 5 real clips moved every confident sample by over 1 px only where one
    of the two runs met this rule)."""
    return (spread > max_spread) | (found_spread > max_spread) | (lost & (spread > 0.5 * max_spread))


def adapt_prior(p: np.ndarray, use: np.ndarray, prior: float | None = None, pseudo: float = 200.0,
                iterations: int = 30) -> tuple[np.ndarray, float]:
    """``p`` (p(visible) from a model calibrated where a share ``prior`` of the samples was
    visible) re-weighted to the clip's own visible share, estimated by expectation-maximisation
    over the samples ``use`` (Saerens et al., Neural Computation 2002: the estimate is the mean
    adjusted probability; ``pseudo`` samples at ``prior`` keep a clip with few points near it).
    Returns (adjusted p, estimated visible share). Where almost everything is in view (real
    footage with little occlusion) a weak 'lost' signal then no longer makes a point occluded;
    where much is occluded, points need stronger evidence to be called visible."""
    prior = TRAIN_VISIBLE if prior is None else float(prior)
    base = np.log(prior / (1.0 - prior))
    q = np.clip(np.asarray(p, np.float64), 1e-9, 1.0 - 1e-9)
    logit = np.log(q / (1.0 - q))
    sample = logit[use]
    pi = prior
    for _ in range(iterations):
        shift = np.log(pi / (1.0 - pi)) - base
        adj = 1.0 / (1.0 + np.exp(-(sample + shift)))
        pi = float(np.clip((adj.sum() + pseudo * prior) / (len(adj) + pseudo), 0.02, 0.98))
    shift = np.log(pi / (1.0 - pi)) - base
    out = np.where(np.asarray(p) > 0, 1.0 / (1.0 + np.exp(-np.clip(logit + shift, -40, 40))), 0.0)
    return out, pi


def position_probability(F: np.ndarray, coef: np.ndarray | None = None) -> np.ndarray:
    """p(visible and within 4 px of the truth at TAP-Vid's 256x256) for :data:`POSITION_FEATURES`
    (..., len(POSITION_FEATURES)); 0 outside the frame."""
    coef = COEF_POSITION if coef is None else coef
    if coef is None:
        return visibility_probability(F[..., :len(FEATURES)])
    return visibility_probability(F, coef)
