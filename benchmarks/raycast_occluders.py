"""Ray-cast occluder scenes for point tracking: exact tracks and visibility from another renderer.

The tracker's own benchmark scenes come from :mod:`blur4d.synthetic` (homography-warped planes).
These are rendered instead by ray casting real 3D geometry with open3d's ``RaycastingScene``
(Embree): a textured back wall, a textured static box, and textured boxes and spheres that fly
fast across the view while spinning (their appearance changes: foreshortening, shading, new
faces), optionally with a panning camera and motion blur (several instants averaged per frame).

Ground truth comes from the ray casts alone: a query pixel's ray gives the object it hits and the
3D point on it in object coordinates; that point moves with its object, is projected into every
frame, and is *visible* there when the ray through its projection hits the same object at the
same distance (so both other objects and the object's own far side occlude it).

    clip = occluder_clip(seed=0)               # 320x240, 60 frames
    clip["frames"], clip["gt_xy"], clip["gt_vis"]

Pixel centres are at integer coordinates; cameras are OpenCV (x right, y down, z forward).
open3d is imported lazily.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["occluder_clip", "OccluderScene"]


def _rot(rvec: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.Rodrigues(np.asarray(rvec, np.float64).reshape(3, 1))[0]


def _textures() -> list[np.ndarray]:
    from skimage import data

    imgs = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket(), data.immunohistochemistry(),
            np.repeat(data.camera()[..., None], 3, 2), np.repeat(data.brick()[..., None], 3, 2),
            np.repeat(data.grass()[..., None], 3, 2), np.repeat(data.gravel()[..., None], 3, 2)]
    return [np.ascontiguousarray(i[..., :3]).astype(np.float32) for i in imgs]


@dataclass
class _Object:
    kind: str  # "wall" | "box" | "sphere"
    size: float  # wall: half-extent; box: edge; sphere: radius
    texture: np.ndarray  # (h, w, 3) float32
    p0: np.ndarray  # centre at s=0 (world)
    vel: np.ndarray  # world units per frame
    r0: np.ndarray  # rotation vector at s=0
    spin: np.ndarray  # rotation vector per frame

    def pose(self, s: float) -> tuple[np.ndarray, np.ndarray]:
        """(R world_from_object, centre) at frame time s."""
        return _rot(self.r0 + s * self.spin), self.p0 + s * self.vel

    def mesh(self, s: float) -> Any:
        import open3d as o3d

        if self.kind == "sphere":
            m = o3d.geometry.TriangleMesh.create_sphere(self.size, resolution=40)
        elif self.kind == "box":
            m = o3d.geometry.TriangleMesh.create_box(self.size, self.size, self.size)
            m.translate((-self.size / 2,) * 3)
        else:
            m = o3d.geometry.TriangleMesh.create_box(2 * self.size, 2 * self.size, 0.01)
            m.translate((-self.size, -self.size, 0.0))
        R, c = self.pose(s)
        v = np.asarray(m.vertices) @ R.T + c
        m.vertices = o3d.utility.Vector3dVector(v)
        return o3d.t.geometry.TriangleMesh.from_legacy(m)

    def tex_coords(self, local: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Texture pixel coordinates of object-local points (N, 3)."""
        h, w = self.texture.shape[:2]
        if self.kind == "sphere":
            d = local / np.maximum(np.linalg.norm(local, axis=1, keepdims=True), 1e-9)
            u = (np.arctan2(d[:, 0], d[:, 2]) / (2 * np.pi) + 0.5) * (w - 1)
            v = (np.arccos(np.clip(d[:, 1], -1, 1)) / np.pi) * (h - 1)
            return u, v
        if self.kind == "wall":
            a, b = local[:, 0], local[:, 1]
            half = self.size
        else:
            half = self.size / 2
            ax = np.argmax(np.abs(local) / half, axis=1)  # the face the point lies on
            others = np.array([[1, 2], [0, 2], [0, 1]])[ax]
            a = np.take_along_axis(local, others[:, :1], 1)[:, 0]
            b = np.take_along_axis(local, others[:, 1:], 1)[:, 0]
            # each face shows a different part of the texture
            shift = ax * 0.37 + (np.take_along_axis(local, ax[:, None], 1)[:, 0] > 0) * 0.21
            a = a + shift * half
        u = (a / (2 * half) + 0.5) * (w - 1)
        v = (b / (2 * half) + 0.5) * (h - 1)
        return np.mod(u, w - 1), np.mod(v, h - 1)


def _bilinear(img: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    u = np.clip(u, 0, w - 1.001)
    v = np.clip(v, 0, h - 1.001)
    x0, y0 = np.floor(u).astype(np.int64), np.floor(v).astype(np.int64)
    fx, fy = (u - x0)[:, None], (v - y0)[:, None]
    return ((img[y0, x0] * (1 - fx) + img[y0, x0 + 1] * fx) * (1 - fy)
            + (img[y0 + 1, x0] * (1 - fx) + img[y0 + 1, x0 + 1] * fx) * fy).astype(np.float32)


class OccluderScene:
    """Objects and a camera; ``render(s)`` and ray casts at frame time ``s`` (frames)."""

    def __init__(self, width: int, height: int, frames: int, *, seed: int = 0, speed: float = 1.0,
                 pan: float = 0.3, num_movers: int = 3, fov_deg: float = 60.0) -> None:
        rng = np.random.default_rng(seed)
        tex = _textures()
        self.size = (width, height)
        f = 0.5 * width / np.tan(np.radians(fov_deg) / 2)
        self.K = np.array([[f, 0, (width - 1) / 2], [0, f, (height - 1) / 2], [0, 0, 1.0]])
        self.frames = frames
        self.pan = float(pan)  # camera yaw, degrees per frame
        order = rng.permutation(len(tex))
        objs = [_Object("wall", 9.0, tex[order[0]], np.array([0, 0, 8.0]), np.zeros(3), np.zeros(3), np.zeros(3)),
                _Object("box", 1.6, tex[order[1]], np.array([rng.uniform(-1.5, 1.5), rng.uniform(0.2, 1.0), 5.5]),
                        np.zeros(3), rng.normal(0, 0.5, 3), np.zeros(3))]
        # movers: cross the view within the clip at 2-4 m, fast (about 0.5-1.5 image widths in
        # a third of the clip), spinning
        for k in range(num_movers):
            z = rng.uniform(2.0, 4.0)
            half_w = z * np.tan(np.radians(fov_deg) / 2)
            direction = rng.choice([-1.0, 1.0])
            t_cross = rng.uniform(frames / 4, frames / 1.5) / speed  # frames to cross the view
            x0 = -direction * (half_w + 0.5) + rng.uniform(-0.3, 0.3) * half_w
            start = rng.uniform(-0.2, 0.5) * frames
            vx = direction * (2 * half_w + 1.0) / t_cross
            vel = np.array([vx, rng.uniform(-0.3, 0.3) * abs(vx), 0.0])
            p0 = np.array([x0 - start * vx, rng.uniform(-0.4, 0.4) * half_w * 0.56, z]) - np.array([0, start * vel[1], 0])
            kind = "sphere" if k % 2 else "box"
            objs.append(_Object(kind, rng.uniform(0.4, 0.7) if kind == "sphere" else rng.uniform(0.7, 1.1),
                                tex[order[2 + k % (len(tex) - 2)]], p0, vel, rng.normal(0, 1, 3),
                                rng.normal(0, 1, 3) * np.radians(rng.uniform(2, 6)) * speed))
        self.objects = objs
        self._cache: tuple[float, Any] | None = None

    # -- camera ---------------------------------------------------------------------------------
    def cam_from_world(self, s: float) -> np.ndarray:
        R = _rot([0.0, np.radians(self.pan) * (s - self.frames / 2), 0.0])
        T = np.eye(4)
        T[:3, :3] = R
        return T

    # -- ray casting -----------------------------------------------------------------------------
    def _scene(self, s: float) -> Any:
        import open3d as o3d

        if self._cache is not None and self._cache[0] == s:
            return self._cache[1]
        sc = o3d.t.geometry.RaycastingScene()
        for obj in self.objects:
            sc.add_triangles(obj.mesh(s))
        self._cache = (s, sc)
        return sc

    def cast(self, s: float, xy: np.ndarray) -> dict[str, np.ndarray]:
        """Rays through pixels ``xy`` (N, 2) at time s -> object id (N,) (-1: none), world hit
        points (N, 3), distance along the unit ray (N,), normals (N, 3)."""
        import open3d as o3d

        T = self.cam_from_world(s)
        R = T[:3, :3]
        d_cam = np.concatenate([xy, np.ones((len(xy), 1))], 1) @ np.linalg.inv(self.K).T
        d = d_cam @ R  # world_from_cam rotation = R.T; d_world = R.T @ d_cam
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        o = np.broadcast_to(-R.T @ T[:3, 3], d.shape)
        rays = o3d.core.Tensor(np.concatenate([o, d], 1).astype(np.float32))
        out = self._scene(s).cast_rays(rays)
        gid = out["geometry_ids"].numpy().astype(np.int64)
        th = out["t_hit"].numpy().astype(np.float64)
        miss = ~np.isfinite(th) | (gid >= 2 ** 31)
        gid[miss] = -1
        th[miss] = np.inf
        pts = o + d * np.where(miss, 0.0, th)[:, None]
        return {"id": gid, "world": pts, "dist": th, "normal": out["primitive_normals"].numpy().astype(np.float64)}

    def render(self, s: float, ss: int = 2) -> np.ndarray:
        """(H, W, 3) float32 0-255 frame at time s, ``ss`` x ``ss`` supersampled."""
        import cv2

        W, H = self.size
        g = (np.arange(W * ss) + 0.5) / ss - 0.5
        h = (np.arange(H * ss) + 0.5) / ss - 0.5
        gx, gy = np.meshgrid(g, h)
        xy = np.stack([gx.ravel(), gy.ravel()], 1)
        hit = self.cast(s, xy)
        img = np.zeros((len(xy), 3), np.float32)
        light = np.array([-0.4, -0.6, -0.7])
        light /= np.linalg.norm(light)
        for k, obj in enumerate(self.objects):
            m = hit["id"] == k
            if not m.any():
                continue
            R, c = obj.pose(s)
            local = (hit["world"][m] - c) @ R
            u, v = obj.tex_coords(local)
            col = _bilinear(obj.texture, u, v)
            lam = np.abs(hit["normal"][m] @ light)
            img[m] = col * (0.45 + 0.55 * lam[:, None]).astype(np.float32)
        img = img.reshape(H * ss, W * ss, 3)
        if ss > 1:
            img = cv2.resize(img, (W, H), interpolation=cv2.INTER_AREA)
        return img

    def project(self, s: float, world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        T = self.cam_from_world(s)
        pc = world @ T[:3, :3].T + T[:3, 3]
        z = pc[:, 2]
        uv = pc @ self.K.T
        return uv[:, :2] / np.where(np.abs(uv[:, 2:3]) > 1e-9, uv[:, 2:3], 1e-9), z

    def tracks(self, query_s: np.ndarray, query_xy: np.ndarray, times: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Ground truth of surface points seen at pixels ``query_xy`` (N, 2) at times
        ``query_s`` (N,) -> xy (T, N, 2), visible (T, N), object id (N,)."""
        N = len(query_xy)
        obj_id = np.full(N, -1)
        local = np.zeros((N, 3))
        for s in np.unique(query_s):
            m = np.flatnonzero(query_s == s)
            hit = self.cast(float(s), query_xy[m])
            obj_id[m] = hit["id"]
            for k in np.unique(hit["id"]):
                if k < 0:
                    continue
                mm = hit["id"] == k
                R, c = self.objects[k].pose(float(s))
                local[m[mm]] = (hit["world"][mm] - c) @ R
        W, H = self.size
        xy = np.zeros((len(times), N, 2))
        vis = np.zeros((len(times), N), bool)
        for i, s in enumerate(times):
            world = np.zeros((N, 3))
            for k in np.unique(obj_id):
                if k < 0:
                    continue
                m = obj_id == k
                R, c = self.objects[k].pose(float(s))
                world[m] = local[m] @ R.T + c
            p, z = self.project(float(s), world)
            xy[i] = p
            inside = (z > 1e-6) & (p[:, 0] >= -0.5) & (p[:, 0] < W - 0.5) & (p[:, 1] >= -0.5) & (p[:, 1] < H - 0.5)
            hit = self.cast(float(s), p)
            expect = np.linalg.norm(world - (-self.cam_from_world(float(s))[:3, :3].T
                                             @ self.cam_from_world(float(s))[:3, 3]), axis=1)
            vis[i] = inside & (hit["id"] == obj_id) & (np.abs(hit["dist"] - expect) < 1e-3 * expect + 1e-4)
        return xy, vis, obj_id


def occluder_clip(width: int = 320, height: int = 240, frames: int = 60, *, seed: int = 0, speed: float = 1.0,
                  pan: float = 0.3, blur: int = 1, ss: int = 2, step: int = 8, query_every: int = 20
                  ) -> dict[str, Any]:
    """A rendered clip with exact tracks.

    ``blur`` instants are averaged per frame (over the frame's full interval: 1 = sharp);
    ground-truth tracks start from a grid of pixels (``step`` apart) at frames 0,
    ``query_every``, ... (so surfaces that appear later are tracked too) and are given at the
    frames' centre times. Returns frames (T, H, W, 3) uint8, gt_xy (T, N, 2), gt_vis (T, N),
    object (N,), size (W, H), K.
    """
    scene = OccluderScene(width, height, frames, seed=seed, speed=speed, pan=pan)
    out = np.zeros((frames, height, width, 3), np.uint8)
    for t in range(frames):
        if blur > 1:
            offs = (np.arange(blur) + 0.5) / blur - 0.5
            img = np.mean([scene.render(t + o, ss) for o in offs], axis=0)
        else:
            img = scene.render(float(t), ss)
        out[t] = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    gy, gx = np.mgrid[step // 2:height:step, step // 2:width:step]
    grid = np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float64)
    qs = np.arange(0, frames, query_every)
    q_xy = np.concatenate([grid] * len(qs))
    q_s = np.repeat(qs.astype(np.float64), len(grid))
    xy, vis, obj = scene.tracks(q_s, q_xy, np.arange(frames, dtype=np.float64))
    keep = obj >= 0
    return {"frames": out, "gt_xy": xy[:, keep].astype(np.float32), "gt_vis": vis[:, keep], "object": obj[keep],
            "size": (width, height), "K": scene.K, "scene": scene}
