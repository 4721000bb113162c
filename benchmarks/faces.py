"""Face tracking benchmark: head-rotation error on faces with known motion, detection rate and id
stability on the real Tears of Steel clip, and speed at 1280x720.

    python benchmarks/faces.py [--only rotation|real|speed] [--frames N]

Detection (recall per face size / yaw, false faces per distractor kind, on ray-cast scenes and
real clips) is measured by ``benchmarks/face_detection.py``.

Rotation truth: scikit-image's astronaut face (1) rotated in the image plane about the principal
point (roll, exact), (2) mapped onto a plane and (3) onto the front of an ellipsoid head, both
ray-cast at known yaw/pitch (and combined) rotations. The error is the geodesic angle between
the estimated and the true rotation relative to frame 0. (4) The astronaut's face as a textured 3D mesh (MediaPipe's
own face shape, the same shape as the PnP model: optimistic, no shape mismatch). Plane and
ellipsoid targets are not face-shaped (a flat nose does not shift with yaw), so they measure the
method plus that mismatch. Not a test: prints tables.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from blur4d.adapters import faces as F
from blur4d.types import Intervals, Video

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO.parent / "shared" / "data" / "face" / "tears_of_steel" / "clip_01_tears_of_steel.mp4"


def _video(frames: list[np.ndarray], fps: float = 20.0) -> Video:
    arr = np.stack(frames)
    return Video(arr, Intervals.present(len(arr)), fps=fps)


def _rel_errors(faces, R_true: list[np.ndarray], raw: bool = True) -> tuple[np.ndarray, int]:
    """Per-frame relative-rotation error (deg) of the face with the most frames; NaN where missed."""
    pose = faces.cam_from_head_raw if raw else faces.cam_from_head
    if faces.num_faces == 0:
        return np.full(len(R_true), np.nan), 0
    m = int(np.argmax(faces.present.sum(axis=0)))
    errs = np.full(len(R_true), np.nan)
    if not np.isfinite(pose[0, m, 0, 0]):
        return errs, faces.num_faces
    R0 = pose[0, m, :3, :3]
    for t in range(len(R_true)):
        if np.isfinite(pose[t, m, 0, 0]):
            est = pose[t, m, :3, :3] @ R0.T
            true = R_true[t] @ R_true[0].T
            errs[t] = F.rotation_angle_deg(est, true)
    return errs, faces.num_faces


def rotation_sets(size=(640, 480), fov=50.0):
    from scipy.spatial.transform import Rotation

    K = F.intrinsics_for(*size, fov)
    tex = F.astronaut_face(320)
    sets = {}
    rolls = [0, -40, -30, -20, -10, 10, 20, 30, 40]
    imgs, Rs = [], []
    for a in rolls:
        img, R = F.roll_face(tex[40:280, 40:280], a, size)
        imgs.append(img)
        Rs.append(R)
    sets["roll (image rotation)"] = (imgs, Rs, [f"roll {a}" for a in rolls])
    for surface in ("plane", "ellipsoid"):
        for axis, angles in (("yaw", [0, -30, -20, -10, 10, 20, 30]), ("pitch", [0, -20, -10, 10, 20])):
            imgs, Rs = [], []
            for a in angles:
                R = Rotation.from_euler("y" if axis == "yaw" else "x", a, degrees=True).as_matrix()
                imgs.append(F.render_face_surface(tex, R, K, size, surface=surface, distance_cm=45.0,
                                                  face_width_cm=24.0))
                Rs.append(R)
            sets[f"{axis} ({surface})"] = (imgs, Rs, [f"{axis} {a}" for a in angles])
        rng = np.random.default_rng(0)
        imgs, Rs = [np.zeros(0)], [np.eye(3)]
        imgs[0] = F.render_face_surface(tex, np.eye(3), K, size, surface=surface, distance_cm=45.0, face_width_cm=24.0)
        for _ in range(8):
            e = rng.uniform([-25, -15, -20], [25, 15, 20])  # yaw, pitch, roll (deg)
            R = Rotation.from_euler("yxz", e, degrees=True).as_matrix()
            imgs.append(F.render_face_surface(tex, R, K, size, surface=surface, distance_cm=45.0, face_width_cm=24.0))
            Rs.append(R)
        sets[f"combined ({surface})"] = (imgs, Rs, ["random"] * len(imgs))
    rng = np.random.default_rng(1)
    for axis, angles in (("yaw", [0, -40, -30, -20, -10, 10, 20, 30, 40]), ("pitch", [0, -25, -15, -10, 10, 15, 25])):
        Rs = [Rotation.from_euler("y" if axis == "yaw" else "x", a, degrees=True).as_matrix() for a in angles]
        labels = [f"{axis} {a}" for a in angles]
        sets[f"{axis} (face mesh)"] = ([F.render_face_mesh(R, K, size) for R in Rs], Rs, labels)
    Rs = [np.eye(3)] + [Rotation.from_euler("yxz", rng.uniform([-30, -20, -25], [30, 20, 25]), degrees=True).as_matrix()
                        for _ in range(12)]
    sets["combined (face mesh)"] = ([F.render_face_mesh(R, K, size) for R in Rs], Rs, ["random"] * len(Rs))
    return sets, K


def bench_rotation(face_model: str | None = None) -> None:
    sets, K = rotation_sets()
    print("\n## Head-rotation error vs truth (relative to frame 0), raw PnP poses, K known")
    print(f"face model: {F.load_face_model(face_model).source}")
    print(f"{'set':26s} {'frames':>6s} {'found':>5s} {'median':>7s} {'mean':>6s} {'max':>6s}  per frame (deg)")
    allerr = []
    for name, (imgs, Rs, labels) in sets.items():
        tracker = F.FaceMeshTracker(static_image_mode=True, smoothing="none", max_faces=1, face_model=face_model)
        faces = tracker(_video(imgs), K=K)
        errs, _ = _rel_errors(faces, Rs)
        e = errs[1:]
        allerr.append(e[np.isfinite(e)])
        found = int(np.isfinite(errs).sum())
        per = " ".join(f"{l.split()[-1]}:{v:.1f}" if np.isfinite(v) else f"{l.split()[-1]}:miss"
                       for l, v in zip(labels[1:], e))
        print(f"{name:26s} {len(imgs):6d} {found:5d} {np.nanmedian(e):7.2f} {np.nanmean(e):6.2f} "
              f"{np.nanmax(e):6.2f}  {per}")
    a = np.concatenate(allerr)
    print(f"{'all':26s} {'':6s} {len(a):5d} {np.median(a):7.2f} {a.mean():6.2f} {a.max():6.2f}")


def bench_smoothing(n: int = 32) -> None:
    """A yaw sweep (+-30 deg sine, one period in n frames at 20 fps) of the face mesh with pixel
    noise: raw vs causal vs forward-backward One-Euro. Lag from the cross-correlation with truth."""
    from scipy.spatial.transform import Rotation

    size = (640, 480)
    K = F.intrinsics_for(*size, 50.0)
    yaw = 30 * np.sin(np.linspace(0, 2 * np.pi, n, endpoint=False))
    rng = np.random.default_rng(0)
    Rs = [Rotation.from_euler("y", a, degrees=True).as_matrix() for a in yaw]
    imgs = []
    for R in Rs:
        im = F.render_face_mesh(R, K, size).astype(np.int16) + rng.normal(0, 6, (size[1], size[0], 3)).round()
        imgs.append(np.clip(im, 0, 255).astype(np.uint8))
    model = F.load_face_model(None).mesh
    truth_uv = []
    for R in Rs:
        cam = model @ R.T + np.array([0, 0, 45.0])
        truth_uv.append(cam[:, :2] / cam[:, 2:] * [K[0, 0], K[1, 1]] + [K[0, 2], K[1, 2]])
    truth_uv = np.stack(truth_uv)
    print(f"\n## Smoothing on a yaw sweep (face mesh, +-30 deg, {n} frames at 20 fps, pixel noise sigma 6)")
    print(f"{'mode':18s} {'yaw lag (frames)':>16s} {'gain':>5s} {'yaw rms (deg)':>13s} {'frame 0 err':>11s} "
          f"{'landmark err (px)':>17s} {'landmark lag':>12s}")
    b = yaw - yaw.mean()
    for mode in ("none", "causal", "forward-backward"):
        faces = F.FaceMeshTracker(smoothing=mode, max_faces=1)(_video(imgs), K=K)
        P = faces.cam_from_head[:, 0]
        y = np.array([Rotation.from_matrix(P[t, :3, :3]).as_euler("yxz", degrees=True)[0] for t in range(n)])
        a = y - y.mean()
        lm = faces.landmarks[:, 0, :468, :2]
        lerr = float(np.mean(np.linalg.norm(lm - truth_uv, axis=2)))
        lx, tx = lm[..., 0].mean(axis=1), truth_uv[..., 0].mean(axis=1)
        print(f"{mode:18s} {_lag(a, b):16.2f} {a @ b / (b @ b):5.2f} {np.sqrt(np.mean((a - b) ** 2)):13.2f} "
              f"{y[0] - yaw[0]:+11.2f} {lerr:17.2f} {_lag(lx - lx.mean(), tx - tx.mean()):12.2f}")


def _lag(a: np.ndarray, b: np.ndarray) -> float:
    """Delay (frames, sub-frame by a parabola) of series a behind b from their circular cross-correlation."""
    shifts = np.arange(-4, 5)
    cc = np.array([np.dot(np.roll(b, s), a) for s in shifts])
    k = int(np.argmax(cc))
    frac = 0.0
    if 0 < k < len(cc) - 1:
        den = cc[k - 1] - 2 * cc[k] + cc[k + 1]
        frac = 0.5 * (cc[k - 1] - cc[k + 1]) / den if den else 0.0
    return float(shifts[k] + frac)


def bench_real(frames: tuple[int, int] = (65, 185)) -> None:
    from blur4d.media import read_frames

    if not CLIP.is_file():
        print(f"\n(real clip not found at {CLIP}; skipped)")
        return
    fr, fps = read_frames(CLIP)
    a, b = frames
    video = Video(fr[a:b], Intervals.present(b - a), fps=fps)
    print(f"\n## Real clip {CLIP.name}, frames {a}-{b - 1} ({b - a} frames, {video.width}x{video.height})")
    for static in (False, True):
        t0 = time.perf_counter()
        faces = F.FaceMeshTracker(static_image_mode=static)(video)
        dt = time.perf_counter() - t0
        any_face = faces.present.any(axis=1)
        counts = faces.present.sum(axis=0)
        print(f"static_image_mode={static}: detection rate {any_face.mean() * 100:.1f}% "
              f"({any_face.sum()}/{len(any_face)}), "
              f"ids {faces.num_faces}, frames per id {counts.tolist()}, wall {dt:.1f} s, "
              f"re-detections {faces.provenance.extra.get('redetections', 0)}")
        for m in range(faces.num_faces):
            rows = np.flatnonzero(faces.present[:, m])
            runs = np.split(rows, np.flatnonzero(np.diff(rows) > 1) + 1)
            spans = ", ".join(f"{r[0] + a}-{r[-1] + a}" for r in runs)
            box = np.nanmean(faces.bbox[rows, m], axis=0).round(0).tolist()
            print(f"   id {int(faces.ids[m])}: clip frames {spans}; mean box {box}")
        main = int(np.argmax(counts))
        ok = faces.present[:, main] & np.isfinite(faces.cam_from_head[:, main, 0, 0])
        raw = faces.cam_from_head_raw[ok, main]
        sm = faces.cam_from_head[ok, main]
        jit_raw = np.array([F.rotation_angle_deg(raw[i], raw[i + 1]) for i in range(len(raw) - 1)])
        jit_sm = np.array([F.rotation_angle_deg(sm[i], sm[i + 1]) for i in range(len(sm) - 1)])
        print(f"   main id {main}: frame-to-frame rotation raw median {np.median(jit_raw):.2f} deg, "
              f"smoothed {np.median(jit_sm):.2f} deg")


def bench_speed(frames: int = 120) -> None:
    import cv2

    from blur4d.media import read_frames

    if CLIP.is_file():
        fr, fps = read_frames(CLIP)
        src = fr[65:65 + frames]
        what = "Tears of Steel frames 65+ upscaled"
    else:
        src = np.stack([F.render_face_surface(F.astronaut_face(320), np.eye(3), F.intrinsics_for(640, 360, 50),
                                              (640, 360), distance_cm=45.0)] * frames)
        fps, what = 24.0, "synthetic"
    video = Video(np.stack([cv2.resize(f, (1280, 720), interpolation=cv2.INTER_LINEAR) for f in src]),
                  Intervals.present(len(src)), fps=fps)
    print(f"\n## Speed at 1280x720 ({what}, {video.num_frames} frames)")
    F.load_face_model(None)  # derived model built once per process; not counted
    for static in (False, True):
        tracker = F.FaceMeshTracker(static_image_mode=static)
        t0 = time.perf_counter()
        faces = tracker(video)
        dt = time.perf_counter() - t0
        tm = faces.provenance.timings
        print(f"static_image_mode={static}: {video.num_frames / dt:.1f} frames/s end to end "
              f"(detect {tm['detect']:.2f} s, ids+PnP+smoothing {tm['track_pose_smooth']:.2f} s, "
              f"MediaPipe init included)")
    t0 = time.perf_counter()
    for t in range(video.num_frames):
        F.draw_faces(video.frames[t], faces, t)
    print(f"overlay drawing: {video.num_frames / (time.perf_counter() - t0):.1f} frames/s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=("rotation", "smoothing", "real", "speed"), default=None)
    ap.add_argument("--frames", type=int, default=120, help="frames for the speed test")
    ap.add_argument("--face-model", default=None, help="canonical_face_model.obj / .binarypb / .task to compare")
    args = ap.parse_args()
    import os

    print(f"CPU cores: {os.cpu_count()}; load average: {os.getloadavg()}")
    if args.only in (None, "rotation"):
        bench_rotation(args.face_model)
    if args.only in (None, "smoothing"):
        bench_smoothing()
    if args.only in (None, "real"):
        bench_real()
    if args.only in (None, "speed"):
        bench_speed(args.frames)


if __name__ == "__main__":
    main()
