"""Two-view models: OpenCV normalisers (4.x and 5.x), robust F and H estimation, their errors
and Torr's GRIC (pure numpy apart from the OpenCV calls)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from blur4d.errors import InputError
from blur4d.geometry import parallax_evidence, parallax_statistics  # noqa: F401  (moved there; shared with the cameras)

log = logging.getLogger("blur4d.adapters.epipolar")


def as_points(points: Any) -> np.ndarray:
    """Any point container -> (N, 2) float32, C-contiguous.

    Accepts (N, 2), (N, 1, 2), (2,) (one point), a list of ``cv2.KeyPoint`` or of (x, y), and
    empty inputs (-> (0, 2)). Raises :class:`InputError` on anything else.
    """
    if points is None:
        return np.zeros((0, 2), np.float32)
    if isinstance(points, (list, tuple)) and points and hasattr(points[0], "pt"):
        points = [kp.pt for kp in points]
    arr = np.asarray(points, dtype=np.float32)
    if arr.size == 0:
        return np.zeros((0, 2), np.float32)
    if arr.ndim == 1 and arr.shape[0] == 2:
        arr = arr[None]
    if arr.ndim == 3 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise InputError(f"points: expected (N, 2) or (N, 1, 2), got shape {np.asarray(points).shape}")
    return np.ascontiguousarray(arr)


def normalise_mask(mask: Any, n: int) -> np.ndarray:
    """An OpenCV inlier mask ((N, 1) / (N,) / (1, N) uint8, or None) -> (n,) bool."""
    if mask is None:
        return np.zeros(n, bool)
    m = np.asarray(mask).reshape(-1).astype(bool)
    if m.shape[0] != n:
        return np.zeros(n, bool)
    return m


def normalise_fundamental(F: Any) -> list[np.ndarray]:
    """OpenCV's fundamental-matrix output -> a list of finite rank-2 3x3 float64 candidates.

    ``None`` / empty -> ``[]``; (3, 3) -> one; (9, 3) or (3k, 3) (the 7-point algorithm's up to
    three stacked solutions) -> up to three. Each candidate is forced to rank 2 and scaled to
    unit Frobenius norm.
    """
    if F is None:
        return []
    arr = np.asarray(F, dtype=np.float64)
    if arr.size == 0 or arr.size % 9 != 0:
        return []
    out = []
    for cand in arr.reshape(-1, 3, 3):
        if not np.all(np.isfinite(cand)):
            continue
        U, S, Vt = np.linalg.svd(cand)
        if S[0] <= 1e-12:
            continue
        S[2] = 0.0
        cand = U @ np.diag(S) @ Vt
        out.append(cand / np.linalg.norm(cand))
    return out


def _normalise_homography(H: Any) -> np.ndarray | None:
    if H is None:
        return None
    arr = np.asarray(H, dtype=np.float64)
    if arr.shape != (3, 3) or not np.all(np.isfinite(arr)) or abs(np.linalg.det(arr)) < 1e-12:
        return None
    if abs(arr[2, 2]) > 1e-12:
        arr = arr / arr[2, 2]
    return arr


def find_fundamental(p1: Any, p2: Any, *, threshold: float = 1.0, confidence: float = 0.999,
                     max_iters: int = 5000, method: int | None = None) -> tuple[np.ndarray | None, np.ndarray]:
    """Robust fundamental matrix x2^T F x1 = 0 -> (F (3, 3) or None, inlier mask (N,) bool).

    With several candidates (the 7-point case) the one with most inliers at ``threshold`` is
    kept. When MAGSAC returns nothing usable (OpenCV 5.0 sometimes returns an all-zero matrix)
    classic RANSAC is tried. Too few points, degenerate data and OpenCV errors give
    ``(None, all False)``.
    """
    import cv2

    a, b = as_points(p1), as_points(p2)
    n = len(a)
    if n < 7 or len(b) != n:
        return None, np.zeros(n, bool)
    methods = [cv2.USAC_MAGSAC, cv2.FM_RANSAC] if method is None else [method]
    cands: list[np.ndarray] = []
    mask = None
    for meth in methods:
        try:
            F, mask = cv2.findFundamentalMat(a, b, meth, float(threshold), float(confidence), int(max_iters))
        except cv2.error as err:
            log.debug("findFundamentalMat(%s) failed: %s", meth, str(err).splitlines()[-1])
            continue
        cands = normalise_fundamental(F)
        if cands:
            break
    if not cands:
        return None, np.zeros(n, bool)
    if len(cands) == 1:
        F, m = cands[0], normalise_mask(mask, n)
        if not m.any():
            m = sampson_distance(F, a, b) < threshold
    else:
        scores = [sampson_distance(c, a, b) < threshold for c in cands]
        best = int(np.argmax([s.sum() for s in scores]))
        F, m = cands[best], scores[best]
    if method is None and m.sum() >= 16:  # least-squares polish on the inliers (normalised 8-point)
        try:
            refined = normalise_fundamental(cv2.findFundamentalMat(a[m], b[m], cv2.FM_8POINT)[0])
        except cv2.error:
            refined = []
        if refined:
            d_old, d_new = sampson_distance(F, a[m], b[m]), sampson_distance(refined[0], a[m], b[m])
            if np.median(d_new) <= np.median(d_old):
                F = refined[0]
                m = sampson_distance(F, a, b) < threshold
    return F, m


def find_homography(p1: Any, p2: Any, *, threshold: float = 1.0, confidence: float = 0.999,
                    max_iters: int = 5000, method: int | None = None) -> tuple[np.ndarray | None, np.ndarray]:
    """Robust homography x2 ~ H x1 -> (H (3, 3) with H[2, 2] = 1, or None; inlier mask (N,) bool)."""
    import cv2

    a, b = as_points(p1), as_points(p2)
    n = len(a)
    if n < 4 or len(b) != n:
        return None, np.zeros(n, bool)
    methods = [cv2.USAC_MAGSAC, cv2.RANSAC] if method is None else [method]
    for meth in methods:
        try:
            H, mask = cv2.findHomography(a, b, meth, float(threshold), maxIters=int(max_iters),
                                         confidence=float(confidence))
        except cv2.error as err:
            log.debug("findHomography(%s) failed: %s", meth, str(err).splitlines()[-1])
            continue
        H = _normalise_homography(H)
        if H is not None:
            return H, normalise_mask(mask, n)
    return None, np.zeros(n, bool)


def _homog(p: np.ndarray) -> np.ndarray:
    return np.concatenate([p.astype(np.float64), np.ones((len(p), 1))], axis=1)


def sampson_distance(F: np.ndarray, p1: Any, p2: Any) -> np.ndarray:
    """(N,) first-order geometric (Sampson) distance in pixels of each correspondence to F
    (x2^T F x1 = 0); ``inf`` where undefined."""
    a, b = _homog(as_points(p1)), _homog(as_points(p2))
    Fx1 = a @ F.T
    Ftx2 = b @ F
    num = np.einsum("ij,ij->i", b, Fx1) ** 2
    den = Fx1[:, 0] ** 2 + Fx1[:, 1] ** 2 + Ftx2[:, 0] ** 2 + Ftx2[:, 1] ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.sqrt(num / den)
    return np.where(np.isfinite(d), d, np.inf)


def _apply_h(H: np.ndarray, p: np.ndarray) -> np.ndarray:
    q = _homog(p) @ H.T
    with np.errstate(divide="ignore", invalid="ignore"):
        out = q[:, :2] / q[:, 2:3]
    return np.where(np.isfinite(out), out, np.inf)


def transfer_errors(H: np.ndarray, p1: Any, p2: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """-> (residual vectors x2 - H x1 (N, 2), forward error |x2 - H x1| (N,), symmetric transfer
    error sqrt((|x2 - H x1|^2 + |x1 - H^-1 x2|^2) / 2) (N,)), all in pixels."""
    a, b = as_points(p1).astype(np.float64), as_points(p2).astype(np.float64)
    res = b - _apply_h(H, a)
    fwd = np.linalg.norm(res, axis=1)
    bwd = np.linalg.norm(a - _apply_h(np.linalg.inv(H), b), axis=1)
    sym = np.sqrt((fwd ** 2 + bwd ** 2) / 2)
    return res, fwd, sym


def refine_homography(H: np.ndarray, p1: Any, p2: Any, inliers: np.ndarray, threshold: float) -> np.ndarray:
    """Least-squares (Levenberg-Marquardt) polish of a robust homography on its inliers, kept
    when it lowers their median transfer error: F gets the same polish, so that the two models
    compete on equal terms."""
    import cv2

    a, b = as_points(p1), as_points(p2)
    m = np.asarray(inliers, bool)
    if m.sum() < 8:
        return H
    try:
        R, _ = cv2.findHomography(a[m], b[m], 0)
    except cv2.error:
        return H
    R = _normalise_homography(R)
    if R is None:
        return H
    old, new = transfer_errors(H, a[m], b[m])[1], transfer_errors(R, a[m], b[m])[1]
    return R if np.median(new) <= np.median(old) and np.mean(new < threshold) >= np.mean(old < threshold) - 0.01 else H


def gric(sq_errors: np.ndarray, sigma: float, *, d: int, k: int, r: int = 4,
         lambda3: float = 2.0) -> float:
    """Torr's Geometric Robust Information Criterion (lower is better).

    GRIC = sum_i min(e_i^2 / sigma^2, lambda3 (r - d)) + ln(r) d n + ln(r n) k, with r = 4 (two
    2D images), d the model manifold's dimension (F: 3, H: 2) and k its parameters (F: 7, H: 8).
    ``sq_errors`` are squared geometric distances in the joint 4D space (pixels^2).
    """
    e = np.asarray(sq_errors, np.float64)
    n = len(e)
    if n == 0:
        return float("nan")
    rho = np.minimum(np.nan_to_num(e / sigma ** 2, nan=np.inf, posinf=np.inf), lambda3 * (r - d))
    return float(rho.sum() + np.log(r) * d * n + np.log(r * n) * k)
