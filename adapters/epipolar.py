"""3D-consistency analysis of a clip: SIFT matches, MAGSAC fundamental matrices and homographies,
H-versus-F model selection (Torr's GRIC), residual parallax, and a clip-level verdict.

A stage in the blur4d sense: ``EpipolarChecker(**options)(video, progress=...) ->
ConsistencyReport``. Everything numerical lives in small pure functions (no IO) so that tests can
reach them directly; the OpenCV calls go through normalisers that hide the differences between
OpenCV 4.x and 5.x (output shapes, stacked 9x3 fundamental matrices, ``None`` returns, errors on
too few points).

Verdicts (``blur4d.types.VERDICTS``):

* ``homography``: one homography explains the rigid scene (pure rotation, a planar scene, or too
  little motion to see depth): no depth is recoverable;
* ``parallax``: the fundamental matrix explains clearly more than a homography: 3D structure is
  recoverable;
* ``independent motion``: a coherent group of matches moves in a way the camera motion cannot
  explain (it violates the epipolar geometry, or the background is static while it moves); the
  ``independent_motion_mask`` map says where;
* ``insufficient texture``: too few reliable matches to tell.

Conventions: pixel coordinates put the centre of the top-left pixel at (0, 0); every error is in
pixels of the input frames.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from blur4d._checks import build_config
from blur4d.errors import InputError
from blur4d.progress import NO_PROGRESS, Progress
from blur4d.types import ConsistencyReport, Provenance, Video

log = logging.getLogger("blur4d.adapters.epipolar")

__all__ = [
    "EpipolarConfig", "EpipolarChecker", "as_points", "normalise_mask", "normalise_fundamental",
    "find_fundamental", "find_homography", "sampson_distance", "transfer_errors", "gric",
    "select_pairs", "analyse_pair",
]


# --------------------------------------------------------------------------------------------
# Config
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EpipolarConfig:
    """Options of the ``sift`` check backend."""

    max_features: int = 4000
    """SIFT keypoints kept per frame (strongest first)."""
    ratio: float = 0.8
    """Lowe's ratio test: keep a match when best / second-best distance < ratio."""
    matcher: str = "flann"
    """``flann`` (KD-tree, ~3x faster at 4000 features, deterministic) or ``bf`` (exact)."""
    max_side: int = 1280
    """Frames whose long side is larger are downscaled for detection (errors stay in input pixels)."""
    threshold: float = 1.0
    """Inlier threshold in pixels of the analysed image (MAGSAC and our own inlier counts)."""
    confidence: float = 0.999
    """RANSAC confidence."""
    max_iters: int = 5000
    """RANSAC iterations."""
    min_matches: int = 24
    """Fewer ratio-test matches than this make a pair degenerate (``ok=False``)."""
    min_coverage: float = 0.01
    """Matches whose convex hull covers less than this fraction of the image are degenerate."""
    consecutive: bool = True
    """Analyse every consecutive frame pair."""
    spread: int = 6
    """Extra pairs with wide gaps (F/4, F/2, 3F/4) spread over the clip, besides first-last."""
    max_pairs: int = 64
    """Upper bound on analysed pairs (first-last and the spread pairs are kept first)."""
    full_evidence: float = 5.0
    """A pair counts as full evidence when its matches move (90th percentile) this many times the
    smallest detectable residual; a pair that moves less than that residual has no weight
    (parallax below the noise cannot be excluded)."""
    min_residual_px: float = 0.5
    """Smallest homography residual (px) that counts as real motion (parallax or a moving
    object), whatever the noise."""
    noise_sigmas: float = 5.0
    """... and it must also exceed this many noise standard deviations (estimated per pair from
    the Sampson errors). A pair shows parallax when GRIC prefers F and the 90th percentile of the
    homography residual of the epipolar inliers exceeds both."""
    static_px: float = 0.5
    """The dominant homography counts as a static camera when it moves no image corner further."""
    object_min_points: int = 12
    """Smallest coherent group of matches that counts as an independently moving object."""
    object_min_fraction: float = 0.01
    """... and the smallest fraction of the pair's matches, when the background is static."""
    violation_min_fraction: float = 0.03
    """... and when the camera moves (the group must violate the epipolar geometry)."""
    distinct_ratio: float = 0.7
    """Only matches with a descriptor ratio below this can count as an epipolar violation."""
    seed: int = 0
    """Seed for OpenCV's RANSAC random generator (results are deterministic for a seed)."""


# --------------------------------------------------------------------------------------------
# OpenCV normalisers (4.x and 5.x)
# --------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------
# Errors and model selection (pure numpy)
# --------------------------------------------------------------------------------------------
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


def select_pairs(num_frames: int, *, consecutive: bool = True, spread: int = 6,
                 max_pairs: int = 64) -> list[tuple[int, int]]:
    """Frame pairs (i, j), i < j: first-last, ``spread`` wide pairs (gaps F/4, F/2, 3F/4 at
    evenly spaced starts), then the consecutive pairs; deduplicated, at most ``max_pairs``."""
    F = int(num_frames)
    if F < 2:
        return []
    pairs: list[tuple[int, int]] = [(0, F - 1)]
    if spread > 0 and F > 2:
        gaps = sorted({g for g in (F // 2, F // 4, (3 * F) // 4) if 1 <= g < F - 1}, reverse=True)
        cands: list[tuple[int, int]] = []
        for gap in gaps:
            starts = np.unique(np.linspace(0, F - 1 - gap, 3).round().astype(int))
            cands += [(int(s), int(s) + gap) for s in starts]
        for p in cands:
            if p not in pairs and len(pairs) < 1 + spread:
                pairs.append(p)
    if consecutive:
        pairs += [(i, i + 1) for i in range(F - 1) if (i, i + 1) not in pairs]
    return pairs[:max(1, int(max_pairs))]


# --------------------------------------------------------------------------------------------
# Features
# --------------------------------------------------------------------------------------------
@dataclass
class _Features:
    xy: np.ndarray  # (N, 2) float32, input-frame pixels
    desc: np.ndarray  # (N, 128) float32
    size: tuple[int, int]  # (W, H) of the input frame
    scale: float  # analysed / input


def _gray(img: np.ndarray) -> np.ndarray:
    import cv2

    img = np.asarray(img)
    if img.ndim == 2:
        return img if img.dtype == np.uint8 else np.clip(img, 0, 255).astype(np.uint8)
    if img.ndim == 3 and img.shape[2] in (3, 4):
        return cv2.cvtColor(np.ascontiguousarray(img[..., :3]), cv2.COLOR_RGB2GRAY)
    raise InputError(f"frame: expected (H, W) or (H, W, 3) uint8, got shape {img.shape}")


def _detect(img: np.ndarray, cfg: EpipolarConfig) -> _Features:
    import cv2

    g = _gray(img)
    H, W = g.shape
    s = min(1.0, cfg.max_side / max(H, W))
    if s < 1.0:
        g = cv2.resize(g, (max(1, round(W * s)), max(1, round(H * s))), interpolation=cv2.INTER_AREA)
    sift = cv2.SIFT_create(nfeatures=int(cfg.max_features))
    kps, desc = sift.detectAndCompute(g, None)
    xy = as_points(cv2.KeyPoint_convert(kps) if kps else None)
    if s < 1.0:  # pixel centres at integers: x_in = (x_an + 0.5) / s - 0.5
        xy = ((xy + 0.5) / s - 0.5).astype(np.float32)
    if desc is None or len(xy) == 0:
        desc = np.zeros((0, 128), np.float32)
    return _Features(xy, np.asarray(desc, np.float32), (W, H), s)


def _match(fa: _Features, fb: _Features, ratio: float,
           matcher: str = "flann") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ratio-test matches -> (p1 (M, 2), p2 (M, 2) float32, best/second-best distance ratio (M,));
    one-to-one in the second image."""
    import cv2

    empty = np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32), np.zeros(0, np.float32)
    if len(fa.desc) < 2 or len(fb.desc) < 2:
        return empty
    knn = None
    if matcher == "flann" and min(len(fa.desc), len(fb.desc)) >= 64:
        try:
            knn = cv2.FlannBasedMatcher({"algorithm": 1, "trees": 4}, {"checks": 64}).knnMatch(fa.desc, fb.desc, k=2)
        except cv2.error as err:  # fall back to the exact matcher
            log.debug("FLANN matching failed: %s", str(err).splitlines()[-1])
    if knn is None:
        knn = cv2.BFMatcher(cv2.NORM_L2).knnMatch(fa.desc, fb.desc, k=2)
    qi, ti, dist, rat = [], [], [], []
    for m in knn:
        if len(m) == 2 and m[0].distance < ratio * m[1].distance:
            qi.append(m[0].queryIdx)
            ti.append(m[0].trainIdx)
            dist.append(m[0].distance)
            rat.append(m[0].distance / max(m[1].distance, 1e-12))
    if not qi:
        return empty
    qi_a, ti_a = np.asarray(qi), np.asarray(ti)
    order = np.argsort(np.asarray(dist), kind="stable")
    _, first = np.unique(ti_a[order], return_index=True)  # best match per train keypoint
    keep = np.sort(order[first])
    return fa.xy[qi_a[keep]], fb.xy[ti_a[keep]], np.asarray(rat, np.float32)[keep]


def _hull_fraction(p: np.ndarray, size: tuple[int, int]) -> float:
    import cv2

    if len(p) < 3:
        return 0.0
    hull = cv2.convexHull(np.ascontiguousarray(p, np.float32))
    return float(cv2.contourArea(hull)) / float(size[0] * size[1])


def _corner_motion(H: np.ndarray, size: tuple[int, int]) -> float:
    W, Hh = size
    c = np.array([[0, 0], [W - 1, 0], [0, Hh - 1], [W - 1, Hh - 1]], np.float32)
    return float(np.linalg.norm(_apply_h(H, c) - c, axis=1).max())


# --------------------------------------------------------------------------------------------
# One pair
# --------------------------------------------------------------------------------------------
def analyse_pair(p1: Any, p2: Any, size: tuple[int, int], cfg: EpipolarConfig | None = None, *,
                 scale: float = 1.0, i: int = 0, j: int = 1,
                 ratios: np.ndarray | None = None) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Analyse matched points of one frame pair.

    p1, p2: (N, 2) matched pixel positions in frames i and j; size: (W, H) of frame i; scale: the
    analysed / input resolution (thresholds are in analysed pixels); ratios: (N,) the matches'
    best/second-best descriptor distance ratios, when known (only distinctive matches may show
    an epipolar violation: repeated structure makes coherent false ones).
    -> (a JSON-able record, arrays for the figures: ``p1``, ``p2``, ``F``, ``H``, ``inlier_F``,
    ``inlier_H``, ``residual``, ``moving`` (bool mask of independently moving matches)).
    A degenerate pair is a record with ``ok=False`` and a ``reason``; nothing raises.
    """
    import cv2

    cfg = cfg or EpipolarConfig()
    a, b = as_points(p1), as_points(p2)
    n = len(a)
    thr = cfg.threshold / scale
    rec: dict[str, Any] = {"i": int(i), "j": int(j), "ok": False, "reason": "", "label": "insufficient texture",
                           "matches": int(n)}
    arrays: dict[str, np.ndarray] = {"p1": a, "p2": b}
    if n < cfg.min_matches:
        rec["reason"] = f"only {n} matches (need >= {cfg.min_matches}): too little texture or overlap"
        return rec, arrays
    coverage = _hull_fraction(a, size)
    rec["coverage"] = round(coverage, 4)
    if coverage < cfg.min_coverage:
        rec["reason"] = (f"matches cover {100 * coverage:.2f}% of the image (need >= {100 * cfg.min_coverage:.1f}%): "
                         "degenerate (clustered or colinear)")
        return rec, arrays
    disp = np.linalg.norm(b - a, axis=1)
    rec["displacement_median_px"] = round(float(np.median(disp)), 3)
    rec["displacement_p90_px"] = round(float(np.percentile(disp, 90)), 3)

    cv2.setRNGSeed(int(cfg.seed))
    H, magsac_H = find_homography(a, b, threshold=thr, confidence=cfg.confidence, max_iters=cfg.max_iters)
    if H is None:
        rec["reason"] = "no homography could be fitted (degenerate matches)"
        return rec, arrays
    # a (nearly) identity homography means a static camera: the epipolar geometry is undefined,
    # and OpenCV's USAC can spend minutes on such data (seen on real clips with repeated frames)
    static = _corner_motion(H, size) < cfg.static_px / scale
    if static:
        F, magsac_F = None, np.zeros(n, bool)
        rec["fundamental"] = "not estimated: static background (no baseline, the epipolar geometry is undefined)"
    else:
        cv2.setRNGSeed(int(cfg.seed))
        F, magsac_F = find_fundamental(a, b, threshold=thr, confidence=cfg.confidence, max_iters=cfg.max_iters)
    res, fwd, sym = transfer_errors(H, a, b)
    inl_H = sym < thr
    if F is not None:
        samp = sampson_distance(F, a, b)
        inl_F = samp < thr
    else:  # F is undefined (e.g. no motion at all): H explains everything it can
        samp = np.full(n, np.inf)
        inl_F = inl_H.copy()
    arrays.update(H=H, inlier_H=inl_H, inlier_F=inl_F, residual=res)
    if F is not None:
        arrays["F"] = F
    rec.update(
        ok=True,
        inliers_F=int(inl_F.sum()) if F is not None else None, inliers_H=int(inl_H.sum()),
        inlier_ratio_F=round(float(inl_F.mean()), 4) if F is not None else None,
        inlier_ratio_H=round(float(inl_H.mean()), 4),
        magsac_inliers_F=int(magsac_F.sum()), magsac_inliers_H=int(magsac_H.sum()),
        sampson_median_px=round(float(np.median(samp[inl_F])), 4) if F is not None and inl_F.any() else None,
        transfer_median_px=round(float(np.median(sym[inl_H])), 4) if inl_H.any() else None,
        homography_corner_motion_px=round(_corner_motion(H, size), 3),
    )
    # noise scale from the more general model's residuals (Sampson distance ~ |N(0, sigma^2)|)
    base = samp[inl_F] if F is not None and inl_F.sum() >= 8 else sym[inl_H] / np.sqrt(2)
    sigma = float(np.clip(np.median(base) / 0.6745 if len(base) else thr / 2, 0.05 / scale, thr))
    rec["noise_sigma_px"] = round(sigma, 4)

    # GRIC over the matches that the rigid scene explains (F inliers or H inliers)
    rigid = inl_F | inl_H
    nr = int(rigid.sum())
    eH2 = sym[rigid] ** 2 / 2.0  # one-sided transfer^2 ~ 2 x the 4D geometric error^2
    gF = gric(samp[rigid] ** 2, sigma, d=3, k=7) if F is not None else float("nan")
    gH = gric(eH2, sigma, d=2, k=8)
    rec["gric_F"] = round(gF, 2) if np.isfinite(gF) else None
    rec["gric_H"] = round(gH, 2)
    rec["gric_delta_per_match"] = round((gH - gF) / max(nr, 1), 4) if np.isfinite(gF) else None

    # residual parallax after the best homography, over the epipolar (rigid) inliers
    tau = max(cfg.min_residual_px / scale, cfg.noise_sigmas * sigma)  # clearly above the noise
    rec["motion_threshold_px"] = round(tau, 4)
    rp = fwd[inl_F] if inl_F.any() else fwd[inl_H]
    rec["parallax_median_px"] = round(float(np.median(rp)), 3)
    rec["parallax_p90_px"] = round(float(np.percentile(rp, 90)), 3)
    rec["residual_parallax_px"] = rec["parallax_p90_px"]  # the name blur4d.display shows
    rec["parallax_fraction"] = round(float(np.mean(rp > tau)), 4)

    # independent motion: a coherent group that violates the epipolar geometry, or that moves
    # while the dominant homography is (nearly) the identity (a static camera has no parallax)
    rec["static_background"] = bool(static)
    outlier_H = sym > tau
    violates = samp > 3 * thr if F is not None else np.zeros(n, bool)
    if ratios is not None and len(ratios) == n:
        violates &= np.asarray(ratios) < cfg.distinct_ratio
    cand = outlier_H & (violates | static)  # a clear epipolar violation, or any motion
    if static:
        cand &= disp > tau
    # a moving camera needs more support: mismatches, occlusion edges and repeated structure can
    # all look like a small coherent group that violates the epipolar geometry
    frac = cfg.object_min_fraction if static else cfg.violation_min_fraction
    moving = np.zeros(n, bool)
    min_pts = max(cfg.object_min_points, int(np.ceil(frac * n)))
    groups = []
    remaining = cand.copy()
    for _ in range(3):  # up to three moving objects, one homography each
        idx = np.flatnonzero(remaining)
        if len(idx) < min_pts:
            break
        # coherence test: one homography for the group, with a threshold well below the group's
        # own motion (else any sub-pixel jitter would look coherent)
        thr2 = float(min(2 * thr, max(3 * sigma, 0.5 * np.median(fwd[idx]))))
        cv2.setRNGSeed(int(cfg.seed))
        H2, m2 = find_homography(a[idx], b[idx], threshold=thr2, confidence=cfg.confidence,
                                 max_iters=cfg.max_iters)
        if H2 is None or m2.sum() < min_pts:
            break
        members = idx[m2]
        if _hull_fraction(a[members], size) < 0.2 * cfg.min_coverage:
            break
        shift = float(np.median(np.linalg.norm(b[members] - _apply_h(H, a[members]), axis=1)))
        groups.append({"points": int(len(members)), "shift_px": round(shift, 3)})
        moving[members] = True
        remaining[members] = False
    arrays["moving"] = moving
    rec["moving_groups"] = groups
    rec["moving_points"] = int(moving.sum())

    gd = rec["gric_delta_per_match"]
    if groups:
        rec["label"] = "independent motion"
        why = "background static" if static else "violates the epipolar geometry"
        rec["reason"] = f"{int(moving.sum())} matches in {len(groups)} group(s) move independently ({why})"
    elif gd is not None and gd > 0 and rec["parallax_p90_px"] > tau:
        rec["label"] = "parallax"
        rec["reason"] = (f"F preferred (GRIC margin {gd:.2f}/match); residual parallax p90 "
                         f"{rec['parallax_p90_px']:.2f} px")
    else:
        rec["label"] = "homography"
        rec["reason"] = (f"one homography explains {100 * rec['inlier_ratio_H']:.0f}% of matches; residual "
                         f"parallax p90 {rec['parallax_p90_px']:.2f} px")
    # evidence weight of this pair: how far beyond the detectable residual (tau) its motion goes
    # (parallax cannot exceed the motion, so a pair that barely moves cannot show it), damped
    # for few supporting matches
    if groups:
        motion = max(g["shift_px"] for g in groups)
        support = min(1.0, moving.sum() / (2.0 * cfg.object_min_points))
    else:
        motion = rec["displacement_p90_px"]
        support = min(1.0, nr / 100.0)
    power = motion / tau
    rec["weight"] = round(float(np.clip((power - 1.0) / (cfg.full_evidence - 1.0), 0.0, 1.0) * support), 4)
    return rec, arrays


# --------------------------------------------------------------------------------------------
# The stage
# --------------------------------------------------------------------------------------------
class EpipolarChecker:
    """SIFT + MAGSAC fundamental/homography checks over a clip, with a verdict.

    ``EpipolarChecker(**options)(video, progress=...) -> ConsistencyReport``; options are the
    fields of :class:`EpipolarConfig`. :meth:`check_frames` takes a list of frames of any sizes
    (e.g. two photos).
    """

    name = "sift"

    def __init__(self, **options: Any) -> None:
        self.config = build_config(EpipolarConfig, options, backend="check backend 'sift'")
        c = self.config
        if not 0 < c.ratio < 1:
            raise InputError(f"ratio: expected a value in (0, 1), got {c.ratio}")
        if c.matcher not in ("flann", "bf"):
            raise InputError(f"matcher: expected 'flann' or 'bf', got {c.matcher!r}")
        if c.threshold <= 0 or c.max_side < 32 or c.max_features < 8 or c.min_matches < 8:
            raise InputError("threshold must be > 0, max_side >= 32, max_features >= 8, min_matches >= 8; "
                             f"got {c.threshold}, {c.max_side}, {c.max_features}, {c.min_matches}")

    def __call__(self, video: Video, *, progress: Progress = NO_PROGRESS) -> ConsistencyReport:
        if not isinstance(video, Video):
            raise InputError(f"video: expected a blur4d Video, got {type(video).__name__}")
        return self.check_frames(list(video.frames), progress=progress)

    # ----------------------------------------------------------------------------------------
    def check_frames(self, frames: Sequence[np.ndarray], pairs: Sequence[tuple[int, int]] | None = None, *,
                     progress: Progress = NO_PROGRESS) -> ConsistencyReport:
        import cv2

        cfg = self.config
        if len(frames) < 2:
            raise InputError(f"video: the consistency check needs at least 2 frames, got {len(frames)}")
        t0 = time.perf_counter()
        pairs = list(pairs) if pairs is not None else select_pairs(
            len(frames), consecutive=cfg.consecutive, spread=cfg.spread, max_pairs=cfg.max_pairs)
        for i, j in pairs:
            if not (0 <= i < len(frames) and 0 <= j < len(frames)) or i == j:
                raise InputError(f"pairs: ({i}, {j}) is not a pair of distinct frames of 0..{len(frames) - 1}")
        needed = sorted({k for p in pairs for k in p})
        feats: dict[int, _Features] = {}
        old_threads = cv2.getNumThreads()
        try:
            for n, k in enumerate(needed):
                progress("check: features", n, len(needed))
                feats[k] = _detect(frames[k], cfg)
            progress("check: features", len(needed), len(needed))
            t1 = time.perf_counter()
            records, arrays = [], {}
            for n, (i, j) in enumerate(pairs):
                progress("check: pairs", n, len(pairs))
                tp = time.perf_counter()
                cv2.setRNGSeed(int(cfg.seed))  # FLANN's randomised trees draw from OpenCV's RNG
                p1, p2, ratios = _match(feats[i], feats[j], cfg.ratio, cfg.matcher)
                rec, arr = analyse_pair(p1, p2, feats[i].size, cfg, scale=feats[i].scale, i=i, j=j, ratios=ratios)
                rec["features"] = [int(len(feats[i].xy)), int(len(feats[j].xy))]
                rec["seconds"] = round(time.perf_counter() - tp, 4)
                records.append(rec)
                arrays[(i, j)] = arr
            progress("check: pairs", len(pairs), len(pairs))
        finally:
            cv2.setNumThreads(old_threads)
        t2 = time.perf_counter()
        verdict, conf, reason, summary = _verdict(records, cfg)
        ref = _reference_pair(records, pairs, verdict)
        figures: dict[str, Any] = {}
        maps = _maps(frames, records, arrays, ref, verdict, cfg, figures) if ref is not None else {}
        t3 = time.perf_counter()
        summary.update(reference_pair=list(ref) if ref is not None else None,
                       frames=len(frames), pairs_analysed=len(pairs),
                       image_size=list(feats[needed[0]].size), analysis_scale=round(feats[needed[0]].scale, 4),
                       threshold_px=cfg.threshold / feats[needed[0]].scale, figures=figures)
        timings = {"features": t1 - t0, "pairs": t2 - t1, "figures": t3 - t2,
                   "per_pair": (t2 - t0) / max(len(pairs), 1)}
        prov = Provenance.capture("check.sift", cfg, seed=cfg.seed,
                                  packages=("opencv-python", "opencv-python-headless"),
                                  timings={k: round(v, 4) for k, v in timings.items()},
                                  opencv=cv2.__version__)
        return ConsistencyReport(verdict=verdict, confidence=float(np.clip(conf, 0.0, 1.0)), reason=reason,
                                 pairs=tuple(records), summary=summary, maps=maps, provenance=prov)


# --------------------------------------------------------------------------------------------
# Clip-level verdict
# --------------------------------------------------------------------------------------------
def _verdict(records: list[dict[str, Any]], cfg: EpipolarConfig) -> tuple[str, float, str, dict[str, Any]]:
    ok = [r for r in records if r["ok"]]
    labels = [r["label"] for r in records]
    counts = {v: labels.count(v) for v in ("homography", "parallax", "independent motion", "insufficient texture")}
    summary: dict[str, Any] = {"pair_labels": counts, "pairs_ok": len(ok)}
    fl = records[0] if records else None  # first-last is always the first pair
    if not ok or (fl is not None and not fl["ok"] and len(ok) < 0.5 * len(records)):
        bad = 1.0 - len(ok) / max(len(records), 1)
        med = int(np.median([r["matches"] for r in records])) if records else 0
        why = fl["reason"] if fl is not None else "no pairs"
        return ("insufficient texture", float(np.clip(0.5 + 0.5 * bad, 0, 1)),
                f"{len(records) - len(ok)}/{len(records)} pairs unusable (median {med} matches); first-last: {why}",
                summary)
    w = np.array([max(r["weight"], 1e-3) for r in ok])
    lab = np.array([r["label"] for r in ok])
    share = {v: float(w[lab == v].sum() / w.sum()) for v in ("homography", "parallax", "independent motion")}
    summary["weighted_share"] = {k: round(v, 4) for k, v in share.items()}
    motion = max(r["displacement_p90_px"] for r in ok)
    summary["max_displacement_p90_px"] = round(motion, 3)
    strength = float(np.clip(max(r["weight"] for r in ok), 0.0, 1.0))
    summary["evidence_strength"] = round(strength, 4)
    weak = strength < 0.5
    weak_note = (f"; evidence too weak: matches move at most {motion:.2f} px (p90), parallax below the noise "
                 "cannot be excluded") if weak else ""

    im = [r for r in ok if r["label"] == "independent motion"]
    if im and share["independent motion"] >= 0.25:
        best = max(im, key=lambda r: r["moving_points"])
        conf = (min(1.0, share["independent motion"] / 0.5) * (0.5 + 0.5 * min(1.0, best["moving_points"] / 40))
                * (0.5 + 0.5 * min(1.0, len(im) / (0.25 * len(ok)))))  # seen in a quarter of the pairs
        return ("independent motion", conf,
                f"{len(im)}/{len(ok)} pairs show independently moving content (e.g. frames {best['i']}-{best['j']}: "
                f"{best['reason']})", summary)
    rest = share["parallax"] + share["homography"]
    p = share["parallax"] / rest if rest > 0 else 0.0
    if p >= 0.5:
        gds = [r["gric_delta_per_match"] or 0.0 for r in ok if r["label"] == "parallax"]
        margin = float(np.clip(np.median(gds) / 0.5, 0.0, 1.0))
        conf = p * (0.5 + 0.5 * margin) * (0.4 + 0.6 * strength)
        pp = max(r["parallax_p90_px"] for r in ok if r["label"] == "parallax")
        return ("parallax", conf,
                f"F explains the matches better than any homography in {100 * p:.0f}% of the (weighted) pairs; "
                f"residual parallax up to {pp:.1f} px (p90): 3D structure is recoverable{weak_note}", summary)
    conf = (1.0 - p) * (0.3 + 0.7 * strength)
    hr = float(np.median([r["inlier_ratio_H"] for r in ok]))
    return ("homography", conf,
            f"one homography per pair explains the rigid scene ({100 * hr:.0f}% inliers, median over pairs): "
            f"pure rotation, a planar scene or no baseline; no depth recoverable{weak_note}", summary)


def _reference_pair(records: list[dict[str, Any]], pairs: list[tuple[int, int]],
                    verdict: str) -> tuple[int, int] | None:
    """The pair the figures show: first-last when it agrees with the verdict, else the pair
    with the verdict's label and the most evidence, else first-last or the best usable pair."""
    if records and records[0]["ok"] and records[0]["label"] == verdict:
        return pairs[0]
    agree = [(r["weight"], r.get("moving_points", 0), (r["i"], r["j"])) for r in records
             if r["ok"] and r["label"] == verdict]
    if agree:
        return max(agree)[2]
    if records and records[0]["ok"]:
        return pairs[0]
    ok = [(r["weight"], (r["i"], r["j"])) for r in records if r["ok"]]
    return max(ok)[1] if ok else None


# --------------------------------------------------------------------------------------------
# Figures (uint8 RGB images)
# --------------------------------------------------------------------------------------------
def _rgb(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    return np.ascontiguousarray(img[..., :3]).astype(np.uint8)


def _dim(img: np.ndarray, f: float = 0.55) -> np.ndarray:
    import cv2

    g = cv2.cvtColor(_rgb(img), cv2.COLOR_RGB2GRAY)
    return np.repeat((g * f)[..., None], 3, axis=2).astype(np.uint8)


def _maps(frames: Sequence[np.ndarray], records: list[dict[str, Any]], arrays: dict, ref: tuple[int, int],
          verdict: str, cfg: EpipolarConfig, meta: dict[str, Any]) -> dict[str, np.ndarray]:
    """The report's figures for the reference pair (frame i's geometry; ``epipolar_lines`` is
    frames i | j side by side); ``meta`` receives their scale factors."""
    import cv2

    i, j = ref
    arr = arrays[ref]
    maps: dict[str, np.ndarray] = {}
    a, b = arr["p1"], arr["p2"]
    fa, fb = _rgb(frames[i]), _rgb(frames[j])
    h, w = fa.shape[:2]
    H = arr.get("H")
    if H is not None:
        # residual vectors after the homography, exaggerated to be visible
        res = arr["residual"]
        mag = np.linalg.norm(res, axis=1)
        moving = arr.get("moving", np.zeros(len(a), bool))
        # matches no model explains (neither F, H nor a moving group) are mismatches: dots only
        explained = arr["inlier_F"] | arr["inlier_H"] | moving
        fin = np.isfinite(mag) & explained
        p95 = float(np.percentile(mag[fin], 95)) if fin.any() else 1.0
        scale = float(np.clip(0.04 * max(h, w) / max(p95, 1e-3), 1.0, 50.0))
        img = _dim(fa)
        for k in np.flatnonzero(~explained):
            cv2.circle(img, (int(round(a[k][0])), int(round(a[k][1]))), 2, (200, 40, 40), -1, cv2.LINE_AA)
        for k in np.argsort(mag):
            if not fin[k]:
                continue
            col = (255, 60, 200) if moving[k] else ((80, 220, 80) if arr["inlier_H"][k] else (255, 170, 40))
            p = tuple(int(round(v)) for v in a[k])
            q = tuple(int(round(v)) for v in a[k] + scale * res[k])
            cv2.arrowedLine(img, p, q, col, 1, cv2.LINE_AA, tipLength=0.25)
        maps["residual_vectors"] = img
        meta["residual_vectors_scale"] = round(scale, 3)
    # |first - H-warped last|: the first-last pair whenever it has a homography
    wi, wj = (records[0]["i"], records[0]["j"]) if records and records[0]["ok"] else (i, j)
    Hw = arrays[(wi, wj)].get("H")
    if Hw is not None:
        f0, f1 = _rgb(frames[wi]), _rgb(frames[wj])
        h0, w0 = f0.shape[:2]
        warped = cv2.warpPerspective(f1, Hw, (w0, h0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                     borderMode=cv2.BORDER_CONSTANT)
        valid = cv2.warpPerspective(np.full(f1.shape[:2], 255, np.uint8), Hw, (w0, h0),
                                    flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT)
        diff = np.abs(f0.astype(np.int16) - warped.astype(np.int16)).max(axis=2).astype(np.float32)
        amp = np.clip(diff * 4, 0, 255).astype(np.uint8)
        col = cv2.applyColorMap(amp, cv2.COLORMAP_INFERNO)[..., ::-1]
        col[valid == 0] = 40
        maps["warp_difference"] = np.ascontiguousarray(col)
        meta["warp_difference_pair"] = [int(wi), int(wj)]
        meta["warp_difference_gain"] = 4
    F = arr.get("F")
    if F is not None and len(a):
        inl = np.flatnonzero(arr["inlier_F"])
        rng = np.random.default_rng(cfg.seed)
        pick = rng.choice(inl, size=min(24, len(inl)), replace=False) if len(inl) else np.array([], int)
        left, right = _dim(fa, 0.8), _dim(fb, 0.8)
        lines2 = (_homog(a[pick]) @ F.T) if len(pick) else np.zeros((0, 3))  # lines in frame j
        lines1 = (_homog(b[pick]) @ F) if len(pick) else np.zeros((0, 3))  # lines in frame i
        for n, k in enumerate(pick):
            c = tuple(int(v) for v in cv2.applyColorMap(np.uint8([[int(255 * n / max(len(pick), 1))]]),
                                                        cv2.COLORMAP_HSV)[0, 0][::-1])
            for img, line, pt in ((left, lines1[n], a[k]), (right, lines2[n], b[k])):
                seg = _line_in_image(line, img.shape[1], img.shape[0])
                if seg is not None:
                    cv2.line(img, seg[0], seg[1], c, 1, cv2.LINE_AA)
                cv2.circle(img, (int(round(pt[0])), int(round(pt[1]))), 4, c, -1, cv2.LINE_AA)
        hh = max(left.shape[0], right.shape[0])
        pad = lambda im: np.pad(im, ((0, hh - im.shape[0]), (0, 0), (0, 0)))  # noqa: E731
        both = np.concatenate([pad(left), np.full((hh, 6, 3), 255, np.uint8), pad(right)], axis=1)
        maps["epipolar_lines"] = both
        meta["epipolar_lines_points"] = int(len(pick))
    if verdict == "independent motion" or any(r["label"] == "independent motion" for r in records):
        mask = np.zeros((h, w), np.uint8)
        rad = max(6, int(0.02 * max(h, w)))
        for (pi, pj), arr2 in arrays.items():
            mv = arr2.get("moving")
            if mv is None or not mv.any() or _rgb(frames[pi]).shape[:2] != (h, w):
                continue
            for x, y in arr2["p1"][mv]:
                cv2.circle(mask, (int(round(x)), int(round(y))), rad, 255, -1)
        if mask.any():
            k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * rad + 1, 2 * rad + 1))
            mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, k)
            maps["independent_motion_mask"] = mask
    return maps


def _line_in_image(line: np.ndarray, w: int, h: int) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """Clip the line a x + b y + c = 0 to the image rectangle."""
    a, b, c = (float(v) for v in line)
    pts = []
    if abs(b) > 1e-12:
        for x in (0.0, w - 1.0):
            y = -(a * x + c) / b
            if 0 <= y <= h - 1:
                pts.append((x, y))
    if abs(a) > 1e-12:
        for y in (0.0, h - 1.0):
            x = -(b * y + c) / a
            if 0 <= x <= w - 1:
                pts.append((x, y))
    if len(pts) < 2:
        return None
    p, q = pts[0], max(pts[1:], key=lambda t: (t[0] - pts[0][0]) ** 2 + (t[1] - pts[0][1]) ** 2)
    return (int(round(p[0])), int(round(p[1]))), (int(round(q[0])), int(round(q[1])))
