"""Benchmark of the ``classical`` generator on synthetic ground truth (and its speed).

Ground truth: :func:`blur4d.synthetic.benchmark_scenes` (sideways translation with parallax, pure
rotation, a moving object on a static background, forward motion), each rendered by
:func:`blur4d.synthetic.ground_truth_case` with 8 sub-frames per frame: 7 present frames
(56 sub-frames over the exposure) and 2 + 2 past/future frames of the same length.

Scores (the paper's bidirectional metrics, :mod:`blur4d.metrics`): the classical generator vs
(a) the photo repeated as every frame and (b) its own deblurred latent repeated, on the 7
present frames and on all 11 frames; blur-consistency PSNR of the prediction. Then the time for
16 present frames at 1280x720 and its peak memory.

    python benchmarks/generator.py [--size 480x272] [--seed 0] [--no-speed]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np


def main(argv: list[str] | None = None) -> int:
    import cv2

    from blur4d.exposure import encode_uint8
    from blur4d.generate.classical import ClassicalGenerator
    from blur4d.metrics import blur_consistency, psnr_p, ssim_p
    from blur4d.synthetic import benchmark_scenes, ground_truth_case
    from blur4d.types import Video

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="480x272")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--blur", type=float, default=1.0, help="scale of every motion (1.0: up to ~6 %% of the width)")
    ap.add_argument("--iterations", type=int, default=None, help="override the deconvolution iterations")
    ap.add_argument("--tv", type=float, default=None, help="override the total-variation weight")
    ap.add_argument("--no-speed", action="store_true")
    args = ap.parse_args(argv)
    W, H = (int(v) for v in args.size.split("x"))

    rows = []
    for name, scene in benchmark_scenes(W, H, blur=args.blur).items():
        case = ground_truth_case(scene, name)
        opts = {k: v for k, v in (("iterations", args.iterations), ("tv", args.tv)) if v is not None}
        gen = ClassicalGenerator(**opts)
        t = time.perf_counter()
        res = gen(case.photo, case.intervals, samples=1, seed=args.seed)
        dt = time.perf_counter() - t
        pred = res.video.frames
        latent = cv2.resize(encode_uint8(gen._last["latent"]), (W, H), interpolation=cv2.INTER_LINEAR)
        pres = case.present
        F = len(case.frames)
        cands = {"classical": pred, "photo": np.repeat(case.photo[None], F, 0),
                 "deblurred": np.repeat(latent[None], F, 0)}
        row = {"scene": name, "time_s": dt}
        for k, v in cands.items():
            row[f"{k}_psnr_p"] = psnr_p(v[pres], case.frames[pres])["psnr_p"]
            row[f"{k}_ssim_p"] = ssim_p(v[pres], case.frames[pres])["ssim_p"]
            row[f"{k}_psnr_p_all"] = psnr_p(v, case.frames)["psnr_p"]
        row["bc"] = blur_consistency(Video(pred[pres], _sub(case.intervals, pres)), case.photo)
        row["gt_bc"] = blur_consistency(Video(case.frames[pres], _sub(case.intervals, pres)), case.photo)
        rows.append(row)

    hdr = (f"{'scene':12s} {'PSNR_p':>7s} {'photo':>7s} {'deblur':>7s} | {'SSIM_p':>6s} {'photo':>6s} {'deblur':>6s} | "
           f"{'all11':>6s} {'photo':>6s} | {'BC':>5s} {'GT BC':>5s} | {'time':>5s}")

    def line(label: str, r: dict) -> str:
        return (f"{label:12s} {r['classical_psnr_p']:7.2f} {r['photo_psnr_p']:7.2f} {r['deblurred_psnr_p']:7.2f} | "
                f"{r['classical_ssim_p']:6.3f} {r['photo_ssim_p']:6.3f} {r['deblurred_ssim_p']:6.3f} | "
                f"{r['classical_psnr_p_all']:6.2f} {r['photo_psnr_p_all']:6.2f} | {r['bc']:5.1f} {r['gt_bc']:5.1f} | "
                f"{r['time_s']:5.2f}")

    print("present frames (7); 'all11' = 7 present + 2 past + 2 future; PSNR in dB; BC = blur-consistency PSNR")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        print(line(r["scene"], r))
    mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0] if k != "scene"}
    print("-" * len(hdr))
    print(line("mean", mean))
    d_photo = mean["classical_psnr_p"] - mean["photo_psnr_p"], mean["classical_ssim_p"] - mean["photo_ssim_p"]
    d_deblur = mean["classical_psnr_p"] - mean["deblurred_psnr_p"], mean["classical_ssim_p"] - mean["deblurred_ssim_p"]
    print(f"margin over photo repeated: {d_photo[0]:+.2f} dB PSNR_p, {d_photo[1]:+.3f} SSIM_p; "
          f"over deblurred repeated: {d_deblur[0]:+.2f} dB, {d_deblur[1]:+.3f}")

    if not args.no_speed:
        from blur4d.synthetic import example_scene
        from blur4d.types import Intervals

        photo = example_scene(1280, 720).photo(24)
        gen = ClassicalGenerator()
        for n in (8, 16, 32):
            t = time.perf_counter()
            res = gen(photo, Intervals.present(n), samples=1, seed=args.seed)
            tm = res.provenance.timings
            print(f"speed: {n:2d} frames at 1280x720: {time.perf_counter() - t:.2f} s (estimate {tm['estimate']:.2f}, "
                  f"deblur {tm['deblur']:.2f}, render {tm['render']:.2f} = {1000 * tm['render'] / n:.0f} ms/frame)")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak resident memory of this process: {peak:.0f} MB")
    return 0


def _sub(intervals, mask):  # noqa: ANN001, ANN202
    from blur4d.types import Intervals

    return Intervals(intervals.bounds[np.asarray(mask)])


if __name__ == "__main__":
    sys.exit(main())
