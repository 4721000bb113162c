"""Head pose: intrinsics priors, PnP against the face model, lifting landmarks to 3D."""

from __future__ import annotations

import math

import numpy as np

from blur4d.errors import InputError

from .config import DEFAULT_FOV
from .detection import NUM_MESH
from .model import FaceModel


def intrinsics_for(width: int, height: int, fov: float = DEFAULT_FOV) -> np.ndarray:
    """Pinhole prior: horizontal field of view ``fov`` degrees, principal point at the centre
    (pixel centres at integers: cx = (W - 1) / 2)."""
    f = 0.5 * width / math.tan(math.radians(fov) / 2)
    return np.array([[f, 0.0, (width - 1) / 2], [0.0, f, (height - 1) / 2], [0.0, 0.0, 1.0]])


def _resolve_K(K: np.ndarray | None, num_frames: int, width: int, height: int, fov: float) -> tuple[np.ndarray, str]:
    """-> ((T, 3, 3) per-frame intrinsics, source)."""
    if K is None:
        return np.repeat(intrinsics_for(width, height, fov)[None], num_frames, axis=0), f"fov prior ({fov:g} deg)"
    k = np.asarray(K, np.float64)
    if k.shape == (3, 3):
        k = np.repeat(k[None], num_frames, axis=0)
    if k.shape != (num_frames, 3, 3):
        raise InputError(f"K: expected (3, 3) or ({num_frames}, 3, 3) intrinsics, got shape {np.shape(K)}")
    if not np.all(np.isfinite(k)) or np.any(k[:, 0, 0] <= 0) or np.any(k[:, 1, 1] <= 0):
        raise InputError("K: intrinsics must be finite with positive focal lengths (fx, fy)")
    return k, "argument"


def solve_head_pose(xy: np.ndarray, model: FaceModel, K: np.ndarray) -> np.ndarray | None:
    """Head pose from 2D landmarks (L >= 468, 2) pixels: ``cam_from_head`` 4x4 (cm), or None when
    PnP fails or puts the head behind the camera. SQPnP (global) then Levenberg-Marquardt."""
    import cv2

    obj = np.ascontiguousarray(model.mesh, np.float64)
    img = np.ascontiguousarray(np.asarray(xy, np.float64)[:NUM_MESH, :2])
    if not np.all(np.isfinite(img)):
        return None
    try:
        ok, rvec, tvec = cv2.solvePnP(obj, img, K, None, flags=cv2.SOLVEPNP_SQPNP)
        if not ok:
            return None
        rvec, tvec = cv2.solvePnPRefineLM(obj, img, K, None, rvec, tvec)
    except cv2.error:
        return None
    if not np.all(np.isfinite(tvec)) or float(tvec[2, 0]) <= 0:
        return None
    T = np.eye(4)
    T[:3, :3] = cv2.Rodrigues(rvec)[0]
    T[:3, 3] = tvec[:, 0]
    return T


def rotation_angle_deg(Ra: np.ndarray, Rb: np.ndarray) -> float:
    """Geodesic angle (degrees) between two rotation matrices."""
    c = (np.trace(np.asarray(Ra)[:3, :3].T @ np.asarray(Rb)[:3, :3]) - 1.0) / 2.0
    return float(np.degrees(np.arccos(np.clip(c, -1.0, 1.0))))


def lift_landmarks(landmarks: np.ndarray, cam_from_head: np.ndarray, K: np.ndarray) -> np.ndarray:
    """3D landmarks in the camera frame (cm) for one face: (L, 3) pixels + relative depth and its
    pose -> (L, 3). Depth = depth of the face model's origin (from the pose) plus MediaPipe's
    relative depth scaled from pixels to cm at that depth; x, y back-projected through K."""
    lm = np.asarray(landmarks, np.float64)
    z0 = float(cam_from_head[2, 3])
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    z = z0 + (lm[:, 2] - lm[:NUM_MESH, 2].mean()) * z0 / fx
    return np.stack([(lm[:, 0] - cx) * z / fx, (lm[:, 1] - cy) * z / fy, z], axis=1)
