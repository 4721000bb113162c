"""Pure camera geometry: poses, quaternions (wxyz), Sim(3) alignment, trajectory errors,
projection and triangulation. numpy only; no IO.

Conventions: ``cam_from_world`` 4x4 in OpenCV axes (x right, y down, z forward); pixel centres at
integer coordinates; quaternions are ``wxyz`` (Hamilton), as in COLMAP.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import InputError

__all__ = [
    "invert", "pose_matrix", "quat_wxyz_from_matrix", "matrix_from_quat_wxyz", "rotation_angle_deg",
    "project", "unproject", "umeyama", "Sim3", "ate", "heading_error_deg", "rotation_errors_deg",
    "triangulate_midpoint", "triangulate_along_rays", "sampson_distance", "fundamental_from_poses",
    "opencv_to_opengl", "skew", "rodrigues", "so3_log", "align_poses", "parallax_statistics", "parallax_evidence",
    "parallax_band",
]


# ---------------------------------------------------------------------------------------------
# poses and rotations
# ---------------------------------------------------------------------------------------------
def invert(T: np.ndarray) -> np.ndarray:
    """Inverse of rigid 4x4 transforms (..., 4, 4) without a general matrix inverse."""
    T = np.asarray(T, np.float64)
    R = T[..., :3, :3]
    t = T[..., :3, 3]
    out = np.zeros_like(T)
    Rt = np.swapaxes(R, -1, -2)
    out[..., :3, :3] = Rt
    out[..., :3, 3] = -np.einsum("...ij,...j->...i", Rt, t)
    out[..., 3, 3] = 1.0
    return out


def pose_matrix(R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """4x4 from a rotation (..., 3, 3) and a translation (..., 3)."""
    R = np.asarray(R, np.float64)
    t = np.asarray(t, np.float64)
    T = np.zeros(R.shape[:-2] + (4, 4))
    T[..., :3, :3] = R
    T[..., :3, 3] = t
    T[..., 3, 3] = 1.0
    return T


def skew(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, np.float64)
    z = np.zeros(v.shape[:-1])
    return np.stack([np.stack([z, -v[..., 2], v[..., 1]], -1),
                     np.stack([v[..., 2], z, -v[..., 0]], -1),
                     np.stack([-v[..., 1], v[..., 0], z], -1)], -2)


def rodrigues(w: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) from axis-angle vectors (..., 3) (radians)."""
    w = np.asarray(w, np.float64)
    th = np.linalg.norm(w, axis=-1)[..., None, None]
    K = skew(w)
    small = th < 1e-8
    th_safe = np.where(small, 1.0, th)
    A = np.where(small, 1.0 - th ** 2 / 6.0, np.sin(th_safe) / th_safe)
    B = np.where(small, 0.5 - th ** 2 / 24.0, (1.0 - np.cos(th_safe)) / th_safe ** 2)
    return np.eye(3) + A * K + B * (K @ K)


def so3_log(R: np.ndarray) -> np.ndarray:
    """Axis-angle vectors (..., 3) of rotation matrices (..., 3, 3)."""
    q = quat_wxyz_from_matrix(R)
    w = np.clip(q[..., 0], -1.0, 1.0)
    v = q[..., 1:]
    n = np.linalg.norm(v, axis=-1)
    ang = 2.0 * np.arctan2(n, w)
    scale = np.where(n < 1e-12, 2.0, ang / np.where(n < 1e-12, 1.0, n))
    return v * scale[..., None]


def quat_wxyz_from_matrix(R: np.ndarray) -> np.ndarray:
    """Unit quaternions (..., 4) ``w x y z`` with w >= 0 from rotation matrices (..., 3, 3)."""
    R = np.asarray(R, np.float64)
    m = R.reshape(-1, 3, 3)
    out = np.empty((len(m), 4))
    for i, r in enumerate(m):
        # Shepperd's method on the largest diagonal element: numerically stable everywhere.
        tr = np.trace(r)
        cands = np.array([tr, r[0, 0], r[1, 1], r[2, 2]])
        k = int(np.argmax(cands))
        if k == 0:
            s = np.sqrt(1.0 + tr) * 2
            q = [0.25 * s, (r[2, 1] - r[1, 2]) / s, (r[0, 2] - r[2, 0]) / s, (r[1, 0] - r[0, 1]) / s]
        elif k == 1:
            s = np.sqrt(1.0 + r[0, 0] - r[1, 1] - r[2, 2]) * 2
            q = [(r[2, 1] - r[1, 2]) / s, 0.25 * s, (r[0, 1] + r[1, 0]) / s, (r[0, 2] + r[2, 0]) / s]
        elif k == 2:
            s = np.sqrt(1.0 + r[1, 1] - r[0, 0] - r[2, 2]) * 2
            q = [(r[0, 2] - r[2, 0]) / s, (r[0, 1] + r[1, 0]) / s, 0.25 * s, (r[1, 2] + r[2, 1]) / s]
        else:
            s = np.sqrt(1.0 + r[2, 2] - r[0, 0] - r[1, 1]) * 2
            q = [(r[1, 0] - r[0, 1]) / s, (r[0, 2] + r[2, 0]) / s, (r[1, 2] + r[2, 1]) / s, 0.25 * s]
        q = np.asarray(q)
        q /= np.linalg.norm(q)
        out[i] = -q if q[0] < 0 else q
    return out.reshape(R.shape[:-2] + (4,))


def matrix_from_quat_wxyz(q: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) from quaternions (..., 4) ``w x y z`` (normalised here)."""
    q = np.asarray(q, np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
        np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
        np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def rotation_angle_deg(R: np.ndarray) -> np.ndarray:
    """Rotation angle in degrees of rotation matrices (..., 3, 3)."""
    R = np.asarray(R, np.float64)
    c = (np.trace(R, axis1=-2, axis2=-1) - 1.0) / 2.0
    return np.degrees(np.arccos(np.clip(c, -1.0, 1.0)))


def opencv_to_opengl(world_from_cam: np.ndarray) -> np.ndarray:
    """Camera-to-world in OpenCV axes (x right, y down, z forward) -> OpenGL / nerfstudio axes
    (x right, y up, z backward): negate the 2nd and 3rd rotation columns. Its own inverse."""
    T = np.array(world_from_cam, np.float64, copy=True)
    T[..., :3, 1:3] *= -1.0
    return T


# ---------------------------------------------------------------------------------------------
# projection
# ---------------------------------------------------------------------------------------------
def project(K: np.ndarray, cam_from_world: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project world points (N, 3) -> (pixels (N, 2), depth (N,)); depth <= 0 is behind."""
    X = np.asarray(X, np.float64)
    Xc = X @ cam_from_world[:3, :3].T + cam_from_world[:3, 3]
    z = Xc[:, 2]
    zs = np.where(np.abs(z) < 1e-12, 1e-12, z)
    uv = (Xc[:, :2] / zs[:, None]) * np.diag(K)[:2] + K[:2, 2]
    if K[0, 1] != 0:
        uv[:, 0] += K[0, 1] * Xc[:, 1] / zs
    return uv, z


def unproject(K: np.ndarray, cam_from_world: np.ndarray, uv: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """Pixels (N, 2) with z-depth (N,) -> world points (N, 3)."""
    uv = np.asarray(uv, np.float64)
    rays = np.concatenate([uv, np.ones((len(uv), 1))], 1) @ np.linalg.inv(K).T
    Xc = rays * np.asarray(depth, np.float64)[:, None]
    wfc = invert(cam_from_world)
    return Xc @ wfc[:3, :3].T + wfc[:3, 3]


# ---------------------------------------------------------------------------------------------
# alignment and trajectory errors
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sim3:
    """``x -> s R x + t``."""

    s: float
    R: np.ndarray
    t: np.ndarray

    def apply(self, X: np.ndarray) -> np.ndarray:
        return self.s * np.asarray(X, np.float64) @ self.R.T + self.t

    def apply_pose(self, cam_from_world: np.ndarray) -> np.ndarray:
        """Re-express cameras (…, 4, 4) in the aligned world: the same cameras, new coordinates."""
        wfc = invert(cam_from_world)
        out = np.array(wfc, copy=True)
        out[..., :3, :3] = self.R @ wfc[..., :3, :3]
        out[..., :3, 3] = self.apply(wfc[..., :3, 3].reshape(-1, 3)).reshape(wfc[..., :3, 3].shape)
        return invert(out)

    def matrix(self) -> np.ndarray:
        T = np.eye(4)
        T[:3, :3] = self.s * self.R
        T[:3, 3] = self.t
        return T


def umeyama(src: np.ndarray, dst: np.ndarray, *, with_scale: bool = True) -> Sim3:
    """Least-squares similarity (Umeyama 1991) with ``dst ~ s R src + t``; points (N, 3), N >= 3
    and not all on one line for a unique rotation (colinear input still gives the best fit)."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 3:
        raise InputError(f"umeyama: expected two (N, 3) arrays of equal shape, got {src.shape} and {dst.shape}")
    if len(src) < 2:
        raise InputError(f"umeyama: need at least 2 points, got {len(src)}")
    mu_s, mu_d = src.mean(0), dst.mean(0)
    xs, xd = src - mu_s, dst - mu_d
    cov = xd.T @ xs / len(src)
    U, D, Vt = np.linalg.svd(cov)
    S = np.eye(3)
    if np.linalg.det(U) * np.linalg.det(Vt) < 0:
        S[2, 2] = -1
    R = U @ S @ Vt
    var_s = (xs ** 2).sum() / len(src)
    s = float(np.trace(np.diag(D) @ S) / var_s) if with_scale and var_s > 0 else 1.0
    t = mu_d - s * R @ mu_s
    return Sim3(s, R, t)


def ate(est_centers: np.ndarray, gt_centers: np.ndarray, *, with_scale: bool = True) -> tuple[float, Sim3]:
    """Absolute trajectory error (RMSE of camera centres after Umeyama alignment of the estimate
    onto the ground truth), in ground-truth units, and the alignment used."""
    est = np.asarray(est_centers, np.float64)
    gt = np.asarray(gt_centers, np.float64)
    ok = np.isfinite(est).all(1) & np.isfinite(gt).all(1)
    if ok.sum() < 2:
        return float("nan"), Sim3(1.0, np.eye(3), np.zeros(3))
    sim = umeyama(est[ok], gt[ok], with_scale=with_scale)
    err = sim.apply(est[ok]) - gt[ok]
    return float(np.sqrt((err ** 2).sum(1).mean())), sim


def heading_error_deg(est_cam_from_world: np.ndarray, gt_cam_from_world: np.ndarray,
                      i: int = 0, j: int = -1) -> float:
    """Angle between the estimated and true direction of travel from frame ``i`` to ``j``,
    expressed in camera ``i``'s axes (needs no world alignment)."""
    def direction(T: np.ndarray) -> np.ndarray:
        rel = T[j] @ invert(T[i])  # cam_j_from_cam_i
        c = -rel[:3, :3].T @ rel[:3, 3]  # centre of camera j in camera i
        n = np.linalg.norm(c)
        return c / n if n > 0 else c

    a, b = direction(np.asarray(est_cam_from_world)), direction(np.asarray(gt_cam_from_world))
    if not (np.linalg.norm(a) > 0 and np.linalg.norm(b) > 0):
        return float("nan")
    return float(np.degrees(np.arccos(np.clip(a @ b, -1.0, 1.0))))


def rotation_errors_deg(est_cam_from_world: np.ndarray, gt_cam_from_world: np.ndarray, ref: int = 0) -> np.ndarray:
    """Per-frame angle of ``R_rel_est^T R_rel_gt`` for rotations relative to frame ``ref``."""
    e = np.asarray(est_cam_from_world)[:, :3, :3]
    g = np.asarray(gt_cam_from_world)[:, :3, :3]
    re = e @ e[ref].T
    rg = g @ g[ref].T
    return rotation_angle_deg(np.swapaxes(re, -1, -2) @ rg)


# ---------------------------------------------------------------------------------------------
# epipolar geometry and triangulation
# ---------------------------------------------------------------------------------------------
def fundamental_from_poses(K1: np.ndarray, T1: np.ndarray, K2: np.ndarray, T2: np.ndarray) -> np.ndarray:
    """F with x2^T F x1 = 0 for cameras (K, cam_from_world)."""
    rel = T2 @ invert(T1)
    E = skew(rel[:3, 3]) @ rel[:3, :3]
    F = np.linalg.inv(K2).T @ E @ np.linalg.inv(K1)
    n = np.linalg.norm(F)
    return F / n if n > 0 else F


def sampson_distance(F: np.ndarray, x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    """First-order geometric distance (pixels) of correspondences (N, 2) to the epipolar model."""
    h1 = np.concatenate([np.asarray(x1, np.float64), np.ones((len(x1), 1))], 1)
    h2 = np.concatenate([np.asarray(x2, np.float64), np.ones((len(x2), 1))], 1)
    Fx1 = h1 @ F.T
    Ftx2 = h2 @ F
    num = np.einsum("ij,ij->i", h2, Fx1)
    den = Fx1[:, 0] ** 2 + Fx1[:, 1] ** 2 + Ftx2[:, 0] ** 2 + Ftx2[:, 1] ** 2
    return np.abs(num) / np.sqrt(np.maximum(den, 1e-30))


def triangulate_midpoint(centers: np.ndarray, dirs: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Least-squares point closest to V rays per point: centers (V, 3) or (N, V, 3), unit-or-not
    directions (N, V, 3), optional weights (N, V) (0 = unused ray) -> (N, 3) (NaN when singular)."""
    d = np.asarray(dirs, np.float64)
    d = d / np.linalg.norm(d, axis=-1, keepdims=True)
    c = np.broadcast_to(np.asarray(centers, np.float64), d.shape)
    w = np.ones(d.shape[:2]) if weights is None else np.asarray(weights, np.float64)
    P = np.eye(3) - d[..., :, None] * d[..., None, :]  # (N, V, 3, 3)
    A = np.einsum("nv,nvij->nij", w, P)
    b = np.einsum("nv,nvij,nvj->ni", w, P, c)
    det = np.linalg.det(A)
    good = np.abs(det) > 1e-12
    out = np.full((len(d), 3), np.nan)
    if good.any():
        out[good] = np.linalg.solve(A[good], b[good][..., None])[..., 0]
    return out


def triangulate_along_rays(K_ref: np.ndarray, T_ref: np.ndarray, uv_ref: np.ndarray,
                           Ks: np.ndarray, Ts: np.ndarray, uvs: np.ndarray, valid: np.ndarray,
                           iterations: int = 3, return_per_view: bool = False,
                           block: int = 65536) -> tuple[np.ndarray, ...]:
    """Depth along the reference rays of pixels ``uv_ref`` (N, 2) seen at ``uvs`` (V, N, 2) in V
    other cameras (``valid`` (V, N) bool), minimising reprojection error by iteratively
    reweighted linear least squares (each view gives two equations linear in the depth).

    Returns (z-depth in the reference camera (N,), RMS reprojection error px (N,), number of
    views used (N,), sensitivity (N,): root of the summed squared derivatives of the
    reprojections with respect to the depth, px per depth unit; sigma_z ~ sigma_px / sensitivity).
    Depth is NaN where no view constrains it. With ``return_per_view`` a fifth array (V, N) holds
    each view's reprojection error in px (NaN where unused). Works in float32 for speed.
    Pixels are independent: they are solved in blocks of ``block`` so the (V, block) work arrays,
    not (V, N), bound the memory (64 frames at 720p: the largest single allocation of the run);
    the sums' order may differ by block, so results agree to float32 round-off.
    """
    uv_ref = np.asarray(uv_ref, np.float64)
    N = len(uv_ref)
    if N <= block:
        return _triangulate_along_rays(K_ref, T_ref, uv_ref, Ks, Ts, uvs, valid, iterations, return_per_view)
    uvs, valid = np.asarray(uvs), np.asarray(valid, bool)
    parts = [_triangulate_along_rays(K_ref, T_ref, uv_ref[k:k + block], Ks, Ts, uvs[:, k:k + block],
                                     valid[:, k:k + block], iterations, return_per_view)
             for k in range(0, N, block)]
    out = [np.concatenate([p[i] for p in parts], axis=-1) for i in range(4)]
    if return_per_view:
        out.append(np.concatenate([p[4] for p in parts], axis=1))
    return tuple(out)


def _triangulate_along_rays(K_ref: np.ndarray, T_ref: np.ndarray, uv_ref: np.ndarray, Ks: np.ndarray,
                            Ts: np.ndarray, uvs: np.ndarray, valid: np.ndarray, iterations: int,
                            return_per_view: bool) -> tuple[np.ndarray, ...]:
    uv_ref = np.asarray(uv_ref, np.float64)
    N = len(uv_ref)
    ray = np.concatenate([uv_ref, np.ones((N, 1))], 1) @ np.linalg.inv(K_ref).T  # z = 1 in ref cam
    wfr = invert(T_ref)
    X0 = wfr[:3, 3]
    D = ray @ wfr[:3, :3].T  # world direction per unit ref depth
    valid = np.asarray(valid, bool)
    V = len(Ts)
    a_all = np.zeros((V, N, 2), np.float32)
    b_all = np.zeros((V, N, 2), np.float32)
    c_all = np.zeros((V, N), np.float32)  # projective depth of the ref centre
    g_all = np.zeros((V, N), np.float32)  # projective depth per unit ref depth
    for v in range(V):
        P = Ks[v] @ np.asarray(Ts[v])[:3, :]
        p0 = P[:, :3] @ X0 + P[:, 3]  # (3,)
        pd = D @ P[:, :3].T  # (N, 3)
        u = uvs[v]
        # u * (p0_3 + z pd_3) - (p0_1 + z pd_1) = 0  ->  a z + b = 0
        a_all[v, :, 0] = u[:, 0] * pd[:, 2] - pd[:, 0]
        a_all[v, :, 1] = u[:, 1] * pd[:, 2] - pd[:, 1]
        b_all[v, :, 0] = u[:, 0] * p0[2] - p0[0]
        b_all[v, :, 1] = u[:, 1] * p0[2] - p0[1]
        c_all[v] = p0[2]
        g_all[v] = pd[:, 2]
    # each view's two equations enter the normal equations only through a.b and a.a: summed over the
    # two image axes once, not in every reweighting pass (float32 round-off apart, the same sums)
    ab = np.einsum("vnk,vnk->vn", a_all, b_all)
    aa = np.einsum("vnk,vnk->vn", a_all, a_all)
    w = valid.astype(np.float32)
    z = np.full(N, np.nan, np.float32)
    for _ in range(max(1, iterations)):
        num = -np.einsum("vn,vn->n", w, ab)
        den = np.einsum("vn,vn->n", w, aa)
        z = np.where(den > 1e-18, num / np.maximum(den, 1e-18), np.nan)
        proj_depth = c_all + g_all * z[None]
        w = np.where(valid & (proj_depth > 1e-9), 1.0 / np.maximum(proj_depth, 1e-9) ** 2, 0.0)
    proj_depth = c_all + g_all * z[None]
    pd_safe = np.where(np.abs(proj_depth) < 1e-12, 1e-12, proj_depth)
    used = valid & (proj_depth > 0)
    res = a_all * z[None, :, None] + b_all  # not expanded: a.a z^2 + 2 a.b z + b.b cancels in float32
    sq = np.where(used, np.einsum("vnk,vnk->vn", res, res) / pd_safe ** 2, 0.0)
    n_used = used.sum(0)
    rms = np.sqrt(sq.sum(0) / np.maximum(n_used, 1))
    z = np.where(n_used > 0, z, np.nan)
    sens = np.sqrt(np.where(used, aa / pd_safe ** 2, 0.0).sum(0))
    if return_per_view:
        return z, rms, n_used, sens, np.where(used, np.sqrt(sq), np.nan)
    return z, rms, n_used, sens


def align_poses(est_cam_from_world: np.ndarray, gt_cam_from_world: np.ndarray) -> Sim3:
    """Similarity taking the estimated world onto the ground-truth world using whole cameras:
    the rotation from the camera orientations (chordal mean), then scale and translation from
    the centres. Unlike Umeyama on centres alone this is defined for a straight camera path."""
    e = np.asarray(est_cam_from_world, np.float64)
    g = np.asarray(gt_cam_from_world, np.float64)
    ok = np.isfinite(e).all((1, 2)) & np.isfinite(g).all((1, 2))
    we, wg = invert(e[ok]), invert(g[ok])
    M = np.einsum("nij,nkj->ik", wg[:, :3, :3], we[:, :3, :3])
    U, _, Vt = np.linalg.svd(M)
    R = U @ np.diag([1, 1, np.linalg.det(U @ Vt)]) @ Vt
    ce, cg = we[:, :3, 3], wg[:, :3, 3]
    de, dg = ce - ce.mean(0), cg - cg.mean(0)
    den = float((de ** 2).sum())
    s = float(np.einsum("ni,ni->", dg, de @ R.T) / den) if den > 0 else 1.0
    return Sim3(s, R, cg.mean(0) - s * R @ ce.mean(0))


# ---------------------------------------------------------------------------------------------
# parallax vs noise after a homography (shared by the 3D check and the camera solve)
# ---------------------------------------------------------------------------------------------
def parallax_statistics(fwd: np.ndarray, samp: np.ndarray, inliers: np.ndarray) -> dict[str, float]:
    """Split each epipolar inlier's homography residual into its component across the epipolar
    line (sqrt(2) x the Sampson distance: keypoint noise only) and along it (the rest: noise
    plus any parallax, which always runs along the epipolar lines).

    -> ``noise_px`` (robust standard deviation of the across component: the keypoint localisation
    error, per coordinate, both images together), ``along_fraction`` (share of inliers whose along
    component is the larger: 0.5 without parallax, whatever the noise's distribution), ``along_z``
    (its sign-test z score), ``excess_sigmas`` (how far the along component's 75th percentile
    exceeds the across one's, in units of ``noise_px``), ``n``.
    """
    m = np.asarray(inliers, bool) & np.isfinite(fwd) & np.isfinite(samp)
    n = int(m.sum())
    if n < 8:
        return {"noise_px": float("nan"), "along_fraction": 0.5, "along_z": 0.0, "excess_sigmas": 0.0, "n": n}
    across = np.sqrt(2.0) * samp[m]
    along = np.sqrt(np.maximum(fwd[m] ** 2 - across ** 2, 0.0))
    noise = max(1.4826 * float(np.median(across)), 1e-6)
    frac = float(np.mean(along > across))
    excess = np.sqrt(max(0.0, float(np.quantile(along ** 2, 0.75) - np.quantile(across ** 2, 0.75))))
    return {"noise_px": noise, "along_fraction": frac, "along_z": (frac - 0.5) * 2.0 * np.sqrt(n),
            "excess_sigmas": excess / noise, "n": n}


def parallax_evidence(stats: dict[str, float], cfg: Any) -> float:
    """[0, 1]: how clearly one pair shows parallax. Both must hold: most epipolar inliers leave
    the homography along their epipolar lines (``along_fraction`` from ``cfg.along_fraction``
    (0) to ``+ cfg.along_span`` (1), and significant: z >= ``cfg.min_z``), and by clearly more
    than the keypoint noise (75th-percentile excess from ``cfg.excess_sigmas`` to twice that)."""
    if stats["n"] < 8 or stats["along_z"] < cfg.min_z:
        return 0.0
    e_f = np.clip((stats["along_fraction"] - cfg.along_fraction) / cfg.along_span, 0.0, 1.0)
    e_x = np.clip((stats["excess_sigmas"] - cfg.excess_sigmas) / cfg.excess_sigmas, 0.0, 1.0)
    return float(e_f * e_x)


def parallax_band(excess_sigmas: float, start: float = 1.0) -> str:
    """The 3-way reading of the parallax excess (``parallax_statistics``' ``excess_sigmas``) that
    the 3D check and the camera solve share, so that they cannot contradict each other: below
    ``start`` sigmas the check's evidence is 0 (no parallax: ``"none"``), from twice ``start`` it is
    full (``"parallax"``); in between (``"ambiguous"``) neither a baseline nor its absence is
    established (the check's confidence there is at most its evidence ramp; the cameras report the
    motion as undetermined rather than 'rotation-only')."""
    if not np.isfinite(excess_sigmas) or excess_sigmas < start:
        return "none"
    return "parallax" if excess_sigmas >= 2.0 * start else "ambiguous"
