"""Benchmark of the 3D-consistency check (``check`` backend ``sift``).

Three tables:

1. labelled synthetic clips (``blur4d.synthetic.motion_clip``: the motion type is known) at
   640x360, 9 frames, at full motion and at the small / sub-pixel baselines real generated clips
   have (``--strengths``): verdict, confidence, right or wrong;
2. real pairs from ``../shared/data/multiview`` and real 1280x720 clips from
   ``../shared/data/video`` (no ground truth: judge plausibility);
3. speed at 1280x720: a 16-frame clip (all pairs) and a single pair from scratch.

    python benchmarks/epipolar.py                 # everything (a few minutes on 2 cores)
    python benchmarks/epipolar.py --only synthetic --strengths 1
    python benchmarks/epipolar.py --json results.json

Timings depend on the machine's load: rerun on a quiet machine before quoting them.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from blur4d.adapters.epipolar import EpipolarChecker
from blur4d.synthetic import MOTION_KINDS, motion_clip
from blur4d.types import Intervals, Video

SHARED = Path(os.environ.get("BLUR4D_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
REAL_PAIRS = [
    ("opencv_box/box.png", "opencv_box/box_in_scene.png", "planar object in clutter"),
    ("lightglue_assets/DSC_0410.JPG", "lightglue_assets/DSC_0411.JPG", "building, hand-held"),
    ("lightglue_assets/sacre_coeur1.jpg", "lightglue_assets/sacre_coeur2.jpg", "internet photos, wide baseline"),
    ("hloc_sacre_coeur/03903474_1471484089.jpg", "hloc_sacre_coeur/10265353_3838484249.jpg", "internet photos"),
    ("tum_fr3_office_pyslam/1341847980.722988.png", "tum_fr3_office_pyslam/1341847984.106759.png", "office, 3.4 s"),
    ("tum_fr3_office_pyslam/1341847984.106759.png", "tum_fr3_office_pyslam/1341847987.458620.png", "office, 3.4 s"),
    ("tum_fr3_office_pyslam/1341847980.722988.png", "tum_fr3_office_pyslam/1341847990.710795.png", "office, 10 s"),
]
REAL_CLIPS = ["01_dog.mp4", "03_blocks.mp4", "04_coffee.mp4", "05_default_juggle.mp4"]


def _row(cols, widths):
    return "  ".join(str(c)[:w].ljust(w) for c, w in zip(cols, widths))


def synthetic(strengths, kinds, out):
    print("\n## 1. labelled synthetic clips (640x360, 9 frames)")
    widths = (12, 8, 20, 20, 6, 5, 6, 60)
    print(_row(("kind", "strength", "expected", "verdict", "conf", "ok", "time", "reason"), widths))
    chk = EpipolarChecker()
    right = total = 0
    for st in strengths:
        for kind in kinds:
            frames, expected = motion_clip(kind, 640, 360, frames=9, strength=st)
            t = time.perf_counter()
            rep = chk(Video(frames, Intervals.present(len(frames))))
            dt = time.perf_counter() - t
            ok = rep.verdict == expected
            right += ok
            total += 1
            print(_row((kind, st, expected, rep.verdict, f"{rep.confidence:.2f}", "yes" if ok else "NO",
                        f"{dt:.1f}s", rep.reason), widths))
            out.append({"table": "synthetic", "kind": kind, "strength": st, "expected": expected,
                        "verdict": rep.verdict, "confidence": rep.confidence, "seconds": dt,
                        "first_last": {k: rep.pairs[0].get(k) for k in (
                            "matches", "displacement_p90_px", "parallax_p90_px", "gric_delta_per_match",
                            "noise_sigma_px", "label")}})
    print(f"right: {right}/{total}")


def real(out):
    from blur4d.media import read_frames, read_image

    print("\n## 2a. real pairs (../shared/data/multiview)")
    widths = (22, 22, 30, 18, 5, 7, 6, 6, 7, 8, 6)
    print(_row(("A", "B", "scene", "verdict", "conf", "matches", "F inl", "H inl", "dGRIC", "par.p90", "time"), widths))
    chk = EpipolarChecker()
    for a, b, what in REAL_PAIRS:
        pa, pb = SHARED / "multiview" / a, SHARED / "multiview" / b
        if not (pa.is_file() and pb.is_file()):
            print(f"missing {a} / {b}")
            continue
        A, B = read_image(pa).pixels, read_image(pb).pixels
        t = time.perf_counter()
        rep = chk.check_frames([A, B])
        dt = time.perf_counter() - t
        p = rep.pairs[0]
        print(_row((Path(a).name, Path(b).name, what, rep.verdict, f"{rep.confidence:.2f}", p["matches"],
                    p.get("inlier_ratio_F"), p.get("inlier_ratio_H"), p.get("gric_delta_per_match"),
                    p.get("parallax_p90_px"), f"{dt:.2f}s"), widths))
        out.append({"table": "real_pairs", "a": a, "b": b, "verdict": rep.verdict, "confidence": rep.confidence,
                    "pair": dict(p), "seconds": dt})

    print("\n## 2b. real 1280x720 clips (../shared/data/video/sam2_gallery): 16 frames = every 2nd of the first 32")
    widths = (22, 18, 5, 9, 9, 7, 90)
    print(_row(("clip", "verdict", "conf", "time", "per pair", "pairs", "reason"), widths))
    for name in REAL_CLIPS:
        path = SHARED / "video" / "sam2_gallery" / name
        if not path.is_file():
            print(f"missing {name}")
            continue
        frames, _ = read_frames(path, max_frames=32)
        frames = frames[::2]
        t = time.perf_counter()
        rep = chk(Video(frames, Intervals.present(len(frames))))
        dt = time.perf_counter() - t
        print(_row((name, rep.verdict, f"{rep.confidence:.2f}", f"{dt:.1f}s", f"{dt / len(rep.pairs):.2f}s",
                    len(rep.pairs), rep.reason), widths))
        out.append({"table": "real_clips", "clip": name, "verdict": rep.verdict, "confidence": rep.confidence,
                    "seconds": dt, "pairs": len(rep.pairs), "summary": dict(rep.summary)})


def speed(out):
    print("\n## 3. speed at 1280x720")
    frames, _ = motion_clip("translation", 1280, 720, frames=16, margin=96)
    video = Video(frames, Intervals.present(16))
    chk = EpipolarChecker()
    t = time.perf_counter()
    rep = chk(video)
    dt = time.perf_counter() - t
    tm = rep.provenance.timings
    print(f"16-frame clip, {len(rep.pairs)} pairs: {dt:.1f} s total = {dt / len(rep.pairs):.2f} s per pair "
          f"(features {tm['features']:.1f} s for 16 frames, matching+models {tm['pairs']:.1f} s, "
          f"figures {tm['figures']:.1f} s)")
    single = []
    for _ in range(3):
        t = time.perf_counter()
        chk.check_frames([frames[0], frames[-1]])
        single.append(time.perf_counter() - t)
    print(f"one pair from scratch (2 x SIFT + match + F + H + figures): median {np.median(single):.2f} s of 3")
    out.append({"table": "speed", "clip_seconds": dt, "pairs": len(rep.pairs), "per_pair": dt / len(rep.pairs),
                "timings": dict(tm), "single_pair_seconds": single, "load": os.getloadavg()})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=("synthetic", "real", "speed"), default=None)
    ap.add_argument("--strengths", type=float, nargs="+", default=[1.0, 0.15, 0.05])
    ap.add_argument("--kinds", nargs="+", default=list(MOTION_KINDS))
    ap.add_argument("--json", default=None, help="also write the results as JSON")
    args = ap.parse_args()
    import cv2

    print(f"OpenCV {cv2.__version__}, {cv2.getNumThreads()} threads, load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} CPUs")
    out: list[dict] = []
    if args.only in (None, "synthetic"):
        synthetic(args.strengths, args.kinds, out)
    if args.only in (None, "real"):
        real(out)
    if args.only in (None, "speed"):
        speed(out)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, default=float))


if __name__ == "__main__":
    main()
