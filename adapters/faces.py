"""Faces through a clip: MediaPipe landmarks, stable ids, head pose by PnP, lag-free smoothing.

Two backends share everything after detection:

* :class:`FaceMeshTracker` (default): the legacy MediaPipe Face Mesh solution of
  ``mediapipe==0.10.14``, whose TFLite models ship in the wheel (works offline).
* :class:`FaceLandmarkerTracker`: the MediaPipe Tasks Face Landmarker from a user-supplied
  ``face_landmarker.task`` file (VIDEO running mode).

Conventions
-----------
* **Landmarks** (T, M, 478, 3): 468 mesh points + 10 iris points (``refine_landmarks``). x, y are
  pixels with the centre of the top-left pixel at (0, 0): MediaPipe normalises by the image's
  width/height with the pixel *corner* as origin, so ``x = x_norm * W - 0.5`` (checked by
  mirroring: a mirrored image gives ``x_norm * W`` summing to ``W``, not ``W - 1``). z is
  MediaPipe's relative depth times the image width (pixels; negative is nearer the camera).
* **Head frame**: x to the subject's left (image right on a frontal face), y down the face, z
  into the head (away from a camera the face looks at). A frontal, upright face has
  ``cam_from_head`` rotation ~ identity (for the derived model, "frontal" is the reference
  portrait, which looks into its camera). Units: cm. ``cam_from_head`` maps head-frame
  points into the OpenCV camera frame.
* **Face model** for PnP. The 0.10.14 wheel does not contain MediaPipe's canonical face geometry
  (``canonical_face_model.obj`` / ``geometry_pipeline_metadata*.binarypb`` are not in it), so by
  default a reference face is *derived from MediaPipe itself*: Face Mesh run on scikit-image's
  astronaut photo and on its mirror image, the 478 (x, y, z) points put into a frame given by
  their plane of symmetry (x its normal, z the camera's depth axis within it), made exactly
  symmetric, and scaled so that the iris centres are 6.3 cm
  apart (mean adult interpupillary distance). The origin is the centroid of the 468 mesh points.
  The real canonical geometry is used when ``face_model`` names a ``canonical_face_model.obj``, a
  ``geometry_pipeline_metadata*.binarypb`` or a ``face_landmarker.task`` (which carries it); the
  landmarker backend reads it from its ``.task`` file by default.
* **Intrinsics**: the ``K`` argument (3, 3) or per frame (T, 3, 3) — e.g. from the camera stage;
  otherwise a pinhole prior with horizontal field of view ``fov`` (default 60 degrees, principal
  point at the image centre). Relative head rotations hardly depend on it; translations do.
* **Time** for the smoothing filters and TUM files: ``t = frame index / video.fps`` seconds of
  playback (a generated clip's exposure intervals carry no absolute time; they are kept in
  ``FaceTracks.intervals``).
* **Smoothing**: a One-Euro filter (Casiez et al. 2012) on landmarks (in units of the face's size)
  and on the pose (quaternion and translation). Default ``forward-backward``: the filter runs
  forwards and backwards in time over the whole clip and the two are averaged, so the lags of
  the two passes cancel; ``causal`` is the classic online filter; ``none`` keeps raw values.
  Raw values are always kept (``landmarks_raw``, ``cam_from_head_raw``).
* **Ids**: detections are bounding boxes; boxes are matched to tracks by the Hungarian algorithm
  on the distance to each track's constant-velocity prediction (centre and log-size), gated at
  ``max_match_cost`` face sizes; a track unseen for more than ``max_gap`` frames is closed.
"""

from __future__ import annotations

import io
import logging
import math
import os
import sys
import time
import warnings
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from blur4d.errors import BackendError, InputError
from blur4d.progress import NO_PROGRESS, Progress
from blur4d.types import FaceTracks, Provenance, Video

log = logging.getLogger("blur4d.faces")

__all__ = [
    "FaceMeshConfig", "FaceLandmarkerConfig", "FaceMeshTracker", "FaceLandmarkerTracker", "FaceModel",
    "load_face_model", "assign_ids", "solve_head_pose", "one_euro", "smooth_series", "intrinsics_for",
    "lift_landmarks", "write_overlay", "write_tum", "write_landmark_plys", "rotation_angle_deg",
    "render_face_surface", "render_face_mesh", "roll_face", "astronaut_face",
]

NUM_LANDMARKS = 478
NUM_MESH = 468
IRIS_CENTRES = (468, 473)
INTERPUPILLARY_CM = 6.3
DEFAULT_FOV = 60.0
SMOOTHING_MODES = ("forward-backward", "causal", "none")


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FaceMeshConfig:
    """Options of the Face Mesh backend (also the CLI/API keyword options)."""

    max_faces: int = 4
    """Most faces per frame."""
    min_detection_confidence: float = 0.5
    """MediaPipe face-detector score threshold."""
    min_tracking_confidence: float = 0.5
    """MediaPipe landmark-tracking threshold (below it the detector runs again)."""
    static_image_mode: bool = False
    """Run the detector on every frame instead of tracking landmarks from frame to frame."""
    redetect_on_loss: bool = True
    """When tracking finds fewer faces than in the previous frame (fast motion), run the
    detector on that frame too."""
    fov: float = DEFAULT_FOV
    """Horizontal field of view (degrees) of the intrinsics prior, used when no K is given."""
    face_model: str | None = None
    """3D face model for PnP: canonical_face_model.obj, geometry_pipeline_metadata*.binarypb or a
    .task; None = derived from MediaPipe on a reference photo (see module docs)."""
    smoothing: str = "forward-backward"
    """forward-backward (no lag, offline), causal (online One-Euro) or none."""
    min_cutoff: float = 1.0
    """One-Euro minimum cutoff frequency (Hz of playback time) at rest."""
    beta_landmarks: float = 10.0
    """One-Euro speed coefficient for landmarks (speed in face sizes per second)."""
    beta_rotation: float = 10.0
    """One-Euro speed coefficient for the head rotation (quaternion components per second)."""
    beta_translation: float = 0.05
    """One-Euro speed coefficient for the head translation (cm per second)."""
    d_cutoff: float = 1.0
    """One-Euro cutoff (Hz) of the speed estimate."""
    max_gap: int = 5
    """Frames a face may be missing before its id is closed (a later face gets a new id)."""
    max_match_cost: float = 1.0
    """Largest distance (in face sizes, plus |log size ratio|) at which a detection continues a track."""

    def __post_init__(self) -> None:
        if int(self.max_faces) < 1:
            raise InputError(f"max_faces: expected >= 1, got {self.max_faces}")
        for name in ("min_detection_confidence", "min_tracking_confidence"):
            v = float(getattr(self, name))
            if not 0.0 <= v <= 1.0:
                raise InputError(f"{name}: expected a value in [0, 1], got {v}")
        if not 1.0 <= float(self.fov) <= 170.0:
            raise InputError(f"fov: expected a horizontal field of view in degrees in [1, 170], got {self.fov}")
        if self.smoothing not in SMOOTHING_MODES:
            raise InputError(f"smoothing: expected one of {', '.join(SMOOTHING_MODES)}, got {self.smoothing!r}")
        for name in ("min_cutoff", "d_cutoff"):
            if not float(getattr(self, name)) > 0:
                raise InputError(f"{name}: expected > 0 Hz, got {getattr(self, name)}")
        for name in ("beta_landmarks", "beta_rotation", "beta_translation"):
            if float(getattr(self, name)) < 0:
                raise InputError(f"{name}: expected >= 0, got {getattr(self, name)}")
        if int(self.max_gap) < 0:
            raise InputError(f"max_gap: expected >= 0 frames, got {self.max_gap}")
        if not float(self.max_match_cost) > 0:
            raise InputError(f"max_match_cost: expected > 0, got {self.max_match_cost}")


@dataclass(frozen=True)
class FaceLandmarkerConfig(FaceMeshConfig):
    """Options of the Face Landmarker (Tasks API) backend."""

    model: str = ""
    """Path to a face_landmarker.task model bundle (required)."""


# --------------------------------------------------------------------------------------------
# Face model (3D reference geometry for PnP)
# --------------------------------------------------------------------------------------------
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


def _static_landmarks(img: np.ndarray) -> np.ndarray | None:
    mp = _import_mediapipe()
    with _quiet(), mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1,
                                                   refine_landmarks=True) as fm:
        res = fm.process(np.ascontiguousarray(img))
    if not res.multi_face_landmarks:
        return None
    return _normalized_to_pixels(res.multi_face_landmarks[0].landmark, img.shape[1], img.shape[0]).astype(np.float64)


# --------------------------------------------------------------------------------------------
# MediaPipe plumbing
# --------------------------------------------------------------------------------------------
def _import_mediapipe() -> Any:
    from blur4d.registry import require

    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return require("mediapipe", pip="mediapipe==0.10.14", extra="faces", feature="face tracking")


class _quiet:
    """Silence MediaPipe inside its calls: protobuf deprecation warnings, and the native
    TFLite/absl log lines it writes straight to file descriptor 2 (kept with ``-vv``)."""

    def __enter__(self) -> None:
        self._cm = warnings.catch_warnings()
        self._cm.__enter__()
        warnings.simplefilter("ignore", UserWarning)
        self._saved_fd: int | None = None
        if not logging.getLogger("blur4d").isEnabledFor(logging.DEBUG):
            try:
                sys.stderr.flush()
                self._saved_fd = os.dup(2)
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 2)
                os.close(devnull)
            except OSError:  # no fd 2 to redirect (embedded interpreters): keep the noise
                self._saved_fd = None

    def __exit__(self, *exc: Any) -> None:
        if self._saved_fd is not None:
            os.dup2(self._saved_fd, 2)
            os.close(self._saved_fd)
        self._cm.__exit__(*exc)


def _normalized_to_pixels(landmarks: Iterable[Any], width: int, height: int) -> np.ndarray:
    """MediaPipe normalised landmarks -> (L, 3) float32: x, y pixels (centre convention), z * W."""
    arr = np.array([(p.x, p.y, p.z) for p in landmarks], np.float64).reshape(-1, 3)
    out = np.empty_like(arr)
    out[:, 0] = arr[:, 0] * width - 0.5
    out[:, 1] = arr[:, 1] * height - 0.5
    out[:, 2] = arr[:, 2] * width
    return out.astype(np.float32)


# --------------------------------------------------------------------------------------------
# Geometry
# --------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------
# Identity: Hungarian assignment on constant-velocity predictions
# --------------------------------------------------------------------------------------------
def _box_centre_size(b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    b = np.asarray(b, np.float64).reshape(-1, 4)
    c = np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2], axis=1)
    s = np.sqrt(np.maximum(b[:, 2] - b[:, 0], 1e-3) * np.maximum(b[:, 3] - b[:, 1], 1e-3))
    return c, s


def assign_ids(boxes: Sequence[np.ndarray], *, max_gap: int = 5, max_cost: float = 1.0,
               momentum: float = 0.6) -> list[np.ndarray]:
    """Stable track indices for per-frame detections.

    ``boxes[t]`` (n_t, 4) x0, y0, x1, y1. Returns per frame (n_t,) int track indices, numbered in
    order of first appearance. Each live track predicts its centre and log-size at frame t with
    a constant velocity; detections are matched by the Hungarian algorithm on
    ``|centre - predicted| / predicted size + |log(size / predicted size)|``, pairs costing more
    than ``max_cost`` (twice that for a track seen once, which has no velocity yet) are not
    matched, unmatched detections start tracks, and tracks unseen for more than ``max_gap`` frames
    are closed.
    """
    from scipy.optimize import linear_sum_assignment

    centre: list[np.ndarray] = []
    logsize: list[float] = []
    vel: list[np.ndarray] = []
    vlog: list[float] = []
    last: list[int] = []
    seen: list[int] = []
    out: list[np.ndarray] = []
    for t, bt in enumerate(boxes):
        c, s = _box_centre_size(bt)
        n = len(c)
        ids = np.full(n, -1, int)
        live = [j for j in range(len(last)) if t - last[j] - 1 <= max_gap]
        if n and live:
            cost = np.empty((len(live), n))
            for r, j in enumerate(live):
                dt = t - last[j]
                pc = centre[j] + vel[j] * dt
                pls = logsize[j] + vlog[j] * dt
                cost[r] = np.linalg.norm(c - pc, axis=1) / math.exp(pls) + np.abs(np.log(s) - pls)
            rows, cols = linear_sum_assignment(np.minimum(cost, 1e6))
            for r, i in zip(rows, cols):
                gate = max_cost * (2.0 if seen[live[r]] == 1 else 1.0)  # no velocity yet: wider gate
                if cost[r, i] <= gate:
                    ids[i] = live[r]
        for i in range(n):
            j = int(ids[i])
            if j < 0:
                centre.append(c[i].copy())
                logsize.append(float(np.log(s[i])))
                vel.append(np.zeros(2))
                vlog.append(0.0)
                last.append(t)
                seen.append(1)
                ids[i] = len(last) - 1
                continue
            dt = t - last[j]
            v_new = (c[i] - centre[j]) / dt
            vl_new = (float(np.log(s[i])) - logsize[j]) / dt
            k = 1.0 if seen[j] == 1 else momentum
            vel[j] = k * v_new + (1 - k) * vel[j]
            vlog[j] = k * vl_new + (1 - k) * vlog[j]
            centre[j] = c[i].copy()
            logsize[j] = float(np.log(s[i]))
            last[j] = t
            seen[j] += 1
        out.append(ids)
    return out


def _dedupe(dets: np.ndarray, iou_max: float = 0.6) -> np.ndarray:
    """Drop a detection whose box overlaps an earlier one by IoU > ``iou_max`` (duplicates)."""
    if len(dets) < 2:
        return dets
    boxes = _landmark_boxes(dets)
    keep: list[int] = []
    for i, b in enumerate(boxes):
        if all(_iou(b, boxes[k]) <= iou_max for k in keep):
            keep.append(i)
    return dets[keep]


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def _landmark_boxes(lm: np.ndarray) -> np.ndarray:
    """(..., L, 3) landmarks -> (..., 4) tight boxes x0, y0, x1, y1."""
    xy = np.asarray(lm)[..., :2]
    return np.concatenate([xy.min(axis=-2), xy.max(axis=-2)], axis=-1)


# --------------------------------------------------------------------------------------------
# One-Euro smoothing
# --------------------------------------------------------------------------------------------
def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


def one_euro(t: np.ndarray, x: np.ndarray, *, min_cutoff: float = 1.0, beta: float = 0.0,
             d_cutoff: float = 1.0) -> np.ndarray:
    """Causal One-Euro filter (Casiez, Roussel, Vogel 2012) of samples ``x`` (T, D) at increasing
    times ``t`` (T,) seconds; each of the D components is filtered on its own."""
    t = np.asarray(t, np.float64)
    x = np.asarray(x, np.float64).reshape(len(t), -1)
    y = np.empty_like(x)
    if len(t) == 0:
        return y
    y[0] = x[0]
    dx = np.zeros(x.shape[1])
    for k in range(1, len(t)):
        dt = max(float(t[k] - t[k - 1]), 1e-6)
        a_d = _alpha(d_cutoff, dt)
        dx = a_d * (x[k] - y[k - 1]) / dt + (1 - a_d) * dx
        a = _alpha(min_cutoff + beta * np.abs(dx), dt)
        y[k] = a * x[k] + (1 - a) * y[k - 1]
    return y


def smooth_series(t: np.ndarray, x: np.ndarray, valid: np.ndarray, *, mode: str = "forward-backward",
                  **params: float) -> np.ndarray:
    """Smooth (T, D) samples over each run of consecutive ``valid`` frames (a gap restarts the
    filter); invalid rows are returned unchanged. ``mode``: forward-backward, causal or none."""
    x = np.asarray(x, np.float64)
    out = x.copy()
    if mode == "none":
        return out
    t = np.asarray(t, np.float64)
    idx = np.flatnonzero(valid)
    if len(idx) == 0:
        return out
    runs = np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1)
    for r in runs:
        if len(r) < 2:
            continue
        fwd = one_euro(t[r], x[r], **params)
        if mode == "causal":
            out[r] = fwd.reshape(x[r].shape)
            continue
        out[r] = _forward_backward(t[r], x[r].reshape(len(r), -1), params).reshape(x[r].shape)
    return out


def _forward_backward(t: np.ndarray, x: np.ndarray, params: dict[str, float]) -> np.ndarray:
    """Mean of a forward and a backward One-Euro pass (their lags cancel), over the run extended
    at both ends by odd reflection (as filtfilt does), so neither pass starts cold at an end."""
    n = len(t)
    pad = min(n - 1, 8)
    xp = np.concatenate([2 * x[0] - x[pad:0:-1], x, 2 * x[-1] - x[-2:-pad - 2:-1]]) if pad else x
    tp = np.concatenate([2 * t[0] - t[pad:0:-1], t, 2 * t[-1] - t[-2:-pad - 2:-1]]) if pad else t
    fwd = one_euro(tp, xp, **params)
    bwd = one_euro(tp[-1] - tp[::-1], xp[::-1], **params)[::-1]
    return (0.5 * (fwd + bwd))[pad:pad + n]


# --------------------------------------------------------------------------------------------
# Backends
# --------------------------------------------------------------------------------------------
class _FaceTrackerBase:
    name = "faces"
    config_cls: type[FaceMeshConfig] = FaceMeshConfig

    def __init__(self, **options: Any) -> None:
        self.config = self.config_cls(**options)

    def _default_face_model(self) -> FaceModel:
        return load_face_model(self.config.face_model)

    def _detect(self, video: Video, progress: Progress) -> tuple[list[np.ndarray], dict[str, Any]]:
        """Per frame (n_t, 478, 3) landmarks in pixels, plus counters for the provenance."""
        raise NotImplementedError  # pragma: no cover - each backend defines it

    def __call__(self, video: Video, *, K: np.ndarray | None = None, progress: Progress = NO_PROGRESS) -> FaceTracks:
        """Landmarks, stable ids and head poses for every frame of ``video`` -> :class:`FaceTracks`."""
        if not isinstance(video, Video):
            raise InputError(f"faces: expected a blur4d Video, got {type(video).__name__}")
        cfg = self.config
        Ks, k_source = _resolve_K(K, video.num_frames, video.width, video.height, cfg.fov)
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        model = self._default_face_model()
        timings["face_model"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        dets, stats = self._detect(video, progress)
        timings["detect"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        faces = _build_tracks(dets, video, Ks, model, cfg)
        timings["track_pose_smooth"] = time.perf_counter() - t0
        prov = Provenance.capture(
            f"faces.{self.name}", cfg, packages=("mediapipe", "opencv-python-headless", "opencv-python", "scipy"),
            timings=timings, face_model=model.source, intrinsics=k_source,
            pixels="x = x_norm * W - 0.5, y = y_norm * H - 0.5 (centre of the top-left pixel at 0, 0); z = z_norm * W",
            head_frame="x subject's left, y forehead->chin, z into the head; cm",
            time_base="t = frame / fps (playback seconds)",
            pose_failures=int(np.sum(faces.present & ~np.isfinite(faces.cam_from_head_raw[..., 0, 0]))),
            **stats,
        )
        from dataclasses import replace

        return replace(faces, provenance=prov)


class FaceMeshTracker(_FaceTrackerBase):
    """MediaPipe Face Mesh (legacy solution, models in the ``mediapipe==0.10.14`` wheel)."""

    name = "facemesh"
    config_cls = FaceMeshConfig

    def _detect(self, video: Video, progress: Progress) -> tuple[list[np.ndarray], dict[str, Any]]:
        mp = _import_mediapipe()
        cfg = self.config
        out: list[np.ndarray] = []
        T, H, W = video.num_frames, video.height, video.width
        progress("faces", 0, T)

        def make(static: bool) -> Any:
            return mp.solutions.face_mesh.FaceMesh(
                static_image_mode=static, max_num_faces=int(cfg.max_faces), refine_landmarks=True,
                min_detection_confidence=float(cfg.min_detection_confidence),
                min_tracking_confidence=float(cfg.min_tracking_confidence))

        def run(fm: Any, frame: np.ndarray) -> list[np.ndarray]:
            res = fm.process(frame)
            faces = [_normalized_to_pixels(f.landmark, W, H) for f in (res.multi_face_landmarks or [])]
            return [f for f in faces if len(f) == NUM_LANDMARKS]

        detector = None
        redetections = 0
        with _quiet(), make(bool(cfg.static_image_mode)) as fm:
            try:
                previous = 0
                for t in range(T):
                    frame = np.ascontiguousarray(video.frames[t])
                    faces = run(fm, frame)
                    if not cfg.static_image_mode and cfg.redetect_on_loss and len(faces) < previous:
                        # landmark tracking searches where the face was; after a fast move it loses
                        # it for a frame. Run the detector on this frame and add what it finds.
                        detector = detector or make(True)
                        redetections += 1
                        known = [_landmark_boxes(f) for f in faces]
                        for f in run(detector, frame):
                            if all(_iou(_landmark_boxes(f), b) <= 0.3 for b in known):
                                faces.append(f)
                    previous = len(faces)
                    out.append(np.stack(faces) if faces else np.zeros((0, NUM_LANDMARKS, 3), np.float32))
                    progress("faces", t + 1, T)
            finally:
                if detector is not None:
                    detector.close()
        return out, {"redetections": redetections}


class FaceLandmarkerTracker(_FaceTrackerBase):
    """MediaPipe Face Landmarker (Tasks API, VIDEO mode) from a user-supplied ``.task`` file.
    Its canonical face geometry (inside the ``.task``) is the PnP model unless ``face_model``
    says otherwise."""

    name = "landmarker"
    config_cls = FaceLandmarkerConfig

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        model = self.config.model
        if not model:
            raise InputError("model: the landmarker backend needs a face_landmarker.task file; pass --model PATH "
                             "(or use the default facemesh backend, which needs no file)")
        p = Path(model)
        if not p.is_file():
            raise InputError(f"model {p}: no such file; download face_landmarker.task and pass its path")
        if p.suffix.lower() != ".task":
            raise InputError(f"model {p}: expected a MediaPipe .task bundle, got {p.suffix or 'no suffix'!r}")
        if not zipfile.is_zipfile(p):
            raise InputError(f"model {p}: not a MediaPipe .task bundle (not a zip archive)")
        self.model_path = p

    def _default_face_model(self) -> FaceModel:
        if self.config.face_model:
            return load_face_model(self.config.face_model)
        data = _find_geometry_in_task(self.model_path.read_bytes(), str(self.model_path))
        if data is None:
            log.warning("%s carries no canonical face geometry; using the derived face model", self.model_path)
            return load_face_model(None)
        return FaceModel(_mediapipe_to_head(_parse_geometry_metadata(data, str(self.model_path))),
                         f"task:{self.model_path}")

    def _detect(self, video: Video, progress: Progress) -> tuple[list[np.ndarray], dict[str, Any]]:
        mp = _import_mediapipe()
        from mediapipe.tasks.python import BaseOptions, vision

        cfg = self.config
        mode = vision.RunningMode.IMAGE if cfg.static_image_mode else vision.RunningMode.VIDEO
        opts = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(self.model_path)), running_mode=mode,
            num_faces=int(cfg.max_faces), min_face_detection_confidence=float(cfg.min_detection_confidence),
            min_face_presence_confidence=float(cfg.min_detection_confidence),
            min_tracking_confidence=float(cfg.min_tracking_confidence))
        try:
            with _quiet():
                landmarker = vision.FaceLandmarker.create_from_options(opts)
        except (RuntimeError, ValueError, OSError) as err:
            first = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
            raise BackendError(f"landmarker: MediaPipe cannot load {self.model_path} ({first})") from err
        T, H, W = video.num_frames, video.height, video.width
        stamps = _timestamps_ms(T, video.fps)
        out: list[np.ndarray] = []
        progress("faces", 0, T)
        with landmarker, _quiet():
            for t in range(T):
                image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(video.frames[t]))
                try:
                    res = landmarker.detect(image) if cfg.static_image_mode else \
                        landmarker.detect_for_video(image, int(stamps[t]))
                except (RuntimeError, ValueError) as err:
                    raise BackendError(f"landmarker: MediaPipe failed on frame {t} ({err})") from err
                faces = [_normalized_to_pixels(f, W, H) for f in (res.face_landmarks or [])]
                faces = [f for f in faces if len(f) == NUM_LANDMARKS]
                out.append(np.stack(faces) if faces else np.zeros((0, NUM_LANDMARKS, 3), np.float32))
                progress("faces", t + 1, T)
        return out, {}


def _timestamps_ms(n: int, fps: float) -> np.ndarray:
    """Strictly increasing integer milliseconds for MediaPipe's VIDEO mode."""
    ts = np.round(np.arange(n) * 1000.0 / float(fps)).astype(np.int64)
    for i in range(1, n):
        ts[i] = max(ts[i], ts[i - 1] + 1)
    return ts


# --------------------------------------------------------------------------------------------
# Detections -> FaceTracks
# --------------------------------------------------------------------------------------------
def _build_tracks(dets: list[np.ndarray], video: Video, Ks: np.ndarray, model: FaceModel,
                  cfg: FaceMeshConfig) -> FaceTracks:
    from scipy.spatial.transform import Rotation

    T = video.num_frames
    dets = [_dedupe(d) for d in dets]
    ids = assign_ids([_landmark_boxes(d) for d in dets], max_gap=int(cfg.max_gap),
                     max_cost=float(cfg.max_match_cost))
    M = int(max((int(i.max()) + 1 for i in ids if len(i)), default=0))
    present = np.zeros((T, M), bool)
    lm_raw = np.full((T, M, NUM_LANDMARKS, 3), np.nan, np.float32)
    for t in range(T):
        for k, m in enumerate(ids[t]):
            present[t, m] = True
            lm_raw[t, m] = dets[t][k]
    pose_raw = np.full((T, M, 4, 4), np.nan)
    for t, m in zip(*np.nonzero(present)):
        pose = solve_head_pose(lm_raw[t, m], model, Ks[t])
        if pose is not None:
            pose_raw[t, m] = pose
    times = np.arange(T) / float(video.fps)
    lm = lm_raw.copy()
    pose = pose_raw.copy()
    p_common = {"min_cutoff": float(cfg.min_cutoff), "d_cutoff": float(cfg.d_cutoff)}
    for m in range(M):
        rows = present[:, m]
        if cfg.smoothing == "none" or rows.sum() < 2:
            continue
        size = float(np.nanmedian(np.linalg.norm(np.diff(_landmark_boxes(lm_raw[rows, m]).reshape(-1, 2, 2),
                                                         axis=1)[:, 0], axis=1)))
        size = max(size, 1.0)
        flat = lm_raw[:, m].reshape(T, -1).astype(np.float64) / size
        sm = smooth_series(times, flat, rows, mode=cfg.smoothing, beta=float(cfg.beta_landmarks), **p_common)
        lm[:, m] = (sm * size).reshape(T, NUM_LANDMARKS, 3).astype(np.float32)
        ok = rows & np.isfinite(pose_raw[:, m, 0, 0])
        if ok.sum() < 2:
            continue
        q = np.zeros((T, 4))
        q[ok] = Rotation.from_matrix(pose_raw[ok, m, :3, :3]).as_quat()
        prev = None
        for t in np.flatnonzero(ok):  # one hemisphere, so components vary continuously
            if prev is not None and q[t] @ prev < 0:
                q[t] = -q[t]
            prev = q[t]
        qs = smooth_series(times, q, ok, mode=cfg.smoothing, beta=float(cfg.beta_rotation), **p_common)
        tr = smooth_series(times, pose_raw[:, m, :3, 3], ok, mode=cfg.smoothing,
                           beta=float(cfg.beta_translation), **p_common)
        pose[ok, m, :3, :3] = Rotation.from_quat(qs[ok]).as_matrix()
        pose[ok, m, :3, 3] = tr[ok]
    bbox = np.full((T, M, 4), np.nan, np.float32)
    if M:
        bbox[present] = _landmark_boxes(lm[present]).astype(np.float32)
    constant_K = bool(np.allclose(Ks, Ks[:1]))
    return FaceTracks(
        ids=np.arange(M, dtype=np.int32), present=present, landmarks=lm, bbox=bbox, cam_from_head=pose,
        cam_from_head_raw=pose_raw, K=Ks[0].copy() if constant_K else Ks.copy(),
        image_size=(video.width, video.height), intervals=video.intervals, landmarks_raw=lm_raw,
    )


def _K_at(faces: FaceTracks, t: int) -> np.ndarray:
    if faces.K is None:
        raise InputError("faces: no intrinsics K stored; cannot project or lift the head pose")
    K = np.asarray(faces.K, np.float64)
    return K[t] if K.ndim == 3 else K


# --------------------------------------------------------------------------------------------
# Writers
# --------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------
# Synthetic faces with known motion (tests and benchmarks/faces.py)
# --------------------------------------------------------------------------------------------
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
