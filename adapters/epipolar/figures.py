"""The report's figures (uint8 RGB images) for the reference pair."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .config import EpipolarConfig
from .models import _homog


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
