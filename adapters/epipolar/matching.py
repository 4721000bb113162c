"""SIFT features, ratio-test matching and the choice of frame pairs."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from blur4d.errors import InputError

from .config import EpipolarConfig

log = logging.getLogger("blur4d.adapters.epipolar")


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


@dataclass
class _Features:
    xy: np.ndarray  # (N, 2) float32, input-frame pixels
    desc: np.ndarray  # (N, 128) float32
    size: tuple[int, int]  # (W, H) of the input frame
    scale: float  # detection (SIFT proxy) / input
    tscale: float = 1.0  # threshold scale: thresholds in input pixels are cfg.threshold / tscale


def _gray(img: np.ndarray) -> np.ndarray:
    import cv2

    img = np.asarray(img)
    if img.ndim == 2:
        return img if img.dtype == np.uint8 else np.clip(img, 0, 255).astype(np.uint8)
    if img.ndim == 3 and img.shape[2] in (3, 4):
        return cv2.cvtColor(np.ascontiguousarray(img[..., :3]), cv2.COLOR_RGB2GRAY)
    raise InputError(f"frame: expected (H, W) or (H, W, 3) uint8, got shape {img.shape}")


def _detect(img: np.ndarray, cfg: EpipolarConfig) -> _Features:
    """SIFT on the frame reduced to ``cfg.max_side`` (INTER_AREA on the colour frame, then grey:
    the camera stage reduces its frames the same way, so the shared cache in
    ``blur4d.adapters._features`` serves both)."""
    import cv2

    from .._features import sift

    img = np.asarray(img)
    if img.ndim not in (2, 3):
        raise InputError(f"frame: expected (H, W) or (H, W, 3) uint8, got shape {img.shape}")
    H, W = img.shape[:2]
    s = min(1.0, cfg.max_side / max(H, W))
    size = (max(1, round(W * s)), max(1, round(H * s)))
    colour = img.ndim == 3 and img.shape[2] in (3, 4)
    if s < 1.0 and colour:
        img = cv2.resize(np.ascontiguousarray(img[..., :3]), size, interpolation=cv2.INTER_AREA)
    g = _gray(img)
    if s < 1.0 and not colour:
        g = cv2.resize(g, size, interpolation=cv2.INTER_AREA)
    xy, desc = sift(g, int(cfg.max_features))
    if s < 1.0:  # pixel centres at integers: x_in = (x_an + 0.5) / s - 0.5
        xy = ((xy + 0.5) / s - 0.5).astype(np.float32)
    return _Features(xy, desc, (W, H), s, min(1.0, cfg.threshold_side / max(H, W)))


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
