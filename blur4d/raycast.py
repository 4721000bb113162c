"""Independently rendered ground truth: textured 3D meshes ray-cast with open3d.

``blur4d.synthetic`` warps fronto-parallel planes with homographies; methods tuned on it can
inherit its assumptions. This module renders real 3D geometry (boxes, spheres, a ground plane,
walls and posters, one with a face) with open3d's ``RaycastingScene`` (Embree), so that checks,
trackers and face detectors can be judged on scenes their authors did not build with the same
model. Every frame comes with its exact intrinsics ``K``, ``cam_from_world`` (OpenCV axes:
x right, y down, z forward) and z-depth; pixel centres sit at integer coordinates.

    clip = raycast_clip("dolly", 640, 360, frames=11)
    clip.frames, clip.K, clip.cam_from_world, clip.depth, clip.expected

Kinds (:data:`RAYCAST_KINDS`) and the verdict a 3D-consistency check should give:

* ``rotation``: the camera turns about its centre (pan + tilt) -> ``homography`` (exact);
* ``plane``: a single textured plane seen from a translating, turning camera -> ``homography``;
* ``dolly``: forward translation into a static 3D scene (epipole inside the image) -> ``parallax``;
* ``sideways``: sideways translation -> ``parallax``;
* ``handheld``: smooth random shake, small rotations and a few cm of translation -> ``parallax``;
* ``object``: static camera, a box slides across the scene -> ``independent motion``;
* ``static``: nothing moves (only sensor noise) -> ``homography`` (no depth recoverable).

open3d is imported lazily (only when rendering).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence

import numpy as np

__all__ = ["known_homography_pair", "raycasting_scene", "cast", "OccluderScene", "occluder_clip", "Mesh", "SceneObject", "RaycastScene", "RaycastClip", "RAYCAST_KINDS", "box", "sphere", "quad",
           "render", "look_at", "intrinsics", "default_scene", "plane_scene", "camera_path", "raycast_clip"]

RAYCAST_KINDS = ("rotation", "plane", "dolly", "sideways", "handheld", "object", "static")
"""Camera/scene motions of :func:`raycast_clip`."""

EXPECTED = {"rotation": "homography", "plane": "homography", "dolly": "parallax", "sideways": "parallax",
            "handheld": "parallax", "object": "independent motion", "static": "homography"}
"""The verdict a 3D-consistency check should give for each kind."""


# --------------------------------------------------------------------------------------------
# Meshes (numpy only)
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Mesh:
    """A textured triangle mesh. ``uv`` (V, 2) are texture coordinates in [0, 1] (x right, y
    down in the texture image; values outside [0, 1] wrap when ``tile``); ``normals`` (V, 3) are
    per-vertex normals used for Lambertian shading."""

    vertices: np.ndarray  # (V, 3) float
    triangles: np.ndarray  # (T, 3) int
    uv: np.ndarray  # (V, 2) float
    normals: np.ndarray  # (V, 3) float
    texture: np.ndarray  # (h, w, 3) uint8
    tile: bool = False

    def transformed(self, world_from_object: np.ndarray) -> "Mesh":
        T = np.asarray(world_from_object, np.float64)
        v = self.vertices @ T[:3, :3].T + T[:3, 3]
        n = self.normals @ T[:3, :3].T
        return replace(self, vertices=v, normals=n)


def _texture(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    return np.ascontiguousarray(img[..., :3]).astype(np.uint8)


def quad(centre: Sequence[float], u_axis: Sequence[float], v_axis: Sequence[float], width: float,
         height: float, texture: np.ndarray, *, repeat: tuple[float, float] = (1.0, 1.0)) -> Mesh:
    """A flat rectangle: ``u_axis`` runs along the texture's x (``width`` metres), ``v_axis``
    along its y (``height``); ``repeat`` tiles the texture (a ground plane)."""
    c = np.asarray(centre, np.float64)
    u = np.asarray(u_axis, np.float64)
    u = u / np.linalg.norm(u)
    v = np.asarray(v_axis, np.float64)
    v = v / np.linalg.norm(v)
    hw, hh = width / 2, height / 2
    verts = np.stack([c - hw * u - hh * v, c + hw * u - hh * v, c + hw * u + hh * v, c - hw * u + hh * v])
    uv = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float64) * np.asarray(repeat, np.float64)
    n = np.cross(v, u)  # faces the side from which u runs right and v runs down (a camera's view)
    n = n / np.linalg.norm(n)
    return Mesh(verts, np.array([[0, 1, 2], [0, 2, 3]]), uv, np.repeat(n[None], 4, axis=0),
                _texture(texture), tile=repeat != (1.0, 1.0))


def box(centre: Sequence[float], size: float | Sequence[float], textures: Sequence[np.ndarray],
        yaw_deg: float = 0.0) -> Mesh:
    """An axis-aligned box (then turned by ``yaw_deg`` about the vertical y axis); the six faces
    cycle through ``textures``."""
    s = np.broadcast_to(np.asarray(size, np.float64), (3,)) / 2
    faces = [  # (normal axis, sign, u axis, v axis)
        (2, -1, (1, 0, 0), (0, 1, 0)), (2, 1, (-1, 0, 0), (0, 1, 0)), (0, -1, (0, 0, -1), (0, 1, 0)),
        (0, 1, (0, 0, 1), (0, 1, 0)), (1, -1, (1, 0, 0), (0, 0, 1)), (1, 1, (1, 0, 0), (0, 0, -1)),
    ]
    parts = []
    for k, (ax, sign, u, v) in enumerate(faces):
        c = np.zeros(3)
        c[ax] = sign * s[ax]
        uu, vv = np.abs(np.asarray(u)), np.abs(np.asarray(v))
        parts.append(quad(c, u, v, 2 * float(uu @ s), 2 * float(vv @ s), textures[k % len(textures)]))
    mesh = _merge(parts)
    a = np.radians(yaw_deg)
    T = np.eye(4)
    T[:3, :3] = [[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]]
    T[:3, 3] = centre
    return mesh.transformed(T)


def sphere(centre: Sequence[float], radius: float, texture: np.ndarray, rings: int = 32,
           segments: int = 64) -> Mesh:
    """A UV sphere (latitude/longitude texture mapping, smooth normals)."""
    th = np.linspace(0, np.pi, rings + 1)
    ph = np.linspace(0, 2 * np.pi, segments + 1)
    T, P = np.meshgrid(th, ph, indexing="ij")
    n = np.stack([np.sin(T) * np.cos(P), -np.cos(T), np.sin(T) * np.sin(P)], -1).reshape(-1, 3)
    uv = np.stack([P / (2 * np.pi), T / np.pi], -1).reshape(-1, 2)
    idx = np.arange((rings + 1) * (segments + 1)).reshape(rings + 1, segments + 1)
    a, b, c, d = idx[:-1, :-1], idx[:-1, 1:], idx[1:, 1:], idx[1:, :-1]
    tris = np.concatenate([np.stack([a, c, b], -1).reshape(-1, 3), np.stack([a, d, c], -1).reshape(-1, 3)])
    return Mesh(np.asarray(centre, np.float64) + radius * n, tris, uv, n, _texture(texture))


def _merge(parts: Sequence[Mesh]) -> "_Multi":
    return _Multi(tuple(parts))


@dataclass(frozen=True)
class _Multi:
    """Several meshes moved together (a box's six differently textured faces)."""

    parts: tuple[Mesh, ...]

    def transformed(self, world_from_object: np.ndarray) -> "_Multi":
        return _Multi(tuple(p.transformed(world_from_object) for p in self.parts))


# --------------------------------------------------------------------------------------------
# Scenes
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SceneObject:
    """A mesh (or a box's faces) and, for an independently moving object, ``motion(t)`` ->
    world_from_object (4, 4) at clip time t in [0, 1] (applied to the mesh's world vertices)."""

    mesh: Mesh | _Multi
    motion: Callable[[float], np.ndarray] | None = None
    name: str = ""

    def at(self, t: float) -> list[Mesh]:
        m = self.mesh if self.motion is None else self.mesh.transformed(self.motion(t))
        return list(m.parts) if isinstance(m, _Multi) else [m]


@dataclass(frozen=True)
class RaycastScene:
    objects: tuple[SceneObject, ...]
    light: tuple[float, float, float] = (-0.4, -1.0, -0.5)
    """Direction towards the light (world); Lambertian shading with ``ambient``."""
    ambient: float = 0.45
    background: tuple[int, int, int] = (150, 170, 200)

    def meshes(self, t: float) -> tuple[list[Mesh], list[str]]:
        out, names = [], []
        for obj in self.objects:
            parts = obj.at(t)
            out += parts
            names += [obj.name] * len(parts)
        return out, names


def _skimage(name: str) -> np.ndarray:
    from skimage import data

    return _texture(getattr(data, name)())


def default_scene(*, moving_object: bool = False, travel: float = 0.6) -> RaycastScene:
    """A small 3D world in front of a camera at the origin looking along +z (y down): a tiled
    ground 1.5 m below the camera, a brick wall at 14 m, a poster with a face (skimage's
    astronaut) at 6 m, textured boxes at 3.5 m and 8 m, a textured sphere at 4.5 m. With
    ``moving_object`` the near box slides ``travel`` metres to the left over the clip."""
    import cv2

    brick, gravel, grass = _skimage("brick"), _skimage("gravel"), _skimage("grass")
    coffee, rocket, chelsea, camera = _skimage("coffee"), _skimage("rocket"), _skimage("chelsea"), _skimage("camera")
    moon, page, coins = _skimage("moon"), _skimage("page"), _skimage("coins")

    def mosaic(imgs: Sequence[np.ndarray], cols: int, tile: int) -> np.ndarray:
        tiles = [cv2.resize(im, (tile, tile), interpolation=cv2.INTER_AREA) for im in imgs]
        return np.concatenate([np.concatenate(tiles[r * cols:(r + 1) * cols], 1) for r in range(len(tiles) // cols)], 0)

    # no texture repeats within sight: repeated structure would make coherent false matches
    mix = np.clip(0.5 * gravel.astype(np.float32) + 0.5 * grass.astype(np.float32), 0, 255).astype(np.uint8)
    ground_tex = mosaic([gravel, grass, mix, np.ascontiguousarray(gravel[::-1]), np.ascontiguousarray(grass[:, ::-1]),
                         np.ascontiguousarray(mix.transpose(1, 0, 2)), np.ascontiguousarray(grass[::-1, ::-1]),
                         np.ascontiguousarray(gravel.transpose(1, 0, 2)), np.ascontiguousarray(mix[::-1])], 3, 512)
    wall_tex = mosaic([brick, coins, moon, np.ascontiguousarray(brick[:, ::-1]), camera, np.ascontiguousarray(coins[::-1]),
                       np.ascontiguousarray(brick.transpose(1, 0, 2)), np.ascontiguousarray(moon[::-1])], 8, 384)[:, :, :]
    objs = [
        SceneObject(quad((0, 1.5, 16), (1, 0, 0), (0, 0, -1), 40, 30, ground_tex, repeat=(2, 1.5)), name="ground"),
        SceneObject(quad((0, -3.5, 14), (1, 0, 0), (0, 1, 0), 40, 10, wall_tex), name="wall"),
        SceneObject(quad((-1.6, -0.5, 6.0), (0.97, 0, -0.24), (0, 1, 0), 1.6, 2.0, _skimage("astronaut")),
                    name="poster"),
        SceneObject(box((3.2, 0.5, 8.0), 2.0, [page, camera, moon]), name="far box"),
        SceneObject(sphere((0.3, 1.0, 4.5), 0.5, chelsea), name="sphere"),
    ]
    near = box((1.3, 1.05, 3.5), 0.9, [coffee, rocket, camera], yaw_deg=25.0)
    motion = None
    if moving_object:
        def motion(t: float, d: float = travel) -> np.ndarray:
            T = np.eye(4)
            T[0, 3] = -d * t
            return T
    objs.append(SceneObject(near, motion, name="near box"))
    return RaycastScene(tuple(objs))


def plane_scene() -> RaycastScene:
    """A single large textured plane (a facade poster: a collage with a face) 4 m ahead."""
    import cv2

    tiles = [_skimage(n) for n in ("astronaut", "coffee", "chelsea", "rocket", "brick", "gravel")]
    tiles = [cv2.resize(t, (512, 384), interpolation=cv2.INTER_AREA) for t in tiles]
    collage = np.concatenate([np.concatenate(tiles[:3], 1), np.concatenate(tiles[3:], 1)], 0)
    return RaycastScene((SceneObject(quad((0, 0, 4.0), (1, 0, 0), (0, 1, 0), 8.0, 4.0, collage), name="poster"),))


# --------------------------------------------------------------------------------------------
# Cameras
# --------------------------------------------------------------------------------------------
def intrinsics(width: int, height: int, fov_deg: float = 60.0) -> np.ndarray:
    """Pinhole K with the given horizontal field of view, principal point at the image centre
    (pixel centres at integer coordinates)."""
    f = 0.5 * width / np.tan(np.radians(fov_deg) / 2)
    return np.array([[f, 0, (width - 1) / 2], [0, f, (height - 1) / 2], [0, 0, 1.0]])


def _rot(rvec: Sequence[float]) -> np.ndarray:
    import cv2

    return cv2.Rodrigues(np.asarray(rvec, np.float64).reshape(3, 1))[0]


def look_at(centre: Sequence[float], rotation: Sequence[float] = (0, 0, 0)) -> np.ndarray:
    """cam_from_world (4, 4) of a camera at ``centre`` whose world_from_cam rotation is the
    axis-angle ``rotation`` (zero: looking along +z, y down)."""
    R_wc = _rot(rotation)
    c = np.asarray(centre, np.float64)
    T = np.eye(4)
    T[:3, :3] = R_wc.T
    T[:3, 3] = -R_wc.T @ c
    return T


def camera_path(kind: str, frames: int, *, seed: int = 0) -> np.ndarray:
    """(F, 4, 4) cam_from_world for a kind of :data:`RAYCAST_KINDS` over clip time [0, 1].

    ``seed`` 0 is the canonical path; other seeds draw a variant of the same kind (amplitude
    x0.5-1.5, direction, a small extra rotation for translating kinds)."""
    t = np.linspace(0.0, 1.0, frames)
    rng = np.random.default_rng(seed)
    amp = 1.0 if seed == 0 else float(rng.uniform(0.5, 1.5))
    sign = 1.0 if seed == 0 else float(rng.choice([-1.0, 1.0]))
    wob = np.zeros(3) if seed == 0 else rng.uniform(-np.radians(1.0), np.radians(1.0), 3)
    if kind == "rotation":  # pan 7 deg, tilt 1.5 deg about the centre (variants add roll)
        w = np.array([np.radians(1.5), sign * np.radians(7.0), 0.0]) * amp + 2 * wob
        return np.stack([look_at((0, 0, 0), w * s) for s in t])
    if kind == "plane":  # general translation and rotation in front of the plane
        c = np.array([sign * 0.6, 0.15, 0.8]) * amp
        w = np.array([0.0, -sign * np.radians(6.0), np.radians(3)]) * amp + wob
        return np.stack([look_at(c * s - [sign * 0.3, 0, 0], w * s) for s in t])
    if kind == "dolly":
        return np.stack([look_at((0, 0, 1.0 * amp * s), wob * s) for s in t])
    if kind == "sideways":
        return np.stack([look_at((sign * 0.4 * amp * s, 0, 0), (np.array([0, np.radians(1.0), 0]) + wob) * s)
                         for s in t])
    if kind == "handheld":  # smooth random shake: a few cm and about a degree
        knots = np.linspace(0, 1, 5)
        tr = rng.uniform(-0.05, 0.05, (5, 3))
        rot = rng.uniform(-np.radians(1.2), np.radians(1.2), (5, 3))
        tr[0], rot[0] = 0.0, 0.0
        T = np.stack([np.interp(t, knots, tr[:, k]) for k in range(3)], 1)
        W = np.stack([np.interp(t, knots, rot[:, k]) for k in range(3)], 1)
        return np.stack([look_at(T[n], W[n]) for n in range(frames)])
    if kind in ("object", "static"):
        return np.stack([look_at((0, 0, 0))] * frames)
    raise ValueError(f"camera_path: kind must be one of {RAYCAST_KINDS}, got {kind!r}")


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------
def raycasting_scene(meshes: Sequence[tuple[np.ndarray, np.ndarray]]) -> "object":
    """An open3d ``RaycastingScene`` of (vertices (V, 3), triangles (T, 3)) meshes; geometry id
    k is the k-th mesh (the one ray caster of this module)."""
    import open3d as o3d

    rc = o3d.t.geometry.RaycastingScene()
    for v, f in meshes:
        rc.add_triangles(o3d.core.Tensor(np.asarray(v, np.float32)), o3d.core.Tensor(np.asarray(f, np.uint32)))
    return rc


def cast(rc: "object", origins: np.ndarray, directions: np.ndarray) -> dict[str, np.ndarray]:
    """Cast rays (N, 3) + (N, 3) into a :func:`raycasting_scene` -> ``id`` (N,) mesh index (-1:
    none), ``t`` (N,) distance in units of the direction (inf: none), ``normal`` (N, 3)."""
    import open3d as o3d

    rays = np.concatenate([np.broadcast_to(origins, directions.shape), directions], 1).astype(np.float32)
    out = rc.cast_rays(o3d.core.Tensor(rays))  # type: ignore[attr-defined]
    gid = out["geometry_ids"].numpy().astype(np.int64)
    th = out["t_hit"].numpy().astype(np.float64)
    miss = ~np.isfinite(th) | (gid >= 2 ** 31)
    gid[miss] = -1
    th[miss] = np.inf
    return {"id": gid, "t": th, "normal": out["primitive_normals"].numpy().astype(np.float64)}


def _rays(K: np.ndarray, cam_from_world: np.ndarray, width: int, height: int, ss: int) -> np.ndarray:
    """(H*ss, W*ss, 6) float32 rays; direction has z_cam = 1 so that t_hit is the z-depth."""
    off = (np.arange(ss) + 0.5) / ss - 0.5
    u = (np.arange(width)[:, None] + off[None]).reshape(-1)
    v = (np.arange(height)[:, None] + off[None]).reshape(-1)
    U, V = np.meshgrid(u, v)
    Kinv = np.linalg.inv(K)
    d_cam = np.stack([U, V, np.ones_like(U)], -1) @ Kinv.T
    R, tvec = cam_from_world[:3, :3], cam_from_world[:3, 3]
    d_world = d_cam @ R  # R^T d
    origin = -R.T @ tvec
    o = np.broadcast_to(origin, d_world.shape)
    return np.ascontiguousarray(np.concatenate([o, d_world], -1), dtype=np.float32)


def _sample(texture: np.ndarray, mx: np.ndarray, my: np.ndarray, border: int) -> np.ndarray:
    """Bilinear texture look-up at (N,) coordinates -> (N, 3) float32 (cv2.remap needs maps
    narrower than 32767 columns: the points are laid out in rows of 4096)."""
    import cv2

    n = len(mx)
    cols = 4096
    rows = -(-n // cols)
    pad = rows * cols - n
    X = np.pad(mx, (0, pad)).reshape(rows, cols)
    Y = np.pad(my, (0, pad)).reshape(rows, cols)
    out = cv2.remap(texture, X, Y, cv2.INTER_LINEAR, borderMode=border)
    return out.reshape(-1, 3)[:n].astype(np.float32)


def _shade(meshes: list[Mesh], scene: RaycastScene, hit: dict, shape: tuple[int, int]) -> np.ndarray:
    import cv2

    gid = hit["geometry_ids"].numpy().reshape(-1).astype(np.int64)
    pid = hit["primitive_ids"].numpy().reshape(-1).astype(np.int64)
    buv = hit["primitive_uvs"].numpy().reshape(-1, 2).astype(np.float64)
    out = np.empty((gid.size, 3), np.float32)
    out[:] = scene.background
    light = np.asarray(scene.light, np.float64)
    light = light / np.linalg.norm(light)
    gid = np.where(gid < len(meshes), gid, len(meshes))  # INVALID_ID -> one past the last mesh
    order = np.argsort(gid, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(gid, minlength=len(meshes) + 1))])
    for g, m in enumerate(meshes):
        sel = order[bounds[g]:bounds[g + 1]]
        if not len(sel):
            continue
        tri = m.triangles[pid[sel]]
        w1, w2 = buv[sel, 0:1], buv[sel, 1:2]
        w0 = 1.0 - w1 - w2
        uv = w0 * m.uv[tri[:, 0]] + w1 * m.uv[tri[:, 1]] + w2 * m.uv[tri[:, 2]]
        n = w0 * m.normals[tri[:, 0]] + w1 * m.normals[tri[:, 1]] + w2 * m.normals[tri[:, 2]]
        n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
        th, tw = m.texture.shape[:2]
        mx = (uv[:, 0] * tw - 0.5).astype(np.float32)
        my = (uv[:, 1] * th - 0.5).astype(np.float32)
        if m.tile:
            mx, my = np.mod(mx, tw), np.mod(my, th)
        col = _sample(m.texture, mx, my, cv2.BORDER_WRAP if m.tile else cv2.BORDER_REFLECT)
        lam = scene.ambient + (1 - scene.ambient) * np.abs(n @ light)  # two-sided
        out[sel] = col * lam[:, None].astype(np.float32)
    return out.reshape(shape + (3,))


def render(scene: RaycastScene, K: np.ndarray, cam_from_world: np.ndarray, size: tuple[int, int], *,
           t: float = 0.0, supersample: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ray-cast one view -> (rgb (H, W, 3) float32 in [0, 255], z-depth (H, W) float32 with
    ``inf`` where nothing is hit, object index (H, W) int16 into ``scene.objects``, -1 = none).

    Colours are the mean of ``supersample``^2 rays per pixel (box-filter anti-aliasing);
    depth and object index come from one ray through each pixel centre."""
    import cv2
    import open3d as o3d

    W, H = size
    meshes, names = scene.meshes(t)
    rc = raycasting_scene([(m.vertices, m.triangles) for m in meshes])
    ss = max(1, int(supersample))
    hit = rc.cast_rays(o3d.core.Tensor(_rays(K, cam_from_world, W, H, ss)))
    rgb = _shade(meshes, scene, hit, (H * ss, W * ss))
    if ss > 1:
        rgb = cv2.resize(rgb, (W, H), interpolation=cv2.INTER_AREA)
    centre = rc.cast_rays(o3d.core.Tensor(_rays(K, cam_from_world, W, H, 1)))
    depth = centre["t_hit"].numpy().astype(np.float32)
    gid = centre["geometry_ids"].numpy().astype(np.int64)
    obj_of_mesh = np.array([[o.name for o in scene.objects].index(nm) for nm in names] + [-1], np.int16)
    idx = obj_of_mesh[np.where(gid < len(meshes), gid, len(meshes))]
    return rgb, np.where(np.isfinite(depth), depth, np.inf).astype(np.float32), idx


@dataclass(frozen=True)
class RaycastClip:
    """A rendered clip and its ground truth."""

    kind: str
    frames: np.ndarray  # (F, H, W, 3) uint8
    K: np.ndarray  # (3, 3)
    cam_from_world: np.ndarray  # (F, 4, 4)
    depth: np.ndarray  # (F, H, W) float32 z-depth, inf = background
    object_index: np.ndarray  # (F, H, W) int16 into ``object_names``, -1 = background
    object_names: tuple[str, ...]
    expected: str  # the 3D-consistency verdict
    moving: tuple[str, ...] = field(default=())  # names of independently moving objects


def raycast_clip(kind: str, width: int = 640, height: int = 360, frames: int = 11, *, seed: int = 0,
                 noise: float = 1.0, fov_deg: float = 60.0, supersample: int = 2) -> RaycastClip:
    """Render a labelled clip (see the module docstring for the kinds). ``noise``: standard
    deviation of additive Gaussian sensor noise in 8-bit levels (seeded by ``seed``, which also
    draws the hand-held path)."""
    if kind not in RAYCAST_KINDS:
        raise ValueError(f"raycast_clip: kind must be one of {RAYCAST_KINDS}, got {kind!r}")
    if frames < 1 or width < 8 or height < 8:
        raise ValueError(f"raycast_clip: need frames >= 1 and a size >= 8x8, got {frames}, {width}x{height}")
    if kind == "plane":
        scene = plane_scene()
    else:
        travel = 0.6 if seed == 0 else float(np.random.default_rng(seed + 1000).uniform(0.3, 0.9))
        scene = default_scene(moving_object=kind == "object", travel=travel)
    K = intrinsics(width, height, fov_deg)
    poses = camera_path(kind, frames, seed=seed)
    rng = np.random.default_rng(seed)
    ts = np.linspace(0.0, 1.0, frames)
    imgs, depths, idxs = [], [], []
    for n in range(frames):
        rgb, depth, idx = render(scene, K, poses[n], (width, height), t=float(ts[n]), supersample=supersample)
        if noise > 0:
            rgb = rgb + rng.normal(0.0, noise, rgb.shape).astype(np.float32)
        imgs.append(np.clip(np.rint(rgb), 0, 255).astype(np.uint8))
        depths.append(depth)
        idxs.append(idx)
    moving = tuple(o.name for o in scene.objects if o.motion is not None)
    return RaycastClip(kind, np.stack(imgs), K, poses, np.stack(depths), np.stack(idxs),
                       tuple(o.name for o in scene.objects), EXPECTED[kind], moving)


def known_homography_pair(photo: np.ndarray, seed: int, size: tuple[int, int] = (640, 360)
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A real photo and the same photo under a known homography (corners moved by 8-22 % of the
    size; B rendered from a 2x finer image), with a gamma change, sensor noise and JPEG 85: a real
    planar pair whose true H is known -> (A, B, H_true with x_B ~ H x_A), pixel centres at integers."""
    import cv2

    rng = np.random.default_rng(seed)
    W, H = size
    a = cv2.resize(photo, size, interpolation=cv2.INTER_AREA)
    c = np.float32([[0, 0], [W - 1, 0], [W - 1, H - 1], [0, H - 1]])
    d = (c + rng.uniform(0.08, 0.22, (4, 2)) * rng.choice([-1, 1], (4, 2)) * [W, H]).astype(np.float32)
    Ht = cv2.getPerspectiveTransform(c, d).astype(np.float64)
    big = cv2.resize(photo, (2 * W, 2 * H), interpolation=cv2.INTER_AREA)
    S = np.array([[2.0, 0, 0.5], [0, 2.0, 0.5], [0, 0, 1]])  # input pixels -> the finer image's pixels
    b = cv2.warpPerspective(big, Ht @ np.linalg.inv(S), size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    b = np.clip(255 * (b / 255.0) ** rng.uniform(0.8, 1.25) + rng.normal(0, 2.0, b.shape), 0, 255).astype(np.uint8)
    ok, enc = cv2.imencode(".jpg", b[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 85])
    b = cv2.imdecode(enc, cv2.IMREAD_COLOR)[..., ::-1]
    return a, np.ascontiguousarray(b), Ht



# --------------------------------------------------------------------------------------------
# Occluder clips for point tracking: exact tracks and visibility
# --------------------------------------------------------------------------------------------
def _occluder_textures() -> list[np.ndarray]:
    from skimage import data

    imgs = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket(), data.immunohistochemistry(),
            *(np.repeat(getattr(data, n)()[..., None], 3, 2) for n in ("camera", "brick", "grass", "gravel"))]
    return [np.ascontiguousarray(i[..., :3]).astype(np.float32) for i in imgs]


@dataclass
class _Mover:
    """A wall, box or sphere of :class:`OccluderScene`, moving at ``vel`` and spinning by ``spin``
    (rotation vector) per frame from pose (``r0``, ``p0``) at s = 0."""

    kind: str  # "wall" | "box" | "sphere"
    size: float  # wall: half-extent; box: edge; sphere: radius
    texture: np.ndarray  # (h, w, 3) float32
    p0: np.ndarray
    vel: np.ndarray
    r0: np.ndarray
    spin: np.ndarray

    def pose(self, s: float) -> tuple[np.ndarray, np.ndarray]:
        """(R world_from_object, centre) at frame time s."""
        return _rot(self.r0 + s * self.spin), self.p0 + s * self.vel

    def local_mesh(self) -> tuple[np.ndarray, np.ndarray]:
        import open3d as o3d

        if self.kind == "sphere":
            m = o3d.geometry.TriangleMesh.create_sphere(self.size, resolution=40)
            off = 0.0
        elif self.kind == "box":
            m = o3d.geometry.TriangleMesh.create_box(self.size, self.size, self.size)
            off = np.array([self.size / 2] * 3)
        else:
            m = o3d.geometry.TriangleMesh.create_box(2 * self.size, 2 * self.size, 0.01)
            off = np.array([self.size, self.size, 0.0])
        return np.asarray(m.vertices) - off, np.asarray(m.triangles)

    def tex_coords(self, local: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Texture pixel coordinates of object-local points (N, 3)."""
        h, w = self.texture.shape[:2]
        if self.kind == "sphere":
            d = local / np.maximum(np.linalg.norm(local, axis=1, keepdims=True), 1e-9)
            return ((np.arctan2(d[:, 0], d[:, 2]) / (2 * np.pi) + 0.5) * (w - 1),
                    (np.arccos(np.clip(d[:, 1], -1, 1)) / np.pi) * (h - 1))
        if self.kind == "wall":
            a, b, half = local[:, 0], local[:, 1], self.size
        else:
            half = self.size / 2
            ax = np.argmax(np.abs(local) / half, axis=1)  # the face the point lies on
            others = np.array([[1, 2], [0, 2], [0, 1]])[ax]
            a = np.take_along_axis(local, others[:, :1], 1)[:, 0]
            b = np.take_along_axis(local, others[:, 1:], 1)[:, 0]
            # each face shows a different part of the texture
            a = a + (ax * 0.37 + (np.take_along_axis(local, ax[:, None], 1)[:, 0] > 0) * 0.21) * half
        return np.mod((a / (2 * half) + 0.5) * (w - 1), w - 1), np.mod((b / (2 * half) + 0.5) * (h - 1), h - 1)


def _bilinear(img: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    u, v = np.clip(u, 0, w - 1.001), np.clip(v, 0, h - 1.001)
    x0, y0 = np.floor(u).astype(np.int64), np.floor(v).astype(np.int64)
    fx, fy = (u - x0)[:, None], (v - y0)[:, None]
    return ((img[y0, x0] * (1 - fx) + img[y0, x0 + 1] * fx) * (1 - fy)
            + (img[y0 + 1, x0] * (1 - fx) + img[y0 + 1, x0 + 1] * fx) * fy).astype(np.float32)


class OccluderScene:
    """Fast occluders for point tracking: a textured back wall, a static box, and ``num_movers``
    textured boxes and spheres that cross the view at 2-4 m within a third of the clip while
    spinning (appearance changes: foreshortening, shading, new faces), seen by a panning camera
    (``pan`` degrees per frame). ``render(s)`` and :meth:`tracks` at frame time ``s``."""

    def __init__(self, width: int, height: int, frames: int, *, seed: int = 0, speed: float = 1.0,
                 pan: float = 0.3, num_movers: int = 3, fov_deg: float = 60.0) -> None:
        rng = np.random.default_rng(seed)
        tex = _occluder_textures()
        self.size, self.frames, self.pan = (width, height), frames, float(pan)
        self.K = intrinsics(width, height, fov_deg)
        order = rng.permutation(len(tex))
        objs = [_Mover("wall", 9.0, tex[order[0]], np.array([0, 0, 8.0]), np.zeros(3), np.zeros(3), np.zeros(3)),
                _Mover("box", 1.6, tex[order[1]], np.array([rng.uniform(-1.5, 1.5), rng.uniform(0.2, 1.0), 5.5]),
                       np.zeros(3), rng.normal(0, 0.5, 3), np.zeros(3))]
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
            objs.append(_Mover(kind, rng.uniform(0.4, 0.7) if kind == "sphere" else rng.uniform(0.7, 1.1),
                               tex[order[2 + k % (len(tex) - 2)]], p0, vel, rng.normal(0, 1, 3),
                               rng.normal(0, 1, 3) * np.radians(rng.uniform(2, 6)) * speed))
        self.objects = objs
        self._local = [o.local_mesh() for o in objs]
        self._cache: tuple[float, Any] | None = None

    def cam_from_world(self, s: float) -> np.ndarray:
        T = np.eye(4)
        T[:3, :3] = _rot([0.0, np.radians(self.pan) * (s - self.frames / 2), 0.0])
        return T

    def cast(self, s: float, xy: np.ndarray) -> dict[str, np.ndarray]:
        """Rays through pixels ``xy`` (N, 2) at time s -> object ``id`` (N,) (-1: none), ``world``
        hit points (N, 3), ``dist`` along the unit ray (N,), ``normal`` (N, 3)."""
        if self._cache is None or self._cache[0] != s:
            meshes = []
            for obj, (v, f) in zip(self.objects, self._local):
                R, c = obj.pose(s)
                meshes.append((v @ R.T + c, f))
            self._cache = (s, raycasting_scene(meshes))
        R = self.cam_from_world(s)[:3, :3]
        d = np.concatenate([xy, np.ones((len(xy), 1))], 1) @ np.linalg.inv(self.K).T @ R
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        hit = cast(self._cache[1], np.zeros(3), d)
        miss = hit["id"] < 0
        world = d * np.where(miss, 0.0, hit["t"])[:, None]
        return {"id": hit["id"], "world": world, "dist": hit["t"], "normal": hit["normal"]}

    def render(self, s: float, ss: int = 2) -> np.ndarray:
        """(H, W, 3) float32 0-255 frame at time s, ``ss`` x ``ss`` supersampled."""
        import cv2

        W, H = self.size
        gx, gy = np.meshgrid((np.arange(W * ss) + 0.5) / ss - 0.5, (np.arange(H * ss) + 0.5) / ss - 0.5)
        hit = self.cast(s, np.stack([gx.ravel(), gy.ravel()], 1))
        img = np.zeros((gx.size, 3), np.float32)
        light = np.array([-0.4, -0.6, -0.7]) / np.linalg.norm([-0.4, -0.6, -0.7])
        for k, obj in enumerate(self.objects):
            m = hit["id"] == k
            if m.any():
                R, c = obj.pose(s)
                col = _bilinear(obj.texture, *obj.tex_coords((hit["world"][m] - c) @ R))
                img[m] = col * (0.45 + 0.55 * np.abs(hit["normal"][m] @ light)[:, None]).astype(np.float32)
        img = img.reshape(H * ss, W * ss, 3)
        return cv2.resize(img, (W, H), interpolation=cv2.INTER_AREA) if ss > 1 else img

    def tracks(self, query_s: np.ndarray, query_xy: np.ndarray, times: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Ground truth of surface points seen at pixels ``query_xy`` (N, 2) at times ``query_s``
        (N,) -> xy (T, N, 2), visible (T, N), object id (N,). A point is visible where the ray
        through its projection hits its own object at its own distance (so other objects and its
        object's far side occlude it) inside the frame."""
        N = len(query_xy)
        obj_id, local = np.full(N, -1), np.zeros((N, 3))
        for s in np.unique(query_s):
            m = np.flatnonzero(query_s == s)
            hit = self.cast(float(s), query_xy[m])
            obj_id[m] = hit["id"]
            for k in np.unique(hit["id"][hit["id"] >= 0]):
                mm = hit["id"] == k
                R, c = self.objects[k].pose(float(s))
                local[m[mm]] = (hit["world"][mm] - c) @ R
        W, H = self.size
        xy, vis = np.zeros((len(times), N, 2)), np.zeros((len(times), N), bool)
        for i, s in enumerate(times):
            world = np.zeros((N, 3))
            for k in np.unique(obj_id[obj_id >= 0]):
                R, c = self.objects[k].pose(float(s))
                world[obj_id == k] = local[obj_id == k] @ R.T + c
            T = self.cam_from_world(float(s))
            pc = world @ T[:3, :3].T + T[:3, 3]
            uv = pc @ self.K.T
            p = uv[:, :2] / np.where(np.abs(uv[:, 2:3]) > 1e-9, uv[:, 2:3], 1e-9)
            xy[i] = p
            inside = (pc[:, 2] > 1e-6) & (p[:, 0] >= -0.5) & (p[:, 0] < W - 0.5) & (p[:, 1] >= -0.5) & (p[:, 1] < H - 0.5)
            hit = self.cast(float(s), p)
            expect = np.linalg.norm(world - (-T[:3, :3].T @ T[:3, 3]), axis=1)
            vis[i] = inside & (hit["id"] == obj_id) & (np.abs(hit["dist"] - expect) < 1e-3 * expect + 1e-4)
        return xy, vis, obj_id


def occluder_clip(width: int = 320, height: int = 240, frames: int = 60, *, seed: int = 0, speed: float = 1.0,
                  pan: float = 0.3, blur: int = 1, ss: int = 2, step: int = 8, query_every: int = 20
                  ) -> dict[str, Any]:
    """A rendered :class:`OccluderScene` clip with exact tracks (the tracker's independent
    benchmark and calibration scenes). ``blur`` instants are averaged per frame over its full
    interval (1 = sharp); ground-truth tracks start from a grid of pixels ``step`` apart at
    frames 0, ``query_every``, ... (surfaces that appear later are tracked too), given at the
    frames' centre times. Returns frames (T, H, W, 3) uint8, gt_xy (T, N, 2), gt_vis (T, N),
    object (N,), size (W, H), K, scene."""
    scene = OccluderScene(width, height, frames, seed=seed, speed=speed, pan=pan)
    out = np.zeros((frames, height, width, 3), np.uint8)
    offs = (np.arange(blur) + 0.5) / blur - 0.5 if blur > 1 else np.zeros(1)
    for t in range(frames):
        img = np.mean([scene.render(t + o, ss) for o in offs], axis=0) if blur > 1 else scene.render(float(t), ss)
        out[t] = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    gy, gx = np.mgrid[step // 2:height:step, step // 2:width:step]
    grid = np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float64)
    qs = np.arange(0, frames, query_every)
    xy, vis, obj = scene.tracks(np.repeat(qs.astype(np.float64), len(grid)), np.concatenate([grid] * len(qs)),
                                np.arange(frames, dtype=np.float64))
    keep = obj >= 0
    return {"frames": out, "gt_xy": xy[:, keep].astype(np.float32), "gt_vis": vis[:, keep], "object": obj[keep],
            "size": (width, height), "K": scene.K, "scene": scene}
