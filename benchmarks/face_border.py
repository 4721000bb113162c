"""Faces sliding in from a frame border (held out: written after the detector's thresholds and
sweeps were set; nothing in ``adapters/faces`` was tuned on it).

    python benchmarks/face_border.py [--sets 1280x720:71,640x360:72] [--quick] [--cache DIR]

Each clip (``blur4d.raycast``, open3d Embree, not ``adapters.faces.render``): a poster with a face
(skimage's astronaut or the Tears-of-Steel woman of ``face_heldout``; faces 24-120 px high,
poster yaw up to 30 deg, so the apparent yaw stays within the issue's 60 deg) in front of the
tuning set's textured wall and ground. The camera pans (rotates about its centre, about y for the
left/right borders, about x for top/bottom) from a view where the face lies wholly outside the
frame to one where it lies just inside a border, over 4-10 frames, then holds (small hand-held
shake) to the end of the clip. So the face enters cut by the border, then is whole. Distractor
clips (cat/chelsea textures on spheres and posters) slide in the same way.

Truth per frame: the face box drawn by hand on the texture, its four corners projected through
the renderer's exact camera, clipped to the frame. A face counts in a frame when at least half of
its box lies inside the frame and shows the poster (the renderer's object index at each pixel
centre: a poster placed low can be hidden behind the ground) (``partial``: 50-95 %; ``whole``:
>= 95 %). A detection
counts as false when its box overlaps no visible part of the face (IoU < 0.3 with the clipped
box, also on frames where less than half of the face is in). Reported per frame size: recall at
IoU 0.5 (boxes clipped to the frame) for partial and whole faces and per size bin, frames from
the first frame the face is whole until it is first found (negative: found while still cut by
the border), and false faces per 100 frames. The trivial baseline beside it: MediaPipe's Face
Mesh on whole frames (``before``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from blur4d.adapters import faces as F

SIZE_EDGES = (0, 30, 60, 120)  # face height bins (px): <30, 30-60, 60-120, >=120
BORDERS = ("left", "right", "top", "bottom")


def _pan(axis: str, angle: float) -> np.ndarray:
    from blur4d import raycast as R

    return R.look_at((0.0, 0.0, 0.0), (angle, 0.0, 0.0) if axis == "x" else (0.0, angle, 0.0))


def _outside(box: np.ndarray, border: str, W: int, H: int) -> bool:
    return {"left": box[2] < -0.5, "right": box[0] > W - 0.5, "top": box[3] < -0.5, "bottom": box[1] > H - 0.5}[border]


def border_clip(tex: np.ndarray, fb: np.ndarray, h_px: float, border: str, rng, K: np.ndarray,
                size: tuple[int, int], frames: int, name: str, kind: str = "face", sphere: bool = False,
                supersample: int = 2):
    """One clip: an object (a face poster, or a distractor) that ends ``margin`` inside ``border``
    after a pan of 4-12 frames. Returns a ``face_detection.Clip`` whose ``meta['boxes']`` holds
    the face's projected (unclipped) box on every frame, ``meta['inside']`` the share of it in
    the frame."""
    from face_detection import Clip, _backdrop, _project

    from blur4d import raycast as R

    W, H = size
    ph = 1.0
    face_h = ph * (fb[3] - fb[1]) / tex.shape[0]
    z = K[1, 1] * face_h / h_px
    yaw = float(rng.uniform(-30, 30))
    u = np.array([np.cos(np.radians(yaw)), 0.0, -np.sin(np.radians(yaw))])
    v = np.array([0.0, 1.0, 0.0])
    fw = h_px * (fb[2] - fb[0]) / (fb[3] - fb[1])
    # final face centre (pixels): within 0.6-2 face sizes of the border, anywhere along it
    m = float(rng.uniform(0.6, 2.0))
    along = float(rng.uniform(0.2, 0.8))
    fx = {"left": m * fw, "right": W - 1 - m * fw}.get(border, along * W)
    fy = {"top": m * h_px, "bottom": H - 1 - m * h_px}.get(border, along * H)
    fx, fy = float(np.clip(fx, fw / 2, W - 1 - fw / 2)), float(np.clip(fy, h_px / 2, H - 1 - h_px / 2))
    ray = np.linalg.solve(K, [fx, fy, 1.0])
    face_c = ray / ray[2] * z
    s = ph / tex.shape[0]
    tex_face_c = np.array([(fb[0] + fb[2]) / 2, (fb[1] + fb[3]) / 2])
    centre = face_c - ((tex_face_c[0] - tex.shape[1] / 2) * s) * u - ((tex_face_c[1] - tex.shape[0] / 2) * s) * v
    if sphere:
        obj = R.SceneObject(R.sphere(face_c, 0.5 * face_h / 0.41, tex), name="object")
    else:
        obj = R.SceneObject(R.quad(centre, u, v, ph * tex.shape[1] / tex.shape[0], ph, tex), name="object")
    corners = np.array([centre + ((px - tex.shape[1] / 2) * s) * u + ((py - tex.shape[0] / 2) * s) * v
                        for px, py in ((fb[0], fb[1]), (fb[2], fb[1]), (fb[2], fb[3]), (fb[0], fb[3]))])
    if sphere:  # the distractor's "face" is the sphere's outline
        r = 0.5 * face_h / 0.41
        corners = np.array([face_c + [dx, dy, 0.0] for dx in (-r, r) for dy in (-r, r)])
    axis = "y" if border in ("left", "right") else "x"
    # the pan angle at which the object lies wholly beyond the border: step out from the final view
    b0 = _project(K, _pan(axis, 0.0), corners)
    b1 = _project(K, _pan(axis, 1e-3), corners)
    toward = {"left": b1[0] < b0[0], "right": b1[0] > b0[0], "top": b1[1] < b0[1], "bottom": b1[1] > b0[1]}[border]
    sgn = 1.0 if toward else -1.0
    a = 0.0
    while not _outside(_project(K, _pan(axis, sgn * a), corners), border, W, H):
        a += 2e-3
    a += float(rng.uniform(0.0, 0.02))  # and a little further: the object is out for a frame or more
    n_in = int(rng.integers(4, 11))
    light = tuple(float(x) for x in rng.uniform([-1, -1.2, -1], [1, -0.2, 0]))
    scene = R.RaycastScene(tuple(_backdrop() + [obj]), light=light, ambient=float(rng.uniform(0.3, 0.7)))
    imgs, truth, boxes, inside = [], [], [], []
    for t in range(frames):
        f = min(1.0, t / n_in)
        ang = sgn * a * (1.0 - (3 * f * f - 2 * f ** 3))  # smooth start and stop
        T = R.look_at(rng.uniform(-0.01, 0.01, 3), np.array([ang if axis == "x" else 0.0, ang if axis == "y" else 0.0,
                                                             0.0]) + rng.uniform(-0.002, 0.002, 3))
        rgb, _, idx = R.render(scene, K, T, size, supersample=supersample)
        imgs.append(np.clip(np.rint(rgb + rng.normal(0, 1.5, rgb.shape)), 0, 255).astype(np.uint8))
        box = _project(K, T, corners)
        cb = np.clip(box, -0.5, [W - 0.5, H - 0.5, W - 0.5, H - 0.5])
        share = float(max(0.0, cb[2] - cb[0]) * max(0.0, cb[3] - cb[1]) / ((box[2] - box[0]) * (box[3] - box[1])))
        # ... times the share of its in-frame pixels that show the object (a poster placed low can
        # lie behind the ground: the face is then not in the picture, whatever its projected box)
        x0, y0 = int(np.ceil(cb[0])), int(np.ceil(cb[1]))
        part = idx[y0:int(np.floor(cb[3])) + 1, x0:int(np.floor(cb[2])) + 1]
        share *= float(np.mean(part == len(scene.objects) - 1)) if part.size else 0.0
        boxes.append(box.tolist())
        inside.append(round(share, 3))
        truth.append(box[None] if kind == "face" and share >= 0.5 else np.zeros((0, 4)))
    return Clip(name, kind, np.stack(imgs), truth, float(h_px), yaw,
                {"border": border, "pan_frames": n_in, "boxes": boxes, "inside": inside, "size": list(size)})


def build_border(size: tuple[int, int], seed: int, *, quick: bool = False, frames: int = 18,
                 supersample: int | None = None) -> list:
    """Face clips (astronaut and the ToS woman, 24-120 px, every border in turn) and distractors.
    ``supersample`` (rays per pixel side) defaults to 2 up to 640x360 and 1 above (render time)."""
    from face_detection import _tex
    from face_heldout import _textures

    from blur4d import raycast as R

    rng = np.random.default_rng(seed)
    W, H = size
    K = R.intrinsics(W, H, float(rng.uniform(50, 70)))
    texs = _textures(_tex)
    ss = supersample or (2 if W * H <= 640 * 360 else 1)
    heights = np.geomspace(24, 120, 3 if quick else 4)
    clips, k = [], 0
    for name in ("astronaut", "tos_woman"):
        if name not in texs:
            continue
        tex, fb = texs[name]
        for h in heights:
            border = BORDERS[k % 4]
            k += 1
            hp = float(h * rng.uniform(0.9, 1.1))
            clips.append(border_clip(tex, fb, hp, border, rng, K, size, frames, f"{name} {hp:.0f}px from {border}",
                                     supersample=ss))
    for texname, sphere in (("cat", True),) if quick else (("cat", True), ("chelsea", False)):
        tex = _tex(texname)
        border = BORDERS[k % 4]
        k += 1
        hp = float(rng.uniform(40, 120))
        # the distractor texture's "face box": its central half
        tb = np.array([0.25 * tex.shape[1], 0.25 * tex.shape[0], 0.75 * tex.shape[1], 0.75 * tex.shape[0]])
        clips.append(border_clip(tex, tb, hp, border, rng, K, size, frames,
                                 f"{'sphere' if sphere else 'poster'} {texname} from {border}",
                                 kind=f"{'sphere' if sphere else 'poster'} ({texname})", sphere=sphere, supersample=ss))
    return clips


def evaluate_border(clip, boxes: list[np.ndarray]) -> dict:
    """Per-clip counts: hits/truth for partial and whole faces, first find relative to the first
    whole frame, false detections."""
    from face_detection import _iou, clip_boxes

    H, W = clip.frames.shape[1:3]
    out = {"partial": [], "whole": [], "false": 0, "first": None, "whole_at": None}
    for t, pred in enumerate(boxes):
        pred = clip_boxes(pred, W, H)
        vis = clip_boxes(np.asarray(clip.meta["boxes"][t]), W, H)[0]
        share = clip.meta["inside"][t]
        counted = clip.kind == "face" and share >= 0.5
        hit = counted and any(_iou(vis, p) >= 0.5 for p in pred)
        if counted:
            out["whole" if share >= 0.95 else "partial"].append(hit)
            if share >= 0.95 and out["whole_at"] is None:
                out["whole_at"] = t
            if hit and out["first"] is None:
                out["first"] = t
        near = clip.kind == "face" and share > 0
        out["false"] += sum(1 for p in pred if not (near and _iou(vis, p) >= 0.3))
    return out


def run(methods: dict, clips: list, label: str) -> None:
    from face_detection import _bin, tracker_boxes

    faces = [c for c in clips if c.kind == "face"]
    print(f"\n## {label}: {len(faces)} faces sliding in from a border ({len(clips) - len(faces)} distractors), "
          f"{sum(len(c.frames) for c in clips)} frames")
    print(f"  {'method':8s} {'all':>5s} {'part.':>5s} {'whole':>5s} {'<30px':>5s} {'30-60':>5s} {'60-120':>6s} "
          f"{'120+':>5s}  {'first find vs whole: median':>27s} {'max':>4s} {'never':>5s} {'false/100fr':>11s} "
          f"{'CPU s/fr':>8s}")
    for name, make in methods.items():
        rows, c0, nf = [], time.process_time(), 0
        for c in clips:
            rows.append((c, evaluate_border(c, tracker_boxes(make(), c.frames))))
            nf += len(c.frames)
        cpu = (time.process_time() - c0) / nf
        cat: dict[str, list[bool]] = {}
        firsts, never, false = [], 0, 0
        for c, r in rows:
            false += r["false"]
            if c.kind != "face":
                continue
            b = _bin(c.size_px, SIZE_EDGES)
            for key in ("partial", "whole"):
                cat.setdefault(key, []).extend(r[key])
                cat.setdefault("all", []).extend(r[key])
                cat.setdefault(b, []).extend(r[key])
            if r["whole_at"] is None:  # never whole in view (hidden in part behind the ground)
                continue
            if r["first"] is None:
                never += 1
            else:
                firsts.append(r["first"] - r["whole_at"])
        f = {k: f"{np.mean(v):.2f}" if v else "-" for k, v in cat.items()}
        print(f"  {name.split(':')[0]:8s} {f.get('all', '-'):>5s} {f.get('partial', '-'):>5s} "
              f"{f.get('whole', '-'):>5s} {f.get('0-30', '-'):>5s} {f.get('30-60', '-'):>5s} "
              f"{f.get('60-120', '-'):>6s} {f.get('>120', '-'):>5s}  "
              f"{(np.median(firsts) if firsts else float('nan')):27.0f} {max(firsts, default=0):4d} {never:5d} "
              f"{100 * false / nf:11.1f} {cpu:8.3f}")
        slow = [f"{c.name} ({r['first'] - r['whole_at'] if r['first'] is not None else 'never'})"
                for c, r in rows if c.kind == "face" and r["whole_at"] is not None
                and (r["first"] is None or r["first"] - r["whole_at"] > 2)]
        print("    found > 2 frames after whole: " + ("; ".join(slow) or "none"))


def main() -> None:
    from face_detection import load_clips, save_clips

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default="1280x720:71,640x360:72", help="WxH:seed,...")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--methods", default="before,f13f,after")
    ap.add_argument("--cache", default=None, help="folder for the rendered sets (reused when there)")
    args = ap.parse_args()
    all_methods = {
        "before: FaceMesh video mode (short-range detector)":
            lambda: F.FaceMeshTracker(smoothing="none", detector="facemesh"),
        "changes: crops detector, changed regions first (f13d)":
            lambda: F.FaceMeshTracker(smoothing="none", shift_tolerant_change=False),
        "f13e: crops detector, changed regions first, change not explained by a one-cell shift":
            lambda: F.FaceMeshTracker(smoothing="none", follow_camera=False),
        "f13f: crops detector, changed regions first, the change map following the camera's pan":
            lambda: F.FaceMeshTracker(smoothing="none", strip_peaks=False),
        "after: as f13f, the entering strip's tile centred on its strongest face-sized change (f13g)":
            lambda: F.FaceMeshTracker(smoothing="none"),
    }
    methods = {k: v for k, v in all_methods.items() if k.split(":")[0] in args.methods.split(",")}
    for spec in args.sets.split(","):
        wh, s = spec.split(":")
        size, seed = tuple(int(v) for v in wh.split("x")), int(s)
        path = Path(args.cache) / f"border_{size[0]}_{seed}{'q' if args.quick else ''}_v2.npz" if args.cache else None
        t0 = time.perf_counter()
        if path is not None and path.is_file():
            clips = load_clips(path)
        else:
            clips = build_border(size, seed, quick=args.quick)
            if path is not None:
                save_clips(path, clips)
        run(methods, clips, f"{size[0]}x{size[1]} seed {seed} (rendered in {time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
