"""Benchmark of the ``classical`` generator: real blur with ground truth, sharp photos, synthetic
scenes, speed.

Sets (each reported on its own, each number beside the trivial baselines "photo repeated" and
"deblurred photo repeated" = the generator's own latent sharp image repeated):

* ``real``: ``../shared/data/realblur`` (real 240 fps GoPro footage, 2 x 24 consecutive frames).
  N consecutive frames (N = 7, 9, 13, 16, 24; several start offsets) averaged in linear light
  (gamma 2.2, the dataset's recipe) at the paper's 640x360 protocol are the blurry photo; the
  ground-truth video is K frames tiling the exposure (each the linear average of the raw frames
  it covers; K = N for N <= 9, else 7 or 8). ``past/future``: raw frames just outside the window,
  generated in the same call (their intervals lie outside [-0.5, 0.5]).
* ``video``: the real 24-30 fps videos (``../shared/data/video``, the face clip) interpolated 8x
  with OpenCV DIS flow, then averaged the same way. ``interp``: how much the interpolation itself
  costs: realblur subsampled to 30 fps and interpolated back to 240 fps, scored beside the same
  cases on the true 240 fps frames.
* ``no-blur``: sharp real photos (single realblur and video frames, the multiview photos,
  scikit-image's sample photos): how often a motion above 1 px is reported, and the PSNR the
  frames keep against the photo.
* ``synthetic``: :func:`blur4d.synthetic.benchmark_scenes` (the model's own assumptions: planes,
  straight paths), 7 present + 2 + 2 past/future frames.
* speed and peak memory: 16 frames at 1280x720.

Metrics: the paper's bidirectional PSNR_p / SSIM_p (:mod:`blur4d.metrics`).

    python benchmarks/generator.py [--quick] [--seed 0] [--sets real,video,interp,noblur,synthetic,speed]
                                   [--sheets DIR]
"""

from __future__ import annotations

import argparse
import glob
import os
import resource
import sys
import time
from dataclasses import dataclass, field

import numpy as np

DATA = os.environ.get("BLUR4D_DATA") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data")
SIZE = (640, 360)
RESP = "gamma2.2"


@dataclass
class Case:
    name: str
    photo: np.ndarray
    bounds: np.ndarray  # (F, 2) intervals of the ground-truth frames, in time order
    frames: np.ndarray  # (F, H, W, 3) uint8
    present: np.ndarray  # (F,) bool
    extra: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------- data
def _fit(img: np.ndarray, size: tuple[int, int] = SIZE) -> np.ndarray:
    """Centre-crop to the aspect of ``size`` and resize (area) to it."""
    import cv2

    H, W = img.shape[:2]
    tw, th = size
    if W * th > H * tw:
        w = round(H * tw / th)
        img = img[:, (W - w) // 2:(W - w) // 2 + w]
    else:
        h = round(W * th / tw)
        img = img[(H - h) // 2:(H - h) // 2 + h]
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA)


def _realblur_folders() -> list[str]:
    return sorted(glob.glob(os.path.join(DATA, "realblur", "gopro_*")))


def load_realblur(folder: str) -> np.ndarray:
    import cv2

    files = sorted(glob.glob(os.path.join(folder, "*.png")))
    return np.stack([_fit(cv2.imread(f, cv2.IMREAD_COLOR)[..., ::-1]) for f in files])


def load_video(path: str, start: int, count: int) -> np.ndarray:
    import cv2

    cap = cv2.VideoCapture(path)
    cap.set(cv2.CAP_PROP_POS_FRAMES, start)
    out = []
    for _ in range(count):
        ok, f = cap.read()
        if not ok:
            break
        out.append(_fit(f[..., ::-1]))
    cap.release()
    return np.stack(out)


def video_length(path: str) -> int:
    import cv2

    cap = cv2.VideoCapture(path)
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    return n


def interpolate(frames: np.ndarray, factor: int = 8) -> np.ndarray:
    """``factor``x frame interpolation with OpenCV DIS flow (both directions), blended in linear light:
    frame t between a and b = (1-t) a(x - t F_ab) + t b(x - (1-t) F_ba). Keyframes are kept exactly."""
    import cv2

    from blur4d.exposure import decode, encode_uint8

    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    H, W = frames.shape[1:3]
    gy, gx = np.mgrid[0:H, 0:W].astype(np.float32)
    out = [frames[0]]
    for a, b in zip(frames[:-1], frames[1:]):
        ga, gb = (cv2.cvtColor(np.ascontiguousarray(x), cv2.COLOR_RGB2GRAY) for x in (a, b))
        fab, fba = dis.calc(ga, gb, None), dis.calc(gb, ga, None)
        la, lb = decode(a, RESP), decode(b, RESP)
        for k in range(1, factor):
            t = k / factor
            wa = cv2.remap(la, gx - t * fab[..., 0], gy - t * fab[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            wb = cv2.remap(lb, gx - (1 - t) * fba[..., 0], gy - (1 - t) * fba[..., 1], cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
            out.append(encode_uint8((1 - t) * wa + t * wb, RESP))
        out.append(b)
    return np.stack(out)


def make_case(name: str, raw: np.ndarray, start: int, n: int, k: int, pf: int = 2) -> Case:
    """Average raw[start:start+n] in linear light into the photo; K present ground-truth frames
    tile the exposure; up to ``pf`` raw frames before and after (step max(1, n // k)) are the
    past/future truth."""
    from blur4d.exposure import decode, encode_uint8, overlap_weights
    from blur4d.types import Intervals

    lin = decode(raw, RESP)
    photo = encode_uint8(lin[start:start + n].mean(0), RESP)
    raw_iv = Intervals(np.stack([-0.5 + np.arange(n) / n, -0.5 + (np.arange(n) + 1) / n], 1))
    bounds, frames, present = [], [], []
    step = max(1, n // k)
    for m in range(pf, 0, -1):  # past, oldest first
        j = start - m * step
        if j >= 0:
            a = -0.5 + (j - start) / n
            bounds.append((a, a + 1.0 / n)), frames.append(raw[j]), present.append(False)
    for i in range(k):
        a, b = -0.5 + i / k, -0.5 + (i + 1) / k
        w = overlap_weights(raw_iv, (a, b))
        bounds.append((a, b)), frames.append(encode_uint8(np.tensordot(w, lin[start:start + n], 1), RESP))
        present.append(True)
    for m in range(1, pf + 1):
        j = start + n - 1 + m * step
        if j < len(raw):
            a = -0.5 + (j - start) / n
            bounds.append((a, a + 1.0 / n)), frames.append(raw[j]), present.append(False)
    return Case(name, photo, np.array(bounds), np.stack(frames), np.array(present))


def _k_of(n: int) -> int:
    return n if n <= 9 else (8 if n in (16, 24) else 7)


def real_cases(quick: bool) -> list[Case]:
    specs = ([(7, 9), (13, 3), (24, 0)] if quick else
             [(7, 3), (7, 9), (7, 15), (9, 2), (9, 8), (9, 13), (13, 3), (13, 8), (16, 0), (16, 4), (16, 8), (24, 0)])
    out = []
    for folder in _realblur_folders():
        raw = load_realblur(folder)
        tag = os.path.basename(folder).split("_f")[-1][:6]
        for n, s in specs:
            out.append(make_case(f"gopro{tag}+{s:02d} N{n}", raw, s, n, _k_of(n)))
    return out


def interp_cases(quick: bool) -> list[tuple[Case, Case, float]]:
    """(true-frames case, interpolated-frames case, PSNR of the interpolated raw frames vs the true ones)."""
    from blur4d.metrics import psnr

    specs = [(9, 4)] if quick else [(9, 4), (13, 2), (16, 0)]
    out = []
    for folder in _realblur_folders():
        raw = load_realblur(folder)[:17]
        fake = interpolate(raw[::8], 8)
        inner = [i for i in range(17) if i % 8]
        q = float(psnr(((fake[inner].astype(float) - raw[inner]) ** 2).mean()))
        tag = os.path.basename(folder).split("_f")[-1][:6]
        for n, s in specs:
            out.append((make_case(f"gopro{tag}+{s:02d} N{n}", raw, s, n, _k_of(n)),
                        make_case(f"gopro{tag}+{s:02d} N{n} interp", fake, s, n, _k_of(n)), q))
    return out


def video_cases(quick: bool) -> list[Case]:
    vids = sorted(glob.glob(os.path.join(DATA, "video", "*", "*.mp4")))
    vids += sorted(glob.glob(os.path.join(DATA, "face", "*", "*.mp4")))
    fracs = (0.5,) if quick else (0.3, 0.7)
    out = []
    for path in vids:
        total = video_length(path)
        for fr in fracs:
            s0 = int(fr * (total - 3))
            raw = interpolate(load_video(path, s0, 3), 8)  # 17 frames at 8x the rate
            name = os.path.splitext(os.path.basename(path))[0][-12:]
            out.append(make_case(f"{name}@{s0} N13", raw, 2, 13, 7))
    return out


def noblur_photos(quick: bool) -> list[tuple[str, np.ndarray]]:
    import cv2
    import skimage.data as skd

    out = []
    for folder in _realblur_folders():
        raw = load_realblur(folder)
        for i in ((0,) if quick else (0, 8, 16, 23)):
            out.append((f"realblur {os.path.basename(folder)[-13:-7]}+{i}", raw[i]))
    vids = sorted(glob.glob(os.path.join(DATA, "video", "*", "*.mp4"))) + sorted(glob.glob(os.path.join(DATA, "face", "*", "*.mp4")))
    for path in vids:
        total = video_length(path)
        for fr in ((0.5,) if quick else (0.2, 0.6)):
            out.append((f"video {os.path.basename(path)[:12]}@{int(fr * total)}", load_video(path, int(fr * total), 1)[0]))
    mv = sorted(glob.glob(os.path.join(DATA, "multiview", "*", "*.[jJpP][pPnN][gG]")))
    for f in (mv[::4] if quick else mv):
        img = cv2.imread(f, cv2.IMREAD_COLOR)[..., ::-1]
        out.append((f"multiview {os.path.basename(f)[:16]}", _long_side(img)))
    names = ["astronaut", "camera", "chelsea", "coffee", "rocket", "brick", "grass", "gravel", "coins", "moon", "page",
             "hubble_deep_field", "retina", "immunohistochemistry"]
    for nm in (names[::3] if quick else names):
        img = getattr(skd, nm)()
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, 2)
        out.append((f"skimage {nm}", _long_side(np.ascontiguousarray(img[..., :3]))))
    return out


def _long_side(img: np.ndarray, side: int = 640) -> np.ndarray:
    import cv2

    H, W = img.shape[:2]
    s = side / max(H, W)
    if s >= 1:
        return img
    return cv2.resize(img, (round(W * s), round(H * s)), interpolation=cv2.INTER_AREA)


# ---------------------------------------------------------------------------------------------- scoring
def _generator(**kw):  # noqa: ANN202
    from blur4d.generate.classical import ClassicalGenerator

    return ClassicalGenerator(**kw)


def score_case(case: Case, seed: int, ssim: bool = True) -> dict:
    import cv2

    from blur4d.exposure import encode_uint8
    from blur4d.metrics import psnr_p, ssim_p
    from blur4d.types import Intervals

    gen = _generator()
    t = time.perf_counter()
    res = gen(case.photo, Intervals(case.bounds), samples=1, seed=seed)
    dt = time.perf_counter() - t
    pred = res.video.frames
    H, W = case.photo.shape[:2]
    latent = cv2.resize(encode_uint8(gen._last["latent"]), (W, H), interpolation=cv2.INTER_LINEAR)
    F = len(case.frames)
    cands = {"ours": pred, "photo": np.repeat(case.photo[None], F, 0), "deblur": np.repeat(latent[None], F, 0)}
    row = {"name": case.name, "time": dt, "F": int(case.present.sum()), "motion": _motion(res)}
    for sub, mask in (("p", case.present), ("pf", ~case.present)):
        if not mask.any():
            continue
        for k, v in cands.items():
            row[f"{sub}_{k}_psnr"] = psnr_p(v[mask], case.frames[mask])["psnr_p"]
            if ssim:
                row[f"{sub}_{k}_ssim"] = ssim_p(v[mask], case.frames[mask])["ssim_p"]
    row["_pred"] = pred
    return row


def _motion(res) -> float:  # noqa: ANN001
    ex = res.provenance.extra
    return float(ex.get("max_blur_px", 0.0))


def summarise(rows: list[dict], sub: str, label: str, ssim: bool = True) -> dict:
    rows = [r for r in rows if f"{sub}_ours_psnr" in r]
    if not rows:
        return {}
    m = {k: float(np.mean([r[f"{sub}_{k}_psnr"] for r in rows])) for k in ("ours", "photo", "deblur")}
    d = np.array([r[f"{sub}_ours_psnr"] - r[f"{sub}_photo_psnr"] for r in rows])
    out = {"set": label, "n": len(rows), **{f"psnr_{k}": v for k, v in m.items()}, "margin": float(d.mean()),
           "worst": float(d.min()), "below_0.5": int((d < -0.5).sum()), "better": int((d > 0).sum())}
    if ssim and f"{sub}_ours_ssim" in rows[0]:
        out.update({f"ssim_{k}": float(np.mean([r[f"{sub}_{k}_ssim"] for r in rows])) for k in ("ours", "photo", "deblur")})
    return out


def print_cases(rows: list[dict], sub: str, title: str) -> None:
    rows = [r for r in rows if f"{sub}_ours_psnr" in r]
    if not rows:
        return
    has_ssim = f"{sub}_ours_ssim" in rows[0]
    print(f"\n{title}")
    hdr = f"{'case':30s} {'F':>2s} {'motion':>6s} | {'PSNR_p':>6s} {'photo':>6s} {'deblur':>6s} {'d':>6s}"
    if has_ssim:
        hdr += f" | {'SSIM_p':>6s} {'photo':>6s} {'deblur':>6s}"
    print(hdr + f" | {'time':>5s}")
    for r in rows:
        s = (f"{r['name'][:30]:30s} {r['F']:2d} {r['motion']:6.1f} | {r[f'{sub}_ours_psnr']:6.2f} {r[f'{sub}_photo_psnr']:6.2f} "
             f"{r[f'{sub}_deblur_psnr']:6.2f} {r[f'{sub}_ours_psnr'] - r[f'{sub}_photo_psnr']:+6.2f}")
        if has_ssim:
            s += f" | {r[f'{sub}_ours_ssim']:6.3f} {r[f'{sub}_photo_ssim']:6.3f} {r[f'{sub}_deblur_ssim']:6.3f}"
        print(s + f" | {r['time']:5.2f}")


def print_summary(summ: list[dict]) -> None:
    summ = [s for s in summ if s]
    print("\nSUMMARY (mean over cases; d = ours - photo repeated, per case)")
    hdr = (f"{'set':22s} {'n':>3s} | {'PSNR_p':>6s} {'photo':>6s} {'deblur':>6s} | {'mean d':>6s} {'worst d':>7s} "
           f"{'better':>6s} {'<-0.5':>5s} | {'SSIM_p':>6s} {'photo':>6s} {'deblur':>6s}")
    print(hdr)
    print("-" * len(hdr))
    for s in summ:
        line = (f"{s['set']:22s} {s['n']:3d} | {s['psnr_ours']:6.2f} {s['psnr_photo']:6.2f} {s['psnr_deblur']:6.2f} | "
                f"{s['margin']:+6.2f} {s['worst']:+7.2f} {s['better']:3d}/{s['n']:<2d} {s['below_0.5']:5d}")
        if "ssim_ours" in s:
            line += f" | {s['ssim_ours']:6.3f} {s['ssim_photo']:6.3f} {s['ssim_deblur']:6.3f}"
        print(line)


def contact_sheets(rows: list[dict], cases: dict[str, Case], outdir: str, worst: int = 5) -> None:
    """Generated vs ground truth for the ``worst`` present cases (lowest margin over the photo)."""
    import cv2

    os.makedirs(outdir, exist_ok=True)
    rows = sorted([r for r in rows if "p_ours_psnr" in r], key=lambda r: r["p_ours_psnr"] - r["p_photo_psnr"])[:worst]
    for rank, r in enumerate(rows):
        c = cases[r["name"]]
        gt, pred = c.frames, r["_pred"]
        ef = ((pred.astype(float) - gt) ** 2).mean()
        er = ((pred[::-1].astype(float) - gt) ** 2).mean()
        if er < ef:
            pred = pred[::-1]
        idx = np.linspace(0, len(gt) - 1, min(len(gt), 6)).round().astype(int)
        tw, th = 320, 180

        def tile(img: np.ndarray, text: str) -> np.ndarray:
            t = cv2.resize(img, (tw, th), interpolation=cv2.INTER_AREA)[..., ::-1].copy()
            cv2.putText(t, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 255, 255), 1, cv2.LINE_AA)
            return t

        grid = [np.concatenate([tile(gt[i], f"GT {i} [{c.bounds[i][0]:+.2f},{c.bounds[i][1]:+.2f}]") for i in idx], 1),
                np.concatenate([tile(pred[i], f"generated {i}") for i in idx], 1),
                np.concatenate([tile(np.clip(128 + 2 * (pred[i].astype(int) - gt[i]), 0, 255).astype(np.uint8),
                                     f"2x(gen-GT) {i}") for i in idx], 1)]
        head = np.zeros((th, tw * len(idx), 3), np.uint8)
        head[:, :tw] = tile(c.photo, "photo")
        cv2.putText(head, f"{r['name']}: ours {r['p_ours_psnr']:.2f} dB, photo {r['p_photo_psnr']:.2f} dB, "
                    f"motion {r['motion']:.1f}px", (tw + 8, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
        sheet = np.concatenate([head] + grid, 0)
        fn = os.path.join(outdir, f"worst{rank + 1}_{r['name'].replace(' ', '_').replace('+', 'p')}.png")
        cv2.imwrite(fn, sheet)
        print(f"contact sheet: {fn}")


# ---------------------------------------------------------------------------------------------- sets
def run_noblur(quick: bool, seed: int) -> dict:
    from blur4d.metrics import psnr
    from blur4d.types import Intervals

    photos = noblur_photos(quick)
    moved, ps = [], []
    print(f"\nNO-BLUR set: {len(photos)} sharp real photos, 7 present frames each")
    print(f"{'photo':34s} {'motion':>6s} {'min PSNR':>8s}")
    for name, img in photos:
        res = _generator()(img, Intervals.present(7), seed=seed)
        mot = _motion(res)
        f = res.video.frames.astype(np.float64)
        p = float(min(psnr(((fr - img) ** 2).mean()) for fr in f))
        moved.append(mot > 1.0)
        ps.append(p)
        print(f"{name[:34]:34s} {mot:6.1f} {p:8.2f}")
    ps = np.array(ps)
    out = {"n": len(photos), "moved": int(np.sum(moved)), "psnr_mean": float(np.mean(np.minimum(ps, 100))),
           "psnr_min": float(ps.min()), "ge40": int((ps >= 40).sum())}
    print(f"no-blur: motion > 1 px on {out['moved']}/{out['n']} ({100 * out['moved'] / out['n']:.0f} %); frames vs photo: "
          f"min PSNR {out['psnr_min']:.2f} dB, >= 40 dB on {out['ge40']}/{out['n']}")
    return out


def run_synthetic(seed: int) -> dict:
    import cv2

    from blur4d.exposure import encode_uint8
    from blur4d.metrics import blur_consistency, psnr_p, ssim_p
    from blur4d.synthetic import benchmark_scenes, ground_truth_case
    from blur4d.types import Intervals, Video

    W, H = 480, 272
    rows = []
    print("\nSYNTHETIC scenes (the model's own assumptions), 7 present frames; all11 = + 2 past + 2 future")
    print(f"{'scene':12s} {'PSNR_p':>7s} {'photo':>7s} {'deblur':>7s} | {'SSIM_p':>6s} {'photo':>6s} | {'all11':>6s} "
          f"{'photo':>6s} | {'BC':>5s}")
    for name, scene in benchmark_scenes(W, H, blur=1.0).items():
        case = ground_truth_case(scene, name)
        gen = _generator()
        res = gen(case.photo, case.intervals, samples=1, seed=seed)
        pred = res.video.frames
        latent = cv2.resize(encode_uint8(gen._last["latent"]), (W, H), interpolation=cv2.INTER_LINEAR)
        pres = case.present
        F = len(case.frames)
        cands = {"ours": pred, "photo": np.repeat(case.photo[None], F, 0), "deblur": np.repeat(latent[None], F, 0)}
        r = {k: psnr_p(v[pres], case.frames[pres])["psnr_p"] for k, v in cands.items()}
        r.update({f"{k}_ssim": ssim_p(v[pres], case.frames[pres])["ssim_p"] for k, v in cands.items() if k != "deblur"})
        r.update({f"{k}_all": psnr_p(v, case.frames)["psnr_p"] for k, v in cands.items() if k != "deblur"})
        r["bc"] = blur_consistency(Video(pred[pres], Intervals(case.intervals.bounds[pres])), case.photo)
        rows.append(r)
        print(f"{name:12s} {r['ours']:7.2f} {r['photo']:7.2f} {r['deblur']:7.2f} | {r['ours_ssim']:6.3f} "
              f"{r['photo_ssim']:6.3f} | {r['ours_all']:6.2f} {r['photo_all']:6.2f} | {r['bc']:5.1f}")
    m = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    m["n"] = len(rows)
    print(f"{'mean':12s} {m['ours']:7.2f} {m['photo']:7.2f} {m['deblur']:7.2f} | {m['ours_ssim']:6.3f} "
          f"{m['photo_ssim']:6.3f} | {m['ours_all']:6.2f} {m['photo_all']:6.2f} | {m['bc']:5.1f}")
    print(f"synthetic margin over photo repeated: {m['ours'] - m['photo']:+.2f} dB PSNR_p (present), "
          f"{m['ours_all'] - m['photo_all']:+.2f} dB (all 11)")
    return m


def run_speed(seed: int) -> None:
    from blur4d.synthetic import example_scene
    from blur4d.types import Intervals

    photo = example_scene(1280, 720).photo(24)
    gen = _generator()
    for n in (16,):
        t, c = time.perf_counter(), time.process_time()
        res = gen(photo, Intervals.present(n), samples=1, seed=seed)
        tm = res.provenance.timings
        print(f"\nspeed: {n} frames at 1280x720: {time.perf_counter() - t:.2f} s wall, {time.process_time() - c:.2f} s CPU "
              f"(all threads; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores) (estimate {tm['estimate']:.2f}, "
              f"deblur {tm['deblur']:.2f}, render {tm['render']:.2f})")
    gen(load_realblur(_realblur_folders()[-1])[0], Intervals.present(16), seed=seed)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this process: {peak:.0f} MB")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a few cases per set (about a minute)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sets", default="real,video,interp,noblur,synthetic,speed")
    ap.add_argument("--sheets", default=None, help="write contact sheets of the five worst realblur cases (present "
                    "frames, lowest margin over the photo repeated) to this folder")
    args = ap.parse_args(argv)
    sets = set(args.sets.split(","))
    if not _realblur_folders() and sets & {"real", "interp", "video", "noblur"}:
        print(f"no real data under {os.path.normpath(DATA)}; running the synthetic set only", file=sys.stderr)
        sets &= {"synthetic", "speed"}
    t0 = time.perf_counter()
    summ: list[dict] = []
    real_rows, all_cases = [], {}
    if "real" in sets:
        cases = real_cases(args.quick)
        rows = [score_case(c, args.seed) for c in cases]
        real_rows += rows
        all_cases.update({c.name: c for c in cases})
        print_cases(rows, "p", "REAL (realblur, 240 fps GoPro): present frames")
        print_cases(rows, "pf", "REAL past/future frames")
        summ += [summarise(rows, "p", "real present"), summarise(rows, "pf", "real past/future")]
    if "video" in sets:
        cases = video_cases(args.quick)
        rows = [score_case(c, args.seed) for c in cases]
        print_cases(rows, "p", "VIDEO (24-30 fps, DIS-interpolated 8x): present frames")
        summ += [summarise(rows, "p", "video(interp) present"), summarise(rows, "pf", "video(interp) past/fut")]
    if "interp" in sets:
        trip = interp_cases(args.quick)
        rt = [score_case(a, args.seed, ssim=False) for a, _, _ in trip]
        ri = [score_case(b, args.seed, ssim=False) for _, b, _ in trip]
        print_cases(rt + ri, "p", "INTERPOLATION cost: realblur true 240 fps vs 30 fps DIS-interpolated 8x")
        q = sorted({round(x, 2) for _, _, x in trip})
        print(f"interpolated raw frames vs true ones: PSNR {q} dB")
        a, b = summarise(rt, "p", "interp: true frames", False), summarise(ri, "p", "interp: interpolated", False)
        summ += [a, b]
        print(f"interpolation changes the margin over the photo by {b['margin'] - a['margin']:+.2f} dB "
              f"(true {a['margin']:+.2f}, interpolated {b['margin']:+.2f})")
    nb = run_noblur(args.quick, args.seed) if "noblur" in sets else None
    syn = run_synthetic(args.seed) if "synthetic" in sets else None
    print_summary(summ)
    if nb:
        print(f"{'no-blur':22s} {nb['n']:3d} | motion > 1 px on {nb['moved']} ({100 * nb['moved'] / nb['n']:.0f} %), "
              f"frame PSNR vs photo min {nb['psnr_min']:.2f} dB, >= 40 dB on {nb['ge40']}/{nb['n']}")
    if syn:
        print(f"{'synthetic':22s} {syn['n']:3d} | PSNR_p {syn['ours']:.2f} vs photo {syn['photo']:.2f}: "
              f"{syn['ours'] - syn['photo']:+.2f} dB")
    if args.sheets and real_rows:
        contact_sheets(real_rows, all_cases, args.sheets)
    if "speed" in sets:
        run_speed(args.seed)
    print(f"\nbenchmark time: {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
