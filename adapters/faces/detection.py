"""MediaPipe plumbing for the face backends: landmark topology, quiet calls, normalised -> pixel
coordinates, boxes.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from typing import Any, Iterable

import numpy as np

log = logging.getLogger("blur4d.faces")


NUM_LANDMARKS = 478


NUM_MESH = 468


IRIS_CENTRES = (468, 473)


def _static_landmarks(img: np.ndarray) -> np.ndarray | None:
    mp = _import_mediapipe()
    with _quiet(), mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1,
                                                   refine_landmarks=True) as fm:
        res = fm.process(np.ascontiguousarray(img))
    if not res.multi_face_landmarks:
        return None
    return _normalized_to_pixels(res.multi_face_landmarks[0].landmark, img.shape[1], img.shape[0]).astype(np.float64)


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


def _timestamps_ms(n: int, fps: float) -> np.ndarray:
    """Strictly increasing integer milliseconds for MediaPipe's VIDEO mode."""
    ts = np.round(np.arange(n) * 1000.0 / float(fps)).astype(np.int64)
    for i in range(1, n):
        ts[i] = max(ts[i], ts[i - 1] + 1)
    return ts
