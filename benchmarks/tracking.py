"""Point-tracking benchmark: TAP-Vid metrics on synthetic videos with exact ground truth, and speed.

    python benchmarks/tracking.py                 # accuracy table + speed
    python benchmarks/tracking.py --speed-only    # >= 1000 points, 16 frames of 1280x720, target <= 2 s
    python benchmarks/tracking.py --accuracy-only --option refine_win=15 --option method=dis

Accuracy: layered scenes from :func:`blur4d.tapvid.tracking_scene` (a textured background, a
photo panel and a near panel that moves on its own across it, so points are occluded and
re-appear) under three camera motions, rendered as

* ``sharp``      instantaneous frames at the centres of 16 sub-intervals of the exposure;
* ``blurred``    each frame is the blur (Eq. 1) of its own sub-interval, as a generated clip's
                 frames are;
* ``generated``  blurred + sensor noise + JPEG q=60, closer to what a generator outputs;
* ``ppf``        sharp frames over [-1, 1] (past, present and future: twice the motion).

Ground truth is the projection of reference pixels through each layer's homography
(:func:`blur4d.tapvid.scene_tracks`); queries are sampled TAP-Vid style ('first' and 'strided').
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

import numpy as np


def _frames(scene: Any, intervals: Any, kind: str, seed: int) -> np.ndarray:
    from blur4d.exposure import encode_uint8

    if kind in ("sharp", "ppf"):
        return np.stack([encode_uint8(scene.render(float(s)), "srgb") for s in intervals.centers])
    frames = scene.video(intervals, samples_per_unit=128)
    if kind == "generated":
        import cv2

        rng = np.random.default_rng(seed)
        noisy = np.clip(frames.astype(np.float32) + rng.normal(0, 3.0, frames.shape), 0, 255).astype(np.uint8)
        jpeg = [cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, 60])[1] for f in noisy]
        frames = np.stack([cv2.imdecode(b, cv2.IMREAD_UNCHANGED) for b in jpeg])
    return frames


def make_case(camera: str, kind: str, size: tuple[int, int] = (320, 240), frames: int = 16, step: int = 6,
              seed: int = 0) -> dict[str, Any]:
    """A synthetic tracking case: video, ground-truth tracks on a grid of reference points."""
    from blur4d.tapvid import scene_tracks, tracking_scene
    from blur4d.types import Intervals, Video

    W, H = size
    scene = tracking_scene(W, H, camera=camera)
    ivs = Intervals.past_present_future(frames) if kind == "ppf" else Intervals.present(frames)
    video = Video(_frames(scene, ivs, kind, seed), ivs)
    gy, gx = np.mgrid[step // 2:H:step, step // 2:W:step]
    q = np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float64)
    qi = int(np.argmin(np.abs(ivs.centers)))
    gt_xy, gt_vis, layer = scene_tracks(scene, ivs.centers, qi, q)
    return {"video": video, "gt_xy": gt_xy, "gt_vis": gt_vis, "layer": layer, "size": (W, H)}


def evaluate(case: dict[str, Any], mode: str, options: dict[str, Any]) -> tuple[Any, float]:
    from blur4d.adapters.tracking import BuiltinTracker
    from blur4d.tapvid import evaluate_tracker_output, sample_queries

    idx, qf = sample_queries(case["gt_vis"], mode, stride=5)
    queries = np.concatenate([qf[:, None], case["gt_xy"][qf, idx]], axis=1)
    t0 = time.perf_counter()
    tracks = BuiltinTracker(queries=queries, **options)(case["video"], seed=0)
    dt = time.perf_counter() - t0
    return evaluate_tracker_output(case["gt_xy"], case["gt_vis"], tracks, idx, query_mode=mode,
                                   image_size=case["size"]), dt


def accuracy(options: dict[str, Any], cameras: list[str], kinds: list[str], modes: list[str]) -> list[dict[str, Any]]:
    rows = []
    print(f"{'camera':<10}{'frames':<11}{'mode':<9}{'tracks':>7}{'d_avg':>8}{'OA':>7}{'AJ':>7}"
          f"{'d<1':>7}{'d<4':>7}{'time s':>8}")
    for camera in cameras:
        for kind in kinds:
            case = make_case(camera, kind)
            for mode in modes:
                m, dt = evaluate(case, mode, options)
                rows.append({"camera": camera, "frames": kind, "mode": mode, **m.to_dict(), "time": dt})
                print(f"{camera:<10}{kind:<11}{mode:<9}{m.num_tracks:>7}{m.delta_avg:>8.3f}{m.occlusion_accuracy:>7.3f}"
                      f"{m.average_jaccard:>7.3f}{m.delta[1]:>7.3f}{m.delta[4]:>7.3f}{dt:>8.2f}", flush=True)
    for kind in kinds:
        sel = [r for r in rows if r["frames"] == kind]
        print(f"mean {kind:<10} d_avg {statistics.mean(r['delta_avg'] for r in sel):.3f}  "
              f"OA {statistics.mean(r['occlusion_accuracy'] for r in sel):.3f}  "
              f"AJ {statistics.mean(r['average_jaccard'] for r in sel):.3f}")
    return rows


def speed(options: dict[str, Any], repeats: int = 3, grid: int = 32) -> float:
    """Median seconds to track grid**2 points through 16 frames of 1280x720 (a synthetic
    textured clip with camera motion)."""
    from blur4d.adapters.tracking import BuiltinTracker
    from blur4d.exposure import encode_uint8
    from blur4d.tapvid import tracking_scene
    from blur4d.types import Intervals, Video

    scene = tracking_scene(1280, 720)
    ivs = Intervals.present(16)
    video = Video(np.stack([encode_uint8(scene.render(float(s)), "srgb") for s in ivs.centers]), ivs)
    tracker = BuiltinTracker(grid_size=grid, **options)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        tracks = tracker(video)
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(f"speed: {tracks.num_points} points x {tracks.num_frames} frames of 1280x720: median {med:.2f} s "
          f"(runs {', '.join(f'{t:.2f}' for t in times)}; target <= 2 s); {tracks.visible.mean():.0%} visible")
    return med


def speed_real(options: dict[str, Any], repeats: int = 3, grid: int = 32) -> float | None:
    """The same on the first 16 frames of a real 1280x720 video (shared/data), if present."""
    import os
    from pathlib import Path

    from blur4d.adapters.tracking import BuiltinTracker
    from blur4d.media import read_frames
    from blur4d.types import Intervals, Video

    root = Path(os.environ.get("BLUR4D_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    path = root / "video" / "sam2_gallery" / "03_blocks.mp4"
    if not path.is_file():
        print(f"speed (real): {path} not found, skipped")
        return None
    frames, _ = read_frames(path, max_frames=16)
    video = Video(frames, Intervals.present(len(frames)))
    tracker = BuiltinTracker(grid_size=grid, **options)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        tracks = tracker(video)
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(f"speed (real, {path.name}): {tracks.num_points} points x {tracks.num_frames} frames of "
          f"{video.width}x{video.height}: median {med:.2f} s (runs {', '.join(f'{t:.2f}' for t in times)}); "
          f"{tracks.visible.mean():.0%} visible")
    return med


def _parse_options(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, _, val = item.partition("=")
        for cast in (int, float):
            try:
                out[key] = cast(val)
                break
            except ValueError:
                continue
        else:
            out[key] = {"true": True, "false": False}.get(val.lower(), val)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--speed-only", action="store_true")
    p.add_argument("--accuracy-only", action="store_true")
    p.add_argument("--option", action="append", default=[], help="tracker option key=value (repeatable)")
    p.add_argument("--cameras", default="translate,rotate,static")
    p.add_argument("--frames", default="sharp,blurred,generated,ppf")
    p.add_argument("--modes", default="first,strided")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    options = _parse_options(args.option)
    if options:
        print(f"options: {options}")
    if not args.speed_only:
        accuracy(options, args.cameras.split(","), args.frames.split(","), args.modes.split(","))
    if not args.accuracy_only:
        speed(options, args.repeats)
        speed_real(options, args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
