"""Robust bundle adjustment (Levenberg-Marquardt, Huber weights, Schur complement) with the focal length
freed only when observable; triangulation and reprojection of tracks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from blur4d import geometry as geo


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
    ``T <- Exp(dw, dt) T``. Returns (poses, points, focal, BAResult).

    The normal equations are summed per observation in closed form (2-row Jacobians) and gathered
    into points by ``np.bincount`` and into cameras by one product per camera (no
    ``np.add.at``: 2-3x faster, the same sums up to round-off)."""
    C, P, M = len(poses), len(X), len(uv)
    free = np.array([c for c in range(C) if c != fixed], np.int64)
    slot = np.full(C, -1, np.int64)
    slot[free] = np.arange(len(free))
    nf = 1 if refine_focal else 0
    F = len(free)
    NC = 6 * F + nf
    R = poses[:, :3, :3].copy()
    t = poses[:, :3, 3].copy()
    X = X.copy()
    s_obs = slot[cam_idx]
    m = np.flatnonzero(s_obs >= 0)  # observations in a free camera, grouped by camera below
    m = m[np.argsort(s_obs[m], kind="stable")]
    cam_bounds = np.searchsorted(s_obs[m], np.arange(F + 1))

    def to_pt(v: np.ndarray) -> np.ndarray:
        """Per-observation rows (M, k) summed per point -> (P, k)."""
        return np.stack([np.bincount(pt_idx, v[:, j], minlength=P) for j in range(v.shape[1])], 1)

    # each (point, camera) pair observed once (one track position per frame): its coupling block is
    # that observation's own, assigned without summing
    pair = pt_idx[m] * max(F, 1) + s_obs[m]
    unique_pairs = len(np.unique(pair)) == len(pair)

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
        # d/d(dw) = -Jxc [Xc]x (each row a: -a [Xc]x = Xc x a), d/d(dt) = Jxc
        Jc = np.concatenate([np.cross(Xc[:, None, :], Jxc), Jxc], 2)  # (M, 2, 6)
        Jf = np.stack([x / z, y / z], 1)  # (M, 2)
        wr = w[:, None] * r
        # point blocks
        Hpp = to_pt(((Jp * w[:, None, None]).transpose(0, 2, 1) @ Jp).reshape(M, 9)).reshape(P, 3, 3)
        gp = to_pt((Jp.transpose(0, 2, 1) @ wr[:, :, None])[..., 0])
        # camera (+focal) blocks and coupling
        Hcc = np.zeros((NC, NC))
        gc = np.zeros(NC)
        Jm, wm, wrm = Jc[m], w[m], wr[m]
        for k in range(F):
            a, b = cam_bounds[k], cam_bounds[k + 1]
            J = Jm[a:b].reshape(-1, 6)  # (2 n_k, 6)
            sl = slice(6 * k, 6 * k + 6)
            Hcc[sl, sl] = (J * np.repeat(wm[a:b], 2)[:, None]).T @ J
            gc[sl] = J.T @ wrm[a:b].ravel()
        cpb = (Jm * wm[:, None, None]).transpose(0, 2, 1) @ Jp[m]  # (M', 6, 3)
        Hcp_cam = np.zeros((P, F, 6, 3))
        if unique_pairs:
            Hcp_cam[pt_idx[m], s_obs[m]] = cpb
        else:
            np.add.at(Hcp_cam, (pt_idx[m], s_obs[m]), cpb)
        Hcp = np.zeros((P, NC, 3))
        Hcp[:, :6 * F] = Hcp_cam.reshape(P, 6 * F, 3)
        if nf:
            Hcc[-1, -1] = float((w[:, None] * Jf ** 2).sum())
            gc[-1] = float((Jf * wr).sum())
            fc = ((Jf[m] * wm[:, None])[:, None, :] @ Jm)[:, 0]  # (M', 6)
            for k in range(F):
                Hcc[-1, 6 * k:6 * k + 6] = Hcc[6 * k:6 * k + 6, -1] = fc[cam_bounds[k]:cam_bounds[k + 1]].sum(0)
            Hcp[:, -1] = to_pt(((Jf * w[:, None])[:, None, :] @ Jp)[:, 0])
        Hcp_f = None
        improved = False
        for _ in range(8):
            Hpp_d = Hpp + lam * np.einsum("pii->pi", Hpp)[:, :, None] * np.eye(3) + 1e-12 * np.eye(3)
            try:
                # Hpp_d^-1 = L^-T L^-1: the Schur product Hcp Hpp_d^-1 Hcp^T = B B^T with B = Hcp L^-T,
                # one symmetric product (half a general one)
                Linv = np.linalg.inv(np.linalg.cholesky(Hpp_d))
                Hpp_inv = Linv.transpose(0, 2, 1) @ Linv
                B = _flat(Hcp @ Linv.transpose(0, 2, 1))  # (NC, 3P)
                S = Hcc + lam * np.diag(np.diag(Hcc)) - B @ B.T
                rhs = -gc + B @ (Linv @ gp[:, :, None]).ravel()
            except np.linalg.LinAlgError:  # a rank-deficient point block: pseudo-inverse
                Hpp_inv = _inv_blocks(Hpp_d)
                Hcp_f = _flat(Hcp) if Hcp_f is None else Hcp_f
                A = _flat(Hcp @ Hpp_inv)  # (NC, 3P)
                S = Hcc + lam * np.diag(np.diag(Hcc)) - A @ Hcp_f.T
                rhs = -gc + A @ gp.ravel()
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
