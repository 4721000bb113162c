"""Point-tracking benchmark: TAP-Vid metrics on synthetic videos with exact ground truth, and speed.

    python benchmarks/tracking.py                 # accuracy table + speed
    python benchmarks/tracking.py --speed-only    # >= 1000 points, 16 frames of 1280x720, target <= 2 s
    python benchmarks/tracking.py --accuracy-only --option refine_win=15 --option method=dis
    python benchmarks/tracking.py --raycast --cache /tmp/rc    # ray-cast occluders + confidence reliability
    python benchmarks/tracking.py --jitter        # 0.001 px query shifts on real clips (max, p99, > 1 px)
    python benchmarks/tracking.py --jitter --jitter-eps 0.001,0.05   # also a shift over the query lattice step
    python benchmarks/tracking.py --realblur      # real 240 fps footage against flow PSEUDO-truth
    python benchmarks/tracking.py --calibrate --modes first --cache /tmp/rc   # refit the models

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


def stability_cost(rounds: int = 3, options: dict[str, Any] | None = None) -> dict[str, float]:
    """CPU (process_time) of tracking 1,024 points x 16 frames at 1280x720 with the stability runs
    (default) against the same tracker without them (``stability_offset=0``), in one process:
    median of ``rounds`` interleaved rounds, each the min of 3 runs; synthetic clip and, if
    present, the first 16 frames of 03_blocks. ``options`` go to both trackers."""
    from blur4d.adapters.tracking import BuiltinTracker
    from blur4d.exposure import encode_uint8
    from blur4d.media import read_frames
    from blur4d.tapvid import tracking_scene
    from blur4d.types import Intervals, Video

    scene = tracking_scene(1280, 720)
    ivs = Intervals.present(16)
    clips = {"synthetic": Video(np.stack([encode_uint8(scene.render(float(s)), "srgb") for s in ivs.centers]), ivs)}
    path = _shared_root() / "video" / "sam2_gallery" / "03_blocks.mp4"
    if path.is_file():
        frames, _ = read_frames(path, max_frames=16)
        clips["blocks"] = Video(frames, Intervals.present(len(frames)))
    out = {}
    for name, video in clips.items():
        opts = {"grid_size": 32, **(options or {})}
        trackers = {"on": BuiltinTracker(**opts), "off": BuiltinTracker(**{**opts, "stability_offset": 0.0})}
        times: dict[str, list[float]] = {k: [] for k in trackers}
        for _ in range(rounds):
            for key, tracker in trackers.items():
                best = np.inf
                for _ in range(3):
                    t0 = time.process_time()
                    tracker(video)
                    best = min(best, time.process_time() - t0)
                times[key].append(best)
        on, off = statistics.median(times["on"]), statistics.median(times["off"])
        out[name] = on / off
        print(f"stability cost ({name}, 1,024 points x 16 frames of {video.width}x{video.height}): CPU {on:.2f} s "
              f"with the stability runs, {off:.2f} s without ({on / off:.2f}x)", flush=True)
    return out


# ------------------------------------------------------------------------------------------
# Ray-cast occluder scenes (another renderer: open3d), fast motion at native frame rate
# ------------------------------------------------------------------------------------------
RAYCAST_EVAL = {"raycast-sharp": {"seed": (0, 1, 2), "blur": 1}, "raycast-blur": {"seed": (3, 4, 5), "blur": 4}}
"""Evaluation clips (60 frames, 320x240); the visibility model is calibrated on other seeds
(:data:`RAYCAST_CALIB`), never on these."""
RAYCAST_CALIB = {"seed": (100, 101, 102, 103), "blur": (1, 4, 1, 4)}


def raycast_case(seed: int, blur: int, frames: int = 60, size: tuple[int, int] = (320, 240),
                 cache: str | None = None, max_tracks: int = 1000) -> dict[str, Any]:
    """A ray-cast occluder clip (:func:`blur4d.raycast.occluder_clip`), cached as .npz in ``cache``."""
    import os
    from pathlib import Path

    from blur4d.raycast import occluder_clip
    from blur4d.types import Intervals, Video

    path = Path(cache) / f"raycast_{seed}_{blur}_{frames}_{size[0]}x{size[1]}.npz" if cache else None
    if path is not None and path.is_file():
        z = np.load(path, allow_pickle=False)
        frames_arr, gt_xy, gt_vis = z["frames"], z["gt_xy"], z["gt_vis"]
    else:
        clip = occluder_clip(size[0], size[1], frames, seed=seed, blur=blur, ss=1 if blur > 1 else 2)
        frames_arr, gt_xy, gt_vis = clip["frames"], clip["gt_xy"], clip["gt_vis"]
        if path is not None:
            os.makedirs(path.parent, exist_ok=True)
            tmp = path.with_suffix(".tmp.npz")
            np.savez_compressed(tmp, frames=frames_arr, gt_xy=gt_xy, gt_vis=gt_vis)
            os.replace(tmp, path)
    video = Video(frames_arr, Intervals.present(len(frames_arr)))
    keep = slice(None, None, max(1, gt_xy.shape[1] // max_tracks + 1))  # every k-th track: bounded time
    return {"video": video, "gt_xy": gt_xy[:, keep], "gt_vis": gt_vis[:, keep], "size": size}


def baselines(case: dict[str, Any], mode: str, tracks: Any) -> dict[str, Any]:
    """The trivial baselines beside the tracker: 'always visible' at the query position
    (nothing moves) and 'always visible' at the tracker's positions."""
    from blur4d.tapvid import sample_queries, tapvid_metrics

    idx, qf = sample_queries(case["gt_vis"], mode, stride=5)
    gt_xy, gt_vis = case["gt_xy"][:, idx], case["gt_vis"][:, idx]
    T, N = gt_vis.shape
    held = np.repeat(gt_xy[qf, np.arange(N)][None], T, 0)
    allvis = np.ones((T, N), bool)
    kw = {"image_size": case["size"], "query_mode": mode}
    return {"held": tapvid_metrics(gt_xy, gt_vis, held, allvis, qf, **kw),
            "tracked": tapvid_metrics(gt_xy, gt_vis, tracks.xy, allvis, qf, **kw)}


def raycast_accuracy(options: dict[str, Any], modes: list[str], cache: str | None) -> list[dict[str, Any]]:
    """TAP-Vid metrics on the ray-cast evaluation clips, beside both 'always visible' baselines."""
    from blur4d.adapters.tracking import BuiltinTracker
    from blur4d.tapvid import evaluate_tracker_output, sample_queries

    rows = []
    rel: dict[str, list[np.ndarray]] = {"conf": [], "vis": [], "within": []}
    print(f"{'dataset':<15}{'seed':>5} {'mode':<8}{'tracks':>7} | {'tracker d_avg/OA/AJ':>21} | "
          f"{'held+allvis':>19} | {'tracked+allvis':>19} |{'vis%':>6}{'gt vis%':>8}{'s':>6}")
    for name, spec in RAYCAST_EVAL.items():
        for seed in spec["seed"]:
            case = raycast_case(seed, spec["blur"], cache=cache)
            for mode in modes:
                idx, qf = sample_queries(case["gt_vis"], mode, stride=5)
                queries = np.concatenate([qf[:, None], case["gt_xy"][qf, idx]], axis=1)
                t0 = time.perf_counter()
                tracks = BuiltinTracker(queries=queries, **options)(case["video"], seed=0)
                dt = time.perf_counter() - t0
                m = evaluate_tracker_output(case["gt_xy"], case["gt_vis"], tracks, idx, query_mode=mode,
                                            image_size=case["size"])
                b = baselines(case, mode, tracks)
                gv = case["gt_vis"][:, idx]
                ev = (np.arange(len(gv))[:, None] > qf[None]) if mode == "first" else (np.arange(len(gv))[:, None] != qf[None])
                row = {"dataset": name, "seed": seed, "mode": mode, "tracker": m.to_dict(),
                       "held": b["held"].to_dict(), "tracked": b["tracked"].to_dict(), "time": dt,
                       "pred_visible": float(tracks.visible[ev].mean()), "gt_visible": float(gv[ev].mean())}
                rows.append(row)
                if tracks.confidence is not None:
                    rel["conf"].append(tracks.confidence[ev])
                    rel["vis"].append(gv[ev])
                    rel["within"].append((gv & _within(case, tracks.xy, idx))[ev])
                f = lambda x: f"{x.delta_avg:.3f}/{x.occlusion_accuracy:.3f}/{x.average_jaccard:.3f}"  # noqa: E731
                print(f"{name:<15}{seed:>5} {mode:<8}{len(idx):>7} | {f(m):>21} | {f(b['held']):>19} | "
                      f"{f(b['tracked']):>19} |{row['pred_visible']:>6.0%}{row['gt_visible']:>8.0%}{dt:>6.1f}",
                      flush=True)
    for name in RAYCAST_EVAL:
        for mode in modes:
            sel = [r for r in rows if r["dataset"] == name and r["mode"] == mode]
            if not sel:
                continue
            mean = lambda k, key: statistics.mean(r[k][key] for r in sel)  # noqa: E731
            print(f"mean {name:<10}{mode:<8} tracker d_avg {mean('tracker', 'delta_avg'):.3f} OA "
                  f"{mean('tracker', 'occlusion_accuracy'):.3f} AJ {mean('tracker', 'average_jaccard'):.3f} | "
                  f"held+allvis {mean('held', 'delta_avg'):.3f}/{mean('held', 'occlusion_accuracy'):.3f}/"
                  f"{mean('held', 'average_jaccard'):.3f} | tracked+allvis {mean('tracked', 'delta_avg'):.3f}/"
                  f"{mean('tracked', 'occlusion_accuracy'):.3f}/{mean('tracked', 'average_jaccard'):.3f}")
    if rel["conf"]:
        print_reliability("ray-cast evaluation clips, all modes", *(np.concatenate(rel[k]) for k in ("conf", "vis", "within")))
    return rows


def _collect(case: dict[str, Any], mode: str, options: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The tracker's position features (:data:`POSITION_FEATURES`), the true visibility, and
    'visible and within 4 px at 256x256' on the evaluated frames."""
    from blur4d.adapters.tracking import BuiltinTracker
    from blur4d.tapvid import sample_queries

    idx, qf = sample_queries(case["gt_vis"], mode, stride=5)
    queries = np.concatenate([qf[:, None], case["gt_xy"][qf, idx]], axis=1)
    tracker = BuiltinTracker(queries=queries, visibility="calibrated", **options)
    tracks = tracker(case["video"], seed=0)
    F = tracker.last_visibility_features
    gv = case["gt_vis"][:, idx]
    t = np.arange(len(gv))[:, None]
    ev = (t > qf[None]) if mode == "first" else (t != qf[None])
    return F[ev].astype(np.float64), gv[ev], (gv & _within(case, tracks.xy, idx))[ev]


def _within(case: dict[str, Any], xy: np.ndarray, idx: np.ndarray, px: float = 4.0) -> np.ndarray:
    """(T, n) predicted positions within ``px`` of the truth at TAP-Vid's 256x256."""
    W, H = case["size"]
    s = np.array([256.0 / W, 256.0 / H])
    return np.linalg.norm((np.asarray(xy, np.float64) - case["gt_xy"][:, idx]) * s, axis=-1) < px


def fit_logistic(F: np.ndarray, y: np.ndarray, l2: float = 1e-3, weight: np.ndarray | None = None) -> np.ndarray:
    """Maximum-likelihood logistic weights (a small L2 penalty, not on the bias); ``weight``: per
    sample (normalised to sum 1; default equal)."""
    from scipy.optimize import minimize

    y = y.astype(np.float64)
    reg = np.full(F.shape[1], l2)
    reg[0] = 0.0
    wt = np.full(len(y), 1.0 / len(y)) if weight is None else np.asarray(weight, np.float64) / np.sum(weight)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = F @ w
        ll = np.logaddexp(0.0, z) - y * z
        p = 1.0 / (1.0 + np.exp(-z))
        return float((wt * ll).sum() + 0.5 * (reg * w * w).sum()), F.T @ (wt * (p - y)) + reg * w

    return minimize(loss, np.zeros(F.shape[1]), jac=True, method="L-BFGS-B").x


def reliability(p: np.ndarray, y: np.ndarray, bins: int = 10) -> list[tuple[float, float, float, int]]:
    """(bin low, mean predicted, observed fraction, count) per probability bin."""
    edges = np.linspace(0, 1, bins + 1)
    k = np.clip(np.digitize(p, edges) - 1, 0, bins - 1)
    return [(float(edges[i]), float(p[k == i].mean()), float(y[k == i].mean()), int((k == i).sum()))
            for i in range(bins) if (k == i).any()]


def print_reliability(title: str, conf: np.ndarray, vis: np.ndarray, within: np.ndarray, bins: int = 10) -> None:
    """Confidence bins against the fraction truly visible and the fraction visible and within 4 px
    (at 256x256): the calibration of ``Tracks.confidence``."""
    print(f"reliability, {title} ({len(conf)} samples): confidence bin, mean confidence, observed visible, "
          "observed visible and within 4 px")
    print(f"{'bin':>8}{'mean conf':>10}{'visible':>9}{'within 4':>9}{'count':>9}")
    edges = np.linspace(0, 1, bins + 1)
    k = np.clip(np.digitize(conf, edges) - 1, 0, bins - 1)
    for i in range(bins):
        m = k == i
        if m.any():
            print(f"{edges[i]:>4.1f}-{edges[i + 1]:<3.1f}{conf[m].mean():>10.3f}{vis[m].mean():>9.3f}{within[m].mean():>9.3f}"
                  f"{int(m.sum()):>9}")
    print(f"Brier score vs 'within 4 px' {float(np.mean((conf - within) ** 2)):.4f} (constant at the base rate: "
          f"{float(np.var(within.astype(float))):.4f}); vs 'visible' {float(np.mean((conf - vis) ** 2)):.4f}")


def _collect_realblur(name: str, step: int, options: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """:func:`_collect` on a realblur clip against its flow PSEUDO-truth (every ``step``-th frame)."""
    from blur4d.adapters.tracking import BuiltinTracker, grid_points
    from blur4d.types import Intervals, Video

    full = real_clip(name, 0, 24, 640)
    if full is None:
        return None
    sub = np.arange(0, full.num_frames, step)
    qs = len(sub) // 2
    q = grid_points(full.width, full.height, 24).astype(np.float64)
    q += np.random.default_rng(0).uniform(-0.5, 0.5, q.shape)
    fxy, fvis = _flow_pseudo_truth(full, int(sub[qs]), q)
    video = Video(full.frames[sub], Intervals.present(len(sub)), fps=240.0 / step)
    tracker = BuiltinTracker(queries=np.c_[np.full(len(q), qs), q], visibility="calibrated", **options)
    tracks = tracker(video)
    gv = fvis[sub]
    ev = np.broadcast_to(np.arange(len(sub))[:, None] != qs, gv.shape)
    case = {"size": (video.width, video.height), "gt_xy": fxy[sub]}
    within = gv & _within(case, tracks.xy, np.arange(len(q)))
    return tracker.last_visibility_features[ev].astype(np.float64), gv[ev], within[ev]


def calibrate(options: dict[str, Any], cache: str | None, modes: tuple[str, ...] = ("first",),
              realblur_share: float = 0.2) -> np.ndarray:
    """Fit the visibility and position models on the calibration clips (RAYCAST_CALIB and the
    first realblur clip against its flow pseudo-truth, weighted ``realblur_share`` of the total;
    never the evaluation clips), then print their reliability on the evaluation clips and on the
    held-out realblur clip. The features do not use DIS flow (the pseudo-truth's method)."""
    from blur4d.adapters.track_visibility import (FEATURES, POSITION_FEATURES, position_probability,
                                                  visibility_probability)

    parts = []
    for seed, blur in zip(RAYCAST_CALIB["seed"], RAYCAST_CALIB["blur"]):
        case = raycast_case(seed, blur, cache=cache)
        for mode in modes:
            parts.append(("raycast", *_collect(case, mode, options)))
        print(f"calibration clip seed {seed} blur {blur} done", flush=True)
    for step in (3, 4):
        got = _collect_realblur(REALBLUR_CLIPS[0][0], step, options)
        if got is not None:
            parts.append(("realblur", *got))
    kind = np.concatenate([np.full(len(p[2]), p[0] == "realblur") for p in parts])
    F = np.concatenate([p[1] for p in parts])
    y = np.concatenate([p[2] for p in parts])
    wy = np.concatenate([p[3] for p in parts])
    share = realblur_share if kind.any() else 0.0
    weight = np.where(kind, share / max(kind.sum(), 1), (1.0 - share) / max((~kind).sum(), 1))
    k = len(FEATURES)
    w = fit_logistic(F[:, :k], y, weight=weight)
    print("visibility model refit (COEF; not adopted unless pasted):")
    print("COEF = np.array([" + ", ".join(f"{v:.4f}" for v in w) + "])")
    print("  " + ", ".join(f"{n}={v:.3f}" for n, v in zip(FEATURES, w)))
    wp = fit_logistic(F, wy, weight=weight)
    print("position model (COEF_POSITION): p(visible and within 4 px at 256x256)")
    print("COEF_POSITION = np.array([" + ", ".join(f"{v:.4f}" for v in wp) + "])")
    print("  " + ", ".join(f"{n}={v:.3f}" for n, v in zip(POSITION_FEATURES, wp)))
    print(f"TRAIN_VISIBLE = {float((weight * y).sum() / weight.sum()):.4f}  (weighted visible share)")
    p = visibility_probability(F[:, :k], w)
    print(f"calibration data: {len(y)} samples ({int(kind.sum())} realblur, weight {share:.2f}), {y.mean():.1%} visible, "
          f"{wy.mean():.1%} within 4 px; accuracy at 0.5: {((p >= 0.5) == y).mean():.3f} (always visible: {y.mean():.3f})")
    Fe, ye, we = [], [], []
    for name, spec in RAYCAST_EVAL.items():
        for seed in spec["seed"]:
            F2, y2, w2 = _collect(raycast_case(seed, spec["blur"], cache=cache), modes[-1], options)
            Fe.append(F2)
            ye.append(y2)
            we.append(w2)
    held = [("ray-cast evaluation clips", np.concatenate(Fe), np.concatenate(ye), np.concatenate(we))]
    for step in (3, 4):
        got = _collect_realblur(REALBLUR_CLIPS[1][0], step, options)
        if got is not None:
            held.append((f"held-out realblur clip, step {step}", *got))
    for title, F2, y2, w2 in held:
        p2 = visibility_probability(F2[:, :k], w)
        print(f"visibility model (before the clip's prior), {title} ({modes[-1]} queries, {len(y2)} samples):")
        print(f"{'p bin':>8}{'mean p':>8}{'observed':>10}{'count':>9}")
        for lo, mp, obs, n in reliability(p2, y2):
            print(f"{lo:>8.1f}{mp:>8.3f}{obs:>10.3f}{n:>9}")
        print(f"Brier score {float(np.mean((p2 - y2) ** 2)):.4f} (a constant at the base rate: {float(np.var(y2)):.4f})")
        c2 = np.minimum(position_probability(F2, wp), visibility_probability(F2[:, :k], w))
        print_reliability(f"position model before in_doubt, {title}", c2, y2, w2)
    return w


# ------------------------------------------------------------------------------------------
# Stability to sub-pixel query changes, on real videos
# ------------------------------------------------------------------------------------------
REAL_CLIPS = (("01_dog.mp4", 0, 60), ("05_default_juggle.mp4", 0, 60), ("03_blocks.mp4", 60, 60))
"""(file in shared/data/video/sam2_gallery, first frame, frames): native frame rate, fast motion."""
REALBLUR_CLIPS = (("realblur/gopro_GOPR0477_11_00_f000165-000188", 0, 24),
                  ("realblur/gopro_GOPR0477_11_00_f000249-000272", 0, 24))
"""(folder of PNG frames in shared/data, first frame, frames): real 240 fps GoPro video."""


def _shared_root() -> Any:
    import os
    from pathlib import Path

    return Path(os.environ.get("BLUR4D_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def real_clip(name: str, start: int, frames: int, max_side: int = 640) -> Any:
    """Frames ``start .. start+frames`` of a real video, downscaled so the long side is
    ``max_side`` (0: native size)."""
    import cv2

    from blur4d.media import read_frames
    from blur4d.types import Intervals, Video

    if name.startswith("realblur/"):
        pngs = sorted((_shared_root() / name).glob("*.png"))[start:start + frames]
        if not pngs:
            return None
        arr, fps = np.stack([cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in pngs]), 240.0
    else:
        path = _shared_root() / "video" / "sam2_gallery" / name
        if not path.is_file():
            return None
        arr, fps = read_frames(path, max_frames=start + frames)
        arr = arr[start:start + frames]
    H, W = arr.shape[1:3]
    if max_side and max(W, H) > max_side:
        s = max_side / max(W, H)
        arr = np.stack([cv2.resize(f, (round(W * s), round(H * s)), interpolation=cv2.INTER_AREA) for f in arr])
    return Video(arr, Intervals.present(len(arr)), fps=fps)


def jitter(options: dict[str, Any], grid: int = 24, eps: float = 1e-3, max_side: int = 640,
           direction: tuple[float, float] = (1.0, 1.0)) -> list[dict[str, Any]]:
    """Move every query by ``eps`` px (x and y) and measure how far the tracks move: per track,
    the largest change over all frames, and over the frames where both runs call it visible."""
    from blur4d.adapters.tracking import BuiltinTracker, grid_points

    rows = []
    print(f"jitter: every query moved by {eps:g} px times {direction} (a change of "
          f"{eps * np.hypot(*direction):.4f} px); per track the "
          "largest change of its position over the frames")
    print(f"{'clip':<26}{'tracks':>7} | {'all frames: median':>18}{'p99':>8}{'max':>8}{'>0.01':>7}{'>1px':>6} | "
          f"{'visible in both: p99':>20}{'max':>8}{'>0.01':>7}{'>1px':>6} |{'vis flips':>10} | "
          f"{'conf>=0.5 in both: p99':>22}{'max':>7}{'>1px':>6}{'share':>7}")
    for name, start, frames in REAL_CLIPS + REALBLUR_CLIPS:
        video = real_clip(name, start, frames, max_side)
        if video is None:
            print(f"{name}: not found, skipped")
            continue
        qf = frames // 2
        q = grid_points(video.width, video.height, grid).astype(np.float64)
        q += np.random.default_rng(0).uniform(-0.5, 0.5, q.shape)  # off the integer grid
        a = BuiltinTracker(queries=np.c_[np.full(len(q), qf), q], **options)(video)
        b = BuiltinTracker(queries=np.c_[np.full(len(q), qf), q + eps * np.asarray(direction)], **options)(video)
        d = np.linalg.norm(b.xy.astype(np.float64) - a.xy, axis=-1)
        d[qf] = 0.0
        per = d.max(axis=0)
        dv = np.where(a.visible & b.visible, d, 0.0).max(axis=0)
        sure = a.visible & b.visible & (a.confidence >= 0.5) & (b.confidence >= 0.5)
        dc = np.where(sure, d, 0.0).max(axis=0)
        flips = float((a.visible != b.visible).mean())
        row = {"clip": f"{name.split('_f')[-1]}[{start}:{start + frames}]", "size": (video.width, video.height), "tracks": len(q),
               "median": float(np.median(per)), "p99": float(np.percentile(per, 99)), "max": float(per.max()),
               "frac_over_0.01": float((per > 0.01).mean()), "frac_over_1": float((per > 1).mean()),
               "visible_p99": float(np.percentile(dv, 99)), "visible_max": float(dv.max()),
               "visible_frac_over_0.01": float((dv > 0.01).mean()), "visible_frac_over_1": float((dv > 1).mean()),
               "visibility_flips": flips, "confident_p99": float(np.percentile(dc, 99)),
               "confident_max": float(dc.max()), "confident_frac_over_1": float((dc > 1).mean()),
               "confident_share": float(sure.mean())}
        rows.append(row)
        print(f"{row['clip']:<26}{len(q):>7} | {row['median']:>18.4f}{row['p99']:>8.3f}{row['max']:>8.2f}"
              f"{row['frac_over_0.01']:>7.1%}{row['frac_over_1']:>6.1%} | {row['visible_p99']:>20.3f}"
              f"{row['visible_max']:>8.2f}{row['visible_frac_over_0.01']:>7.1%}{row['visible_frac_over_1']:>6.1%} |"
              f"{flips:>10.2%} | {row['confident_p99']:>22.3f}{row['confident_max']:>7.2f}"
              f"{row['confident_frac_over_1']:>6.1%}{row['confident_share']:>7.1%}", flush=True)
    return rows


def _flow_pseudo_truth(video: Any, qf: int, q: np.ndarray, fb_px: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Pseudo ground truth from dense optical flow (OpenCV DIS, 'medium' preset; the built-in
    tracker's default path uses Lucas-Kanade, not DIS): each query is carried frame to frame by
    the flow away from ``qf``, and counts as visible while every step is forward-backward
    consistent (|forward + backward at the carried point| < ``fb_px`` + 5 % of the motion) and
    inside the frame; after the first inconsistent step it stays 'not visible' (no re-detection).
    This is a consistency label, not annotated truth."""
    import cv2

    T = video.num_frames
    grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in video.frames]
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    H, W = grey[0].shape

    def at(flow: np.ndarray, p: np.ndarray) -> np.ndarray:
        m = p.astype(np.float32).reshape(-1, 1, 2)
        return np.concatenate([cv2.remap(flow[..., c], m[..., 0], m[..., 1], cv2.INTER_LINEAR,
                                         borderMode=cv2.BORDER_REPLICATE) for c in range(2)], 1)

    xy = np.zeros((T, len(q), 2))
    vis = np.zeros((T, len(q)), bool)
    xy[qf], vis[qf] = q, True
    for d in (1, -1):
        for t in range(qf + d, T if d > 0 else -1, d):
            fw = dis.calc(grey[t - d], grey[t], None)
            bw = dis.calc(grey[t], grey[t - d], None)
            f1 = at(fw, xy[t - d])
            nxt = xy[t - d] + f1
            err = np.linalg.norm(f1 + at(bw, nxt), axis=1)
            inside = (nxt[:, 0] >= 0) & (nxt[:, 0] <= W - 1) & (nxt[:, 1] >= 0) & (nxt[:, 1] <= H - 1)
            xy[t] = nxt
            vis[t] = vis[t - d] & inside & (err < fb_px + 0.05 * np.linalg.norm(f1, axis=1))
    return xy, vis


def real_visibility(options: dict[str, Any], grid: int = 24, max_side: int = 640) -> list[dict[str, Any]]:
    """On real clips (no annotated truth): the share of points the tracker calls visible, and
    its agreement with dense-flow forward-backward consistency (:func:`_flow_pseudo_truth`),
    beside 'always visible'."""
    from blur4d.adapters.tracking import BuiltinTracker, grid_points
    from blur4d.tapvid import tapvid_metrics

    rows = []
    print("real clips, pseudo-truth = chained DIS flow with forward-backward consistency (not annotations)")
    print(f"{'clip':<26}{'pseudo vis':>11}{'called vis':>11} | {'OA tracker':>10}{'OA allvis':>10} | "
          f"{'d_avg vs flow':>13}")
    for name, start, frames in REAL_CLIPS:
        video = real_clip(name, start, frames, max_side)
        if video is None:
            continue
        qf = frames // 2
        q = grid_points(video.width, video.height, grid).astype(np.float64)
        fxy, fvis = _flow_pseudo_truth(video, qf, q)
        tracks = BuiltinTracker(queries=np.c_[np.full(len(q), qf), q], **options)(video)
        qfr = np.full(len(q), qf)
        kw = {"image_size": (video.width, video.height), "query_mode": "strided"}
        m = tapvid_metrics(fxy, fvis, tracks.xy, tracks.visible, qfr, **kw)
        base = tapvid_metrics(fxy, fvis, tracks.xy, np.ones_like(fvis), qfr, **kw)
        ev = np.arange(frames)[:, None] != qf
        row = {"clip": f"{name}[{start}:{start + frames}]", "pseudo_visible": float(fvis[np.broadcast_to(ev, fvis.shape)].mean()),
               "called_visible": float(tracks.visible[np.broadcast_to(ev, fvis.shape)].mean()),
               "oa": m.occlusion_accuracy, "oa_always_visible": base.occlusion_accuracy, "delta_avg_vs_flow": m.delta_avg}
        rows.append(row)
        print(f"{row['clip']:<26}{row['pseudo_visible']:>11.1%}{row['called_visible']:>11.1%} | {m.occlusion_accuracy:>10.3f}"
              f"{base.occlusion_accuracy:>10.3f} | {m.delta_avg:>13.3f}", flush=True)
    return rows


def realblur_pseudo_truth(options: dict[str, Any], steps: tuple[int, ...] = (3, 4), grid: int = 24,
                          max_side: int = 640) -> list[dict[str, Any]]:
    """Real 240 fps footage (realblur/) as a real-data proxy: PSEUDO-truth tracks from dense flow
    chained through every 240 fps frame with forward-backward consistency
    (:func:`_flow_pseudo_truth`, small steps), and the tracker run on every ``step``-th frame only
    (80 or 60 fps: larger motion per frame). TAP-Vid metrics against that pseudo-truth, beside
    'always visible' (at the tracker's positions) and 'held' (the query position, always visible).
    Not annotated truth: a point the flow lost stays 'not visible' even if it re-appears."""
    from blur4d.adapters.tracking import BuiltinTracker, grid_points
    from blur4d.tapvid import tapvid_metrics
    from blur4d.types import Intervals, Video

    rows = []
    rel: dict[str, list[np.ndarray]] = {"conf": [], "vis": [], "within": []}
    print("realblur 240 fps: PSEUDO-truth = DIS flow chained through all 24 frames with forward-backward consistency "
          "(not annotations); tracker on every step-th frame")
    print(f"{'clip':<16}{'step':>5}{'frames':>7}{'pseudo vis':>11}{'called vis':>11} | {'tracker d_avg/OA/AJ':>21} | "
          f"{'tracked+allvis':>19} | {'held+allvis':>19} | {'Brier (const)':>14}")
    for name, start, frames in REALBLUR_CLIPS:
        full = real_clip(name, start, frames, max_side)
        if full is None:
            print(f"{name}: not found, skipped")
            continue
        for step in steps:
            sub = np.arange(0, frames, step)
            qs = len(sub) // 2
            q = grid_points(full.width, full.height, grid).astype(np.float64)
            q += np.random.default_rng(0).uniform(-0.5, 0.5, q.shape)
            fxy, fvis = _flow_pseudo_truth(full, int(sub[qs]), q)
            gxy, gvis = fxy[sub], fvis[sub]
            video = Video(full.frames[sub], Intervals.present(len(sub)), fps=240.0 / step)
            tracks = BuiltinTracker(queries=np.c_[np.full(len(q), qs), q], **options)(video)
            qfr = np.full(len(q), qs)
            kw = {"image_size": (video.width, video.height), "query_mode": "strided"}
            m = tapvid_metrics(gxy, gvis, tracks.xy, tracks.visible, qfr, **kw)
            base = tapvid_metrics(gxy, gvis, tracks.xy, np.ones_like(gvis), qfr, **kw)
            held = tapvid_metrics(gxy, gvis, np.repeat(q[None], len(sub), 0), np.ones_like(gvis), qfr, **kw)
            ev = np.broadcast_to(np.arange(len(sub))[:, None] != qs, gvis.shape)
            case = {"size": (video.width, video.height), "gt_xy": gxy}
            brier = (float("nan"), float("nan"))
            if tracks.confidence is not None:
                within = (gvis & _within(case, tracks.xy, np.arange(len(q))))[ev]
                rel["conf"].append(tracks.confidence[ev])
                rel["vis"].append(gvis[ev])
                rel["within"].append(within)
                brier = (float(np.mean((tracks.confidence[ev] - within) ** 2)), float(np.var(within.astype(float))))
            row = {"clip": name.split("_f")[-1], "step": step, "frames": len(sub), "tracker": m.to_dict(),
                   "tracked_allvis": base.to_dict(), "held_allvis": held.to_dict(),
                   "pseudo_visible": float(gvis[ev].mean()), "called_visible": float(tracks.visible[ev].mean()),
                   "brier": brier[0], "brier_constant": brier[1]}
            rows.append(row)
            f = lambda x: f"{x.delta_avg:.3f}/{x.occlusion_accuracy:.3f}/{x.average_jaccard:.3f}"  # noqa: E731
            print(f"{row['clip']:<16}{step:>5}{len(sub):>7}{row['pseudo_visible']:>11.1%}{row['called_visible']:>11.1%} | "
                  f"{f(m):>21} | {f(base):>19} | {f(held):>19} | {brier[0]:>6.4f} ({brier[1]:.4f})", flush=True)
    if rel["conf"]:
        print_reliability("realblur, against the PSEUDO-truth", *(np.concatenate(rel[k]) for k in ("conf", "vis", "within")))
    return rows


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
    p.add_argument("--raycast", action="store_true", help="only the ray-cast occluder clips")
    p.add_argument("--cache", default=None, help="folder to cache rendered ray-cast clips in")
    p.add_argument("--jitter", action="store_true", help="only the query-jitter stability on real videos")
    p.add_argument("--jitter-eps", default="0.001",
                   help="--jitter: query shift(s) in px, comma-separated (0.05: larger than the query lattice step)")
    p.add_argument("--jitter-dir", default="1:1",
                   help="--jitter: direction(s) dx:dy of the shift (times --jitter-eps), comma-separated, "
                   "e.g. 1:1,-1:0.4")
    p.add_argument("--calibrate", action="store_true",
                   help="fit the visibility models (ray-cast calibration clips + realblur 165; use --modes first)")
    p.add_argument("--realblur-share", type=float, default=0.2, help="--calibrate: weight of the realblur clip")
    p.add_argument("--real", action="store_true", help="only the real clips: jitter and flow-consistency visibility")
    p.add_argument("--stability-cost", action="store_true",
                   help="only the CPU of the stability runs (on vs off, interleaved, same process)")
    p.add_argument("--realblur", action="store_true",
                   help="only realblur 240 fps: flow pseudo-truth at 240 fps, tracker on subsampled frames")
    args = p.parse_args(argv)
    options = _parse_options(args.option)
    if options:
        print(f"options: {options}")
    if args.calibrate:
        calibrate(options, args.cache, tuple(args.modes.split(",")), args.realblur_share)
        return 0
    if args.jitter:
        for eps in args.jitter_eps.split(","):
            for dxy in args.jitter_dir.split(","):
                jitter(options, eps=float(eps), direction=tuple(float(v) for v in dxy.split(":")))
        return 0
    if args.stability_cost:
        stability_cost(args.repeats, options)
        return 0
    if args.realblur:
        realblur_pseudo_truth(options)
        return 0
    if args.real:
        jitter(options)
        real_visibility(options)
        return 0
    if args.raycast:
        raycast_accuracy(options, args.modes.split(","), args.cache)
        return 0
    if not args.speed_only:
        accuracy(options, args.cameras.split(","), args.frames.split(","), args.modes.split(","))
    if not args.accuracy_only:
        speed(options, args.repeats)
        speed_real(options, args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
