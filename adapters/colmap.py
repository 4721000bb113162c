"""Robust small-baseline structure from motion for short generated clips (7-17 frames), on
pycolmap's estimators, then dense points (:mod:`blur4d.adapters._dense`).

Why not COLMAP's incremental mapper with default options: on clips with a few pixels of
parallax it registers few frames, drifts the focal length and varies from run to run (see
``shared/reference/field-notes.md``). This backend instead:

1. tracks corners from the first and the last frame into every frame with pyramidal
   Lucas-Kanade (each frame matched directly against the anchor frame, forward-backward checked),
   adds the tracks of the tracking stage when given, and SIFT matches between the first and the
   last frame;
2. uses one shared pinhole camera with a focal prior (an explicit focal, the EXIF 35 mm
   equivalent, or a horizontal field of view of ``fov_deg``, default 60 degrees);
3. measures the parallax of every frame pair (residual after the best homography) and
   initialises from the pair with the most parallax (``pycolmap.estimate_relative_pose``,
   LO-RANSAC with a fixed seed); no parallax anywhere is reported as pure rotation (rotations
   from the homographies, no depth) or a static camera, with ``ok=False``;
4. registers the other frames by PnP (``pycolmap.estimate_and_refine_absolute_pose``),
   triangulates all tracks, and runs a robust bundle adjustment (scipy ``least_squares``,
   soft-L1, sparse Jacobian); the focal length is freed only when the data constrain it
   (posterior standard deviation below ``focal_observable`` of its value);
5. flags tracks whose reprojection error stays high as independent motion.

Everything is deterministic: fixed RANSAC seeds, no threads in the estimators.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from blur4d import geometry as geo
from blur4d.errors import InputError
from blur4d.progress import NO_PROGRESS, Progress
from blur4d.types import Cameras, PointCloud, Provenance, Tracks, Video

from ._dense import CameraResult, DenseOptions, dense_points, scale_intrinsics

log = logging.getLogger("blur4d.adapters.colmap")

__all__ = ["ColmapCameras", "CameraResult", "focal_prior", "solve_sfm"]


def focal_prior(width: int, height: int, *, focal_px: float | None = None, focal_35mm: float | None = None,
                fov_deg: float = 60.0) -> tuple[float, str]:
    """Focal length in pixels and where it came from. The 35 mm equivalent refers to the
    diagonal of a 36x24 mm frame (43.27 mm)."""
    if focal_px is not None and focal_px > 0:
        return float(focal_px), "given focal_px"
    if focal_35mm is not None and focal_35mm > 0:
        return float(focal_35mm) * math.hypot(width, height) / math.hypot(36.0, 24.0), \
            f"EXIF 35 mm equivalent {focal_35mm:g} mm"
    return 0.5 * width / math.tan(math.radians(fov_deg) / 2), f"horizontal field-of-view prior {fov_deg:g} deg"


# ---------------------------------------------------------------------------------------------
# correspondences
# ---------------------------------------------------------------------------------------------
def _klt_from(gray: np.ndarray, anchor: int, max_corners: int, min_distance: int, fb_px: float) -> np.ndarray:
    """(T, N, 2) tracks of corners detected in ``anchor``, NaN where lost."""
    import cv2

    T = len(gray)
    p0 = cv2.goodFeaturesToTrack(gray[anchor], maxCorners=max_corners, qualityLevel=0.001,
                                 minDistance=min_distance, blockSize=7)
    if p0 is None:
        return np.zeros((T, 0, 2))
    p0 = p0.reshape(-1, 2).astype(np.float32)
    N = len(p0)
    xy = np.full((T, N, 2), np.nan)
    xy[anchor] = p0
    crit = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.003)
    lk = dict(winSize=(17, 17), maxLevel=3, criteria=crit, flags=cv2.OPTFLOW_USE_INITIAL_FLOW)
    for order in (range(anchor + 1, T), range(anchor - 1, -1, -1)):
        prev = anchor
        for t in order:
            alive = np.isfinite(xy[prev, :, 0])
            if not alive.any():
                break
            guess = np.where(alive[:, None], xy[prev], p0).astype(np.float32)
            p1, st, _ = cv2.calcOpticalFlowPyrLK(gray[anchor], gray[t], p0, guess.copy(), **lk)
            pb, st2, _ = cv2.calcOpticalFlowPyrLK(gray[t], gray[anchor], p1, p0.copy(), **lk)
            ok = alive & (st.ravel() == 1) & (st2.ravel() == 1) & (np.linalg.norm(pb - p0, axis=1) < fb_px)
            xy[t, ok] = p1[ok]
            prev = t
    return xy


def _sift_pair(gray_a: np.ndarray, gray_b: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    import cv2

    sift = cv2.SIFT_create(nfeatures=n)
    ka, da = sift.detectAndCompute(gray_a, None)
    kb, db = sift.detectAndCompute(gray_b, None)
    if da is None or db is None or len(ka) < 8 or len(kb) < 8:
        return np.zeros((0, 2)), np.zeros((0, 2))
    m = cv2.BFMatcher(cv2.NORM_L2)
    ab = m.knnMatch(da, db, k=2)
    ba = {q.queryIdx: q.trainIdx for q in m.match(db, da)}
    pa, pb = [], []
    for pair in ab:
        if len(pair) < 2:
            continue
        x, y = pair
        if x.distance < 0.8 * y.distance and ba.get(x.trainIdx) == x.queryIdx:
            pa.append(ka[x.queryIdx].pt)
            pb.append(kb[x.trainIdx].pt)
    return np.asarray(pa, np.float64).reshape(-1, 2), np.asarray(pb, np.float64).reshape(-1, 2)


# ---------------------------------------------------------------------------------------------
# bundle adjustment
# ---------------------------------------------------------------------------------------------
def _flat(A: np.ndarray) -> np.ndarray:
    """(P, NC, 3) -> (NC, 3P)."""
    return A.transpose(1, 0, 2).reshape(A.shape[1], -1)


@dataclass
class BAResult:
    cost: float
    iterations: int
    focal_sigma: float  # posterior 1-sigma of the focal (px); nan when the focal was fixed


def _bundle_adjust(poses: np.ndarray, X: np.ndarray, cam_idx: np.ndarray, pt_idx: np.ndarray, uv: np.ndarray,
                   f: float, cx: float, cy: float, fixed: int, *, refine_focal: bool, loss_px: float,
                   max_iter: int) -> tuple[np.ndarray, np.ndarray, float, BAResult]:
    """Robust bundle adjustment (Levenberg-Marquardt with the points eliminated by the Schur
    complement; Huber weights at ``loss_px``) over cam_from_world poses (C, 4, 4), points (P, 3)
    and optionally one shared focal; pose ``fixed`` is held. Pose updates are left-multiplied:
    ``T <- Exp(dw, dt) T``. Returns (poses, points, focal, BAResult)."""
    C, P, M = len(poses), len(X), len(uv)
    free = np.array([c for c in range(C) if c != fixed], np.int64)
    slot = np.full(C, -1, np.int64)
    slot[free] = np.arange(len(free))
    nf = 1 if refine_focal else 0
    NC = 6 * len(free) + nf
    R = poses[:, :3, :3].copy()
    t = poses[:, :3, 3].copy()
    X = X.copy()
    s_obs = slot[cam_idx]
    has_cam = s_obs >= 0

    def residuals(R: np.ndarray, t: np.ndarray, X: np.ndarray, f: float) -> tuple[np.ndarray, np.ndarray]:
        Xc = np.einsum("mij,mj->mi", R[cam_idx], X[pt_idx]) + t[cam_idx]
        z = np.maximum(Xc[:, 2], 1e-9)
        r = np.stack([f * Xc[:, 0] / z + cx, f * Xc[:, 1] / z + cy], 1) - uv
        return r, Xc

    def robust_cost(r: np.ndarray) -> tuple[float, np.ndarray]:
        n = np.linalg.norm(r, axis=1)
        w = np.where(n <= loss_px, 1.0, loss_px / np.maximum(n, 1e-12))
        rho = np.where(n <= loss_px, 0.5 * n ** 2, loss_px * (n - 0.5 * loss_px))
        return float(rho.sum()), w

    r, Xc = residuals(R, t, X, f)
    cost, w = robust_cost(r)
    lam = 1e-3
    it = 0
    for it in range(1, max_iter + 1):
        x, y, z = Xc[:, 0], Xc[:, 1], np.maximum(Xc[:, 2], 1e-9)
        Jxc = np.zeros((M, 2, 3))
        Jxc[:, 0, 0] = f / z
        Jxc[:, 0, 2] = -f * x / z ** 2
        Jxc[:, 1, 1] = f / z
        Jxc[:, 1, 2] = -f * y / z ** 2
        Jp = Jxc @ R[cam_idx]  # (M, 2, 3)
        Jc = np.concatenate([-Jxc @ geo.skew(Xc), Jxc], 2)  # (M, 2, 6): d/d(dw), d/d(dt)
        Jf = np.stack([x / z, y / z], 1)  # (M, 2)
        wr = w[:, None] * r
        # point blocks
        Hpp = np.zeros((P, 3, 3))
        JpT = Jp.transpose(0, 2, 1)
        np.add.at(Hpp, pt_idx, w[:, None, None] * (JpT @ Jp))
        gp = np.zeros((P, 3))
        np.add.at(gp, pt_idx, (JpT @ wr[:, :, None])[..., 0])
        # camera (+focal) blocks and coupling
        Hcc = np.zeros((NC, NC))
        gc = np.zeros(NC)
        Hcp = np.zeros((P, NC, 3))
        m = has_cam
        JcT = Jc[m].transpose(0, 2, 1)
        cb = w[m, None, None] * (JcT @ Jc[m])
        cpb = w[m, None, None] * (JcT @ Jp[m])  # (M', 6, 3)
        gcb = (JcT @ wr[m][:, :, None])[..., 0]
        for k in range(len(free)):
            sel = s_obs[m] == k
            sl = slice(6 * k, 6 * k + 6)
            Hcc[sl, sl] = cb[sel].sum(0)
            gc[sl] = gcb[sel].sum(0)
        Hcp_cam = np.zeros((P, len(free), 6, 3))
        np.add.at(Hcp_cam, (pt_idx[m], s_obs[m]), cpb)
        Hcp[:, :6 * len(free)] = Hcp_cam.reshape(P, 6 * len(free), 3)
        if nf:
            Hcc[-1, -1] = float((w[:, None] * Jf ** 2).sum())
            gc[-1] = float((Jf * wr).sum())
            fc = w[m, None] * (Jf[m][:, None, :] @ Jc[m])[:, 0]  # (M', 6)
            for k in range(len(free)):
                sel = s_obs[m] == k
                Hcc[-1, 6 * k:6 * k + 6] = Hcc[6 * k:6 * k + 6, -1] = fc[sel].sum(0)
            fp = np.zeros((P, 3))
            np.add.at(fp, pt_idx, w[:, None] * (Jf[:, None, :] @ Jp)[:, 0])
            Hcp[:, -1] = fp
        improved = False
        for _ in range(8):
            Hpp_d = Hpp + lam * np.einsum("pii->pi", Hpp)[:, :, None] * np.eye(3) + 1e-12 * np.eye(3)
            Hpp_inv = _inv_blocks(Hpp_d)
            A = Hcp @ Hpp_inv  # (P, NC, 3)
            S = Hcc + lam * np.diag(np.diag(Hcc)) - _flat(A) @ _flat(Hcp).T
            rhs = -gc + _flat(A) @ gp.ravel()
            try:
                dc = np.linalg.solve(S + 1e-12 * np.eye(NC), rhs) if NC else np.zeros(0)
            except np.linalg.LinAlgError:
                dc = np.linalg.lstsq(S, rhs, rcond=None)[0]
            dp = -(Hpp_inv @ (gp + (dc @ Hcp))[:, :, None])[..., 0]
            Rn, tn = R.copy(), t.copy()
            if len(free):
                d6 = dc[:6 * len(free)].reshape(-1, 6)
                dR = geo.rodrigues(d6[:, :3])
                Rn[free] = dR @ R[free]
                tn[free] = np.einsum("cij,cj->ci", dR, t[free]) + d6[:, 3:]
            fn = f + (dc[-1] if nf else 0.0)
            Xn = X + dp
            rn, Xcn = residuals(Rn, tn, Xn, fn)
            cn, wn = robust_cost(rn)
            if cn < cost:
                rel = (cost - cn) / max(cost, 1e-12)
                if cost - cn < 1e-6 * M:  # negligible in px^2 per observation
                    rel = 0.0
                R, t, X, f, r, Xc, cost, w = Rn, tn, Xn, fn, rn, Xcn, cn, wn
                lam = max(lam / 5, 1e-9)
                improved = True
                break
            lam *= 10
        if not improved or rel < 1e-6:
            break
    sigma = float("nan")
    if nf:
        # marginal covariance of the cameras = inverse Schur complement (undamped), pseudo-inverse
        # because the scale of the scene is a free direction
        Hpp_inv = _inv_blocks(Hpp)
        S0 = Hcc - _flat(Hcp @ Hpp_inv) @ _flat(Hcp).T
        n = np.linalg.norm(r, axis=1)
        s2 = float(np.sum(np.minimum(n, 3 * loss_px) ** 2) / max(1, 2 * M - NC - 3 * P))
        # eigen-decomposition: the scale gauge is a null direction without a focal component; a
        # (near-)null direction WITH a focal component means the focal is not observable
        ev, V = np.linalg.eigh(0.5 * (S0 + S0.T))
        tiny = ev <= 1e-9 * max(float(ev.max()), 1e-300)
        if np.any(tiny & (np.abs(V[-1]) > 1e-3)):
            sigma = float("inf")
        else:
            sigma = float(np.sqrt(max(float(np.sum(V[-1, ~tiny] ** 2 / ev[~tiny])), 0.0) * s2))
    return geo.pose_matrix(R, t), X, float(f), BAResult(cost, it, sigma)


def _inv_blocks(H: np.ndarray) -> np.ndarray:
    """Inverse of a stack of symmetric 3x3 blocks; rank-deficient blocks (a point seen along
    nearly parallel rays, or with all its observations down-weighted) get the pseudo-inverse,
    so an unconstrained point contributes nothing instead of raising."""
    try:
        return np.linalg.inv(H)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(H, hermitian=True)


def _triangulate_tracks(obs: np.ndarray, K: np.ndarray, poses: np.ndarray, reg: np.ndarray) -> np.ndarray:
    """Midpoint triangulation of every track over the registered frames -> (N, 3), NaN if < 2 views."""
    T, N = obs.shape[:2]
    Kinv = np.linalg.inv(K)
    wfc = geo.invert(poses[reg])
    seen = np.isfinite(obs[reg, :, 0]).T  # (N, V)
    uv = np.nan_to_num(obs[reg].transpose(1, 0, 2))  # (N, V, 2)
    rays = np.concatenate([uv, np.ones(uv.shape[:2] + (1,))], -1) @ Kinv.T
    dirs = np.einsum("vij,nvj->nvi", wfc[:, :3, :3], rays)
    X = geo.triangulate_midpoint(wfc[:, :3, 3], dirs, seen.astype(np.float64))
    X[seen.sum(1) < 2] = np.nan
    return X


def _reproj(obs: np.ndarray, K: np.ndarray, poses: np.ndarray, X: np.ndarray, reg: np.ndarray) -> np.ndarray:
    """(T, N) reprojection error px (NaN where unobserved / unregistered / behind)."""
    T, N = obs.shape[:2]
    err = np.full((T, N), np.nan)
    for t in np.flatnonzero(reg):
        uv, z = geo.project(K, poses[t], np.nan_to_num(X))
        e = np.linalg.norm(uv - obs[t], axis=1)
        e[(z <= 0) | ~np.isfinite(X).all(1)] = np.nan
        err[t] = e
    return err


@dataclass
class SfmOutput:
    K: np.ndarray
    poses: np.ndarray  # (T, 4, 4) cam_from_world, NaN where unregistered
    registered: np.ndarray
    points: np.ndarray  # (N, 3)
    point_ok: np.ndarray  # (N,) static inlier tracks
    dynamic_tracks: np.ndarray  # (N,) tracks that move on their own
    ok: bool
    reason: str
    motion: str
    ref: int
    info: dict[str, Any] = field(default_factory=dict)


def solve_sfm(obs: np.ndarray, size: tuple[int, int], f0: float, *, seed: int = 0, min_inliers: int = 30,
              min_parallax_px: float = 0.3, static_px: float = 0.25, static_fraction: float = 0.5,
              ransac_px: float = 1.0, refine_focal: str = "auto",
              focal_observable: float = 0.02, dynamic_px: float = 2.0, max_ba_points: int = 1000,
              ba_iterations: int = 30) -> SfmOutput:
    """Cameras from correspondences ``obs`` (T, N, 2) (NaN = unobserved) in an image of ``size``
    (W, H) with focal prior ``f0`` (px). See the module docstring for the method."""
    import pycolmap

    T, N = obs.shape[:2]
    W, H = size
    cx, cy = (W - 1) / 2.0, (H - 1) / 2.0
    K = np.array([[f0, 0, cx], [0, f0, cy], [0, 0, 1.0]])
    info: dict[str, Any] = {"tracks": int(N), "frames": int(T)}
    seen = np.isfinite(obs[..., 0])
    nanpose = np.full((T, 4, 4), np.nan)

    def fail(reason: str, motion: str = "") -> SfmOutput:
        return SfmOutput(K, nanpose.copy(), np.zeros(T, bool), np.full((N, 3), np.nan), np.zeros(N, bool),
                         np.zeros(N, bool), False, reason, motion, 0, info)

    if T < 2:
        return fail("need at least 2 frames")
    # 1. parallax per pair: residual after the best homography ---------------------------
    import cv2

    cv2.setRNGSeed(seed)
    best = (-1.0, 0, T - 1)
    pairs: dict[tuple[int, int], float] = {}
    homs: dict[tuple[int, int], np.ndarray] = {}
    # candidate frames for the initial pair: all of a short clip, an even subset of a long one
    cand_frames = np.unique(np.linspace(0, T - 1, min(T, 24)).round().astype(int)).tolist()
    for i in cand_frames:
        for j in cand_frames:
            if j <= i:
                continue
            common = seen[i] & seen[j]
            if common.sum() < max(8, min_inliers // 2):
                continue
            a, b = obs[i, common], obs[j, common]
            Hm, mask = cv2.findHomography(a, b, cv2.RANSAC, 1.0, maxIters=2000, confidence=0.999)
            if Hm is None:
                continue
            proj = cv2.perspectiveTransform(a.reshape(-1, 1, 2), Hm).reshape(-1, 2)
            # 80th percentile: a dominant plane (often the background) fits any homography
            par = float(np.percentile(np.linalg.norm(proj - b, axis=1), 80))
            pairs[(i, j)] = par
            homs[(i, j)] = Hm
            if par > best[0]:
                best = (par, i, j)
    info["pairs_considered"] = len(pairs)
    if not pairs:
        return fail(f"too few correspondences: no frame pair shares {max(8, min_inliers // 2)} tracks")
    par, i0, j0 = best
    info["init_pair"] = [int(i0), int(j0)]
    info["init_parallax_px"] = par
    # 2a. a static camera watching moving content: with no translation every still point
    # satisfies any translational epipolar geometry, so the moving minority would decide the
    # "motion". Most tracks not moving at all across the widest pair means the camera stood still.
    both = seen[i0] & seen[j0]
    disp = np.linalg.norm(obs[j0, both] - obs[i0, both], axis=1)
    still = disp < static_px
    info["still_fraction"] = float(still.mean()) if len(disp) else 0.0
    if par >= min_parallax_px and len(disp) and still.mean() >= static_fraction:
        poses = np.tile(np.eye(4), (T, 1, 1))
        moving = np.zeros(N, bool)
        moving[np.flatnonzero(both)[disp >= 2 * static_px]] = True
        reason = (f"static camera with independent motion: {still.mean():.0%} of the tracks stay within "
                  f"{static_px} px between frames {i0} and {j0} while {moving.sum() / max(len(disp), 1):.0%} "
                  "move on their own; no baseline, so no depth")
        return SfmOutput(K, poses, np.ones(T, bool), np.full((N, 3), np.nan), np.zeros(N, bool), moving,
                         False, reason, "static", 0, info)
    # 2b. no parallax: rotation only or static ---------------------------------------------
    if par < min_parallax_px:
        poses = nanpose.copy()
        reg = np.zeros(T, bool)
        Kinv = np.linalg.inv(K)
        ref = 0
        angles = []
        ortho = []
        for t in range(T):
            if t == ref:
                poses[t] = np.eye(4)
                reg[t] = True
                continue
            key = (ref, t)
            if key not in homs:
                continue
            M = Kinv @ homs[key] @ K
            M = M / np.cbrt(np.linalg.det(M))
            U, S, Vt = np.linalg.svd(M)
            R = U @ np.diag([1, 1, np.linalg.det(U @ Vt)]) @ Vt
            ortho.append(float(S.max() / S.min()))
            poses[t] = geo.pose_matrix(R, np.zeros(3))
            reg[t] = True
            angles.append(float(geo.rotation_angle_deg(R)))
        max_angle = max(angles) if angles else 0.0
        info.update({"max_rotation_deg": max_angle, "homography_orthogonality": max(ortho) if ortho else None})
        if max_angle < 0.05:
            reason = (f"static camera: no parallax ({par:.2f} px after a homography, 80th percentile) and no rotation; "
                      "no baseline, so no depth")
            motion = "static"
        else:
            reason = (f"pure rotation: the frames are related by homographies (residual parallax, 80th percentile, "
                      f"{par:.2f} px < {min_parallax_px} px), so there is no baseline and no depth; "
                      f"rotations only (up to {max_angle:.2f} deg)")
            motion = "rotation-only"
        return SfmOutput(K, poses, reg, np.full((N, 3), np.nan), np.zeros(N, bool), np.zeros(N, bool),
                         False, reason, motion, ref, info)
    # 3. two-view initialisation on the widest pair ----------------------------------------
    cam = pycolmap.Camera(model="PINHOLE", width=W, height=H, params=[f0, f0, cx, cy])
    common = np.flatnonzero(seen[i0] & seen[j0])

    def relative_pose(th: float) -> Any:
        ropt = pycolmap.RANSACOptions()
        ropt.max_error = float(th)
        ropt.random_seed = int(seed)
        ropt.num_threads = 1
        return pycolmap.estimate_relative_pose(cam, obs[i0, common], cam, obs[j0, common], ropt)

    rel = relative_pose(ransac_px)
    n_in = int(rel["num_inliers"]) if rel else 0
    info["init_inliers"] = n_in
    info["init_correspondences"] = int(len(common))
    if rel is None or n_in < min_inliers:
        return fail(f"too few inliers: {n_in} of {len(common)} correspondences between frames {i0} and {j0} "
                    f"fit one camera motion (need {min_inliers})")
    # noise-adaptive threshold: with a few pixels of parallax a loose threshold admits wrong models
    # (a dominant background plane plus a moving object fits many), so re-estimate at ~4 sigma of
    # the inlier residuals when the tracks are more precise than ransac_px
    Tji = np.eye(4)
    Tji[:3, :] = rel["cam2_from_cam1"].matrix()
    F = geo.fundamental_from_poses(K, np.eye(4), K, Tji)
    r = geo.sampson_distance(F, obs[i0, common], obs[j0, common])
    sigma = 1.4826 * float(np.median(r[np.asarray(rel["inlier_mask"], bool)]))
    th = float(np.clip(4.0 * sigma, 0.1, ransac_px))
    info["noise_px"] = sigma
    info["adaptive_threshold_px"] = th
    if th < 0.8 * ransac_px:
        rel2 = relative_pose(th)
        if rel2 is not None and int(rel2["num_inliers"]) >= min_inliers:
            rel = rel2
            info["init_inliers"] = int(rel["num_inliers"])
    ransac_px = max(th, 0.25) if th < ransac_px else ransac_px
    Tji = np.eye(4)
    Tji[:3, :] = rel["cam2_from_cam1"].matrix()
    poses = nanpose.copy()
    poses[i0] = np.eye(4)
    poses[j0] = Tji
    reg = np.zeros(T, bool)
    reg[[i0, j0]] = True
    inl = np.zeros(N, bool)
    inl[common[np.asarray(rel["inlier_mask"], bool)]] = True
    two = np.where(inl[None, :, None], obs, np.nan)
    X = _triangulate_tracks(two, K, poses, reg)
    # 4. register the other frames by PnP --------------------------------------------------
    aopt = pycolmap.AbsolutePoseEstimationOptions()
    aopt.ransac.max_error = float(2 * ransac_px)
    aopt.ransac.random_seed = int(seed)
    aopt.ransac.num_threads = 1
    order = sorted((t for t in range(T) if not reg[t]), key=lambda t: min(abs(t - i0), abs(t - j0)))
    for t in order:
        m = seen[t] & np.isfinite(X).all(1)
        if m.sum() < 12:
            continue
        est = pycolmap.estimate_and_refine_absolute_pose(obs[t, m], X[m], cam, aopt)
        if est is None or int(est["num_inliers"]) < 12:
            continue
        P = np.eye(4)
        P[:3, :] = est["cam_from_world"].matrix()
        poses[t] = P
        reg[t] = True
    info["registered_after_pnp"] = int(reg.sum())
    # 5. triangulate everything, bundle adjust (twice, dropping outliers in between) -------
    use = seen & reg[:, None]
    X = _triangulate_tracks(np.where(use[..., None], obs, np.nan), K, poses, reg)
    err = _reproj(obs, K, poses, X, reg)
    f = f0
    rng = np.random.default_rng(seed)
    ba_info = []
    keep_obs = use & np.isfinite(err) & (err < 8 * ransac_px)
    focal_note = "fixed at the prior (refine_focal='never')"
    # rounds: fixed-focal BA, drop outliers, fixed-focal BA again, then (auto) test whether
    # freeing the focal is supported by the clean inliers
    n_rounds = 3 if refine_focal != "never" else 2
    for rnd in range(n_rounds):
        free_focal = rnd == 2
        tracks_ok = (keep_obs.sum(0) >= 2) & np.isfinite(X).all(1)
        cand = np.flatnonzero(tracks_ok)
        if len(cand) < min_inliers:
            return fail(f"too few inliers: only {len(cand)} tracks are consistent with the camera motion "
                        f"(need {min_inliers})", "translation")
        if rnd < 2:
            sel = np.sort(rng.choice(cand, size=min(max_ba_points, len(cand)), replace=False))
        regi = np.flatnonzero(reg)
        cmap = {t: k for k, t in enumerate(regi)}
        o_t, o_p = np.nonzero(keep_obs[:, sel])  # frames, local point index
        cam_idx = np.array([cmap[t] for t in o_t], np.int64)
        uv = obs[o_t, sel[o_p]]
        poses_r, Xs, f_new, res = _bundle_adjust(poses[regi], X[sel], cam_idx, o_p.astype(np.int64), uv, f, cx, cy,
                                                 cmap[i0], refine_focal=free_focal, loss_px=ransac_px,
                                                 max_iter=ba_iterations)
        if free_focal:
            # the same observations with the focal fixed, for a fair cost comparison
            _, _, _, res_fixed = _bundle_adjust(poses[regi], X[sel], cam_idx, o_p.astype(np.int64), uv, f, cx, cy,
                                                cmap[i0], refine_focal=False, loss_px=ransac_px, max_iter=3)
            sigma = res.focal_sigma
            gain = (res_fixed.cost - res.cost) / max(res_fixed.cost, 1e-12)
            observable = sigma < focal_observable * f_new and gain > 0.05 and 0.67 * f0 < f_new < 1.5 * f0
            if refine_focal == "always" or observable:
                focal_note = f"refined: {f_new:.1f} px (sigma {sigma:.1f} px, robust cost -{gain:.0%})"
            else:
                focal_note = (f"fixed at the prior: not observable (free focal {f_new:.1f} px, sigma {sigma:.1f} px, "
                              f"robust cost -{gain:.1%}; needs sigma < {focal_observable:.0%} and a cost gain > 5%)")
                ba_info.append({"round": rnd, "focal": focal_note, "cost": float(res.cost)})
                break
            f = f_new
        poses[regi] = poses_r
        K = np.array([[f, 0, cx], [0, f, cy], [0, 0, 1.0]])
        X = _triangulate_tracks(np.where(use[..., None], obs, np.nan), K, poses, reg)
        X[sel] = Xs
        err = _reproj(obs, K, poses, X, reg)
        med = float(np.nanmedian(err[use])) if np.isfinite(err[use]).any() else float("nan")
        ba_info.append({"round": rnd, "points": int(len(sel)), "observations": int(len(uv)), "free_focal": free_focal,
                        "cost": float(res.cost), "iterations": int(res.iterations), "median_reproj_px": med})
        keep_obs = use & np.isfinite(err) & (err < max(3 * ransac_px, 4 * med))
    info["bundle_adjustment"] = ba_info
    info["focal_px"] = f
    info["focal_note"] = focal_note
    # 6. independent motion and static inliers --------------------------------------------
    n_obs = (use & np.isfinite(err)).sum(0)
    rms = np.sqrt((np.where(use & np.isfinite(err), err, 0.0) ** 2).sum(0) / np.maximum(n_obs, 1))
    dyn = (n_obs >= 2) & (rms > dynamic_px)
    good = (n_obs >= 2) & (rms <= dynamic_px) & np.isfinite(X).all(1)
    frac = float(dyn.sum() / max(1, (n_obs >= 2).sum()))
    info.update({"static_tracks": int(good.sum()), "moving_tracks": int(dyn.sum()), "moving_fraction": frac})
    # 7. normalise: world = camera i0, median depth of static points in camera i0 = 1 -----
    depth0 = (X[good] @ poses[i0][:3, :3].T + poses[i0][:3, 3])[:, 2]
    scale = float(np.median(depth0[depth0 > 0])) if (depth0 > 0).any() else 1.0
    base = geo.invert(poses[i0])
    w_from_old = poses[i0]  # new world = camera i0
    new = poses.copy()
    for t in np.flatnonzero(reg):
        P = poses[t] @ base  # cam_from_new_world
        P[:3, 3] /= scale
        new[t] = P
    Xn = (X @ w_from_old[:3, :3].T + w_from_old[:3, 3]) / scale
    info["normalisation"] = "world = camera of frame %d; unit = median depth of static points seen from it" % i0
    reasons = []
    ok = True
    if reg.sum() < T:
        reasons.append(f"{T - reg.sum()} of {T} frames could not be posed")
    if frac > 0.2:
        reasons.append(f"independent motion: {frac:.0%} of the tracks move on their own")
    if good.sum() < min_inliers:
        ok = False
        reasons.append(f"too few inliers: {good.sum()} static tracks")
    return SfmOutput(K, new, reg, Xn, good, dyn, ok, "; ".join(reasons), "translation", int(i0), info)


# ---------------------------------------------------------------------------------------------
# the backend
# ---------------------------------------------------------------------------------------------
@dataclass
class ColmapCameras:
    """Robust small-baseline SfM (pycolmap estimators + robust bundle adjustment) and dense
    flow-stereo points. Options are the fields below."""

    fov_deg: float = 60.0
    """Horizontal field of view (deg) of the focal prior when neither focal_px nor focal_35mm is given."""
    focal_px: float | None = None
    """Focal length in pixels of the input frames (overrides the prior)."""
    focal_35mm: float | None = None
    """35 mm-equivalent focal length (e.g. from the photo's EXIF)."""
    refine_focal: str = "auto"
    """auto: free the focal only when the data constrain it; never; always."""
    focal_observable: float = 0.02
    """Refine the focal only if its posterior standard deviation is below this fraction."""
    long_side: int = 960
    """Long side (px) of the frames used for tracking and SfM."""
    max_corners: int = 2000
    """Corners tracked from each anchor frame (first and last)."""
    sift_features: int = 2000
    """SIFT features for first-last matching (0 disables SIFT)."""
    min_inliers: int = 30
    """Fewer inlier correspondences than this is a failure (ok=False, 'too few inliers')."""
    min_parallax_px: float = 0.3
    """Median residual parallax (px at long_side) below which the motion is treated as pure rotation."""
    ransac_px: float = 1.0
    """RANSAC inlier threshold in pixels (at long_side)."""
    dynamic_px: float = 2.0
    """A track whose RMS reprojection error exceeds this (px) moves on its own."""
    max_ba_points: int = 1000
    """Tracks used in bundle adjustment (a seeded random subset; all are triangulated afterwards)."""
    dense: bool = True
    """Compute dense points (flow stereo) after the cameras."""
    dense_long_side: int = 640
    """Long side (px) for dense matching."""
    dense_dynamic_seed_px: float = 3.0
    """Dense moving content: a region counts as moving only if some of its epipolar residuals exceed
    this (px at dense_long_side); 1-2 px residual blobs on generated clips are generator artefacts."""

    def __post_init__(self) -> None:
        if self.refine_focal not in ("auto", "never", "always"):
            raise InputError(f"refine_focal: expected auto, never or always, got {self.refine_focal!r}")
        if not 1.0 < float(self.fov_deg) < 179.0:
            raise InputError(f"fov_deg: expected a field of view between 1 and 179 degrees, got {self.fov_deg}")
        if not float(self.dense_dynamic_seed_px) > 0:
            raise InputError(f"dense_dynamic_seed_px: expected a positive residual in px, "
                             f"got {self.dense_dynamic_seed_px}")
        if self.long_side < 64 or self.dense_long_side < 64:
            raise InputError(f"long_side/dense_long_side: expected >= 64 px, "
                             f"got {self.long_side}/{self.dense_long_side}")

    def __call__(self, video: Video, *, tracks: Tracks | None = None, seed: int | None = 0,
                 progress: Progress = NO_PROGRESS) -> CameraResult:
        import cv2

        from blur4d.registry import require

        require("pycolmap", extra="colmap", feature="the colmap camera backend")
        seed = 0 if seed is None else int(seed)
        t_start = time.perf_counter()
        timings: dict[str, float] = {}
        frames = video.frames
        T, H, Wf = frames.shape[:3]
        s = min(1.0, self.long_side / max(H, Wf))
        w, h = (max(8, round(Wf * s)), max(8, round(H * s))) if s < 1 else (Wf, H)
        sx, sy = w / Wf, h / H
        gray = np.stack([cv2.cvtColor(cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) if s < 1 else f,
                                      cv2.COLOR_RGB2GRAY) for f in frames])
        progress("cameras", 0, 4)
        min_dist = max(4, int(round(min(w, h) / 60)))
        parts = [_klt_from(gray, 0, self.max_corners, min_dist, 0.5)]
        if T > 1:
            parts.append(_klt_from(gray, T - 1, self.max_corners, min_dist, 0.5))
        n_track_stage = 0
        if tracks is not None and tracks.num_frames == T:
            ext = np.where(tracks.visible[..., None], tracks.xy.astype(np.float64), np.nan)
            ext = (ext + 0.5) * np.array([sx, sy]) - 0.5
            parts.append(ext)
            n_track_stage = tracks.num_points
        n_sift = 0
        if self.sift_features > 0 and T > 2:
            a, b = _sift_pair(gray[0], gray[-1], self.sift_features)
            if len(a):
                sm = np.full((T, len(a), 2), np.nan)
                sm[0], sm[-1] = a, b
                parts.append(sm)
                n_sift = len(a)
        obs = np.concatenate(parts, axis=1)
        obs = obs[:, np.isfinite(obs[..., 0]).sum(0) >= 2]
        timings["correspondences"] = time.perf_counter() - t_start
        progress("cameras", 1, 4)
        f_full, f_src = focal_prior(Wf, H, focal_px=self.focal_px, focal_35mm=self.focal_35mm, fov_deg=self.fov_deg)
        t1 = time.perf_counter()
        sfm = solve_sfm(obs, (w, h), f_full * sx, seed=seed, min_inliers=self.min_inliers,
                        min_parallax_px=self.min_parallax_px, ransac_px=self.ransac_px,
                        refine_focal=self.refine_focal, focal_observable=self.focal_observable,
                        dynamic_px=self.dynamic_px, max_ba_points=self.max_ba_points)
        timings["sfm"] = time.perf_counter() - t1
        progress("cameras", 3, 4)
        K_full = scale_intrinsics(sfm.K, 1.0 / sx, 1.0 / sy)
        info = dict(sfm.info)
        info.update({"focal_prior": f_src, "focal_prior_px": f_full, "work_size": [w, h],
                     "correspondences": {"klt_anchors": [0, T - 1], "tracking_stage": n_track_stage,
                                         "sift_first_last": n_sift, "total_tracks": int(obs.shape[1])}})
        prov = Provenance.capture("colmap", asdict(self), seed=seed, packages=("pycolmap", "opencv-python", "scipy"),
                                  timings=timings, method="small-baseline SfM: widest-pair init, PnP, robust BA",
                                  info=_jsonable(info))
        cams = Cameras(K=np.repeat(K_full[None], T, 0), cam_from_world=sfm.poses, image_size=(Wf, H),
                       intervals=video.intervals, registered=sfm.registered, scale_known=False, ok=sfm.ok,
                       reason=sfm.reason, motion=sfm.motion, provenance=prov)
        sparse = None
        if sfm.point_ok.any():
            Xs = sfm.points[sfm.point_ok]
            uv = obs[sfm.ref, sfm.point_ok]
            have = np.isfinite(uv).all(1)
            rgb = np.full((len(Xs), 3), 200, np.uint8)
            if have.any():
                uvf = (uv[have] + 0.5) / np.array([sx, sy]) - 0.5
                xi = np.clip(np.round(uvf[:, 0]).astype(int), 0, Wf - 1)
                yi = np.clip(np.round(uvf[:, 1]).astype(int), 0, H - 1)
                rgb[have] = frames[sfm.ref, yi, xi]
            sparse = PointCloud(Xs.astype(np.float32), rgb, frame=np.full(len(Xs), -1, np.int32))
        points, dynamic, depth = None, (), None
        if self.dense and sfm.motion == "translation" and sfm.registered.sum() >= 2:
            t2 = time.perf_counter()
            dense_opts = DenseOptions(long_side=self.dense_long_side, dynamic_seed_px=self.dense_dynamic_seed_px)
            points, dynamic, depth, dinfo = dense_points(frames, cams, sfm.ref, options=dense_opts, progress=progress)
            timings["dense"] = time.perf_counter() - t2
            info["dense"] = dinfo
        elif sfm.motion in ("rotation-only", "static"):
            info["dense"] = {"skipped": "no baseline: depth is not observable"}
        timings["total"] = time.perf_counter() - t_start
        prov = prov.with_timings(**timings)
        cams = Cameras(K=cams.K, cam_from_world=cams.cam_from_world, image_size=cams.image_size,
                       intervals=cams.intervals, registered=cams.registered, scale_known=False, ok=cams.ok,
                       reason=cams.reason, motion=cams.motion,
                       provenance=Provenance(prov.backend, prov.config, prov.seed, prov.timings, prov.packages,
                                             prov.created, {**prov.extra, "info": _jsonable(info)}))
        progress("cameras", 4, 4)
        return CameraResult(cameras=cams, points=points, dynamic=tuple(dynamic), depth=depth, sparse=sparse,
                            info=_jsonable(info))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
