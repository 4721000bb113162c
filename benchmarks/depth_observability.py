"""Is depth observable? The colmap camera backend on tiny and healthy baselines, on data it was
not designed on, beside the trivial baseline; and full intrinsics vs a centred principal point.

    python benchmarks/depth_observability.py                 # all groups
    python benchmarks/depth_observability.py --groups raycast tum

Groups:

* raycast: open3d ray-cast scene (blur4d.raycast, exact depth), camera sliding sideways so that
  the median-depth parallax first->last is 0.3, 0.6, 1, 3 px and the canonical 0.4 m (healthy);
  9 frames 640x360, sensor noise 1 level. Depth error: median |s z - z_gt| / z_gt over the
  reference frame's pixels with a depth (s = median ratio, since the scale is unknown), beside the
  trivial "constant depth at the true median" (its median relative error).
* realblur: 9 consecutive 240 fps GoPro frames (real motion of a fraction of a pixel to a few px
  per frame); no depth truth.
* generated: the classical backend's 9-frame clips from a real blurry photo
  (blurry/nafnet_gopro) and from a realblur average (frames 249-256); no depth truth.
* video: 9 consecutive frames of a real 30 fps video (sam2_gallery/03_blocks.mp4).
* intrinsics: translation-direction error with the true K vs a centred principal point, on a
  ray-cast sideways clip rendered with an off-centre principal point (cx +40, cy +25 px; truth
  known) and on TUM fr3 office (4 real frames, Kinect fr3 K; no GT trajectory there, so the
  angle between the two estimates and their reprojection error are reported).

Prints one table; ``--json`` writes the rows. Not a test.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
TUM_K = (535.4, 539.2, 320.1, 247.6)


def _video(frames):
    from blur4d.types import Intervals, Video

    return Video(np.ascontiguousarray(frames), Intervals.present(len(frames)))


def _run(frames, **opts):
    from blur4d.adapters.colmap import ColmapCameras

    t0 = time.perf_counter()
    res = ColmapCameras(**opts)(_video(frames), seed=0)
    return res, time.perf_counter() - t0


def _row(name, res, secs, extra=None):
    info = res.info or {}
    obs = info.get("depth_observable")
    row = {"case": name, "ok": bool(res.cameras.ok), "motion": res.cameras.motion,
           "observable": obs if obs is not None else "-", "why": info.get("depth_observable_reason", ""),
           "static_pts": int(len(res.points)) if res.points is not None else 0,
           "sparse_pts": int(len(res.sparse)) if res.sparse is not None else 0,
           "parallax_med_px": info.get("parallax_median_px"),
           "parallax_p90_px": info.get("parallax_p90_px"), "noise_px": info.get("reprojection_noise_px"),
           "sampson_sigma_px": info.get("noise_px"), "secs": round(secs, 1)}
    row.update(extra or {})
    return row


def _depth_err(res, gt_depth_ref):
    """(median relative error after median scale, same for the constant-median trivial depth)."""
    ref = int((res.info.get("dense") or {}).get("ref", 0)) if isinstance(res.info.get("dense"), dict) else 0
    gt = gt_depth_ref
    fin = np.isfinite(gt)
    triv = float(np.median(np.abs(np.median(gt[fin]) - gt[fin]) / gt[fin]))
    if res.depth is None:
        return None, triv
    d = res.depth[ref]
    m = fin & np.isfinite(d) & (d > 0)
    if m.sum() < 100:
        return None, triv
    s = float(np.median(gt[m] / d[m]))
    return float(np.median(np.abs(s * d[m] - gt[m]) / gt[m])), triv


def group_raycast(rows):
    from blur4d import raycast as rc

    W, H, F = 640, 360, 9
    K = rc.intrinsics(W, H)
    scene = rc.default_scene()
    # median depth of the canonical first frame -> translation for a wanted parallax
    _, d0, _ = rc.render(scene, K, rc.look_at((0, 0, 0)), (W, H), supersample=1)
    zmed = float(np.median(d0[np.isfinite(d0)]))
    for par in (0.3, 0.6, 1.0, 3.0, None):
        b = 0.4 if par is None else par * zmed / K[0, 0]
        poses = np.stack([rc.look_at((b * s, 0, 0), (0, np.radians(0.05) * s, 0)) for s in np.linspace(0, 1, F)])
        rng = np.random.default_rng(0)
        frames, depths = [], []
        for P in poses:
            rgb, dep, _ = rc.render(scene, K, P, (W, H), supersample=2)
            frames.append(np.clip(np.rint(rgb + rng.normal(0, 1.0, rgb.shape)), 0, 255).astype(np.uint8))
            depths.append(dep)
        res, secs = _run(np.stack(frames))
        ref = int(res.info.get("dense", {}).get("ref", 0)) if isinstance(res.info.get("dense"), dict) else 0
        err, triv = _depth_err(res, np.where(np.isfinite(depths[ref]), depths[ref], np.nan))
        name = f"raycast sideways {'0.4 m (' + format(K[0, 0] * 0.4 / zmed, '.0f') + ' px)' if par is None else format(par, 'g') + ' px'}"
        rows.append(_row(name, res, secs, {"depth_err_pct": None if err is None else round(100 * err, 2),
                                           "trivial_err_pct": round(100 * triv, 1)}))


def _read(paths):
    from blur4d.media import read_image

    return np.stack([read_image(p).pixels for p in paths])


def group_realblur(rows):
    for folder, start in (("gopro_GOPR0477_11_00_f000165-000188", 165), ("gopro_GOPR0477_11_00_f000249-000272", 249)):
        paths = [DATA / "realblur" / folder / f"{start + k:06d}.png" for k in range(9)]
        res, secs = _run(_read(paths))
        rows.append(_row(f"realblur {start}-{start + 8} (9 fr)", res, secs))


def group_generated(rows):
    from blur4d import api
    from blur4d.media import read_image
    from blur4d.media import Photo

    photo = read_image(DATA / "blurry" / "nafnet_gopro" / "blurry.jpg", max_pixels=1280 * 720)
    gen = api.generate(photo, frames=9, seed=0)
    res, secs = _run(gen.video.frames)
    rows.append(_row("classical(nafnet blurry.jpg)", res, secs))
    folder = DATA / "realblur" / "gopro_GOPR0477_11_00_f000249-000272"
    lin = _read([folder / f"{249 + k:06d}.png" for k in range(8)]).astype(np.float64) / 255.0
    avg = np.clip(np.mean(lin ** 2.2, 0) ** (1 / 2.2) * 255 + 0.5, 0, 255).astype(np.uint8)
    gen = api.generate(Photo(pixels=avg), frames=9, seed=0)
    res, secs = _run(gen.video.frames)
    rows.append(_row("classical(realblur avg 249-256)", res, secs))


def group_video(rows):
    from blur4d.media import load_video

    v = load_video(DATA / "video" / "sam2_gallery" / "03_blocks.mp4")
    res, secs = _run(v.frames[:9])
    rows.append(_row("video 03_blocks (9 fr)", res, secs))


def _heading(res):
    P = res.cameras.cam_from_world
    reg = np.flatnonzero(res.cameras.registered)
    if len(reg) < 2 or res.cameras.motion != "translation":
        return None
    from blur4d import geometry as geo

    c = geo.invert(P[reg[-1]])[:3, 3] - geo.invert(P[reg[0]])[:3, 3]
    d = P[reg[0]][:3, :3] @ c  # direction of travel in the first camera
    return d / np.linalg.norm(d)


def _angle(a, b):
    return float(np.degrees(np.arccos(np.clip(abs(float(a @ b)), -1, 1)))) if a is not None and b is not None else None


def group_intrinsics(rows):
    from blur4d import raycast as rc

    W, H, F = 640, 360, 9
    K = rc.intrinsics(W, H)
    K[0, 2] += 40.0
    K[1, 2] += 25.0
    scene = rc.default_scene()
    poses = np.stack([rc.look_at((0.15 * s, 0.03 * s, 0.1 * s), (0, np.radians(2.0) * s, 0))
                      for s in np.linspace(0, 1, F)])
    rng = np.random.default_rng(0)
    frames = []
    for P in poses:
        rgb, _, _ = rc.render(scene, K, P, (W, H), supersample=2)
        frames.append(np.clip(np.rint(rgb + rng.normal(0, 1.0, rgb.shape)), 0, 255).astype(np.uint8))
    frames = np.stack(frames)
    truth = poses[0][:3, :3] @ (np.linalg.inv(poses[-1])[:3, 3] - np.linalg.inv(poses[0])[:3, 3])
    truth /= np.linalg.norm(truth)
    full = (K[0, 0], K[1, 1], K[0, 2], K[1, 2])
    for label, opts in (("centred pp", {"focal_px": K[0, 0]}), ("true K", {"intrinsics": full})):
        try:
            res, secs = _run(frames, dense=False, **opts)
        except TypeError:
            rows.append({"case": f"raycast off-centre pp, {label}", "note": "--intrinsics not supported"})
            continue
        rows.append(_row(f"raycast off-centre pp, {label}", res, secs,
                         {"heading_err_deg": _angle(_heading(res), truth),
                          "reproj_px": (res.info.get("bundle_adjustment") or [{}])[-1].get("median_reproj_px")}))
    paths = sorted((DATA / "multiview" / "tum_fr3_office_pyslam").glob("*.png"))[:2]
    frames = _read(paths)
    heads = {}
    for label, opts in (("centred pp", {"focal_px": TUM_K[0]}), ("true K", {"intrinsics": TUM_K})):
        try:
            res, secs = _run(frames, dense=False, **opts)
        except TypeError:
            rows.append({"case": f"TUM fr3 office 2 fr, {label}", "note": "--intrinsics not supported"})
            continue
        heads[label] = _heading(res)
        rows.append(_row(f"TUM fr3 office 2 fr, {label}", res, secs,
                         {"reproj_px": (res.info.get("bundle_adjustment") or [{}])[-1].get("median_reproj_px")}))
    if len(heads) == 2:
        rows[-1]["heading_vs_centred_deg"] = _angle(heads["centred pp"], heads["true K"])


GROUPS = {"raycast": group_raycast, "realblur": group_realblur, "generated": group_generated,
          "video": group_video, "intrinsics": group_intrinsics}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--groups", nargs="+", default=list(GROUPS), choices=list(GROUPS))
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    rows: list[dict] = []
    for g in args.groups:
        GROUPS[g](rows)
        for r in rows:
            if not r.get("_printed"):
                r["_printed"] = True
                print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()
                                  if k != "_printed"}), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1, default=str))


if __name__ == "__main__":
    main()
