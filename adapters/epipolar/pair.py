"""Analysis of one frame pair: F and H, noise, model selection, residual parallax and
independently moving groups."""

from __future__ import annotations

from typing import Any

import numpy as np

from .config import EpipolarConfig
from .matching import _hull_fraction
from .models import (_apply_h, as_points, find_fundamental, find_homography, gric, parallax_evidence,
                     parallax_statistics, refine_homography, sampson_distance, transfer_errors)


def _corner_motion(H: np.ndarray, size: tuple[int, int]) -> float:
    W, Hh = size
    c = np.array([[0, 0], [W - 1, 0], [0, Hh - 1], [W - 1, Hh - 1]], np.float32)
    return float(np.linalg.norm(_apply_h(H, c) - c, axis=1).max())


def analyse_pair(p1: Any, p2: Any, size: tuple[int, int], cfg: EpipolarConfig | None = None, *,
                 scale: float = 1.0, i: int = 0, j: int = 1,
                 ratios: np.ndarray | None = None) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Analyse matched points of one frame pair.

    p1, p2: (N, 2) matched pixel positions in frames i and j; size: (W, H) of frame i; scale: the
    threshold scale (thresholds in input pixels are ``cfg.threshold / scale``); ratios: (N,) the matches'
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
    H = refine_homography(H, a, b, magsac_H, thr)
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
    rec["H"] = [[float(v) for v in row] for row in H]  # x_j ~ H x_i, input-frame pixels
    rec["F"] = [[float(v) for v in row] for row in F] if F is not None else None  # x_j^T F x_i = 0
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
    # noise: the keypoint localisation error, measured on the epipolar inliers across their
    # epipolar lines (where neither parallax nor the choice of the plane can add to it)
    stats = parallax_statistics(fwd, samp, inl_F if F is not None else inl_H)
    if not np.isfinite(stats["noise_px"]) and inl_H.sum() >= 8:  # no F (static): the 2D residual's median
        stats["noise_px"] = float(np.median(fwd[inl_H])) / 1.1774  # is 1.1774 sigma (Rayleigh)
    sigma = float(np.clip(stats["noise_px"] if np.isfinite(stats["noise_px"]) else thr / 2, 0.02 / scale, thr))
    rec["noise_sigma_px"] = round(sigma, 4)
    rec["keypoint_noise_px"] = rec["noise_sigma_px"]

    # GRIC over the matches that the rigid scene explains (F inliers or H inliers): reported, but
    # not the decision (SIFT's localisation error is heavy-tailed: its 90th percentile is ~3.5x
    # its median, against 1.8x for a Gaussian, and GRIC's truncated Gaussian penalty then prefers
    # F on pure rotations and planes; the test below compares the residuals with themselves)
    rigid = inl_F | inl_H
    nr = int(rigid.sum())
    gsig = sigma / np.sqrt(2)  # per-coordinate noise of one image
    eH2 = sym[rigid] ** 2 / 2.0  # one-sided transfer^2 ~ 2 x the 4D geometric error^2
    gF = gric(samp[rigid] ** 2, gsig, d=3, k=7) if F is not None else float("nan")
    gH = gric(eH2, gsig, d=2, k=8)
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
    evidence = parallax_evidence(stats, cfg) if F is not None else 0.0
    rec.update(along_fraction=round(stats["along_fraction"], 4), along_z=round(stats["along_z"], 2),
               parallax_excess_sigmas=round(stats["excess_sigmas"], 3), parallax_evidence=round(evidence, 4))

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

    if groups:
        rec["label"] = "independent motion"
        why = "background static" if static else "violates the epipolar geometry"
        rec["reason"] = f"{int(moving.sum())} matches in {len(groups)} group(s) move independently ({why})"
    elif evidence >= 0.5:
        rec["label"] = "parallax"
        rec["reason"] = (f"{100 * stats['along_fraction']:.0f}% of the epipolar inliers leave the homography along "
                         f"their epipolar line rather than across it (z = {stats['along_z']:.1f}); parallax "
                         f"{stats['excess_sigmas']:.1f} x the keypoint noise ({sigma:.2f} px); p90 "
                         f"{rec['parallax_p90_px']:.2f} px")
    else:
        rec["label"] = "homography"
        rec["reason"] = (f"one homography explains {100 * rec['inlier_ratio_H']:.0f}% of matches; what is left "
                         f"(p90 {rec['parallax_p90_px']:.2f} px) is as large across the epipolar lines as along "
                         f"them: keypoint noise ({sigma:.2f} px), no parallax")
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
    # the pair's vote in the clip-level verdict: parallax and independent motion grow with the
    # pair's motion while the noise does not, so wide pairs see what consecutive ones cannot
    reach = rec["displacement_p90_px"] / tau
    rec["vote"] = round(float(rec["weight"] * max(reach, 1.0)), 4)
    return rec, arrays
