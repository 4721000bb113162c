"""Case construction for ``benchmarks/generator.py`` (data only; the scoring lives there).

Sets built here, each from data the classical generator was not designed on:

* ``issue``: the protocol of issue #12 exactly: ``../shared/data/realblur`` (real 240 fps GoPro
  frames, 2 x 24), N consecutive raw frames (N = 7, 9, 13, 16, 24; several start offsets) averaged
  in linear light (gamma 2.2), 640x360; the generator is asked for ``frames=N`` through the same
  code path as ``blur4d generate photo --frames N --seed 0`` (:func:`user_generate`), and the N raw
  frames are the truth.
* ``issue-pf``: past/future: the same windows with up to 3 raw frames before and after them as
  the truth of intervals outside the exposure (the ``--intervals`` path).
* ``raycast``: scenes ray-cast by :mod:`blur4d.raycast` (open3d; real 3D geometry: parallax,
  rotation, a moving object, a dolly, hand-held shake); 9 consecutive frames of a 17-frame clip
  averaged in linear light, those frames the truth; each frame is the mean of 4 rendered
  instants (36 per photo: a continuous smear, not 9 strobed copies).
* ``thin``: thin-line content (point lights, neon lines, wires, text) sharp and blurred along a
  straight path (linear light): does the detector find blur of thin lines, and leave sharp wires?
* ``noblur`` calibration: the sharp photos the do-no-harm thresholds were tuned on
  (:func:`noblur_calibration`); ``held-out``: other sharp photos (:func:`noblur_heldout`), split
  by a fixed rule into A and B, see there; ``held-out C``: a fresh split made after B was seen.
"""

from __future__ import annotations

import glob
import os
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
        name = os.path.splitext(os.path.basename(path))[0][-12:]
        for fr in fracs:
            s0 = int(fr * (total - 3))
            raw = interpolate(load_video(path, s0, 3), 8)  # 17 frames at 8x the rate
            out.append(make_case(f"{name}@{s0} N13", raw, 2, 13, 7))
        if not quick:  # longer exposures (3 source intervals, as realblur's N = 24 at 240 fps): more blur
            s0 = int(0.5 * (total - 5))
            raw = interpolate(load_video(path, s0, 5), 8)  # 33 frames
            out.append(make_case(f"{name}@{s0} N24", raw, 4, 24, 8))
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




# ---------------------------------------------------------------------------------------------- issue protocol
GEN_OPTIONS: dict = {}
"""Generator options of every run (``--option`` of ``benchmarks/generator.py``; empty = the defaults)."""


def user_generate(photo: np.ndarray, frames: int | None = None, intervals: np.ndarray | None = None):  # noqa: ANN201
    """``blur4d generate photo --frames N --seed 0`` (or ``--intervals``) as a new user runs it:
    the body of :func:`blur4d.stages.generate` with its defaults (default backend; options: only
    :data:`GEN_OPTIONS`). Returns (generation, generator) so the scorer can read the latent
    (deblurred-photo baseline)."""
    from blur4d import registry, stages
    from blur4d.media import DEFAULT_MAX_PIXELS

    ph = stages.as_photo(photo, DEFAULT_MAX_PIXELS)
    ivs = stages.resolve_intervals(frames, False, intervals)
    gen = registry.make_backend("generate", None, GEN_OPTIONS)
    return gen(ph, ivs, samples=1, seed=0, direction=None), gen


ISSUE_SPECS = ((7, (0, 6, 12, 17)), (9, (0, 5, 10, 15)), (13, (0, 4, 8, 11)), (16, (0, 4, 8)), (24, (0,)))
ISSUE_QUICK = ((7, (6,)), (13, (4,)), (24, (0,)))
PF_SPECS = ((7, (3, 9, 14)), (9, (3, 8, 12)), (13, (3, 8)), (16, (3, 5)))


def _window(raw: np.ndarray, start: int, n: int, pf: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(photo, bounds, frames, present) of raw[start:start+n] averaged in linear light; the raw
    frames are the truth (one interval of 1/n each), with up to ``pf`` raw frames either side."""
    from blur4d.exposure import decode, encode_uint8

    photo = encode_uint8(decode(raw[start:start + n], RESP).mean(0), RESP)
    idx = [j for j in range(start - pf, start + n + pf) if 0 <= j < len(raw)]
    bounds = np.array([(-0.5 + (j - start) / n, -0.5 + (j - start + 1) / n) for j in idx])
    present = np.array([start <= j < start + n for j in idx])
    return photo, bounds, raw[idx], present


def issue_cases(quick: bool, past_future: bool = False) -> list[Case]:
    specs = PF_SPECS if past_future else (ISSUE_QUICK if quick else ISSUE_SPECS)
    if past_future and quick:
        specs = ((9, (8,)),)
    out = []
    for folder in _realblur_folders():
        raw = load_realblur(folder)
        tag = os.path.basename(folder).split("_f")[-1][:6]
        for n, starts in specs:
            for s in starts:
                photo, bounds, frames, present = _window(raw, s, n, 3 if past_future else 0)
                c = Case(f"gopro{tag}+{s:02d} N{n}", photo, bounds, frames, present)
                c.extra["request"] = "intervals" if past_future else n
                out.append(c)
    return out


# ---------------------------------------------------------------------------------------------- ray-cast
RAYCAST_SPECS = (("sideways", (0, 2)), ("rotation", (0, 2)), ("object", (0, 2)), ("dolly", (0, 2)), ("handheld", (1, 2)))
RAYCAST_SUB = 4
"""Instants rendered per ground-truth frame: real blur is continuous, and a photo averaged from
only 9 instants of a 42 px pan is 9 sharp copies 4.7 px apart (strobed, not a smear)."""


def raycast_cases(quick: bool, cache: str | None = None) -> list[Case]:
    """9 consecutive frames of 17-frame ray-cast clips (two windows each) averaged in linear light;
    each frame is itself the linear-light mean of :data:`RAYCAST_SUB` instants rendered over its
    interval (so the photo is the mean of 9 x RAYCAST_SUB instants, a smear rather than copies),
    and those frames are the truth."""
    from blur4d.exposure import decode, encode_uint8

    specs = (("sideways", (0,)), ("handheld", (1,))) if quick else RAYCAST_SPECS
    out = []
    for kind, seeds in specs:
        for seed in seeds:
            sub = _raycast_frames(kind, seed, 17 * RAYCAST_SUB, cache)
            lin = decode(sub, RESP).reshape((17, RAYCAST_SUB) + sub.shape[1:]).mean(1)
            raw = encode_uint8(lin, RESP)
            for s in (0, 8):
                photo = encode_uint8(lin[s:s + 9].mean(0), RESP)
                bounds = np.array([(-0.5 + j / 9, -0.5 + (j + 1) / 9) for j in range(9)])
                c = Case(f"raycast {kind} s{seed}+{s}", photo, bounds, raw[s:s + 9], np.ones(9, bool))
                c.extra["request"] = 9
                out.append(c)
    return out


def _raycast_frames(kind: str, seed: int, frames: int, cache: str | None) -> np.ndarray:
    from blur4d.raycast import raycast_clip

    fn = os.path.join(cache, f"raycast_{kind}_{seed}_{frames}.npy") if cache else None
    if fn and os.path.exists(fn):
        return np.load(fn)
    arr = raycast_clip(kind, SIZE[0], SIZE[1], frames=frames, seed=seed).frames
    if fn:
        os.makedirs(cache, exist_ok=True)
        np.save(fn + ".tmp.npy", arr)
        os.replace(fn + ".tmp.npy", fn)
    return arr


# ---------------------------------------------------------------------------------------------- thin lines
THIN_LENGTHS = (6.0, 12.0, 20.0)


def thin_contents() -> dict[str, np.ndarray]:
    """Sharp 640x360 images dominated by thin structures: point lights, neon lines on a dark
    background, wires against the sky, wires over a real photo, text (a real scan and drawn)."""
    import cv2
    import skimage.data as skd

    W, H = SIZE
    rng = np.random.default_rng(7)
    out = {}
    img = np.full((H, W, 3), 12, np.uint8)
    for _ in range(160):
        x, y, r = int(rng.integers(0, W)), int(rng.integers(0, H)), int(rng.integers(1, 3))
        cv2.circle(img, (x, y), r, tuple(int(v) for v in rng.integers(150, 256, 3)), -1, cv2.LINE_AA)
    out["lights"] = img
    img = np.full((H, W, 3), 18, np.uint8)
    for _ in range(25):
        p = [(int(rng.integers(0, W)), int(rng.integers(0, H))) for _ in range(2)]
        cv2.line(img, p[0], p[1], tuple(int(v) for v in rng.integers(120, 256, 3)), 1, cv2.LINE_AA)
    out["neon"] = img
    sky = np.linspace(200, 150, H)[:, None, None] * np.array([0.8, 0.9, 1.0])
    img = np.broadcast_to(sky, (H, W, 3)).astype(np.uint8).copy()
    for k in range(6):
        xs = np.arange(0, W, 4)
        ys = 60 + 45 * k + 30 * ((xs - W / 2) / (W / 2)) ** 2 + 10 * k * (xs / W)
        cv2.polylines(img, [np.stack([xs, ys], 1).astype(np.int32)], False, (25, 25, 25), 1, cv2.LINE_AA)
    out["wires-sky"] = img
    rocket = cv2.resize(skd.rocket(), (W, H), interpolation=cv2.INTER_AREA)
    for k in range(4):
        cv2.line(rocket, (0, 40 + 70 * k), (W, 20 + 80 * k), (20, 20, 20), 1, cv2.LINE_AA)
    out["wires-photo"] = rocket
    txt = cv2.resize(skd.text(), (W, H), interpolation=cv2.INTER_AREA)
    out["text-scan"] = np.repeat(txt[..., None], 3, 2)
    img = np.full((H, W, 3), 245, np.uint8)
    for k in range(14):
        cv2.putText(img, "blur4d thin lines: wires, text, lights 0123456789"[k % 7:][:40], (8, 24 + 24 * k),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.55, (10, 10, 10), 1, cv2.LINE_AA)
    out["text-drawn"] = img
    return out


def blur_along(img: np.ndarray, length: float, angle_deg: float, samples: int = 32) -> np.ndarray:
    """Linear-light average of ``samples`` sub-pixel translations over a straight path."""
    import cv2

    from blur4d.exposure import decode, encode_uint8

    lin = decode(img, RESP)
    d = np.array([np.cos(np.radians(angle_deg)), np.sin(np.radians(angle_deg))]) * length
    acc = np.zeros_like(lin)
    for t in np.linspace(-0.5, 0.5, samples):
        M = np.float32([[1, 0, t * d[0]], [0, 1, t * d[1]]])
        acc += cv2.warpAffine(lin, M, (img.shape[1], img.shape[0]), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return encode_uint8(acc / samples, RESP)


def thin_cases() -> list[tuple[str, np.ndarray, float]]:
    """(name, photo, true blur length in px; 0 = sharp)."""
    out = []
    for k, (name, img) in enumerate(thin_contents().items()):
        out.append((f"{name} sharp", img, 0.0))
        for j, L in enumerate(THIN_LENGTHS):
            ang = (25.0 * k + 55.0 * j) % 180.0
            out.append((f"{name} L{L:.0f} {ang:.0f}deg", blur_along(img, L, ang), L))
    return out


# ---------------------------------------------------------------------------------------------- no-blur
def noblur_calibration(quick: bool) -> list[tuple[str, np.ndarray]]:
    """The sharp photos the do-no-harm thresholds (:mod:`blur4d.generate._confidence`) are tuned on."""
    return noblur_photos(quick)


def noblur_heldout(part: str = "AB", cache: str | None = None) -> list[tuple[str, np.ndarray]]:
    """Sharp photos NOT used for tuning: other realblur and video frames, scikit-image photos not
    in the calibration set, single ray-cast frames. Fixed before any tuning on it and split by a
    fixed rule (sorted by name, alternate): part "A" may be looked at while developing (it is then
    tuning data); part "B" is only run for the final figures."""
    import skimage.data as skd

    items = _sharp_real_frames((4, 12, 20), (0.1, 0.4, 0.8, 0.95))
    for nm in ("cat", "clock", "text", "horse", "logo", "checkerboard", "colorwheel", "microaneurysms", "cell",
               "shepp_logan_phantom", "binary_blobs"):
        img = np.asarray(getattr(skd, nm)())
        if img.dtype == bool:
            img = img.astype(np.uint8) * 255
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, 2)
        items.append((f"skimage {nm}", _long_side(np.ascontiguousarray(img[..., :3]).astype(np.uint8))))
    for k, im in enumerate(skd.stereo_motorcycle()[:2]):
        items.append((f"skimage stereo_motorcycle{k}", _long_side(np.ascontiguousarray(im))))
    for kind in ("static", "rotation", "plane", "dolly", "sideways", "handheld", "object"):
        for seed in (3, 4):
            items.append((f"raycast {kind} s{seed}", _raycast_frames(kind, seed, 2, cache)[-1]))  # clip time 1
    items.sort(key=lambda t: t[0])
    # split first, then drop what is not a sharp photo (so dropping never moves an item between A and B)
    return [it for i, it in enumerate(items) if "AB"[i % 2] in part and it[0] not in NOT_SHARP]


def _sharp_real_frames(realblur_frames: tuple[int, ...], video_fractions: tuple[float, ...]) -> list[tuple[str, np.ndarray]]:
    """Single raw realblur frames and single video frames (at fractions of each clip), named."""
    items: list[tuple[str, np.ndarray]] = []
    for folder in _realblur_folders():
        raw = load_realblur(folder)
        for i in realblur_frames:
            items.append((f"realblur {os.path.basename(folder)[-13:-7]}+{i}", raw[i]))
    vids = sorted(glob.glob(os.path.join(DATA, "video", "*", "*.mp4"))) + sorted(glob.glob(os.path.join(DATA, "face", "*", "*.mp4")))
    for path in vids:
        total = video_length(path)
        for fr in video_fractions:
            j = min(total - 1, int(fr * total))
            items.append((f"video {os.path.basename(path)[:12]}@{j}", load_video(path, j, 1)[0]))
    return items


NOT_SHARP = {"skimage clock": "scikit-image's docstring: 'Motion blurred clock ... taken while moving the camera in an "
                              "approximately horizontal direction' (a real blurred photo, not a no-blur case)"}


def noblur_heldout_c(cache: str | None = None) -> list[tuple[str, np.ndarray]]:
    """A second held-out split, made after held-out B had been looked at (B then counts as
    tuning data for any later change): realblur frames 2, 10, 18, video frames at 5/25/50/70 %
    of each clip (A/B: 10/40/80/95 %, calibration: 20/60 %), ray-cast frames of seeds 5 and 6.
    Run only for final figures."""
    items = _sharp_real_frames((2, 10, 18), (0.05, 0.25, 0.5, 0.7))
    for kind in ("static", "rotation", "plane", "dolly", "sideways", "handheld", "object"):
        for seed in (5, 6):
            items.append((f"raycast {kind} s{seed}", _raycast_frames(kind, seed, 2, cache)[-1]))
    return items


def noblur_heldout_d(cache: str | None = None) -> list[tuple[str, np.ndarray]]:
    """A third held-out split, made when the rival-direction check was added (C had been looked
    at: its brick planes were the failing cases): realblur frames 6, 14, 22, video frames at
    15/35/65/90 % of each clip, ray-cast frames of seeds 7 and 8. Run only for final figures."""
    items = _sharp_real_frames((6, 14, 22), (0.15, 0.35, 0.65, 0.9))
    for kind in ("static", "rotation", "plane", "dolly", "sideways", "handheld", "object"):
        for seed in (7, 8):
            items.append((f"raycast {kind} s{seed}", _raycast_frames(kind, seed, 2, cache)[-1]))
    return items
