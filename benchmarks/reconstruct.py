"""Cameras + dense points on synthetic clips with exact ground truth, side by side with
pycolmap's default incremental pipeline; then generated clips and the whole ``reconstruct``.

    python benchmarks/reconstruct.py                       # all cases, 16 frames of 1280x720
    python benchmarks/reconstruct.py --size 640x360 --frames 8 --cases sideways rotation
    python benchmarks/reconstruct.py --no-colmap --json out.json

Scenes: blur4d's layered-plane example (textured planes at 2.5, 4 and 8 m, exact homographies),
rendered sharp (instantaneous intervals) along a known camera path:

* sideways: 0.3 m sideways; forward: 0.6 m forward (+ a little drift); rotation: 2 deg pan, no
  translation; moving: sideways plus an independently moving near panel;
* generated: the bundled example photo (0.12 m sideways blur) through the classical generator;
  ground truth is the photo's camera path at the frames' interval centres.

Metrics: ATE after Sim(3) alignment (Umeyama on camera centres), in % of the scene depth (median
ground-truth depth in the first frame); heading error (direction of travel first->last, in the
first camera, deg); max rotation error (deg); the focal error; median point accuracy (|z - z_gt|
of dense points after aligning whole cameras, % of scene depth) and completeness (share of the
reference frame's pixels with a point within 1 % of the scene depth); identical results across
two runs; wall time and peak RSS, each case in its own process. The machine may be shared:
timings are wall-clock and inflate under contention. Not a test: prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CASES = ("sideways", "forward", "rotation", "moving", "generated")


def make_case(case: str, size: tuple[int, int], frames: int):
    """-> (Video, synthetic Scene, GT cam_from_world (T, 4, 4))."""
    from blur4d.synthetic import CameraPath, Scene, example_scene
    from blur4d.types import Intervals, Video

    W, H = size
    if case == "generated":
        from blur4d import api

        base = example_scene(W, H)
        gen = api.generate(base.photo(48), frames=frames, seed=0)
        video = gen.video
        return video, base, base.cam_from_world(video.intervals.centers)
    paths = {
        "sideways": CameraPath.linear(velocity=(0.3, 0.0, 0.0)),
        "forward": CameraPath.linear(velocity=(0.03, 0.02, 0.6)),
        "rotation": CameraPath.linear(angular=(0.0, np.radians(2.0), np.radians(0.5))),
        "moving": CameraPath.linear(velocity=(0.3, 0.0, 0.0)),
    }
    base = example_scene(W, H, object_motion=(-0.04 * W, 0.025 * W) if case == "moving" else (0.0, 0.0))
    scene = Scene(base.layers, base.K, base.size, paths[case])
    s = np.linspace(-0.5, 0.5, frames)
    iv = Intervals(np.stack([s, s], 1))
    return Video(scene.video(iv), iv), scene, scene.cam_from_world(s)


def evaluate(res, scene, gt: np.ndarray) -> dict:
    from blur4d import geometry as geo

    cams = res.cameras
    depth0 = scene.depth_map(gt[0])
    scene_depth = float(np.nanmedian(depth0))
    out: dict = {"ok": bool(cams.ok), "motion": cams.motion, "reason": cams.reason,
                 "registered": int(cams.registered.sum()), "frames": int(cams.num_frames),
                 "scene_depth": scene_depth,
                 "focal_err_pct": 100 * abs(cams.K[0, 0, 0] / scene.K[0, 0] - 1)}
    reg = cams.registered
    out["rot_err_deg"] = float(np.nanmax(geo.rotation_errors_deg(cams.cam_from_world[reg], gt[reg])))
    if cams.motion == "translation" and reg.sum() >= 2:
        ate, _ = geo.ate(cams.centers[reg], geo.invert(gt[reg])[:, :3, 3])
        out["ate_pct"] = 100 * ate / scene_depth
        out["heading_deg"] = geo.heading_error_deg(cams.cam_from_world[reg], gt[reg])
    if res.points is not None and len(res.points):
        sim = geo.align_poses(cams.cam_from_world[reg], gt[reg])
        ref = int(res.info["dense"]["ref"])
        X = sim.apply(res.points.xyz.astype(np.float64))
        uv, z = geo.project(scene.K, gt[ref], X)
        d_gt = scene.depth_map(gt[ref])
        W, H = scene.size
        xi, yi = np.round(uv).astype(int).T
        inside = (xi >= 0) & (xi < W) & (yi >= 0) & (yi < H) & (z > 0)
        err = np.abs(z[inside] - d_gt[yi[inside], xi[inside]])
        out["points"] = int(len(res.points))
        out["point_err_pct"] = 100 * float(np.median(err)) / scene_depth
        # completeness at the dense resolution: reference pixels with a point within 1 %
        dres = res.info["dense"]["dense_size"]
        sx = dres[0] / W
        good = err < 0.01 * scene_depth
        cells = set(zip((xi[inside][good] * sx).astype(int).tolist(), (yi[inside][good] * sx).astype(int).tolist()))
        out["completeness_pct"] = 100 * len(cells) / (dres[0] * dres[1])
        out["moving_points"] = int(sum(len(p) for p in res.dynamic))
    return out


def run_ours(video, seed: int = 0):
    from blur4d.adapters.colmap import ColmapCameras

    t0 = time.perf_counter()
    res = ColmapCameras()(video, seed=seed)
    return res, time.perf_counter() - t0


def run_colmap_default(video, scene, gt: np.ndarray) -> dict:
    """pycolmap with COLMAP's defaults: SIFT, exhaustive matching, incremental mapping, one shared
    camera (COLMAP's default model, focal from its own prior)."""
    import pycolmap

    from blur4d import geometry as geo
    from blur4d.media import write_image

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        (d / "images").mkdir()
        for i, f in enumerate(video.frames):
            write_image(d / "images" / f"frame_{i:03d}.png", f)
        db = d / "db.db"
        pycolmap.extract_features(db, d / "images", camera_mode=pycolmap.CameraMode.SINGLE,
                                  device=pycolmap.Device.cpu)
        pycolmap.match_exhaustive(db, device=pycolmap.Device.cpu)
        recs = pycolmap.incremental_mapping(db, d / "images", d / "sparse")
    elapsed = time.perf_counter() - t0
    out: dict = {"time_s": elapsed, "models": len(recs)}
    if not recs:
        out["registered"] = 0
        return out
    rec = max(recs.values(), key=lambda r: r.num_reg_images())
    T = video.num_frames
    est = np.full((T, 4, 4), np.nan)
    for img in rec.images.values():
        if not img.has_pose:
            continue
        t = int(img.name.split("_")[1].split(".")[0])
        M = np.eye(4)
        M[:3, :] = img.cam_from_world().matrix()
        est[t] = M
    reg = np.isfinite(est).all((1, 2))
    depth0 = float(np.nanmedian(scene.depth_map(gt[0])))
    out["registered"] = int(reg.sum())
    if reg.sum() >= 2:
        ate, _ = geo.ate(geo.invert(est[reg])[:, :3, 3], geo.invert(gt[reg])[:, :3, 3])
        out["ate_pct"] = 100 * ate / depth0
        out["heading_deg"] = geo.heading_error_deg(est[reg], gt[reg])
        cam = next(iter(rec.cameras.values()))
        out["focal_err_pct"] = 100 * abs(cam.params[0] / scene.K[0, 0] - 1)
    return out


def one_case(case: str, size: tuple[int, int], frames: int, colmap: bool, repeat: bool) -> dict:
    video, scene, gt = make_case(case, size, frames)
    res, elapsed = run_ours(video)
    metrics = evaluate(res, scene, gt)
    if case == "generated":
        # a blurry photo does not say which way time runs: the generator may play the exposure
        # backwards, so compare with the reversed ground truth too and keep the better
        rev = evaluate(res, scene, gt[::-1])
        if rev.get("heading_deg", 180.0) < metrics.get("heading_deg", 180.0):
            metrics = {**rev, "time_reversed": True}
    row = {"case": case, "size": f"{size[0]}x{size[1]}", "frames": frames, "time_s": elapsed,
           "timings": dict(res.cameras.provenance.timings), **metrics}
    if repeat:
        res2, _ = run_ours(video)
        same = (np.array_equal(res.cameras.cam_from_world, res2.cameras.cam_from_world, equal_nan=True)
                and (res.points is None or np.array_equal(res.points.xyz, res2.points.xyz)))
        row["deterministic"] = bool(same)
    row["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if colmap:
        row["colmap_default"] = run_colmap_default(video, scene, gt)
    return row


def whole_reconstruct(size: tuple[int, int]) -> dict:
    from blur4d import pipeline
    from blur4d.synthetic import example_scene

    photo = example_scene(*size).photo(48)
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        scene = pipeline.reconstruct(photo, out=Path(d) / "scene.ply", seed=0)
        total = time.perf_counter() - t0
        run = json.loads((Path(d) / "scene" / "run.json").read_text())
    return {"case": f"reconstruct example {size[0]}x{size[1]}", "time_s": total,
            "stages": {k: (v["status"], v.get("seconds")) for k, v in run["stages"].items()},
            "cameras_ok": bool(scene.cameras.ok) if scene.cameras is not None else None,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _fmt(v, spec: str = ".2f") -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "NO"
    return format(v, spec) if isinstance(v, (int, float)) else str(v)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", default="1280x720")
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--cases", nargs="*", default=list(CASES))
    p.add_argument("--no-colmap", action="store_true", help="skip pycolmap's default pipeline")
    p.add_argument("--no-whole", action="store_true", help="skip the whole-reconstruct timing")
    p.add_argument("--json", default=None, help="also write the rows to this file")
    p.add_argument("--one", default=None, help=argparse.SUPPRESS)  # internal: run one case, print JSON
    a = p.parse_args(argv)
    size = tuple(int(v) for v in a.size.lower().split("x"))
    if a.one:
        if a.one == "whole":
            row = whole_reconstruct(size)
        else:
            row = one_case(a.one, size, a.frames, not a.no_colmap, repeat=a.one in ("sideways", "generated"))
        print("@@" + json.dumps(row, default=float))
        return 0
    rows = []
    todo = list(a.cases) + ([] if a.no_whole else ["whole"])
    for case in todo:
        cmd = [sys.executable, __file__, "--one", case, "--size", a.size, "--frames", str(a.frames)]
        if a.no_colmap:
            cmd.append("--no-colmap")
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "2"})
        line = [ln for ln in proc.stdout.splitlines() if ln.startswith("@@")]
        if not line:
            print(f"{case}: failed\n{proc.stderr[-2000:]}", file=sys.stderr)
            continue
        rows.append(json.loads(line[0][2:]))
    print(f"\nblur4d cameras + dense on {a.frames} frames of {a.size} (wall times on this machine; it may be shared)\n")
    hdr = (f"{'case':10} {'method':8} {'time s':>7} {'reg':>5} {'ok':>3} {'motion':>13} {'ATE %d':>7} {'head deg':>8} "
           f"{'rot deg':>7} {'f err %':>7} {'pts err %d':>10} {'compl %':>7} {'moving':>7} {'det':>4} {'RSS MB':>7}")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        if r["case"].startswith("reconstruct"):
            continue
        print(f"{r['case']:10} {'blur4d':8} {_fmt(r['time_s'], '.1f'):>7} {r['registered']:>2}/{r['frames']:<2} "
              f"{'y' if r['ok'] else 'n':>3} {r['motion'] or '-':>13} {_fmt(r.get('ate_pct'), '.3f'):>7} "
              f"{_fmt(r.get('heading_deg'), '.2f'):>8} {_fmt(r.get('rot_err_deg'), '.3f'):>7} "
              f"{_fmt(r.get('focal_err_pct'), '.1f'):>7} {_fmt(r.get('point_err_pct'), '.3f'):>10} "
              f"{_fmt(r.get('completeness_pct'), '.1f'):>7} {_fmt(r.get('moving_points'), 'd'):>7} "
              f"{_fmt(r.get('deterministic')):>4} {_fmt(r['peak_rss_mb'], '.0f'):>7}")
        c = r.get("colmap_default")
        if c:
            print(f"{'':10} {'colmap':8} {_fmt(c['time_s'], '.1f'):>7} {c['registered']:>2}/{r['frames']:<2} "
                  f"{'':>3} {'':>13} {_fmt(c.get('ate_pct'), '.3f'):>7} {_fmt(c.get('heading_deg'), '.2f'):>8} "
                  f"{'':>7} {_fmt(c.get('focal_err_pct'), '.1f'):>7}")
    for r in rows:
        if not r["case"].startswith("reconstruct"):
            print(f"  {r['case']}: stage timings {json.dumps({k: round(v, 2) for k, v in r['timings'].items()})}"
                  + (f"; reason: {r['reason']}" if r.get("reason") else "")
                  + ("; the generator played the exposure backwards: compared with reversed time"
                     if r.get("time_reversed") else ""))
    for r in rows:
        if r["case"].startswith("reconstruct"):
            print(f"\n{r['case']}: {r['time_s']:.1f} s total, peak RSS {r['peak_rss_mb']:.0f} MB, cameras ok: "
                  f"{r['cameras_ok']}")
            for k, (status, sec) in r["stages"].items():
                print(f"  {k:9} {status:12} {_fmt(sec, '.1f')} s")
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
