"""Which dense points move on their own? Precision and recall of the dense stage's moving points
where the truth is known, beside the trivial baseline (nothing moves).

    python benchmarks/dynamic_points.py                        # ray-cast groups, true cameras
    python benchmarks/dynamic_points.py --colmap               # also the colmap backend's own cameras
    python benchmarks/dynamic_points.py --frames 16 64 --json out.json
    python benchmarks/dynamic_points.py --frames 16 --seeds 3 4 5       # held-out camera paths

Clips (open3d ray casting, :mod:`blur4d.raycast`, 640x360, sensor noise 1 level, not designed for
this stage):

* ``static sideways`` / ``static handheld``: the default scene, nothing moves (truth: no moving pixel);
* ``dolly + box``: camera moving forward, the near box sliding 0.6 m left (off the radial epipolar
  lines over most of the box);
* ``sideways + box up``: camera sliding sideways, the near box rising 0.4 m (across the horizontal
  epipolar lines).

Truth: the reference frame's pixels (at the dense size) whose ray hits the moving object. A
flagged pixel is one of the reference frame's dynamic points (``info["dynamic_pixels_ref"]`` and
the mask behind it). Motion along the epipolar lines that a positive depth explains is not
observable from one moving camera, so recall below 1 on the dolly clip is expected.

Each clip is run with the stage's default, without its photometric check (the region-median rule
alone) and with the trivial baseline "every pixel above the residual threshold moves"; "nothing
moves" is the other baseline (0 false px, recall 0). ``--seeds`` draws camera-path variants and
sensor noise (seed 0: the canonical paths; seeds 0-2 chose the check's thresholds, 3-5 are held out).

Prints one table. Not a test.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def _scene(kind: str):
    from blur4d import raycast as rc

    if kind.startswith("static"):
        return rc.default_scene(moving_object=False)
    if kind == "dolly + box":
        return rc.default_scene(moving_object=True, travel=0.6)
    base = rc.default_scene(moving_object=False)

    def up(t: float) -> np.ndarray:
        T = np.eye(4)
        T[1, 3] = -0.4 * t
        return T
    objs = tuple(rc.SceneObject(o.mesh, up, name=o.name) if o.name == "near box" else o for o in base.objects)
    return rc.RaycastScene(objs)


def _path(kind: str, frames: int, seed: int = 0) -> np.ndarray:
    from blur4d import raycast as rc

    if "handheld" in kind:
        return rc.camera_path("handheld", frames, seed=3 + seed)
    if "dolly" in kind:
        return rc.camera_path("dolly", frames, seed=seed)
    return rc.camera_path("sideways", frames, seed=seed)


def render_clip(kind: str, frames: int, size: tuple[int, int] = (640, 360), seed: int = 0):
    """-> (frames (T, H, W, 3) uint8, K, cam_from_world (T, 4, 4), moving-object index (T, H, W) bool)."""
    from blur4d import raycast as rc

    scene = _scene(kind)
    W, H = size
    K = rc.intrinsics(W, H)
    poses = _path(kind, frames, seed)
    rng = np.random.default_rng(seed)
    moving = [i for i, o in enumerate(scene.objects) if o.motion is not None]
    imgs, truth = [], []
    for n, t in enumerate(np.linspace(0.0, 1.0, frames)):
        rgb, _, idx = rc.render(scene, K, poses[n], (W, H), t=float(t), supersample=1)
        imgs.append(np.clip(np.rint(rgb + rng.normal(0, 1.0, rgb.shape)), 0, 255).astype(np.uint8))
        truth.append(np.isin(idx, moving))
    return np.stack(imgs), K, poses, np.stack(truth)


def _flagged_ref(dynamic, K, Tcw, ref: int, size: tuple[int, int]) -> np.ndarray:
    from blur4d import geometry as geo

    W, H = size
    out = np.zeros((H, W), bool)
    d = dynamic[ref]
    if len(d):
        uv, _ = geo.project(K, Tcw, d.xyz.astype(np.float64))
        xi = np.clip(np.round(uv[:, 0]).astype(int), 0, W - 1)
        yi = np.clip(np.round(uv[:, 1]).astype(int), 0, H - 1)
        out[yi, xi] = True
    return out


# the methods compared on the same frames and cameras: the stage's default, the same without the
# photometric check (the region-median rule alone), and the trivial baseline that calls every pixel
# above the residual threshold moving (its regions' median not asked, no check; the 3x3 opening and
# the 64 px minimum region kept). "Nothing moves" needs no run: 0 false px, recall 0.
METHODS = {
    "default": {},
    "no photo check": {"photometric_check": False},
    "above threshold": {"photometric_check": False, "dynamic_seed_px": 1e-6, "dynamic_region_sigma": 0.0},
}


def evaluate(kind: str, frames: int, colmap: bool, seed: int = 0, methods=tuple(METHODS)) -> list[dict]:
    from blur4d.adapters._dense import DenseOptions, dense_points
    from blur4d.types import Cameras, Intervals, Video

    imgs, K, poses, truth = render_clip(kind, frames, seed=seed)
    T, H, W = imgs.shape[:3]
    rows = []
    runs = [("true cameras", None, m) for m in methods] + ([("colmap", "colmap", "default")] if colmap else [])
    for label, backend, method in runs:
        c0 = time.process_time()
        if backend is None:
            cams = Cameras(K=np.repeat(K[None], T, 0), cam_from_world=poses, image_size=(W, H),
                           registered=np.ones(T, bool), motion="translation")
            ref = 0
            opts = DenseOptions(long_side=W, noise_px=0.1, **METHODS[method])
            _, dyn, _, info = dense_points(imgs, cams, ref, options=opts)
        else:
            from blur4d.adapters.colmap import ColmapCameras

            s = np.linspace(-0.5, 0.5, T)
            res = ColmapCameras(dense_long_side=W)(Video(imgs, Intervals(np.stack([s, s], 1))), seed=0)
            if not res.cameras.ok or "ref" not in res.info.get("dense", {}):
                rows.append({"clip": kind, "seed": seed, "frames": T, "cameras": label, "method": method,
                             "note": res.cameras.reason or "no dense"})
                continue
            cams, dyn, info = res.cameras, res.dynamic, res.info["dense"]
            ref = int(info["ref"])
        cpu = time.process_time() - c0
        flagged = _flagged_ref(dyn, cams.K[ref], cams.cam_from_world[ref], ref, (W, H))
        tr = truth[ref]
        tp, fp = int((flagged & tr).sum()), int((flagged & ~tr).sum())
        rows.append({"clip": kind, "seed": seed, "frames": T, "cameras": label, "method": method,
                     "truth_px": int(tr.sum()), "flagged_px": int(flagged.sum()),
                     "precision": tp / max(1, tp + fp) if tp + fp else None,
                     "recall": tp / tr.sum() if tr.any() else None, "false_px": fp,
                     "moving_points": int(sum(len(d) for d in dyn)), "cpu_s": cpu,
                     "regions_static": sum(r.get("decision") == "static" for r in info.get("dynamic_regions", [])),
                     "threshold_px": info.get("dynamic_threshold_px")})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, nargs="+", default=[16, 64])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0],
                    help="camera-path variant and noise seed (0: the canonical paths)")
    ap.add_argument("--clips", nargs="+", default=["static sideways", "static handheld", "dolly + box",
                                                   "sideways + box up"])
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    ap.add_argument("--colmap", action="store_true", help="also run the colmap backend (its own cameras)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    rows = []
    for seed in args.seeds:
        for kind in args.clips:
            for T in args.frames:
                new = evaluate(kind, T, args.colmap, seed, tuple(args.methods))
                rows += new
                for r in new:
                    print(json.dumps(r), flush=True)

    def f(v, fmt="{:.2f}"):
        return "-" if v is None else fmt.format(v)
    print(f"\n{'clip':20s} {'seed':>4s} {'T':>3s} {'cameras':12s} {'method':15s} {'truth px':>8s} {'flagged':>8s} "
          f"{'false px':>8s} {'precision':>9s} {'recall':>6s} {'none: recall':>12s} {'moving pts':>10s} {'CPU s':>6s}")
    for r in rows:
        if "note" in r:
            print(f"{r['clip']:20s} {r['seed']:4d} {r['frames']:3d} {r['cameras']:12s} {r['method']:15s} {r['note']}")
            continue
        print(f"{r['clip']:20s} {r['seed']:4d} {r['frames']:3d} {r['cameras']:12s} {r['method']:15s} "
              f"{r['truth_px']:8d} {r['flagged_px']:8d} {r['false_px']:8d} {f(r['precision']):>9s} "
              f"{f(r['recall']):>6s} {('0.00' if r['truth_px'] else '-'):>12s} {r['moving_points']:10d} "
              f"{r['cpu_s']:6.1f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
