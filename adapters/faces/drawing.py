"""Face outputs: overlay video, TUM head trajectories, per-frame landmark PLYs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from blur4d.errors import InputError
from blur4d.types import FaceTracks, Video

from .detection import NUM_LANDMARKS, _import_mediapipe
from .pose import lift_landmarks


def _K_at(faces: FaceTracks, t: int) -> np.ndarray:
    if faces.K is None:
        raise InputError("faces: no intrinsics K stored; cannot project or lift the head pose")
    K = np.asarray(faces.K, np.float64)
    return K[t] if K.ndim == 3 else K


_PALETTE = np.array([[0, 220, 255], [255, 170, 0], [120, 255, 80], [255, 80, 200], [255, 255, 80],
                     [150, 120, 255], [255, 120, 120], [80, 200, 160]], np.uint8)


def _colour(face_id: int) -> tuple[int, int, int]:
    c = _PALETTE[int(face_id) % len(_PALETTE)]
    return int(c[0]), int(c[1]), int(c[2])


def draw_faces(frame: np.ndarray, faces: FaceTracks, t: int, *, axis_length_cm: float = 8.0) -> np.ndarray:
    """One overlay frame (RGB uint8): mesh, irises, box and id per face, and the head axes
    (red x, green y, blue: the facing direction -z) from ``cam_from_head``."""
    import cv2

    mp = _import_mediapipe()
    tess = np.array(sorted(mp.solutions.face_mesh.FACEMESH_TESSELATION), np.int64)
    iris = np.array(sorted(mp.solutions.face_mesh.FACEMESH_IRISES), np.int64)
    img = np.ascontiguousarray(frame.copy())
    sh = 4  # fixed-point bits for sub-pixel drawing
    for m in np.flatnonzero(faces.present[t]):
        fid = int(faces.ids[m])
        col = _colour(fid)
        xy = faces.landmarks[t, m, :, :2].astype(np.float64)
        if not np.all(np.isfinite(xy)):
            continue
        pts = np.round((xy + 0.0) * (1 << sh)).astype(np.int32)
        cv2.polylines(img, list(pts[tess]), False, col, 1, cv2.LINE_AA, shift=sh)
        cv2.polylines(img, list(pts[iris]), False, (255, 255, 255), 1, cv2.LINE_AA, shift=sh)
        x0, y0, x1, y1 = faces.bbox[t, m]
        cv2.rectangle(img, (int(x0), int(y0)), (int(x1), int(y1)), col, 1, cv2.LINE_AA)
        cv2.putText(img, f"id {fid}", (int(x0), max(12, int(y0) - 5)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, col, 1,
                    cv2.LINE_AA)
        T = faces.cam_from_head[t, m]
        if not np.all(np.isfinite(T)):
            continue
        K = _K_at(faces, t)
        L = float(axis_length_cm)
        P = np.array([[0, 0, 0], [L, 0, 0], [0, L, 0], [0, 0, -L]], np.float64)
        cam = P @ T[:3, :3].T + T[:3, 3]
        if np.any(cam[:, 2] <= 1e-3):
            continue
        uv = cam[:, :2] / cam[:, 2:] * np.array([K[0, 0], K[1, 1]]) + np.array([K[0, 2], K[1, 2]])
        o = tuple(np.round(uv[0] * (1 << sh)).astype(int))
        for k, c in ((1, (255, 40, 40)), (2, (40, 255, 40)), (3, (60, 120, 255))):
            cv2.line(img, o, tuple(np.round(uv[k] * (1 << sh)).astype(int)), c, 2, cv2.LINE_AA, shift=sh)
    return img


def write_overlay(path: str | os.PathLike, video: Video, faces: FaceTracks, *, overwrite: bool = False,
                  axis_length_cm: float = 8.0) -> Path:
    """The clip with each face's mesh, irises, box, id and head axes drawn on it -> mp4."""
    from blur4d.media import write_mp4

    if faces.num_frames != video.num_frames:
        raise InputError(f"overlay: {faces.num_frames} face frames but the video has {video.num_frames}")
    frames = np.stack([draw_faces(video.frames[t], faces, t, axis_length_cm=axis_length_cm)
                       for t in range(video.num_frames)])
    return write_mp4(path, frames, video.fps, overwrite=overwrite)


def _main_face(faces: FaceTracks, face_id: int | None) -> int:
    """Column of ``face_id``; None = the face present in the most frames (lowest id on ties)."""
    if faces.num_faces == 0:
        raise InputError("faces: no face was found, nothing to write")
    if face_id is None:
        return int(np.argmax(faces.present.sum(axis=0)))
    hits = np.flatnonzero(faces.ids == int(face_id))
    if len(hits) == 0:
        raise InputError(f"face_id: no face with id {face_id}; ids are {faces.ids.tolist()}")
    return int(hits[0])


def write_tum(path: str | os.PathLike, faces: FaceTracks, video: Video | None = None, *,
              face_id: int | None = None, fps: float | None = None, overwrite: bool = False) -> Path:
    """Head-pose trajectory of one face in TUM form ``t tx ty tz qx qy qz qw`` (evo reads it).

    The pose is ``cam_from_head``: the camera is the "world" of the file, so the trajectory is
    the head moving in front of the camera, OpenCV axes, translation in **metres**. ``t`` is the
    frame index divided by the video's fps (playback seconds; ``fps`` overrides). Frames where
    the face is absent or its pose failed are left out. ``face_id`` None = the face present in
    the most frames. Comment lines (``#``) at the top record these conventions.
    """
    from scipy.spatial.transform import Rotation

    from blur4d._fs import atomic_path

    rate = float(fps if fps is not None else (video.fps if video is not None else 0.0))
    if not rate > 0:
        raise InputError("write_tum: need the video (for its fps) or fps > 0 to time the poses")
    m = _main_face(faces, face_id)
    rows = np.flatnonzero(faces.present[:, m] & np.all(np.isfinite(faces.cam_from_head[:, m]), axis=(1, 2)))
    if len(rows) == 0:
        raise InputError(f"write_tum: face id {int(faces.ids[m])} has no frame with a head pose")
    lines = [
        f"# blur4d head pose of face id {int(faces.ids[m])}: cam_from_head (head -> camera), OpenCV axes, metres",
        f"# t = frame index / fps, fps = {rate:g} (playback seconds); columns: t tx ty tz qx qy qz qw",
    ]
    q = Rotation.from_matrix(faces.cam_from_head[rows, m, :3, :3]).as_quat()  # x y z w
    for t, qq in zip(rows, q):
        tr = faces.cam_from_head[t, m, :3, 3] / 100.0
        vals = [t / rate, *tr.tolist(), *qq.tolist()]
        lines.append(" ".join(f"{v:.9f}" for v in vals))
    with atomic_path(path, overwrite=overwrite) as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Path(path)


def write_landmark_plys(folder: str | os.PathLike, faces: FaceTracks, *, overwrite: bool = False) -> Path:
    """3D landmarks per frame: ``folder/frame_0000.ply``... (binary PLY: x y z in cm in the camera
    frame, OpenCV axes; red green blue per face id; ``face_id`` and ``landmark`` index columns)
    for every frame with at least one posed face, plus ``index.json`` listing them. Points come
    from :func:`lift_landmarks` (non-rigid: expressions are kept)."""
    from blur4d._fs import atomic_path, write_json
    from blur4d._ply import write_ply

    if faces.num_faces == 0:
        raise InputError("faces: no face was found, nothing to write")
    folder = Path(folder)
    index = []
    with atomic_path(folder, overwrite=overwrite) as tmp:
        tmp.mkdir()
        for t in range(faces.num_frames):
            pts, cols, fid, lmk = [], [], [], []
            for m in np.flatnonzero(faces.present[t]):
                T = faces.cam_from_head[t, m]
                if not np.all(np.isfinite(T)):
                    continue
                pts.append(lift_landmarks(faces.landmarks[t, m], T, _K_at(faces, t)))
                cols.append(np.repeat(np.array([_colour(int(faces.ids[m]))], np.uint8), NUM_LANDMARKS, 0))
                fid.append(np.full(NUM_LANDMARKS, int(faces.ids[m]), np.int32))
                lmk.append(np.arange(NUM_LANDMARKS, dtype=np.int32))
            if not pts:
                continue
            xyz = np.concatenate(pts).astype(np.float32)
            rgb = np.concatenate(cols)
            name = f"frame_{t:04d}.ply"
            write_ply(tmp / name, {"x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2], "red": rgb[:, 0],
                                   "green": rgb[:, 1], "blue": rgb[:, 2], "face_id": np.concatenate(fid),
                                   "landmark": np.concatenate(lmk)},
                      comments=("blur4d face landmarks: camera frame, OpenCV axes, cm",))
            index.append({"frame": t, "file": name, "face_ids": sorted({int(v) for v in np.concatenate(fid)})})
        write_json(tmp / "index.json", {
            "units": "cm", "frame": "camera (OpenCV axes: x right, y down, z forward)",
            "num_frames": faces.num_frames, "frames": index,
        })
    return folder
