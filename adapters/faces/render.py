"""Synthetic faces with a known head pose (for tests and benchmarks): a textured face rolled in the
image plane or turned in 3D.
"""

from __future__ import annotations

import math

import numpy as np

from blur4d.errors import InputError

from .detection import NUM_MESH, _static_landmarks
from .model import load_face_model


def astronaut_face(size: int = 256) -> np.ndarray:
    """A square crop around the face of scikit-image's astronaut, resized to ``size`` -> uint8."""
    import cv2
    from skimage import data

    img = data.astronaut()
    crop = img[40:220, 135:315]  # face ~ x 179-271, y 71-177 in the 512x512 photo
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_CUBIC if size > 180 else cv2.INTER_AREA)


def roll_face(texture: np.ndarray, angle_deg: float, size: tuple[int, int] = (640, 480),
              background: int = 110) -> tuple[np.ndarray, np.ndarray]:
    """The texture pasted at the image centre and rotated in the image plane about the principal
    point by ``angle_deg`` (positive: clockwise on screen, i.e. a rotation about the camera's
    +z axis). With a square-pixel K centred there this is exactly a head rotation about the
    optical axis -> (image uint8, true rotation 3x3)."""
    import cv2

    W, H = size
    canvas = np.full((H, W, 3), background, np.uint8)
    h, w = texture.shape[:2]
    y0, x0 = (H - h) // 2, (W - w) // 2
    canvas[y0:y0 + h, x0:x0 + w] = texture
    a = math.radians(angle_deg)
    R2 = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    c = np.array([(W - 1) / 2, (H - 1) / 2])
    A = np.hstack([R2, (c - R2 @ c)[:, None]])
    img = cv2.warpAffine(canvas, A, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                         borderValue=(background,) * 3)
    R = np.eye(3)
    R[:2, :2] = R2
    return img, R


def render_face_surface(texture: np.ndarray, R_head: np.ndarray, K: np.ndarray, size: tuple[int, int], *,
                        surface: str = "ellipsoid", distance_cm: float = 60.0,
                        axes_cm: tuple[float, float, float] = (8.0, 10.5, 9.0), face_width_cm: float = 18.0,
                        background: int = 110) -> np.ndarray:
    """Ray-cast a textured head at known orientation: ``texture`` (S, S, 3) is projected
    orthographically along the head's z axis onto a ``plane`` (z = 0) or the front of an
    ``ellipsoid`` (semi-axes ``axes_cm``); the head centre sits ``distance_cm`` in front of the
    camera; ``R_head`` is the head-to-camera rotation (head frame: x left of the subject, y down,
    z into the head). Returns (H, W, 3) uint8."""
    import cv2

    W, H = size
    u, v = np.meshgrid(np.arange(W, dtype=np.float64), np.arange(H, dtype=np.float64))
    rays = np.stack([u, v, np.ones_like(u)], -1) @ np.linalg.inv(K).T
    R = np.asarray(R_head, np.float64)
    t = np.array([0.0, 0.0, distance_cm])
    o = R.T @ (-t)  # camera centre in head coordinates
    d = rays @ R  # ray directions in head coordinates (R^T d per row)
    if surface == "plane":
        with np.errstate(divide="ignore", invalid="ignore"):
            lam = -o[2] / d[..., 2]
        hit = np.isfinite(lam) & (lam > 0)
    elif surface == "ellipsoid":
        ax = np.asarray(axes_cm, np.float64)
        oo, dd = o / ax, d / ax
        a = np.sum(dd * dd, -1)
        b = 2 * np.sum(dd * oo, -1)
        c = np.sum(oo * oo) - 1
        disc = b * b - 4 * a * c
        hit = disc > 0
        lam = np.where(hit, (-b - np.sqrt(np.maximum(disc, 0))) / (2 * a), np.nan)
        hit &= lam > 0
    else:
        raise InputError(f"surface: expected 'plane' or 'ellipsoid', got {surface!r}")
    P = o + np.where(hit, lam, 0)[..., None] * d
    S = texture.shape[0]
    scale = S / face_width_cm
    mapx = (P[..., 0] * scale + (S - 1) / 2).astype(np.float32)
    mapy = (P[..., 1] * scale + (S - 1) / 2).astype(np.float32)
    front = hit & (P[..., 2] <= 0.3 * (axes_cm[2] if surface == "ellipsoid" else 1.0))
    mapx[~front] = -10
    mapy[~front] = -10
    img = cv2.remap(texture, mapx, mapy, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                    borderValue=(background,) * 3)
    if surface == "ellipsoid":
        back = hit & ~front
        img[back] = (70, 60, 50)
    return img


def render_face_mesh(R_head: np.ndarray, K: np.ndarray, size: tuple[int, int], *, distance_cm: float = 45.0,
                     background: int = 110) -> np.ndarray:
    """Render the astronaut's face as a textured 3D mesh at a known orientation: the vertices
    are the derived face model (cm), the texture is the astronaut photo at her own landmarks,
    triangles are the Delaunay triangulation of the frontal landmarks, drawn back to front with
    back faces culled. The shape equals the PnP model, so errors measured on it are the
    landmark detector's plus PnP's, without shape mismatch (optimistic). -> (H, W, 3) uint8."""
    import cv2
    from scipy.spatial import Delaunay
    from skimage import data

    W, H = size
    photo = data.astronaut()
    tex_xy = _static_landmarks(photo)[:NUM_MESH, :2].astype(np.float64)
    model = load_face_model(None).mesh
    tris = Delaunay(tex_xy).simplices
    cam = model @ np.asarray(R_head, np.float64).T + np.array([0.0, 0.0, distance_cm])
    uv = cam[:, :2] / cam[:, 2:] * np.array([K[0, 0], K[1, 1]]) + np.array([K[0, 2], K[1, 2]])
    img = np.full((H, W, 3), background, np.uint8)
    sign0 = np.sign(np.cross(tex_xy[tris[:, 1]] - tex_xy[tris[:, 0]], tex_xy[tris[:, 2]] - tex_xy[tris[:, 0]]))
    area = np.cross(uv[tris[:, 1]] - uv[tris[:, 0]], uv[tris[:, 2]] - uv[tris[:, 0]])
    order = np.argsort(-cam[tris, 2].mean(axis=1))
    for k in order:
        if np.sign(area[k]) != sign0[k] or abs(area[k]) < 1e-6:
            continue
        src = tex_xy[tris[k]].astype(np.float32)
        dst = uv[tris[k]].astype(np.float32)
        x0, y0 = np.floor(dst.min(axis=0)).astype(int)
        x1, y1 = np.ceil(dst.max(axis=0)).astype(int) + 1
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, W), min(y1, H)
        if x1 <= x0 or y1 <= y0:
            continue
        A = cv2.getAffineTransform(src, dst - np.array([x0, y0], np.float32))
        patch = cv2.warpAffine(photo, A, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillConvexPoly(mask, np.round((dst - [x0, y0]) * 16).astype(np.int32), 1, cv2.LINE_AA, shift=4)
        region = img[y0:y1, x0:x1]
        region[mask > 0] = patch[mask > 0]
    return img
