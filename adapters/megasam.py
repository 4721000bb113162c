"""MegaSaM (camera + depth for casual dynamic videos) run from a user's installation.

MegaSaM is research code with compiled CUDA parts and is not on PyPI (see
``third_party/megasam/README.md``). This adapter writes our frames to a work folder, runs the
upstream scripts as subprocesses inside the user's checkout (path from the ``path`` option, the
``--megasam`` flag or ``BLUR4D_MEGASAM``; interpreter from ``python`` or
``BLUR4D_MEGASAM_PYTHON``), and parses the npz it writes (``images``, ``depths``, ``intrinsic``,
``cam_c2w``). Users who ran MegaSaM themselves pass the npz with ``npz=...``.

Short-clip traps handled by :func:`parse_output` (``shared/reference/adapters.md`` section 2):

* fewer poses than frames (keyframe-only poses, and the upstream demo pairs them with the first
  T images): every output image is matched to our frames by content (or by ``tstamps`` when
  present); frames without a pose are ``registered=False``; an ambiguous match is an error;
* intrinsics at the SLAM resolution (area ~384x512, then cropped to multiples of 8 at the
  top-left): K is mapped back to our frames through the resize factor and the crop;
* normalised scale: ``scale_known=False``; depth is in the same arbitrary units as the poses.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from blur4d import geometry as geo
from blur4d.errors import BackendError, InputError, MissingDependencyError
from blur4d.progress import NO_PROGRESS, Progress
from blur4d.types import Cameras, PointCloud, Provenance, Tracks, Video

from ._dense import CameraResult, depth_to_points

__all__ = ["MegaSamCameras", "parse_output", "slam_size", "REQUIRED_KEYS"]

REQUIRED_KEYS = ("images", "depths", "intrinsic", "cam_c2w")
ENV_PATH = "BLUR4D_MEGASAM"
ENV_PYTHON = "BLUR4D_MEGASAM_PYTHON"


def slam_size(width: int, height: int, area: int = 384 * 512) -> tuple[int, int, int, int]:
    """MegaSaM's working size for a (width, height) input: resized to about ``area`` pixels
    (w1, h1), then cropped at the top-left to multiples of 8 -> (w1, h1, w_crop, h_crop)."""
    s = math.sqrt(area / (width * height))
    w1, h1 = int(width * s), int(height * s)
    return w1, h1, w1 - w1 % 8, h1 - h1 % 8


def _match_frames(out_images: np.ndarray, frames: np.ndarray, crop: tuple[int, int, int, int]) -> np.ndarray:
    """For each output image the index of our frame it shows (nearest in mean squared error at
    the output resolution), or -1 when no frame is a clear match."""
    import cv2

    w1, h1, wc, hc = crop
    ours = np.stack([cv2.resize(f, (w1, h1), interpolation=cv2.INTER_AREA)[:hc, :wc]
                     for f in frames]).astype(np.float32)
    outs = out_images.astype(np.float32)
    if outs.shape[1:3] != ours.shape[1:3]:
        ours = np.stack([cv2.resize(o, (outs.shape[2], outs.shape[1]), interpolation=cv2.INTER_AREA) for o in ours])
    d = ((outs[:, None] - ours[None]) ** 2).mean(axis=(2, 3, 4))  # (K, T)
    idx = np.argmin(d, axis=1)
    # an output image that is far from every frame (mean squared error > 100, i.e. ~10 grey
    # levels) is not one of ours
    return np.where(d[np.arange(len(idx)), idx] <= 100.0, idx, -1)


def parse_output(npz_path: str | os.PathLike, frames: np.ndarray, *, intervals: Any = None,
                 depth_stride: int = 4) -> tuple[Cameras, np.ndarray, PointCloud, dict[str, Any]]:
    """MegaSaM's npz -> (Cameras at our frame size, depth (T, H, W) float32 NaN-unknown, fused
    points, info). ``frames`` (T, H, W, 3) uint8 are the frames MegaSaM was run on."""
    import cv2

    path = Path(npz_path)
    if not path.is_file():
        raise BackendError(f"MegaSaM output {path} was not written; see the log above for the failing step")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError) as err:
        raise BackendError(f"MegaSaM output {path} is not a readable npz ({err})") from err
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise BackendError(f"MegaSaM output {path} lacks {', '.join(missing)} (has {', '.join(sorted(data))}); "
                           "expected the *_droid.npz or *_sgd_cvd_hr.npz file")
    T, H, W = frames.shape[:3]
    c2w = np.asarray(data["cam_c2w"], np.float64)
    imgs = np.asarray(data["images"])
    depths = np.asarray(data["depths"], np.float32)
    Kout = np.asarray(data["intrinsic"], np.float64)
    if c2w.ndim != 3 or c2w.shape[1:] != (4, 4):
        raise BackendError(f"MegaSaM output {path}: cam_c2w should be (N, 4, 4), got {c2w.shape}")
    if Kout.shape != (3, 3):
        raise BackendError(f"MegaSaM output {path}: intrinsic should be 3x3, got {Kout.shape}")
    if imgs.ndim != 4 or depths.ndim != 3 or len(imgs) != len(depths) or imgs.shape[1:3] != depths.shape[1:3]:
        raise BackendError(f"MegaSaM output {path}: images {imgs.shape} and depths {depths.shape} do not match")
    n = len(c2w)
    info: dict[str, Any] = {"npz": str(path), "poses": int(n), "frames": int(T), "images": int(len(imgs))}
    hs, ws = imgs.shape[1:3]
    w1, h1, wc, hc = slam_size(W, H)
    if (wc, hc) == (ws, hs):
        sx, sy = w1 / W, h1 / H
        info["resolution"] = f"SLAM size {ws}x{hs}: resized to {w1}x{h1}, cropped at the top-left"
    else:
        sx, sy = ws / W, hs / H
        w1, h1, wc, hc = ws, hs, ws, hs
        info["resolution"] = f"output {ws}x{hs} is not MegaSaM's default SLAM size for {W}x{H}; assumed a plain resize"
    # which of our frames each pose belongs to -------------------------------------------------
    if n == T and len(imgs) == T:
        index = np.arange(T)
        info["pose_mapping"] = "one pose per frame"
    elif "tstamps" in data and len(data["tstamps"]) == n:
        index = np.round(np.asarray(data["tstamps"], np.float64)).astype(int)
        info["pose_mapping"] = "keyframe timestamps"
    elif len(imgs) == n:
        index = _match_frames(imgs, frames, (w1, h1, wc, hc))
        info["pose_mapping"] = "keyframe poses matched to frames by image content"
    else:
        raise BackendError(f"MegaSaM returned {n} poses and {len(imgs)} images for {T} frames and no keyframe "
                           "timestamps: cannot tell which frame each pose belongs to (lower --filter_thresh and "
                           "--warmup so every frame becomes a keyframe)")
    valid = (index >= 0) & (index < T)
    if len(set(index[valid].tolist())) != int(valid.sum()):
        raise BackendError(f"MegaSaM returned {n} poses for {T} frames and they cannot be matched to distinct frames "
                           f"(matches {index.tolist()}); lower filter_thresh and warmup so every frame is a keyframe")
    if valid.sum() < 2:
        raise BackendError(f"MegaSaM posed {int(valid.sum())} of {T} frames; need at least 2")
    K = Kout.copy()
    K[0, 0] /= sx
    K[1, 1] /= sy
    K[0, 2] = (K[0, 2] + 0.5) / sx - 0.5
    K[1, 2] = (K[1, 2] + 0.5) / sy - 0.5
    Tcw = np.full((T, 4, 4), np.nan)
    reg = np.zeros(T, bool)
    depth = np.full((T, H, W), np.nan, np.float32)
    Hc, Wc = min(H, int(round(hc / sy))), min(W, int(round(wc / sx)))
    for k in np.flatnonzero(valid):
        t = int(index[k])
        Tcw[t] = geo.invert(c2w[k])
        reg[t] = True
        d = depths[k].astype(np.float32)
        d = np.where(np.isfinite(d) & (d > 1e-3 + 1e-6) & (d < 100.0 - 1e-3), d, np.nan)  # clip bounds = unknown
        up = cv2.resize(d, (Wc, Hc), interpolation=cv2.INTER_NEAREST)
        depth[t, :Hc, :Wc] = up
    if not np.isfinite(Tcw[reg]).all():
        raise BackendError(f"MegaSaM output {path}: cam_c2w holds non-finite values")
    cams = Cameras(K=np.repeat(K[None], T, 0), cam_from_world=Tcw, image_size=(W, H), intervals=intervals,
                   registered=reg, scale_known=False, ok=bool(reg.sum() >= 2),
                   reason="" if reg.all() else f"MegaSaM posed {int(reg.sum())} of {T} frames (keyframes only)",
                   motion="")
    clouds = [depth_to_points(depth[t], frames[t], K, Tcw[t], t, stride=depth_stride)
              for t in np.flatnonzero(reg)]
    points = PointCloud.concatenate(clouds) if clouds else PointCloud(np.zeros((0, 3), np.float32),
                                                                       np.zeros((0, 3), np.uint8))
    info.update({"scale": "normalised by MegaSaM (98th-percentile disparity = 2); not metric",
                 "registered": int(reg.sum()), "points": int(len(points))})
    return cams, depth, points, info


@dataclass
class MegaSamCameras:
    """Camera poses and depth from a MegaSaM installation (CUDA), run as subprocesses."""

    path: str | None = None
    """MegaSaM checkout (with checkpoints/); default: the BLUR4D_MEGASAM environment variable."""
    python: str | None = None
    """Python interpreter of MegaSaM's environment; default BLUR4D_MEGASAM_PYTHON, else 'python'."""
    npz: str | None = None
    """Parse this existing MegaSaM output instead of running MegaSaM."""
    depth_anything: str = "checkpoints/depth_anything_vitl14.pth"
    """Depth-Anything weights, relative to the checkout or absolute."""
    weights: str = "checkpoints/megasam_final.pth"
    """MegaSaM weights, relative to the checkout or absolute."""
    filter_thresh: float = 0.1
    """Flow threshold for new keyframes (upstream default 2.0 drops most frames of a short clip)."""
    warmup: int = 3
    """Keyframes before the SLAM initialises (upstream 8; a 16-frame clip needs fewer)."""
    cvd: bool = False
    """Also run RAFT flow + consistent video depth and read the optimised depth (needs raft-things.pth)."""
    raft: str = "checkpoints/raft-things.pth"
    """RAFT weights for the cvd step."""
    timeout_s: float = 3600.0
    """Give up on a step after this many seconds."""
    dense: bool = True
    """Back-project the depth maps into a point cloud."""
    depth_stride: int = 4
    """Pixel stride when back-projecting depth into points."""

    def _root(self) -> Path:
        root = self.path or os.environ.get(ENV_PATH)
        if not root:
            raise MissingDependencyError(
                "cameras backend 'megasam' needs a MegaSaM installation: pass --megasam PATH (or the path option) "
                f"or set {ENV_PATH}; see third_party/megasam/README.md")
        p = Path(root).expanduser()
        if not (p / "camera_tracking_scripts").is_dir():
            raise MissingDependencyError(
                f"cameras backend 'megasam': {p} is not a MegaSaM checkout (no camera_tracking_scripts/); "
                "see third_party/megasam/README.md")
        return p

    def steps(self, root: Path, frames_dir: Path, work: Path, scene: str) -> list[list[str]]:
        """The upstream commands (see third_party/megasam/README.md), run with cwd = the checkout."""
        py = self.python or os.environ.get(ENV_PYTHON) or "python"

        def rel(p: str) -> str:
            return p if os.path.isabs(p) else str(root / p)

        cmds = [
            [py, "Depth-Anything/run_videos.py", "--encoder", "vitl", "--load-from", rel(self.depth_anything),
             "--img-path", str(frames_dir), "--outdir", str(work / "Depth-Anything" / scene)],
            [py, "UniDepth/scripts/demo_mega-sam.py", "--scene-name", scene, "--img-path", str(frames_dir),
             "--outdir", str(work / "UniDepth")],
            [py, "camera_tracking_scripts/test_demo.py", f"--datapath={frames_dir}", f"--weights={rel(self.weights)}",
             "--scene_name", scene, "--mono_depth_path", str(work / "Depth-Anything"),
             "--metric_depth_path", str(work / "UniDepth"), "--disable_vis",
             "--filter_thresh", f"{self.filter_thresh:g}", "--warmup", str(int(self.warmup))],
        ]
        if self.cvd:
            cmds += [
                [py, "cvd_opt/preprocess_flow.py", f"--datapath={frames_dir}", f"--model={rel(self.raft)}",
                 "--scene_name", scene, "--mixed_precision"],
                [py, "cvd_opt/cvd_opt.py", "--scene_name", scene, "--w_grad", "2.0", "--w_normal", "5.0"],
            ]
        return cmds

    def run(self, video: Video, progress: Progress = NO_PROGRESS) -> Path:
        """Run MegaSaM on the clip; returns the npz it wrote."""
        from PIL import Image

        root = self._root()
        work = Path(tempfile.mkdtemp(prefix="blur4d-megasam-"))
        scene = f"blur4d_{os.getpid()}_{int(time.time())}"
        frames_dir = work / "frames" / scene
        frames_dir.mkdir(parents=True)
        for i, f in enumerate(video.frames):
            Image.fromarray(f).save(frames_dir / f"{i:05d}.png")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root / "UniDepth"), env.get("PYTHONPATH", "")) if p)
        cmds = self.steps(root, frames_dir, work, scene)
        for k, cmd in enumerate(cmds):
            progress("megasam", k, len(cmds))
            try:
                proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=self.timeout_s)
            except FileNotFoundError as err:
                raise MissingDependencyError(f"cameras backend 'megasam': cannot run {cmd[0]!r} ({err}); set python= "
                                             f"or {ENV_PYTHON} to MegaSaM's interpreter") from err
            except subprocess.TimeoutExpired as err:
                raise BackendError(f"MegaSaM step {cmd[1]} ran over {self.timeout_s:.0f} s") from err
            if proc.returncode != 0:
                tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-3:]
                raise BackendError(f"MegaSaM step {cmd[1]} failed (exit {proc.returncode}): {' | '.join(tail)}")
        progress("megasam", len(cmds), len(cmds))
        cvd = root / "outputs_cvd" / f"{scene}_sgd_cvd_hr.npz"
        out = cvd if self.cvd and cvd.is_file() else root / "outputs" / f"{scene}_droid.npz"
        keep = work / out.name
        if out.is_file():
            shutil.move(str(out), keep)
        return keep

    def __call__(self, video: Video, *, tracks: Tracks | None = None, seed: int | None = 0,
                 progress: Progress = NO_PROGRESS) -> CameraResult:
        if self.depth_stride < 1:
            raise InputError(f"depth_stride: expected >= 1, got {self.depth_stride}")
        t0 = time.perf_counter()
        npz = Path(self.npz) if self.npz else self.run(video, progress)
        t_run = time.perf_counter() - t0
        cams, depth, points, info = parse_output(npz, video.frames, intervals=video.intervals,
                                                 depth_stride=self.depth_stride)
        prov = Provenance.capture("megasam", asdict(self), seed=seed, timings={"megasam": t_run},
                                  info=info)
        cams = Cameras(K=cams.K, cam_from_world=cams.cam_from_world, image_size=cams.image_size,
                       intervals=cams.intervals, registered=cams.registered, scale_known=False, ok=cams.ok,
                       reason=cams.reason, motion=cams.motion, provenance=prov)
        return CameraResult(cameras=cams, points=points if self.dense else None, dynamic=(), depth=depth,
                            info={**info, "dynamic": "MegaSaM's npz carries no motion mask; no dynamic split"})
