"""A Scene -> what the viewer draws, as plain arrays (no viser here, so it is testable anywhere).

World frame: the scene's (cameras are ``cam_from_world``, OpenCV axes: x right, y down, z forward).
Everything in the viewer is in these coordinates; the viewer sets "-y" as up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import InputError
from ..media import resize_long_side
from ..types import Cameras, FaceTracks, PointCloud, Scene, Tracks

DEFAULT_POINT_BUDGET = 1_000_000
COLOUR_MODES = ("rgb", "confidence", "moving")
_STATIC_GREY = np.array([150, 150, 150], np.uint8)
_MOVING_ORANGE = np.array([255, 110, 0], np.uint8)


@dataclass
class Cloud:
    """Points of one layer: xyz (N, 3) float32, rgb (N, 3) uint8, confidence (N,) float32 or
    None, moving (N,) bool."""

    xyz: np.ndarray
    rgb: np.ndarray
    confidence: np.ndarray | None
    moving: np.ndarray

    def __len__(self) -> int:
        return len(self.xyz)

    def colours(self, mode: str) -> np.ndarray:
        """(N, 3) uint8 colours for a colour mode (see ``COLOUR_MODES``)."""
        if mode == "rgb":
            return self.rgb
        if mode == "confidence":
            if self.confidence is None:
                return np.tile(np.array([128, 128, 128], np.uint8), (len(self), 1))
            return viridis(self.confidence)
        if mode == "moving":
            return np.where(self.moving[:, None], _MOVING_ORANGE[None], _STATIC_GREY[None]).astype(np.uint8)
        raise InputError(f"colour mode must be one of {COLOUR_MODES}, got {mode!r}")

    def take(self, idx: np.ndarray) -> "Cloud":
        conf = None if self.confidence is None else self.confidence[idx]
        return Cloud(self.xyz[idx], self.rgb[idx], conf, self.moving[idx])


@dataclass
class FrameCamera:
    """One frame's camera for drawing: world_from_cam (4, 4), vertical fov (rad), aspect W/H and a
    small image of the frame (or None)."""

    index: int
    world_from_cam: np.ndarray
    fov_y: float
    aspect: float
    image: np.ndarray | None


@dataclass
class Head:
    """A head pose placed in the world: world_from_head (4, 4), axis length (scene units), face id,
    and whether its distance came from the depth map (else: an assumed distance)."""

    frame: int
    face_id: int
    world_from_head: np.ndarray
    axis_length: float
    from_depth: bool


@dataclass
class Layers:
    num_frames: int
    static: Cloud | None
    moving: list[Cloud]  # one per frame (possibly empty)
    cameras: list[FrameCamera]  # registered frames only
    trajectory: np.ndarray  # (K, 3) camera centres of registered frames, in time order
    tracks: np.ndarray | None  # (T, N, 3) world positions, NaN where unknown
    track_colours: np.ndarray | None  # (N, 3) uint8
    heads: list[Head]
    scale: float  # a typical scene distance (median camera-to-point depth): sizes frustums, axes, points
    centre: np.ndarray  # (3,) where to look
    fps: float
    pixel: float  # world size of one frame pixel at the typical distance, widened by the decimation
    counts: dict[str, int] = field(default_factory=dict)  # points before/after the budget
    notes: list[str] = field(default_factory=list)

    @property
    def total_points(self) -> int:
        return (len(self.static) if self.static is not None else 0) + sum(len(c) for c in self.moving)


def viridis(v: np.ndarray) -> np.ndarray:
    """Values in [0, 1] -> (N, 3) uint8 RGB through OpenCV's viridis colour map."""
    import cv2

    v8 = np.clip(np.nan_to_num(np.asarray(v, np.float32), nan=0.0) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    bgr = cv2.applyColorMap(v8.reshape(-1, 1), cv2.COLORMAP_VIRIDIS).reshape(-1, 3)
    return np.ascontiguousarray(bgr[:, ::-1])


def _cloud(pc: PointCloud, moving_default: bool) -> Cloud:
    ok = np.all(np.isfinite(pc.xyz), axis=1)
    moving = pc.dynamic if pc.dynamic is not None else np.full(len(pc), moving_default)
    conf = pc.confidence
    c = Cloud(pc.xyz.astype(np.float32), pc.rgb.astype(np.uint8), None if conf is None else conf.astype(np.float32),
              moving.astype(bool))
    return c if ok.all() else c.take(np.flatnonzero(ok))


def decimate(clouds: Sequence[Cloud | None], budget: int, seed: int = 0) -> list[Cloud | None]:
    """Keep at most ``budget`` points over all clouds, the same fraction of each (a seeded random
    subset, in the original order)."""
    if budget < 1:
        raise InputError(f"point budget must be >= 1, got {budget}")
    total = sum(len(c) for c in clouds if c is not None)
    if total <= budget:
        return list(clouds)
    rng = np.random.default_rng(seed)
    frac = budget / total
    out: list[Cloud | None] = []
    for c in clouds:
        if c is None or len(c) == 0:
            out.append(c)
            continue
        k = int(np.floor(len(c) * frac))
        out.append(c.take(np.sort(rng.choice(len(c), size=k, replace=False))))
    return out


def _rigid_inverse(T: np.ndarray) -> np.ndarray:
    out = np.eye(4)
    R, t = T[:3, :3], T[:3, 3]
    out[:3, :3] = R.T
    out[:3, 3] = -R.T @ t
    return out


def _registered(cams: Cameras) -> np.ndarray:
    reg = np.ones(cams.num_frames, bool) if cams.registered is None else np.asarray(cams.registered, bool)
    return reg & np.all(np.isfinite(cams.cam_from_world.reshape(cams.num_frames, -1)), axis=1)


def _frame_cameras(scene: Scene, thumb: int) -> list[FrameCamera]:
    cams = scene.cameras
    if cams is None:
        return []
    W, H = cams.image_size
    frames = scene.video.frames if scene.video is not None else None
    out = []
    for t in np.flatnonzero(_registered(cams)):
        fy = float(cams.K[t, 1, 1])
        img = None
        if frames is not None and t < len(frames):
            img = resize_long_side(frames[t], thumb) if thumb > 0 else None
        out.append(FrameCamera(int(t), _rigid_inverse(cams.cam_from_world[t]), 2.0 * float(np.arctan2(H / 2.0, fy)),
                               W / H, img))
    return out


def _scene_scale(scene: Scene, static: Cloud | None, moving: Sequence[Cloud]) -> tuple[float, np.ndarray]:
    """(typical camera-to-point distance, centre of the points) with fallbacks."""
    pts = [c.xyz for c in [static, *moving] if c is not None and len(c)]
    xyz = np.concatenate(pts) if pts else np.zeros((0, 3), np.float32)
    centre = np.median(xyz, axis=0).astype(np.float64) if len(xyz) else np.zeros(3)
    cams = scene.cameras
    if cams is not None and _registered(cams).any():
        centres = np.linalg.inv(cams.cam_from_world[_registered(cams)])[:, :3, 3]
        if len(xyz):
            sub = xyz[:: max(1, len(xyz) // 20000)].astype(np.float64)
            d = float(np.median(np.linalg.norm(sub - centres.mean(0), axis=1)))
        else:
            d = float(np.linalg.norm(np.ptp(centres, axis=0))) * 10 or 1.0
            centre = centres.mean(0) + cams.world_from_cam[_registered(cams)][0][:3, 2] * d
        return (d if d > 0 and np.isfinite(d) else 1.0), centre
    if len(xyz):
        d = float(np.median(np.linalg.norm(xyz - centre, axis=1)) * 2.0)
        return (d if d > 0 else 1.0), centre
    return 1.0, centre


def lift_tracks(tracks: Tracks, depth: np.ndarray, cams: Cameras, max_tracks: int = 300,
                seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """2D tracks + per-frame depth + cameras -> (T, N, 3) world positions (NaN where not visible,
    no depth, or the frame is not posed) for at most ``max_tracks`` tracks; and the kept indices."""
    T = min(tracks.num_frames, len(depth), cams.num_frames)
    n = tracks.num_points
    keep = np.arange(n) if n <= max_tracks else np.sort(np.random.default_rng(seed).choice(n, max_tracks, False))
    out = np.full((T, len(keep), 3), np.nan, np.float32)
    dh, dw = depth.shape[1:3]
    W, H = tracks.image_size if tracks.image_size is not None else cams.image_size
    sx, sy = dw / W, dh / H
    reg = _registered(cams)
    for t in range(T):
        if not reg[t]:
            continue
        xy = tracks.xy[t, keep].astype(np.float64)
        vis = tracks.visible[t, keep] & np.all(np.isfinite(xy), axis=1)
        u = np.round(xy[:, 0] * sx).astype(np.int64, copy=False) if vis.any() else np.zeros(len(keep), np.int64)
        v = np.round(xy[:, 1] * sy).astype(np.int64, copy=False) if vis.any() else np.zeros(len(keep), np.int64)
        inside = vis & (u >= 0) & (u < dw) & (v >= 0) & (v < dh)
        z = np.full(len(keep), np.nan)
        z[inside] = depth[t, v[inside], u[inside]]
        ok = inside & np.isfinite(z) & (z > 0)
        if not ok.any():
            continue
        Kt = cams.K[t]
        # pixel (in the camera's image size) -> camera ray at depth z
        uc = xy[ok, 0] * cams.image_size[0] / W
        vc = xy[ok, 1] * cams.image_size[1] / H
        pc = np.stack([(uc - Kt[0, 2]) / Kt[0, 0] * z[ok], (vc - Kt[1, 2]) / Kt[1, 1] * z[ok], z[ok]], 1)
        wfc = _rigid_inverse(cams.cam_from_world[t])
        out[t, ok] = (pc @ wfc[:3, :3].T + wfc[:3, 3]).astype(np.float32)
    return out, keep


def track_colours(n: int) -> np.ndarray:
    """n distinct-ish colours (golden-ratio hues) -> (n, 3) uint8."""
    import colorsys

    return np.array([[int(255 * c) for c in colorsys.hsv_to_rgb((i * 0.618034) % 1.0, 0.75, 0.95)]
                     for i in range(n)], np.uint8).reshape(n, 3)


def place_heads(faces: FaceTracks, cams: Cameras, depth: np.ndarray | None, scale: float) -> list[Head]:
    """Head poses (``cam_from_head``, cm) -> world poses. The head's direction from the camera is
    exact; its distance is in the scene's (arbitrary) units: the median depth inside the face's box
    when a depth map exists, otherwise the typical scene distance ``scale`` (marked ``from_depth=False``)."""
    heads: list[Head] = []
    reg = _registered(cams)
    T = min(faces.num_frames, cams.num_frames)
    for t in range(T):
        if not reg[t]:
            continue
        wfc = _rigid_inverse(cams.cam_from_world[t])
        for m in range(faces.num_faces):
            P = faces.cam_from_head[t, m]
            if not faces.present[t, m] or not np.all(np.isfinite(P)) or P[2, 3] <= 0:
                continue
            z_scene, from_depth = scale, False
            if depth is not None and t < len(depth) and np.all(np.isfinite(faces.bbox[t, m])):
                dh, dw = depth.shape[1:3]
                W, H = faces.image_size if faces.image_size is not None else cams.image_size
                x0, y0, x1, y1 = faces.bbox[t, m] * np.array([dw / W, dh / H, dw / W, dh / H])
                box = depth[t, max(0, int(y0)):max(0, int(np.ceil(y1))), max(0, int(x0)):max(0, int(np.ceil(x1)))]
                box = box[np.isfinite(box) & (box > 0)]
                if box.size:
                    z_scene, from_depth = float(np.median(box)), True
            s = z_scene / float(P[2, 3])  # scene units per cm
            head = np.eye(4)
            head[:3, :3] = P[:3, :3]
            head[:3, 3] = P[:3, 3] * s
            heads.append(Head(t, int(faces.ids[m]), wfc @ head, 10.0 * s, from_depth))
    return heads


def build_layers(scene: Scene, *, point_budget: int = DEFAULT_POINT_BUDGET, thumb: int = 256, max_tracks: int = 300,
                 seed: int = 0) -> Layers:
    """Everything the viewer draws, from a Scene (decimated to ``point_budget`` points)."""
    if scene.cameras is None and scene.points is None and not any(len(p) for p in scene.dynamic_points):
        where = f"scene {scene.path}" if scene.path is not None else "scene"
        raise InputError(f"{where}: nothing 3D to view: no static points (scene .ply), no moving points "
                         "(points/) and no cameras (cameras.json); run `blur4d reconstruct` without skipping "
                         "the cameras stage")
    notes: list[str] = []
    n_frames = max(len(scene.dynamic_points), scene.cameras.num_frames if scene.cameras is not None else 0,
                   scene.video.num_frames if scene.video is not None else 0, 1)
    static = _cloud(scene.points, False) if scene.points is not None and len(scene.points) else None
    moving = [_cloud(p, True) for p in scene.dynamic_points]
    moving += [Cloud(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.uint8), None, np.zeros(0, bool))
               for _ in range(n_frames - len(moving))]
    before = (len(static) if static is not None else 0) + sum(len(c) for c in moving)
    kept = decimate([static, *moving], point_budget, seed)
    static, moving = kept[0], [c for c in kept[1:] if c is not None]
    counts = {"points_in_scene": before, "points_shown": (len(static) if static is not None else 0)
              + sum(len(c) for c in moving), "point_budget": int(point_budget)}
    if counts["points_shown"] < before:
        notes.append(f"showing {counts['points_shown']:,} of {before:,} points (point budget {point_budget:,})")
    scale, centre = _scene_scale(scene, static, moving)
    cameras = _frame_cameras(scene, thumb)
    trajectory = np.array([c.world_from_cam[:3, 3] for c in cameras]).reshape(-1, 3)
    tracks3d = colours = None
    if scene.tracks is not None and scene.depth is not None and scene.cameras is not None:
        tracks3d, keep = lift_tracks(scene.tracks, scene.depth, scene.cameras, max_tracks, seed)
        colours = track_colours(len(keep))
        if not np.isfinite(tracks3d).any():
            tracks3d = colours = None
            notes.append("tracks: no track point has a depth; 3D tracks not shown")
    elif scene.tracks is not None:
        notes.append("tracks: no depth maps in the scene; 3D tracks not shown")
    heads: list[Head] = []
    if scene.faces is not None and scene.cameras is not None:
        heads = place_heads(scene.faces, scene.cameras, scene.depth, scale)
        if heads and not all(h.from_depth for h in heads):
            notes.append("heads: some head distances are assumed (no depth inside the face box)")
    fps = float(scene.video.fps) if scene.video is not None else 10.0
    focal = float(np.median(scene.cameras.K[:, 1, 1])) if scene.cameras is not None else 0.0
    pixel = scale / focal if focal > 0 else 0.003 * scale
    pixel /= np.sqrt(max(counts["points_shown"], 1) / max(before, 1))
    return Layers(n_frames, static, moving, cameras, trajectory, tracks3d, colours, heads, scale, centre, fps,
                  float(pixel), counts, notes)


def scene_title(scene: Scene) -> str:
    path: Path | None = scene.path
    return f"blur4d · {path.name}" if path is not None else "blur4d scene"
