"""The 3D reference face for PnP: MediaPipe's canonical geometry (.obj, .binarypb, .task) or one
derived from Face Mesh on a reference photo.
"""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from blur4d.errors import BackendError, InputError

from .detection import IRIS_CENTRES, NUM_LANDMARKS, NUM_MESH, _static_landmarks

INTERPUPILLARY_CM = 6.3


@dataclass(frozen=True)
class FaceModel:
    """Reference 3D face: ``vertices`` (468 or 478, 3) float64 cm in the head frame (x subject's
    left, y forehead -> chin, z into the head); ``source`` says where it came from."""

    vertices: np.ndarray
    source: str

    @property
    def mesh(self) -> np.ndarray:
        """The 468 mesh vertices (iris points excluded: the eyes move on their own)."""
        return self.vertices[:NUM_MESH]


def load_face_model(path: str | os.PathLike | None = None) -> FaceModel:
    """The 3D face model for PnP: from ``path`` (``.obj``, ``.binarypb``, ``.task``) or, with
    None, derived from MediaPipe Face Mesh on a reference photo (cached per process)."""
    if path is None:
        return _derived_face_model()
    p = Path(path)
    if not p.is_file():
        raise InputError(f"face_model {p}: no such file; give canonical_face_model.obj, "
                         "geometry_pipeline_metadata_landmarks.binarypb or face_landmarker.task")
    suffix = p.suffix.lower()
    if suffix == ".obj":
        return FaceModel(_mediapipe_to_head(_read_obj_vertices(p)), f"obj:{p}")
    if suffix == ".binarypb":
        return FaceModel(_mediapipe_to_head(_parse_geometry_metadata(p.read_bytes(), str(p))), f"binarypb:{p}")
    if suffix == ".task":
        data = _find_geometry_in_task(p.read_bytes(), str(p))
        if data is None:
            raise InputError(f"face_model {p}: the .task bundle holds no geometry_pipeline_metadata*.binarypb")
        return FaceModel(_mediapipe_to_head(_parse_geometry_metadata(data, str(p))), f"task:{p}")
    raise InputError(f"face_model {p}: expected a .obj, .binarypb or .task file, got {suffix or 'no suffix'!r}")


def _mediapipe_to_head(v: np.ndarray) -> np.ndarray:
    """MediaPipe's canonical space (y up, z towards the viewer, cm) -> our head frame."""
    return np.asarray(v, np.float64) * np.array([1.0, -1.0, -1.0])


def _read_obj_vertices(path: Path) -> np.ndarray:
    verts = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("v "):
            parts = line.split()
            try:
                verts.append([float(parts[1]), float(parts[2]), float(parts[3])])
            except (IndexError, ValueError) as err:
                raise InputError(f"face_model {path}: bad vertex line {line[:60]!r}") from err
    v = np.asarray(verts, np.float64).reshape(-1, 3)
    if len(v) < NUM_MESH:
        raise InputError(f"face_model {path}: expected >= {NUM_MESH} vertices (MediaPipe topology), got {len(v)}")
    return v[:NUM_LANDMARKS]


def _parse_geometry_metadata(data: bytes, where: str) -> np.ndarray:
    from mediapipe.tasks.cc.vision.face_geometry.proto import geometry_pipeline_metadata_pb2 as gpm

    meta = gpm.GeometryPipelineMetadata()
    try:
        meta.ParseFromString(data)
    except Exception as err:  # noqa: BLE001 - protobuf raises its own DecodeError
        raise InputError(f"face_model {where}: not a GeometryPipelineMetadata protobuf ({err})") from err
    buf = np.asarray(meta.canonical_mesh.vertex_buffer, np.float64)
    if buf.size == 0 or buf.size % 5:
        raise InputError(f"face_model {where}: canonical mesh vertex buffer has {buf.size} floats; "
                         "expected 5 per vertex (x, y, z, u, v)")
    v = buf.reshape(-1, 5)[:, :3]
    if len(v) < NUM_MESH:
        raise InputError(f"face_model {where}: expected >= {NUM_MESH} vertices, got {len(v)}")
    return v[:NUM_LANDMARKS]


def _find_geometry_in_task(data: bytes, where: str, depth: int = 0) -> bytes | None:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as err:
        raise InputError(f"{where}: not a MediaPipe .task bundle (not a zip archive)") from err
    with zf:
        names = zf.namelist()
        for name in names:
            base = name.rsplit("/", 1)[-1]
            if base.startswith("geometry_pipeline_metadata") and base.endswith(".binarypb"):
                return zf.read(name)
        if depth < 2:
            for name in names:
                if name.endswith(".task"):
                    found = _find_geometry_in_task(zf.read(name), where, depth + 1)
                    if found is not None:
                        return found
    return None


@lru_cache(maxsize=1)
def _derived_face_model() -> FaceModel:
    from scipy.optimize import linear_sum_assignment
    from skimage import data

    img = data.astronaut()
    W = img.shape[1]
    a = _static_landmarks(img)
    b = _static_landmarks(np.ascontiguousarray(img[:, ::-1]))
    if a is None or b is None:
        raise BackendError("face model: MediaPipe found no face in the reference photo (skimage astronaut); "
                           "pass face_model=canonical_face_model.obj")
    b[:, 0] = (W - 1) - b[:, 0]  # mirrored detections back into the original image
    cost = np.linalg.norm(a[:, None, :2] - b[None, :, :2], axis=2)
    rows, cols = linear_sum_assignment(cost)
    pair = np.empty(NUM_LANDMARKS, int)
    pair[cols] = rows  # landmark i of the mirror image is landmark pair[i] of the original
    if not np.array_equal(pair[pair], np.arange(NUM_LANDMARKS)):
        bad = int(np.sum(pair[pair] != np.arange(NUM_LANDMARKS)))
        raise BackendError(f"face model: mirror pairing of the reference landmarks is not symmetric ({bad} points)")
    x = a - a[:NUM_MESH].mean(axis=0)
    d = x - x[pair]
    d = d[pair != np.arange(NUM_LANDMARKS)]
    _, _, vt = np.linalg.svd(d, full_matrices=False)
    ex = vt[0] * np.sign(vt[0][0])
    ez = np.array([0.0, 0.0, 1.0]) - ex * ex[2]  # the portrait looks into the camera: frontal = R ~ I
    ez /= np.linalg.norm(ez)
    ey = np.cross(ez, ex)
    s = x @ np.stack([ex, ey, ez], axis=1)
    s = 0.5 * (s + s[pair] * np.array([-1.0, 1.0, 1.0]))
    s -= s[:NUM_MESH].mean(axis=0)
    s *= INTERPUPILLARY_CM / np.linalg.norm(s[IRIS_CENTRES[0]] - s[IRIS_CENTRES[1]])
    return FaceModel(s, "derived: MediaPipe Face Mesh on skimage.data.astronaut, symmetrised, IPD 6.3 cm")
