"""Faces through a clip: MediaPipe landmarks, stable ids, head pose by PnP, lag-free smoothing.

Two backends share everything after detection:

* :class:`FaceMeshTracker` (default): the legacy MediaPipe solutions of ``mediapipe==0.10.14``,
  whose TFLite models ship in the wheel (works offline). Default ``detector="crops"``: the
  full-range and short-range face detectors (with a tile sweep for faces down to ~24 px), Face
  Mesh on upscaled crops, implausible meshes rejected (``crops``); ``detector="facemesh"`` runs
  the Face Mesh solution on whole frames (misses faces under ~1/6 of the frame).
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

Layout: ``config`` (options) -> ``detection`` (MediaPipe plumbing) -> ``crops`` (small faces,
upscaled crops, rejection) -> ``model`` (3D reference face)
-> ``pose`` (PnP) -> ``tracking`` (ids and smoothing over time) -> ``backends``; ``drawing``
(overlay, TUM, PLY outputs) and ``render`` (synthetic test faces) sit beside them. This
``__init__`` only re-exports.
"""

from __future__ import annotations

from .backends import FaceLandmarkerTracker, FaceMeshTracker
from .config import DEFAULT_FOV, SMOOTHING_MODES, FaceLandmarkerConfig, FaceMeshConfig
from .detection import IRIS_CENTRES, NUM_LANDMARKS, NUM_MESH
from .drawing import draw_faces, write_landmark_plys, write_overlay, write_tum
from .model import INTERPUPILLARY_CM, FaceModel, load_face_model
from .pose import intrinsics_for, lift_landmarks, rotation_angle_deg, solve_head_pose
from .render import astronaut_face, render_face_mesh, render_face_surface, roll_face
from .tracking import assign_ids, one_euro, smooth_series

__all__ = [
    "FaceMeshConfig",
    "FaceLandmarkerConfig",
    "DEFAULT_FOV",
    "SMOOTHING_MODES",
    "NUM_LANDMARKS",
    "NUM_MESH",
    "IRIS_CENTRES",
    "FaceModel",
    "load_face_model",
    "INTERPUPILLARY_CM",
    "intrinsics_for",
    "solve_head_pose",
    "rotation_angle_deg",
    "lift_landmarks",
    "assign_ids",
    "one_euro",
    "smooth_series",
    "FaceMeshTracker",
    "FaceLandmarkerTracker",
    "draw_faces",
    "write_overlay",
    "write_tum",
    "write_landmark_plys",
    "astronaut_face",
    "roll_face",
    "render_face_surface",
    "render_face_mesh",
]
