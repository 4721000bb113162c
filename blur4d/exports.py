"""Standard exports of cameras, points and depth, each in the format its consumer reads.

* PLY: :meth:`blur4d.types.PointCloud.save` (open3d, trimesh, MeshLab, CloudCompare).
* ``cameras.json``: :meth:`blur4d.types.Cameras.save`.
* TUM trajectory (evo): ``t tx ty tz qx qy qz qw``, camera-to-world, t in seconds.
* COLMAP text model (pycolmap, COLMAP GUI): ``cameras.txt`` (PINHOLE), ``images.txt``,
  ``points3D.txt``. COLMAP puts the centre of the top-left pixel at (0.5, 0.5), blur4d at (0, 0):
  the principal point is written with +0.5.
* nerfstudio ``transforms.json``: camera-to-world in OpenGL axes (x right, y up, z back), with
  the same +0.5 principal-point shift (nerfstudio casts rays through ``pixel + 0.5``).
* Depth maps: one ``depth.npz`` (float32, NaN unknown) plus per-frame 16-bit PNGs
  (``value * depth_scale`` = depth, 0 = unknown; the scale is in ``depth/index.json``).
* Per-frame dynamic points: ``points/frame_XXX.ply`` plus ``points/index.json``.

Every file is written atomically; nothing is overwritten without ``overwrite=True``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from . import geometry as geo
from ._fs import atomic_path, check_output, write_json
from .errors import InputError
from .types import Cameras, PointCloud

__all__ = ["write_tum", "read_tum", "write_colmap_text", "write_transforms_json", "write_depth", "read_depth",
           "write_frame_points", "frame_times"]

PathLike = str | os.PathLike


def frame_times(cameras: Cameras, fps: float = 20.0) -> np.ndarray:
    """Timestamps (s) of the frames: frame index / fps (the clip's playback clock)."""
    return np.arange(cameras.num_frames, dtype=np.float64) / float(fps)


def _write_text(path: Path, text: str, overwrite: bool) -> Path:
    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def write_tum(path: PathLike, cameras: Cameras, *, fps: float = 20.0, times: Sequence[float] | None = None,
              overwrite: bool = True) -> Path:
    """TUM trajectory of the registered frames: ``t tx ty tz qx qy qz qw`` (camera-to-world)."""
    path = Path(path)
    ts = frame_times(cameras, fps) if times is None else np.asarray(times, np.float64)
    if len(ts) != cameras.num_frames:
        raise InputError(f"write_tum: {len(ts)} times for {cameras.num_frames} frames")
    wfc = geo.invert(np.nan_to_num(cameras.cam_from_world))
    lines = ["# blur4d trajectory: timestamp tx ty tz qx qy qz qw (camera-to-world, OpenCV axes)"]
    for t in range(cameras.num_frames):
        if not cameras.registered[t] or not np.isfinite(cameras.cam_from_world[t]).all():
            continue
        q = geo.quat_wxyz_from_matrix(wfc[t, :3, :3])
        x, y, z = wfc[t, :3, 3]
        lines.append(f"{ts[t]:.6f} {x:.9f} {y:.9f} {z:.9f} {q[1]:.9f} {q[2]:.9f} {q[3]:.9f} {q[0]:.9f}")
    return _write_text(path, "\n".join(lines) + "\n", overwrite)


def read_tum(path: PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(times (N,), world_from_cam (N, 4, 4)) from a TUM file."""
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        vals = [float(v) for v in line.replace(",", " ").split()]
        if len(vals) != 8:
            raise InputError(f"{path}: TUM lines have 8 numbers, got {len(vals)}")
        rows.append(vals)
    a = np.asarray(rows, np.float64).reshape(-1, 8)
    R = geo.matrix_from_quat_wxyz(a[:, [7, 4, 5, 6]])
    return a[:, 0], geo.pose_matrix(R, a[:, 1:4])


def write_colmap_text(folder: PathLike, cameras: Cameras, *, points: PointCloud | None = None,
                      image_names: Sequence[str] | None = None, overwrite: bool = True) -> Path:
    """COLMAP text model (one PINHOLE camera per distinct K; images.txt with empty 2D point
    lists; points3D.txt with empty tracks) in ``folder``. Unregistered frames are left out."""
    folder = Path(folder)
    check_output(folder, overwrite=overwrite, what="COLMAP model")
    T = cameras.num_frames
    names = list(image_names) if image_names is not None else [f"frame_{t:03d}.png" for t in range(T)]
    if len(names) != T:
        raise InputError(f"write_colmap_text: {len(names)} image names for {T} frames")
    W, H = cameras.image_size
    cam_ids: dict[tuple[float, ...], int] = {}
    cam_lines = []
    img_lines = []
    for t in range(T):
        if not cameras.registered[t] or not np.isfinite(cameras.cam_from_world[t]).all():
            continue
        K = cameras.K[t]
        params = (float(K[0, 0]), float(K[1, 1]), float(K[0, 2]) + 0.5, float(K[1, 2]) + 0.5)
        if params not in cam_ids:
            cam_ids[params] = len(cam_ids) + 1
            cam_lines.append(f"{cam_ids[params]} PINHOLE {W} {H} " + " ".join(f"{p:.9g}" for p in params))
        T_cw = cameras.cam_from_world[t]
        q = geo.quat_wxyz_from_matrix(T_cw[:3, :3])
        tx, ty, tz = T_cw[:3, 3]
        img_lines.append(f"{t + 1} {q[0]:.12g} {q[1]:.12g} {q[2]:.12g} {q[3]:.12g} {tx:.12g} {ty:.12g} {tz:.12g} "
                         f"{cam_ids[params]} {names[t]}")
        img_lines.append("")
    pts_lines = []
    if points is not None:
        for k in range(len(points)):
            x, y, z = points.xyz[k]
            r, g, b = points.rgb[k]
            pts_lines.append(f"{k + 1} {x:.7g} {y:.7g} {z:.7g} {r} {g} {b} 0")
    with atomic_path(folder, overwrite=overwrite) as tmp:
        tmp.mkdir()
        (tmp / "cameras.txt").write_text(
            "# Camera list with one line of data per camera:\n#   CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]\n"
            f"# Number of cameras: {len(cam_lines)}\n" + "\n".join(cam_lines) + "\n", encoding="utf-8")
        (tmp / "images.txt").write_text(
            "# Image list with two lines of data per image:\n"
            "#   IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME\n#   POINTS2D[] as (X, Y, POINT3D_ID)\n"
            f"# Number of images: {len(img_lines) // 2}\n" + "\n".join(img_lines) + "\n", encoding="utf-8")
        (tmp / "points3D.txt").write_text(
            "# 3D point list with one line of data per point:\n"
            "#   POINT3D_ID, X, Y, Z, R, G, B, ERROR, TRACK[] as (IMAGE_ID, POINT2D_IDX)\n"
            f"# Number of points: {len(pts_lines)}\n" + "\n".join(pts_lines) + ("\n" if pts_lines else ""),
            encoding="utf-8")
    return folder


def write_transforms_json(path: PathLike, cameras: Cameras, *, image_paths: Sequence[str] | None = None,
                          ply_path: str | None = None, overwrite: bool = True) -> Path:
    """nerfstudio ``transforms.json``: shared intrinsics at the top level when all frames share
    K (else per frame), ``transform_matrix`` camera-to-world in OpenGL axes."""
    T = cameras.num_frames
    paths = list(image_paths) if image_paths is not None else [f"frames/frame_{t:03d}.png" for t in range(T)]
    W, H = cameras.image_size

    def intr(K: np.ndarray) -> dict[str, float]:
        return {"fl_x": float(K[0, 0]), "fl_y": float(K[1, 1]), "cx": float(K[0, 2]) + 0.5,
                "cy": float(K[1, 2]) + 0.5, "w": int(W), "h": int(H)}

    shared = bool(np.allclose(cameras.K, cameras.K[0]))
    frames = []
    for t in range(T):
        if not cameras.registered[t] or not np.isfinite(cameras.cam_from_world[t]).all():
            continue
        c2w = geo.opencv_to_opengl(geo.invert(cameras.cam_from_world[t]))
        fr: dict = {"file_path": paths[t], "transform_matrix": c2w.tolist(), "colmap_im_id": t + 1}
        if not shared:
            fr.update(intr(cameras.K[t]))
        frames.append(fr)
    data: dict = {"camera_model": "OPENCV"}
    if shared:
        data.update(intr(cameras.K[0]))
    data.update({"k1": 0.0, "k2": 0.0, "p1": 0.0, "p2": 0.0})
    if ply_path:
        data["ply_file_path"] = ply_path
    data["frames"] = frames
    return write_json(path, data, overwrite=overwrite)


def _nearest_source(depth: np.ndarray, size: Sequence[int] | None) -> np.ndarray | None:
    """The (T, h, w) maps that ``depth`` (T, H, W) is the OpenCV nearest upsampling of, when
    ``size`` = (w, h) is such a source (checked bitwise, NaN included); else None."""
    import cv2

    if size is None or len(size) != 2:
        return None
    w, h = int(size[0]), int(size[1])
    T, H, W = depth.shape
    if not (0 < w < W and 0 < h < H):
        return None
    # OpenCV INTER_NEAREST reads source pixel floor(x * w / W), so those rows/columns are the source
    xs = np.minimum(np.floor(np.arange(W) * (w / W)).astype(np.int64), w - 1)
    ys = np.minimum(np.floor(np.arange(H) * (h / H)).astype(np.int64), h - 1)
    if len(np.unique(xs)) != w or len(np.unique(ys)) != h:
        return None
    first_x = np.searchsorted(xs, np.arange(w))
    first_y = np.searchsorted(ys, np.arange(h))
    small = np.ascontiguousarray(depth[:, first_y][:, :, first_x])
    for t in range(T):
        up = cv2.resize(small[t], (W, H), interpolation=cv2.INTER_NEAREST)
        if not np.array_equal(up.view(np.uint32), depth[t].view(np.uint32)):
            return None
    return small


def write_depth(folder: PathLike, depth: np.ndarray, *, png: bool = True, overwrite: bool = True,
                stored_size: Sequence[int] | None = None) -> Path:
    """``depth.npz`` (T, H, W) float32 NaN-unknown, plus 16-bit ``depth_XXX.png`` per frame
    (depth = value * depth_scale, 0 = unknown) and ``index.json`` with the scale.

    When the maps are the nearest upsampling of maps of ``stored_size`` (w, h) (the dense stage's
    working resolution; checked bitwise), ``depth.npz`` holds those, uncompressed, with
    ``full_shape``, and :func:`read_depth` upsamples them back bit for bit: a fraction of the
    bytes and none of the compression time (720p, 16 frames: 0.8 s of zlib)."""
    import cv2

    folder = Path(folder)
    depth = np.asarray(depth, np.float32)
    if depth.ndim != 3:
        raise InputError(f"write_depth: expected (T, H, W) depth, got shape {depth.shape}")
    check_output(folder, overwrite=overwrite, what="depth folder")
    finite = depth[np.isfinite(depth) & (depth > 0)]
    dmax = float(finite.max()) if finite.size else 1.0
    scale = dmax / 65000.0 if dmax > 0 else 1.0
    with atomic_path(folder, overwrite=overwrite) as tmp:
        tmp.mkdir()
        small = _nearest_source(depth, stored_size)
        with open(tmp / "depth.npz", "wb") as fh:
            if small is not None:
                np.savez(fh, depth=small, full_shape=np.asarray(depth.shape, np.int64))
            else:
                np.savez_compressed(fh, depth=depth)
        files = []
        if png:
            for t, d in enumerate(depth):
                v = np.where(np.isfinite(d) & (d > 0), np.round(d / scale), 0).clip(0, 65535).astype(np.uint16)
                name = f"depth_{t:03d}.png"
                cv2.imwrite(str(tmp / name), v)
                files.append(name)
        write_json(tmp / "index.json", {
            "units": "same units as the cameras (scale_known says whether metric)",
            "npz": "depth.npz", "key": "depth", "shape": list(depth.shape),
            "png": files, "depth_scale": scale, "png_zero": "unknown",
            "convention": "z-depth along the camera's optical axis (OpenCV), per frame",
        })
    return folder


def read_depth(folder: PathLike) -> np.ndarray:
    """(T, H, W) float32 depth from a folder written by :func:`write_depth`."""
    from ._fs import read_npz

    data = read_npz(Path(folder) / "depth.npz")
    depth = data["depth"].astype(np.float32)
    if "full_shape" not in data:
        return depth
    import cv2

    T, H, W = (int(v) for v in data["full_shape"])
    if depth.ndim != 3 or len(depth) != T:
        raise InputError(f"{folder}/depth.npz: depth {depth.shape} does not match full_shape {(T, H, W)}")
    out = np.empty((T, H, W), np.float32)
    for t in range(T):
        out[t] = cv2.resize(depth[t], (W, H), interpolation=cv2.INTER_NEAREST)
    return out


def write_frame_points(folder: PathLike, clouds: Sequence[PointCloud], *, intervals: np.ndarray | None = None,
                       overwrite: bool = True) -> Path:
    """One PLY per frame (``frame_XXX.ply``) plus ``index.json`` listing files and counts."""
    folder = Path(folder)
    check_output(folder, overwrite=overwrite, what="points folder")
    with atomic_path(folder, overwrite=overwrite) as tmp:
        tmp.mkdir()
        entries = []
        for t, c in enumerate(clouds):
            name = f"frame_{t:03d}.ply"
            c.save(tmp / name)
            entries.append({"frame": t, "file": name, "points": len(c),
                            "interval": None if intervals is None else [float(v) for v in intervals[t]]})
        write_json(tmp / "index.json", {
            "what": "points on independently moving content, per frame (world coordinates)",
            "frames": entries,
        })
    return folder
