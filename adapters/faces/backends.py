"""The two face backends (Face Mesh, Face Landmarker) and their options."""

from __future__ import annotations

import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from blur4d.errors import BackendError, InputError
from blur4d.progress import NO_PROGRESS, Progress
from blur4d.types import FaceTracks, Provenance, Video

from .config import FaceLandmarkerConfig, FaceMeshConfig
from .detection import (
    NUM_LANDMARKS,
    _import_mediapipe,
    _iou,
    _landmark_boxes,
    _normalized_to_pixels,
    _quiet,
    _timestamps_ms,
    log,
)
from .model import FaceModel, _find_geometry_in_task, _mediapipe_to_head, _parse_geometry_metadata, load_face_model
from .pose import _resolve_K
from .tracking import _build_tracks


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
            f"faces.{self.name}", cfg, packages=("mediapipe", "opencv-contrib-python", "scipy"),
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
        if self.config.detector == "crops":
            return self._detect_crops(video, progress)
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

    def _detect_crops(self, video: Video, progress: Progress) -> tuple[list[np.ndarray], dict[str, Any]]:
        from .crops import CropFaceDetector

        mp = _import_mediapipe()
        cfg = self.config
        T = video.num_frames
        out: list[np.ndarray] = []
        progress("faces", 0, T)
        with _quiet():
            det = CropFaceDetector(mp, video.width, video.height, min_score=float(cfg.min_detection_confidence),
                                   max_faces=int(cfg.max_faces), min_face_px=float(cfg.min_face_px),
                                   tile_period=int(cfg.tile_period), tiles_per_frame=int(cfg.tiles_per_frame),
                                   coarse_tiles_per_frame=int(cfg.coarse_tiles_per_frame),
                                   sweep_changes=bool(cfg.sweep_changes), min_change=float(cfg.min_change),
                                   shift_tolerant_change=bool(cfg.shift_tolerant_change),
                                   follow_camera=bool(cfg.follow_camera),
                                   strip_peaks=bool(cfg.strip_peaks),
                                   max_reprojection=float(cfg.max_reprojection),
                                   model=self._default_face_model().mesh, track=not cfg.static_image_mode)
            try:
                for t in range(T):
                    out.append(det(video.frames[t]))
                    progress("faces", t + 1, T)
            finally:
                det.close()
        return out, dict(det.stats)


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
