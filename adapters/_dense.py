"""Dense points from posed frames, shared by the camera backends.

The reference frame's pixels are matched into every other posed frame with DIS optical flow and
triangulated along the reference rays with all views at once (iteratively reweighted linear
least squares on the reprojection error, :func:`blur4d.geometry.triangulate_along_rays`). Each
point carries a confidence from its depth uncertainty (reprojection sensitivity to depth) and
its source frame. Pixels whose flow does not fit the camera motion are independent motion: their
median epipolar residual over the views is above a threshold (``dynamic_px``, raised to a multiple
of the clip's robust residual noise), in connected regions that survive a 3x3 opening and whose
*median* residual is above ``dynamic_seed_px`` (or 12 robust sigmas): half the region leaves its
lines in half its views. A single pixel above a threshold used to decide, so the largest of a
static clip's ~2e5 flow errors (1-3 px: generator artefacts, aliased repeated texture, occlusion
edges) made moving points by chance, more often the more pixels and frames; real independent
motion leaves its lines by far more over most of its region); or their flow runs
against the parallax so that no positive depth fits it, by more than those thresholds from the
ray's point at infinity. A candidate region that a static surface explains photometrically as
well as its flow does (a plane sweep over its surroundings' depths, :func:`_static_explained`) is
a flow error, not motion (``photometric_check``). They are flagged ``dynamic`` and written per frame, placed at the
depth of their static surroundings (a single moving camera cannot triangulate content that
moves on its own; these points get a low confidence and say so in the provenance). Motion along
the epipolar lines that a positive depth explains is not observable from one moving camera.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from blur4d import geometry as geo
from blur4d.progress import NO_PROGRESS, Progress
from blur4d.types import Cameras, PointCloud, Provenance

__all__ = ["CameraResult", "DenseOptions", "dense_points", "depth_to_points", "render_depth", "scale_intrinsics"]


@dataclass(frozen=True)
class CameraResult:
    """What a camera backend returns.

    cameras: per-frame pinhole cameras (``cameras.ok`` False with a reason on degenerate input).
    points: static points fused over the clip (world coordinates, ``frame`` = source frame).
    dynamic: per frame the points on independently moving content (may be empty clouds).
    depth: (T, H, W) float32 z-depth per frame in the cameras' units, NaN where unknown; or None.
    sparse: the bundle-adjusted sparse points (tracks), or None.
    info: JSON-able diagnostics (pair chosen, inlier counts, residuals, timings, notes).
    """

    cameras: Cameras
    points: PointCloud | None = None
    dynamic: tuple[PointCloud, ...] = ()
    depth: np.ndarray | None = None
    sparse: PointCloud | None = None
    info: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DenseOptions:
    long_side: int = 640
    """Long side (px) of the frames used for dense matching; depth maps are upsampled back."""
    max_rel_uncertainty: float = 0.05
    """Drop points whose estimated depth uncertainty exceeds this fraction of their depth."""
    dynamic_px: float = 1.0
    """Epipolar residual (px at the dense resolution) above which a pixel may be independent motion
    (raised to ``dynamic_sigma`` robust standard deviations of the clip's residuals when those are larger)."""
    dynamic_seed_px: float = 3.0
    """A moving region's median residual must exceed this (px; the region threshold): regions are the
    connected pixels above the lower threshold, and the median, not a single pixel, decides. Generated
    clips have 1-3 px residual blobs from generator artefacts, ray-cast static scenes 1-3 px blobs of
    aliased flow (repeated texture, occlusion edges); real independent motion leaves its epipolar
    lines by far more."""
    dynamic_sigma: float = 4.0
    """The lower threshold is at least this many robust standard deviations (1.4826 MAD) of the residuals."""
    dynamic_region_sigma: float = 12.0
    """The region threshold is at least this many robust standard deviations of the residuals (noisy
    clips raise it above ``dynamic_seed_px``)."""
    fb_px: float = 1.0
    """Forward-backward flow disagreement (px) above which a pixel counts as occluded."""
    min_dynamic_area: int = 64
    """Connected moving regions smaller than this many pixels are treated as noise."""
    max_views: int = 15
    """Frames the reference is matched into (evenly spaced over the posed ones, both ends kept): a
    longer clip's other frames get their depth rendered from the points, not matched again."""
    photometric_check: bool = True
    """Drop candidate moving regions that a static surface explains photometrically (see
    :func:`_static_explained`)."""
    photo_ratio: float = 2.5
    """A candidate region is static when its best static photometric error is at most this many times
    its error along the flow that made it a candidate (or ``photo_floor``)."""
    photo_floor: float = 1.5
    """Grey levels (5x5 mean absolute difference) below which a static explanation always fits:
    the sensor noise of two frames."""
    trim_ratio: float = 1.0
    """A moving region's pixels whose static error is at most this many times their flow error (or
    ``photo_floor``), connected to the region's outside through such pixels, are peeled off it."""
    trim_texture: float = 3.0
    """Only pixels with this much texture (5x5 mean absolute deviation, grey levels) are peeled: on flat
    ones (a white shirt) any explanation fits, which says nothing against their motion."""
    noise_px: float = 0.0
    """Measured correspondence noise (px at long_side; the camera solve's reprojection noise): the
    floor of each pixel's residual in its depth uncertainty (a flow that fits the epipolar line
    exactly is no more precise than the clip's tracks)."""


def scale_intrinsics(K: np.ndarray, sx: float, sy: float | None = None) -> np.ndarray:
    """K for an image resized by (sx, sy), with pixel centres at integers:
    u' + 0.5 = sx (u + 0.5)."""
    sy = sx if sy is None else sy
    K2 = np.array(K, np.float64, copy=True)
    K2[..., 0, 0] *= sx
    K2[..., 0, 1] *= sx
    K2[..., 1, 1] *= sy
    K2[..., 0, 2] = (K2[..., 0, 2] + 0.5) * sx - 0.5
    K2[..., 1, 2] = (K2[..., 1, 2] + 0.5) * sy - 0.5
    return K2


def _resize(frames: np.ndarray, long_side: int) -> tuple[np.ndarray, float, float]:
    import cv2

    T, H, W = frames.shape[:3]
    s = min(1.0, long_side / max(H, W))
    if s >= 1.0:
        return frames, 1.0, 1.0
    w, h = max(8, round(W * s)), max(8, round(H * s))
    out = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in frames])
    return out, w / W, h / H


def _flow(dis: Any, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return dis.calc(a, b, None)


def _sample(img: np.ndarray, xy: np.ndarray) -> np.ndarray:
    import cv2

    n = len(xy)
    cols = 1024
    rows = max(1, -(-n // cols))
    m = np.zeros((rows * cols, 2), np.float32)
    m[:n] = xy
    m = m.reshape(rows, cols, 2)
    out = cv2.remap(img, m[..., 0], m[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(rows * cols, *img.shape[2:])[:n]


def render_depth(points_xyz: np.ndarray, K: np.ndarray, cam_from_world: np.ndarray,
                 size: tuple[int, int]) -> np.ndarray:
    """Z-buffer of world points in one camera -> (H, W) float32 depth, NaN where empty; each
    point fills a 2x2 footprint so a cloud sampled at the same resolution leaves few holes."""
    import cv2

    W, H = size
    X = np.ascontiguousarray(points_xyz, np.float64).reshape(-1, 1, 3)
    # one 3x4 transform to (u z, v z, z): rows K[0] [R|t], K[1] [R|t] and [R|t][2] (the camera z,
    # as geo.project). cv2.transform is one pass over the points where geo.project's strided
    # (N, 3) @ (3, 3) through BLAS spent ~60 ms a frame; float64 keeps the depth maps bit-identical
    # to geo.project's (float32 was another 30 % faster but moved 0.02 % of the pixels)
    Rt = np.asarray(cam_from_world, np.float64)[:3, :4]
    M = np.vstack([np.asarray(K, np.float64)[:2] @ Rt, Rt[2:]])
    P = cv2.transform(X, M).reshape(-1, 3)
    z = P[:, 2]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        x0 = np.floor(P[:, 0] / z)
        y0 = np.floor(P[:, 1] / z)
    # scatter-min of each point at its top-left pixel into a buffer one pixel larger at the top and
    # left (x0 = -1 still reaches column 0), then the 2x2 footprint as a 2x2 min filter: the same
    # z-buffer as scattering all four corners, a quarter of the scatter. Non-finite pixels and
    # points behind the camera fail these comparisons.
    ok = (z > 0) & (x0 >= -1) & (x0 < W) & (y0 >= -1) & (y0 < H)
    idx = (y0[ok].astype(np.int64) + 1) * (W + 1) + x0[ok].astype(np.int64) + 1
    zbuf = np.full((H + 1) * (W + 1), np.inf, np.float32)
    np.minimum.at(zbuf, idx, z[ok].astype(np.float32))
    zbuf = zbuf.reshape(H + 1, W + 1)
    depth = np.minimum(np.minimum(zbuf[1:, 1:], zbuf[:-1, 1:]), np.minimum(zbuf[1:, :-1], zbuf[:-1, :-1]))
    depth[np.isinf(depth)] = np.nan
    return depth


def depth_to_points(depth: np.ndarray, image: np.ndarray, K: np.ndarray, cam_from_world: np.ndarray,
                    frame: int, confidence: np.ndarray | None = None, stride: int = 1) -> PointCloud:
    """Back-project one depth map (H, W) (NaN = unknown) with its colours into world points."""
    H, W = depth.shape
    ys, xs = np.mgrid[0:H:stride, 0:W:stride]
    d = depth[ys, xs]
    ok = np.isfinite(d) & (d > 0)
    uv = np.stack([xs[ok], ys[ok]], 1).astype(np.float64)
    X = geo.unproject(K, cam_from_world, uv, d[ok])
    conf = np.ones(len(X), np.float32) if confidence is None else confidence[ys, xs][ok].astype(np.float32)
    return PointCloud(xyz=X.astype(np.float32), rgb=image[ys, xs][ok].astype(np.uint8),
                      frame=np.full(len(X), frame, np.int32), confidence=np.clip(conf, 0, 1))


def _fill_from_surroundings(depth: np.ndarray, mask: np.ndarray, min_area: int) -> tuple[np.ndarray, np.ndarray]:
    """Depth for masked regions from the median static depth in a ring around each region.
    Returns (filled depth for the region pixels, kept region mask)."""
    import cv2

    n, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    out = np.full(depth.shape, np.nan, np.float32)
    kept = np.zeros(mask.shape, bool)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (15, 15))
    for k in range(1, n):
        region = labels == k
        if region.sum() < min_area:
            continue
        ring = cv2.dilate(region.astype(np.uint8), kernel).astype(bool) & ~mask
        vals = depth[ring]
        vals = vals[np.isfinite(vals)]
        if len(vals) == 0:
            continue
        out[region] = np.median(vals)
        kept |= region
    return out, kept


def _distance_from_infinity(K_ref: np.ndarray, T_ref: np.ndarray, uv_ref: np.ndarray, Ks: np.ndarray,
                            Ts: np.ndarray, uvs: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Median over the valid views of the distance (px) between each observed position ``uvs`` (V, N, 2)
    and the projection of its reference ray's point at infinity -> (N,) (0 where no view is valid)."""
    ray = np.concatenate([np.asarray(uv_ref, np.float64), np.ones((len(uv_ref), 1))], 1) @ np.linalg.inv(K_ref).T
    D = ray @ geo.invert(T_ref)[:3, :3].T  # world directions
    dist = np.full(valid.shape, np.nan)
    for v in range(len(Ts)):
        p = D @ (Ks[v] @ np.asarray(Ts[v])[:3, :3]).T
        ok = valid[v] & (p[:, 2] > 1e-12)
        uv_inf = p[ok, :2] / p[ok, 2:3]
        dist[v, ok] = np.linalg.norm(uvs[v, ok] - uv_inf, axis=1)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nan_to_num(np.nanmedian(dist, axis=0))


def _moving_regions(score: np.ndarray, usable: np.ndarray, options: DenseOptions) -> tuple[np.ndarray, float, float]:
    """Moving pixels from per-pixel residuals (h, w) (each the median over the views): candidate
    pixels above the lower threshold (max of ``dynamic_px`` and ``dynamic_sigma`` robust sigmas of
    the usable residuals), opened by 3x3 against speckle, grouped into connected regions; a region
    is kept only if its *median* residual exceeds the region threshold (max of ``dynamic_seed_px``
    and ``dynamic_region_sigma`` robust sigmas): half its pixels leave their epipolar lines by that
    much in half their views. Returns (mask, lower threshold, region threshold)."""
    import cv2
    from scipy import ndimage

    r = score.ravel()[usable]
    sigma = 1.4826 * float(np.median(np.abs(r - np.median(r)))) if len(r) else 0.0
    lo = max(float(options.dynamic_px), options.dynamic_sigma * sigma)
    hi = max(lo, float(options.dynamic_seed_px), options.dynamic_region_sigma * sigma)
    weak = cv2.morphologyEx((score > lo).astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    if not weak.any():
        return weak.astype(bool), lo, hi
    n, labels = cv2.connectedComponents(weak, connectivity=8)
    # one pixel above a threshold decided a region before: over the ~2e5 residuals of a clip the
    # largest of a static scene's flow errors reaches 3 px (the example at 64 frames: one 89 px
    # border blob with 5 pixels > 3 px, median 1.5 px); the region's median is its pooled evidence
    med = np.zeros(n)
    med[1:] = ndimage.median(score, labels, np.arange(1, n))
    keep = med > hi
    keep[0] = False
    return keep[labels], lo, hi


def _nanmedian0(x: np.ndarray) -> np.ndarray:
    """Median over axis 0 ignoring NaN (NaN where all are): a sort, where ``np.nanmedian`` over a
    short axis goes through masked arrays and costs ~10x more."""
    a = np.where(np.isnan(x), np.inf, x)
    a.sort(axis=0)
    n = np.isfinite(a).sum(0)
    lo = np.take_along_axis(a, np.maximum(n - 1, 0)[None] // 2, 0)[0]
    hi = np.take_along_axis(a, (n // 2)[None], 0)[0]
    hi = np.where(n > 0, hi, lo)
    return np.where(n > 0, 0.5 * (lo + hi), np.nan)


def _photo_costs(ref_img: np.ndarray, img: np.ndarray, q: np.ndarray, ok: np.ndarray, radius: int) -> np.ndarray:
    """Mean absolute difference (grey levels) over a (2 radius + 1)^2 window between the reference crop
    ``ref_img`` (hc, wc) and ``img`` sampled at ``q`` (hc, wc, 2); NaN where any of the window's
    samples is unusable (``ok`` False or outside ``img``)."""
    import cv2

    h, w = img.shape
    ok = ok & (q[..., 0] >= 0) & (q[..., 0] <= w - 1) & (q[..., 1] >= 0) & (q[..., 1] <= h - 1)
    qs = np.where(ok[..., None], q, 0).astype(np.float32)
    s = cv2.remap(img, qs[..., 0], qs[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    err = np.where(ok, np.abs(s - ref_img), 0).astype(np.float32)
    k = (2 * radius + 1, 2 * radius + 1)
    num = cv2.blur(err, k, borderType=cv2.BORDER_CONSTANT)
    den = cv2.blur(ok.astype(np.float32), k, borderType=cv2.BORDER_CONSTANT)
    return np.where(den > 0.999, num / np.maximum(den, 1e-6), np.nan)


def _static_explained(mask: np.ndarray, gray: np.ndarray, ref: int, others: list[int], K: np.ndarray,
                      Tcw: np.ndarray, z: np.ndarray, static_px: np.ndarray, inside: np.ndarray,
                      valid: np.ndarray, options: DenseOptions) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Candidate moving regions that a static surface explains photometrically are not moving.

    A region is a candidate because its flow leaves the epipolar lines; that is evidence of motion only
    if the flow is right. For each region of ``mask`` (h, w) with at least ``min_dynamic_area`` pixels:
    a plane sweep over the depths of the static pixels around it (a ring 7 px wide; 12 inverse depths
    spanning their 2-98 % range, widened by a third): every region pixel is warped with the cameras
    into each matched view at each depth, the 5x5 mean absolute grey difference taken, its median over
    the views (occlusions), the minimum over the depths -> the best static explanation. The same
    measure along the flow that made it a candidate -> the flow's explanation. Both over the same
    views (those where the flow is forward-backward consistent: an occluded view must not count
    against the static explanation alone). A region whose static explanation is at most
    ``photo_ratio`` times the flow's (floored at ``photo_floor`` grey levels, two frames' noise) is a
    flow error (aliased texture, a high-contrast edge, an occlusion), not independent motion: the
    static scene fits the frames about as well as the motion does (ray-cast static clips, tuning
    seeds: at most 1.9x). Real motion leaves every static depth by its displacement while the flow
    follows it (ray-cast moving box 16-20 grey levels against 2: 7-9x; the real dribbling person
    4.9 against 1.4, 3.3x floored).
    A moving region's fringe is peeled the same way pixel by pixel (``trim_ratio``), from its outside
    in. Regions without static surroundings are kept. Returns (kept mask, per-region stats)."""
    import cv2

    h, w = mask.shape
    n, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    keep = mask.copy()
    stats: list[dict[str, Any]] = []
    if n <= 1:
        return keep, stats
    radius, ring_px, depths = 2, 7, 12
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * ring_px + 1, 2 * ring_px + 1))
    imgs = [gray[t].astype(np.float32) for t in others]
    ref_img = gray[ref].astype(np.float32)
    Kinv = np.linalg.inv(K[ref])
    Tref_inv = geo.invert(Tcw[ref])
    rel = [np.asarray(Tcw[t], np.float64) @ Tref_inv for t in others]
    z2 = z.reshape(h, w)
    st2 = static_px.reshape(h, w)
    valid2 = valid.reshape(len(others), h, w)
    inside2 = inside.reshape(len(others), h, w, 2)
    m = ring_px + radius
    for k in range(1, n):
        ys, xs = np.nonzero(labels == k)
        y0, y1 = max(0, ys.min() - m), min(h, ys.max() + m + 1)
        x0, x1 = max(0, xs.min() - m), min(w, xs.max() + m + 1)
        region = labels[y0:y1, x0:x1] == k
        if region.sum() < options.min_dynamic_area:
            continue  # dropped later as noise
        ring = cv2.dilate(region.astype(np.uint8), kernel).astype(bool) & ~mask[y0:y1, x0:x1] & st2[y0:y1, x0:x1]
        zr = z2[y0:y1, x0:x1][ring]
        entry: dict[str, Any] = {"pixels": int(region.sum()), "ring": int(ring.sum())}
        stats.append(entry)
        if ring.sum() < 16:
            entry["decision"] = "kept: no static surroundings"
            continue
        inv = 1.0 / zr
        lo_i, hi_i = np.percentile(inv, [2, 98])
        sweep = 1.0 / np.linspace(0.75 * lo_i, 1.33 * hi_i, depths)
        yy, xx = np.mgrid[y0:y1, x0:x1]
        P = np.stack([xx, yy, np.ones_like(xx)], 0).reshape(3, -1).astype(np.float64)
        rays = Kinv @ P  # z = 1 rays of the crop's pixels
        ref_crop = ref_img[y0:y1, x0:x1]
        cost_d = np.empty((depths, len(others)) + region.shape, np.float32)
        flow = np.empty((len(others),) + region.shape, np.float32)
        for v in range(len(others)):
            A = K[others[v]] @ rel[v][:3, :3] @ rays
            b = K[others[v]] @ rel[v][:3, 3]
            # both explanations on the same observations: the views where the flow was consistent
            # forward-backward (an occluded view would count against the static one only)
            seen = valid2[v, y0:y1, x0:x1]
            for j, d in enumerate(sweep):
                qh = d * A + b[:, None]
                okd = qh[2] > 1e-9
                q = (qh[:2] / np.where(okd, qh[2], 1.0)).T.reshape(region.shape + (2,))
                cost_d[j, v] = _photo_costs(ref_crop, imgs[v], q, okd.reshape(region.shape) & seen, radius)
            flow[v] = _photo_costs(ref_crop, imgs[v], inside2[v, y0:y1, x0:x1], seen, radius)
        per_depth = _nanmedian0(cost_d.reshape(depths, len(others), -1).transpose(1, 0, 2))  # (depths, px)
        e_static_px = np.where(np.isnan(per_depth), np.inf, per_depth).min(0).reshape(region.shape)
        e_static_px[np.isinf(e_static_px)] = np.nan
        e_flow_px = _nanmedian0(flow)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            e_static = float(np.nanmedian(e_static_px[region]))
            e_flow = float(np.nanmedian(e_flow_px[region]))
        entry.update({"static_err": e_static, "flow_err": e_flow,
                      "bbox": [int(x0), int(y0), int(x1), int(y1)]})
        if not np.isfinite(e_static):
            entry["decision"] = "kept: not measurable"
            continue
        if e_static <= options.photo_ratio * max(e_flow if np.isfinite(e_flow) else 0.0, options.photo_floor):
            keep[y0:y1, x0:x1][region] = False
            entry["decision"] = "static"
            continue
        entry["decision"] = "moving"
        # its fringe: DIS smooths the motion into the static pixels around it (the ray-cast box's
        # regions run 5-10 % over its edge). Pixels the static scene explains at least as well as the
        # flow, connected to the region's outside through such pixels, are peeled off; static-looking
        # pixels inside (textureless parts of the moving object) stay
        mean = cv2.blur(ref_crop, (2 * radius + 1, 2 * radius + 1))
        texture = cv2.blur(np.abs(ref_crop - mean), (2 * radius + 1, 2 * radius + 1))
        fits = region & np.isfinite(e_static_px) & (texture >= options.trim_texture) & (
            e_static_px <= options.trim_ratio * np.maximum(np.nan_to_num(e_flow_px, nan=0.0), options.photo_floor))
        if fits.any():
            _, lab = cv2.connectedComponents(fits.astype(np.uint8), connectivity=8)
            edge = cv2.dilate((~region).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool) & fits
            ids = np.unique(lab[edge])
            peel = np.isin(lab, ids[ids > 0])
            keep[y0:y1, x0:x1][peel] = False
            entry["peeled"] = int(peel.sum())
    return keep, stats


def dense_points(frames: np.ndarray, cameras: Cameras, ref: int, *, options: DenseOptions = DenseOptions(),
                 progress: Progress = NO_PROGRESS
                 ) -> tuple[PointCloud, tuple[PointCloud, ...], np.ndarray, dict[str, Any]]:
    """Dense static points seen from frame ``ref``, per-frame dynamic points and per-frame depth.

    frames: (T, H, W, 3) uint8 at ``cameras.image_size``. Returns (static cloud, per-frame
    dynamic clouds, depth (T, H, W) float32 NaN-unknown, info).
    """
    import cv2

    cv2.setRNGSeed(0)
    T, H, W = frames.shape[:3]
    small, sx, sy = _resize(frames, options.long_side)
    h, w = small.shape[1:3]
    K = scale_intrinsics(cameras.K, sx, sy)
    Tcw = cameras.cam_from_world
    reg = np.asarray(cameras.registered, bool) & np.isfinite(Tcw).all((1, 2))
    gray = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in small])
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    posed = [t for t in range(T) if t != ref and reg[t]]
    keep = np.unique(np.linspace(0, len(posed) - 1, min(len(posed), max(1, options.max_views))).round().astype(int))
    others = [posed[k] for k in keep] if posed else []
    ys, xs = np.mgrid[0:h, 0:w]
    uv_ref = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float64)
    info: dict[str, Any] = {"dense_size": [w, h], "ref": int(ref), "views": len(others), "posed": len(posed) + 1}
    if not others:
        empty = PointCloud(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.uint8))
        return empty, tuple(empty for _ in range(T)), np.full((T, H, W), np.nan, np.float32), info
    c_ref = geo.invert(Tcw[ref])[:3, 3]
    base = {t: float(np.linalg.norm(geo.invert(Tcw[t])[:3, 3] - c_ref)) for t in posed}
    # flow from the reference into every posed frame, and back, for a per-view occlusion check
    total = len(others) + 2
    inside = np.empty((len(others), len(uv_ref), 2))
    valid = np.empty((len(others), len(uv_ref)), bool)
    for k, t in enumerate(others):
        fwd = _flow(dis, gray[ref], gray[t]).reshape(-1, 2)
        bwd = _flow(dis, gray[t], gray[ref])
        tgt = uv_ref + fwd
        fb_err = np.linalg.norm(fwd + _sample(bwd, tgt), axis=1)
        inside[k] = tgt
        valid[k] = ((tgt[:, 0] >= 0) & (tgt[:, 0] <= w - 1) & (tgt[:, 1] >= 0) & (tgt[:, 1] <= h - 1)
                    & (fb_err <= options.fb_px))
        progress("dense", k + 1, total)
    # a pixel is occluded (unknown) when fewer than two views see it consistently
    occluded = valid.sum(0) < min(2, len(others))
    z, rms, n_used, sens, per_view = geo.triangulate_along_rays(K[ref], Tcw[ref], uv_ref, K[others], Tcw[others],
                                                                inside, valid, return_per_view=True)
    z, rms, sens = z.astype(np.float64), rms.astype(np.float64), sens.astype(np.float64)
    progress("dense", len(others) + 1, total)
    zc = np.where(np.isfinite(z) & (z > 0), z, 1.0)
    sigma_px = np.maximum(rms, max(0.1, float(options.noise_px)))
    rel_unc = sigma_px / np.maximum(sens, 1e-12) / zc
    conf = 1.0 / (1.0 + (rel_unc / 0.01) ** 2)
    finite = np.isfinite(z) & (z > 0)
    # independent motion: the median over views of the residual after the best depth (the flow
    # component off the epipolar lines). The median ignores views where the pixel is occluded;
    # moving content is off its epipolar lines in most views.
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        med_res = np.nanmedian(per_view, axis=0) if len(others) > 1 else per_view[0]
    score = np.where(finite & ~occluded, np.nan_to_num(med_res), 0.0)
    # content whose flow runs against the parallax fits no positive depth (behind the camera): score
    # it by how far its flow leaves the point at infinity of its ray, the nearest a static point can be
    wrong_way = ~finite & ~occluded
    if wrong_way.any():
        score[wrong_way] = _distance_from_infinity(K[ref], Tcw[ref], uv_ref[wrong_way], K[others], Tcw[others],
                                                   inside[:, wrong_way], valid[:, wrong_way])
    mask_m, thr, thr_region = _moving_regions(score.reshape(h, w), finite & ~occluded, options)
    regions: list[dict[str, Any]] = []
    if options.photometric_check and mask_m.any():
        static_px = finite & ~occluded & ~mask_m.ravel() & (rms <= options.dynamic_px)
        mask_m, regions = _static_explained(mask_m, gray, ref, others, K, Tcw, z, static_px, inside, valid, options)
    static = (finite & ~occluded & ~mask_m.ravel() & (rel_unc < options.max_rel_uncertainty)
              & (rms <= options.dynamic_px))
    depth_ref = np.where(static, z, np.nan).reshape(h, w).astype(np.float32)
    fill, dyn_mask = _fill_from_surroundings(depth_ref, mask_m, options.min_dynamic_area)
    X = geo.unproject(K[ref], Tcw[ref], uv_ref[static], z[static])
    rgb_small = small[ref].reshape(-1, 3)
    cloud = PointCloud(xyz=X.astype(np.float32), rgb=rgb_small[static].astype(np.uint8),
                       frame=np.full(len(X), ref, np.int32), confidence=conf[static].astype(np.float32))
    # per-frame dynamic points: the reference's moving pixels carried along their flow
    dyn_idx = np.flatnonzero(dyn_mask.ravel())
    dynamic: list[PointCloud] = []
    Xdyn_ref = (geo.unproject(K[ref], Tcw[ref], uv_ref[dyn_idx], fill.ravel()[dyn_idx]) if len(dyn_idx)
                else np.zeros((0, 3)))
    for t in range(T):
        if len(dyn_idx) == 0 or not reg[t]:
            dynamic.append(PointCloud(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.uint8)))
            continue
        if t == ref:
            q = uv_ref[dyn_idx]
            zt = fill.ravel()[dyn_idx].astype(np.float64)
        else:
            if t in others:
                q = inside[others.index(t)][dyn_idx]
            else:  # a frame left out of the matching: the reference's flow into it, for these pixels only
                q = uv_ref[dyn_idx] + _flow(dis, gray[ref], gray[t]).reshape(-1, 2)[dyn_idx]
            _, zt = geo.project(K[t], Tcw[t], Xdyn_ref)
        ok = (q[:, 0] >= 0) & (q[:, 0] <= w - 1) & (q[:, 1] >= 0) & (q[:, 1] <= h - 1) & (zt > 0)
        Xt = geo.unproject(K[t], Tcw[t], q[ok], zt[ok])
        col = np.clip(_sample(small[t].astype(np.float32), q[ok]), 0, 255).astype(np.uint8)
        dynamic.append(PointCloud(xyz=Xt.astype(np.float32), rgb=col.reshape(-1, 3),
                                  frame=np.full(len(Xt), t, np.int32),
                                  confidence=np.full(len(Xt), 0.1, np.float32), dynamic=np.ones(len(Xt), bool)))
    # per-frame depth: the static cloud rendered into each frame, plus that frame's moving points
    depth = np.full((T, H, W), np.nan, np.float32)
    for t in range(T):
        if not reg[t]:
            continue
        pts = cloud.xyz if len(dynamic[t]) == 0 else np.concatenate([cloud.xyz, dynamic[t].xyz])
        d_small = depth_ref.copy() if t == ref else render_depth(pts, K[t], Tcw[t], (w, h))
        if t == ref and len(dyn_idx):
            d_small.ravel()[dyn_idx] = fill.ravel()[dyn_idx]
        depth[t] = cv2.resize(d_small, (W, H), interpolation=cv2.INTER_NEAREST)
    progress("dense", total, total)
    info.update({
        "static_points": int(len(cloud)), "dynamic_pixels_ref": int(len(dyn_idx)),
        "depth_size": [int(w), int(h)],  # the depth maps are nearest-upsampled from this (W, H)
        "dynamic_fraction": float(len(dyn_idx) / max(1, finite.sum())),
        "dynamic_threshold_px": thr,
        "dynamic_region_threshold_px": thr_region,
        "dynamic_regions": regions,
        "occluded_fraction": float(occluded.mean()),
        "median_rms_px": float(np.nanmedian(rms[finite])) if finite.any() else None,
        "median_rel_uncertainty": float(np.nanmedian(rel_unc[static])) if static.any() else None,
        "noise_floor_px": max(0.1, float(options.noise_px)),
        "confidence": "1 / (1 + (relative depth sigma / 1 %)^2); sigma from the residual (floored at the "
                      "clip's measured noise) over the parallax sensitivity",
        "max_baseline": float(max(base.values())),
        "dynamic_depth": "moving content is placed at the median depth of its static surroundings "
                         "(not observable from a single moving camera)",
    })
    prov = Provenance.capture("dense-flow", options, packages=("opencv-contrib-python",))
    cloud = PointCloud(cloud.xyz, cloud.rgb, frame=cloud.frame, confidence=cloud.confidence, provenance=prov)
    return cloud, tuple(dynamic), depth, info
