"""Robust small-baseline structure from motion for short generated clips (7-17 frames), on
pycolmap's estimators, then dense points (:mod:`blur4d.adapters._dense`).

Why not COLMAP's incremental mapper with default options: on clips with a few pixels of
parallax it registers few frames, drifts the focal length and varies from run to run (see
``shared/reference/field-notes.md``). This backend instead:

1. tracks corners from the first and the last frame into every frame with pyramidal
   Lucas-Kanade (each frame matched directly against the anchor frame, forward-backward checked),
   adds the tracks of the tracking stage when given, and SIFT matches between the first and the
   last frame;
2. uses one shared pinhole camera with a focal prior (an explicit focal, the EXIF 35 mm
   equivalent, or a horizontal field of view of ``fov_deg``, default 60 degrees);
3. measures the parallax of every frame pair (residual after the best homography) and
   initialises from the pair with the most parallax (``pycolmap.estimate_relative_pose``,
   LO-RANSAC with a fixed seed); no parallax anywhere is reported as pure rotation (rotations
   from the homographies, no depth) or a static camera, with ``ok=False``;
4. registers the other frames by PnP (``pycolmap.estimate_and_refine_absolute_pose``),
   triangulates all tracks, and runs a robust bundle adjustment (scipy ``least_squares``,
   soft-L1, sparse Jacobian); the focal length is freed only when the data constrain it
   (posterior standard deviation below ``focal_observable`` of its value);
5. flags tracks whose reprojection error stays high as independent motion.

Everything is deterministic: fixed RANSAC seeds, no threads in the estimators.

The structure from motion itself is :mod:`blur4d.adapters.sfm` (bundle adjustment in
:mod:`blur4d.adapters._bundle`); this module is the camera backend around it.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable

import numpy as np

from blur4d.errors import InputError
from blur4d.progress import NO_PROGRESS, Progress
from blur4d.types import Cameras, PointCloud, Provenance, Tracks, Video

from ._dense import CameraResult, DenseOptions, dense_points, scale_intrinsics
from .sfm import _klt_from, _sift_pair, solve_sfm

__all__ = ["ColmapCameras", "CameraResult", "focal_prior", "solve_sfm"]

log = logging.getLogger("blur4d.adapters.colmap")


def focal_prior(width: int, height: int, *, focal_px: float | None = None, focal_35mm: float | None = None,
                fov_deg: float = 60.0) -> tuple[float, str]:
    """Focal length in pixels and where it came from. The 35 mm equivalent refers to the
    diagonal of a 36x24 mm frame (43.27 mm)."""
    if focal_px is not None and focal_px > 0:
        return float(focal_px), "given focal_px"
    if focal_35mm is not None and focal_35mm > 0:
        return float(focal_35mm) * math.hypot(width, height) / math.hypot(36.0, 24.0), \
            f"EXIF 35 mm equivalent {focal_35mm:g} mm"
    return 0.5 * width / math.tan(math.radians(fov_deg) / 2), f"horizontal field-of-view prior {fov_deg:g} deg"


def parse_intrinsics(value: Any, what: str = "--intrinsics") -> tuple[float, float, float, float]:
    """A full pinhole K as (fx, fy, cx, cy) in pixels of the input frames, from: a sequence of 4
    numbers; a 3x3 matrix; the text "fx,fy,cx,cy"; or a file holding JSON {"fx","fy","cx","cy"},
    JSON [[3x3]] / {"K": [[3x3]]}, or a 3x3 matrix as text (3 lines of 3 numbers). Pixel centres
    at integer coordinates. Raises InputError with one line on anything else."""
    import json
    from pathlib import Path

    def check(v: Any) -> tuple[float, float, float, float]:
        try:
            a = np.asarray(v, np.float64)
        except (TypeError, ValueError):
            raise InputError(f"{what}: expected numbers, got {v!r}") from None
        if a.shape == (3, 3):
            if abs(a[0, 1]) > 1e-9 * max(1.0, abs(a[0, 0])) or np.any(np.abs(a[2] - [0, 0, 1]) > 1e-9) or a[1, 0] != 0:
                raise InputError(f"{what}: a 3x3 K must be [[fx,0,cx],[0,fy,cy],[0,0,1]] (no skew), got {a.tolist()}")
            a = np.array([a[0, 0], a[1, 1], a[0, 2], a[1, 2]])
        if a.shape != (4,):
            raise InputError(f"{what}: expected fx,fy,cx,cy (4 numbers) or a 3x3 K, got shape {a.shape}")
        if not np.isfinite(a).all() or a[0] <= 0 or a[1] <= 0:
            raise InputError(f"{what}: fx and fy must be positive and all values finite, got {a.tolist()}")
        return tuple(float(x) for x in a)  # type: ignore[return-value]

    if isinstance(value, (str, Path)):
        text = str(value).strip()
        path = Path(text)
        if "," in text and not path.exists():
            parts = [p.strip() for p in text.split(",")]
            try:
                nums = [float(p) for p in parts]
            except ValueError:
                raise InputError(f"{what}: expected fx,fy,cx,cy as numbers, got {text!r}") from None
            return check(nums)
        if not path.is_file():
            raise InputError(f"{what}: {text!r} is neither fx,fy,cx,cy nor a file")
        body = path.read_text(encoding="utf-8", errors="replace").strip()
        try:
            data = json.loads(body)
        except ValueError:
            try:
                data = [[float(x) for x in line.replace(",", " ").split()] for line in body.splitlines() if line.strip()]
            except ValueError:
                raise InputError(f"{what} file {path}: expected JSON or a 3x3 matrix as text") from None
        if isinstance(data, dict):
            if "K" in data:
                data = data["K"]
            elif all(k in data for k in ("fx", "fy", "cx", "cy")):
                data = [data["fx"], data["fy"], data["cx"], data["cy"]]
            else:
                raise InputError(f"{what} file {path}: JSON needs keys fx, fy, cx, cy (or K: 3x3)")
        return check(data)
    return check(value)


@dataclass
class ColmapCameras:
    """Robust small-baseline SfM (pycolmap estimators + robust bundle adjustment) and dense
    flow-stereo points. Options are the fields below."""

    fov_deg: float = 60.0
    """Horizontal field of view (deg) of the focal prior when neither focal_px nor focal_35mm is given."""
    focal_px: float | None = None
    """Focal length in pixels of the input frames (overrides the prior)."""
    focal_35mm: float | None = None
    """35 mm-equivalent focal length (e.g. from the photo's EXIF)."""
    intrinsics: Any = None
    """A known full K of the input frames: (fx, fy, cx, cy), a 3x3 matrix, "fx,fy,cx,cy" or a file
    (see :func:`parse_intrinsics`). Used as given (not refined unless refine_focal='always');
    overrides fov_deg, focal_px and focal_35mm."""
    depth_min_parallax_px: float = 1.0
    """Depth is observable only if the static points' median parallax (px at long_side) reaches this..."""
    depth_noise_sigmas: float = 10.0
    """...and this many times the measured reprojection noise (a median relative depth sigma of 10 %)."""
    refine_focal: str = "auto"
    """auto: free the focal only when the data constrain it; never; always."""
    focal_observable: float = 0.02
    """Refine the focal only if its posterior standard deviation is below this fraction."""
    long_side: int = 960
    """Long side (px) of the frames used for tracking and SfM."""
    max_corners: int = 2000
    """Corners tracked from each anchor frame (first and last)."""
    sift_features: int = 2000
    """SIFT features for first-last matching (0 disables SIFT)."""
    min_inliers: int = 30
    """Fewer inlier correspondences than this is a failure (ok=False, 'too few inliers')."""
    min_parallax_px: float = 0.3
    """Median residual parallax (px at long_side) below which the motion is treated as pure rotation."""
    ransac_px: float = 1.0
    """RANSAC inlier threshold in pixels (at long_side)."""
    dynamic_px: float = 2.0
    """A track whose RMS reprojection error exceeds this (px) moves on its own."""
    max_ba_points: int = 1000
    """Tracks used in bundle adjustment (a seeded random subset; all are triangulated afterwards)."""
    dense: bool = True
    """Compute dense points (flow stereo) after the cameras."""
    dense_long_side: int = 640
    """Long side (px) for dense matching."""
    dense_dynamic_seed_px: float = 3.0
    """Dense moving content: a region counts as moving only if some of its epipolar residuals exceed
    this (px at dense_long_side); 1-2 px residual blobs on generated clips are generator artefacts."""

    def __post_init__(self) -> None:
        if self.refine_focal not in ("auto", "never", "always"):
            raise InputError(f"refine_focal: expected auto, never or always, got {self.refine_focal!r}")
        if not 1.0 < float(self.fov_deg) < 179.0:
            raise InputError(f"fov_deg: expected a field of view between 1 and 179 degrees, got {self.fov_deg}")
        if not float(self.dense_dynamic_seed_px) > 0:
            raise InputError(f"dense_dynamic_seed_px: expected a positive residual in px, "
                             f"got {self.dense_dynamic_seed_px}")
        if self.intrinsics is not None:
            self.intrinsics = parse_intrinsics(self.intrinsics)
        if self.long_side < 64 or self.dense_long_side < 64:
            raise InputError(f"long_side/dense_long_side: expected >= 64 px, "
                             f"got {self.long_side}/{self.dense_long_side}")

    def __call__(self, video: Video, *, tracks: Tracks | None = None, seed: int | None = 0,
                 progress: Progress = NO_PROGRESS,
                 on_cameras: Callable[[Cameras], None] | None = None) -> CameraResult:
        """Cameras and dense points of ``video``. ``on_cameras`` is called with the cameras as soon
        as they are solved, before the dense points (their poses and K are final then; only the
        provenance grows), so that work needing only the cameras can start."""
        import cv2

        from blur4d.registry import require

        require("pycolmap", extra="colmap", feature="the colmap camera backend")
        seed = 0 if seed is None else int(seed)
        t_start = time.perf_counter()
        timings: dict[str, float] = {}
        frames = video.frames
        T, H, Wf = frames.shape[:3]
        s = min(1.0, self.long_side / max(H, Wf))
        w, h = (max(8, round(Wf * s)), max(8, round(H * s))) if s < 1 else (Wf, H)
        sx, sy = w / Wf, h / H
        gray = np.stack([cv2.cvtColor(cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) if s < 1 else f,
                                      cv2.COLOR_RGB2GRAY) for f in frames])
        progress("cameras", 0, 4)
        min_dist = max(4, int(round(min(w, h) / 60)))
        parts = [_klt_from(gray, 0, self.max_corners, min_dist, 0.5)]
        if T > 1:
            parts.append(_klt_from(gray, T - 1, self.max_corners, min_dist, 0.5))
        n_track_stage = 0
        if tracks is not None and tracks.num_frames == T:
            ext = np.where(tracks.visible[..., None], tracks.xy.astype(np.float64), np.nan)
            ext = (ext + 0.5) * np.array([sx, sy]) - 0.5
            parts.append(ext)
            n_track_stage = tracks.num_points
        n_sift = 0
        if self.sift_features > 0 and T > 2:
            a, b = _sift_pair(gray[0], gray[-1], self.sift_features)
            if len(a):
                sm = np.full((T, len(a), 2), np.nan)
                sm[0], sm[-1] = a, b
                parts.append(sm)
                n_sift = len(a)
        obs = np.concatenate(parts, axis=1)
        obs = obs[:, np.isfinite(obs[..., 0]).sum(0) >= 2]
        timings["correspondences"] = time.perf_counter() - t_start
        progress("cameras", 1, 4)
        if self.intrinsics is not None:
            fx, fy, cx, cy = self.intrinsics
            f_full, f_src = fx, f"given intrinsics fx={fx:g} fy={fy:g} cx={cx:g} cy={cy:g}"
            Kw = scale_intrinsics(np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1.0]]), sx, sy)
            k_work = (Kw[0, 0], Kw[1, 1], Kw[0, 2], Kw[1, 2])
        else:
            f_full, f_src = focal_prior(Wf, H, focal_px=self.focal_px, focal_35mm=self.focal_35mm,
                                        fov_deg=self.fov_deg)
            k_work = None
        t1 = time.perf_counter()
        sfm = solve_sfm(obs, (w, h), f_full * sx, seed=seed, min_inliers=self.min_inliers,
                        min_parallax_px=self.min_parallax_px, ransac_px=self.ransac_px,
                        refine_focal=self.refine_focal, focal_observable=self.focal_observable,
                        dynamic_px=self.dynamic_px, max_ba_points=self.max_ba_points, intrinsics=k_work,
                        depth_min_parallax_px=self.depth_min_parallax_px,
                        depth_noise_sigmas=self.depth_noise_sigmas)
        observable = sfm.info.get("depth_observable")
        per_point = {k: np.asarray(sfm.info.pop(k, [])) for k in ("point_parallax_px", "point_rel_depth_sigma")}
        if observable is False and sfm.motion == "translation":
            # the poses' translations and every depth rest on parallax within the noise
            sfm.ok = False
            note = "depth not observable: " + sfm.info["depth_observable_reason"]
            sfm.reason = "; ".join(r for r in (sfm.reason, note) if r)
        timings["sfm"] = time.perf_counter() - t1
        progress("cameras", 3, 4)
        K_full = scale_intrinsics(sfm.K, 1.0 / sx, 1.0 / sy)
        info = dict(sfm.info)
        info.update({"focal_prior": f_src, "focal_prior_px": f_full, "work_size": [w, h],
                     "correspondences": {"klt_anchors": [0, T - 1], "tracking_stage": n_track_stage,
                                         "sift_first_last": n_sift, "total_tracks": int(obs.shape[1])}})
        prov = Provenance.capture("colmap", asdict(self), seed=seed, packages=("pycolmap", "opencv-contrib-python", "scipy"),
                                  timings=timings, method="small-baseline SfM: widest-pair init, PnP, robust BA",
                                  info=_jsonable(info))
        cams = Cameras(K=np.repeat(K_full[None], T, 0), cam_from_world=sfm.poses, image_size=(Wf, H),
                       intervals=video.intervals, registered=sfm.registered, scale_known=False, ok=sfm.ok,
                       reason=sfm.reason, motion=sfm.motion, provenance=prov)
        if on_cameras is not None:
            on_cameras(cams)
        sparse = None
        if sfm.point_ok.any() and observable is not False:
            Xs = sfm.points[sfm.point_ok]
            uv = obs[sfm.ref, sfm.point_ok]
            have = np.isfinite(uv).all(1)
            rgb = np.full((len(Xs), 3), 200, np.uint8)
            if have.any():
                uvf = (uv[have] + 0.5) / np.array([sx, sy]) - 0.5
                xi = np.clip(np.round(uvf[:, 0]).astype(int), 0, Wf - 1)
                yi = np.clip(np.round(uvf[:, 1]).astype(int), 0, H - 1)
                rgb[have] = frames[sfm.ref, yi, xi]
            rel = per_point["point_rel_depth_sigma"]
            conf = (1.0 / (1.0 + (rel / 0.01) ** 2) if len(rel) == len(Xs) else np.ones(len(Xs))).astype(np.float32)
            sparse = PointCloud(Xs.astype(np.float32), rgb, frame=np.full(len(Xs), -1, np.int32), confidence=conf)
        points, dynamic, depth = None, (), None
        if observable is False and sfm.motion == "translation":
            info["dense"] = {"skipped": "depth not observable: " + sfm.info["depth_observable_reason"]}
        elif self.dense and sfm.motion == "translation" and sfm.registered.sum() >= 2:
            t2 = time.perf_counter()
            noise = sfm.info.get("reprojection_noise_px")
            d_scale = min(1.0, self.dense_long_side / max(H, Wf)) / min(1.0, self.long_side / max(H, Wf))
            dense_opts = DenseOptions(long_side=self.dense_long_side, dynamic_seed_px=self.dense_dynamic_seed_px,
                                      noise_px=float(noise) * d_scale if noise else 0.0)
            points, dynamic, depth, dinfo = dense_points(frames, cams, sfm.ref, options=dense_opts, progress=progress)
            timings["dense"] = time.perf_counter() - t2
            info["dense"] = dinfo
        elif sfm.motion in ("rotation-only", "static"):
            info["dense"] = {"skipped": "no baseline: depth is not observable"}
        timings["total"] = time.perf_counter() - t_start
        prov = prov.with_timings(**timings)
        cams = Cameras(K=cams.K, cam_from_world=cams.cam_from_world, image_size=cams.image_size,
                       intervals=cams.intervals, registered=cams.registered, scale_known=False, ok=cams.ok,
                       reason=cams.reason, motion=cams.motion,
                       provenance=Provenance(prov.backend, prov.config, prov.seed, prov.timings, prov.packages,
                                             prov.created, {**prov.extra, "info": _jsonable(info)}))
        progress("cameras", 4, 4)
        return CameraResult(cameras=cams, points=points, dynamic=tuple(dynamic), depth=depth, sparse=sparse,
                            info=_jsonable(info))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
