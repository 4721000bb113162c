"""Which dense points move on their own? Precision and recall of the dense stage's moving points
where the truth is known, beside the trivial baseline (nothing moves).

    python benchmarks/dynamic_points.py                        # ray-cast groups, true cameras
    python benchmarks/dynamic_points.py --colmap               # also the colmap backend's own cameras
    python benchmarks/dynamic_points.py --frames 16 64 --json out.json

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


def _path(kind: str, frames: int) -> np.ndarray:
    from blur4d import raycast as rc

    if "handheld" in kind:
        return rc.camera_path("handheld", frames, seed=3)
    if "dolly" in kind:
        return rc.camera_path("dolly", frames)
    return rc.camera_path("sideways", frames)


def render_clip(kind: str, frames: int, size: tuple[int, int] = (640, 360), seed: int = 0):
    """-> (frames (T, H, W, 3) uint8, K, cam_from_world (T, 4, 4), moving-object index (T, H, W) bool)."""
    from blur4d import raycast as rc

    scene = _scene(kind)
    W, H = size
    K = rc.intrinsics(W, H)
    poses = _path(kind, frames)
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


def evaluate(kind: str, frames: int, colmap: bool) -> list[dict]:
    from blur4d.adapters._dense import DenseOptions, dense_points
    from blur4d.types import Cameras, Intervals, Video

    imgs, K, poses, truth = render_clip(kind, frames)
    T, H, W = imgs.shape[:3]
    rows = []
    runs = [("true cameras", None)] + ([("colmap", "colmap")] if colmap else [])
    for label, backend in runs:
        c0 = time.process_time()
        if backend is None:
            cams = Cameras(K=np.repeat(K[None], T, 0), cam_from_world=poses, image_size=(W, H),
                           registered=np.ones(T, bool), motion="translation")
            ref = 0
            _, dyn, _, info = dense_points(imgs, cams, ref, options=DenseOptions(long_side=W, noise_px=0.1))
        else:
            from blur4d.adapters.colmap import ColmapCameras

            s = np.linspace(-0.5, 0.5, T)
            res = ColmapCameras(dense_long_side=W)(Video(imgs, Intervals(np.stack([s, s], 1))), seed=0)
            if not res.cameras.ok or "ref" not in res.info.get("dense", {}):
                rows.append({"clip": kind, "frames": T, "cameras": label, "note": res.cameras.reason or "no dense"})
                continue
            cams, dyn, info = res.cameras, res.dynamic, res.info["dense"]
            ref = int(info["ref"])
        cpu = time.process_time() - c0
        flagged = _flagged_ref(dyn, cams.K[ref], cams.cam_from_world[ref], ref, (W, H))
        tr = truth[ref]
        tp, fp = int((flagged & tr).sum()), int((flagged & ~tr).sum())
        rows.append({"clip": kind, "frames": T, "cameras": label, "truth_px": int(tr.sum()),
                     "flagged_px": int(flagged.sum()), "precision": tp / max(1, tp + fp) if tp + fp else None,
                     "recall": tp / tr.sum() if tr.any() else None, "false_px": fp,
                     "moving_points": int(sum(len(d) for d in dyn)), "cpu_s": cpu,
                     "threshold_px": info.get("dynamic_threshold_px")})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, nargs="+", default=[16, 64])
    ap.add_argument("--clips", nargs="+", default=["static sideways", "static handheld", "dolly + box",
                                                   "sideways + box up"])
    ap.add_argument("--colmap", action="store_true", help="also run the colmap backend (its own cameras)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    rows = []
    for kind in args.clips:
        for T in args.frames:
            rows += evaluate(kind, T, args.colmap)
            print(json.dumps(rows[-1]), flush=True)

    def f(v, fmt="{:.2f}"):
        return "-" if v is None else fmt.format(v)
    print(f"\n{'clip':20s} {'T':>3s} {'cameras':12s} {'truth px':>8s} {'flagged':>8s} {'false px':>8s} "
          f"{'precision':>9s} {'recall':>6s} {'none: recall':>12s} {'moving pts':>10s} {'CPU s':>6s}")
    for r in rows:
        if "note" in r:
            print(f"{r['clip']:20s} {r['frames']:3d} {r['cameras']:12s} {r['note']}")
            continue
        print(f"{r['clip']:20s} {r['frames']:3d} {r['cameras']:12s} {r['truth_px']:8d} {r['flagged_px']:8d} "
              f"{r['false_px']:8d} {f(r['precision']):>9s} {f(r['recall']):>6s} "
              f"{('0.00' if r['truth_px'] else '-'):>12s} {r['moving_points']:10d} {r['cpu_s']:6.1f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
