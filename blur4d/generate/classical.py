"""The ``classical`` generator: a blurry photo -> videos of any exposure intervals, on a CPU,
with no downloaded weights, in seconds.

Pipeline (all in linear light, Eq. 1):

1. **Blur field** on a downscaled gray image (``estimate_side``): per overlapping tile, the
   autocorrelation of the image derivatives; an affine camera field (translation, roll, zoom,
   shear) is fitted to maximise the summed blur evidence, scored coarse-to-fine (also on a
   half-scale copy: long blur, no short spurious texture dips), refined per tile in magnitude
   (parallax), and tiles that a free local motion explains much better become independently
   moving regions (see :mod:`blur4d.generate._blurfield`).
2. **Latent sharp image** at the processing resolution (``max_side``): Richardson-Lucy
   deconvolution with the same spatially varying, warp-based blur operator.
3. **Rendering**: each requested interval [a, b] is the latent carried along the motion path
   over [a, b] (the path is extrapolated linearly for the past and future), averaged in linear
   light; instantaneous intervals are single warps.
4. **Closing the loop**: the linear-light residual between the photo (at output size) and the
   re-blurred latent is added to every frame, so frames that tile the exposure average back to
   the photo (blur consistency) while they still differ from one another by the motion.
5. **Do no harm** (:mod:`blur4d.generate._confidence`): each region's motion gets a confidence
   from its blur evidence, an independent edge-width check and (camera field) a rival-direction check
   (the motion turned 45-135 degrees must not explain the photo as well), calibrated on sharp real photos
   and real 240 fps blur. Below ``min_confidence`` the region does not move (a sharp photo: no
   blur anywhere, every frame is the photo, bit for bit); above, frames are blended with the
   photo by the confidence in linear light (the expected-error-optimal render when the motion is
   right with that probability; blur consistency is kept), and low confidence raises the
   ambiguity map. With ``tile_check`` (off by default) the confidence is scaled per tile by how
   well the region's motion explains the tile against the best free motion there (something
   else moves: keep the photo there). Deconvolution is damped where a tile's content does not
   show its motion (``support``).
   Frames outside the exposure whose time mirror is not requested (only past, or only future)
   average both time directions (``direction_belief``).

The time direction of each region is ambiguous (a motion and its reverse give the same blur):
``samples`` > 1 returns videos with different per-region signs (seeded), and ``direction``
guidance picks among them.

Direction guidance (``direction=``): ``"left-to-right"``, ``"right-to-left"``,
``"top-to-bottom"``, ``"bottom-to-top"``; an angle in degrees (image axes: 0 = +x rightwards,
90 = +y downwards); an (H, W) float map of angles in degrees (NaN = no guidance); or an
(H, W, 3) colour map in the spirit of Animation-from-Blur's quadrant guidance, with pure colours
meaning "motion towards": red (255, 0, 0) = right (0 deg), green (0, 255, 0) = down (90 deg),
blue (0, 0, 255) = left (180 deg), yellow (255, 255, 0) = up (270 deg); black (0, 0, 0) or any
other colour = no guidance (each pixel takes the nearest of these five colours). The map is
resized to the photo. Each region takes the sign whose motion agrees best with the guidance
inside it; regions without guidance keep their default (sample 0) or sampled sign.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..errors import InputError
from ..exposure import _gamma_of, decode
from ..progress import NO_PROGRESS, Progress
from ..types import Generation, Intervals, Provenance, Video

_NAMED = {"left-to-right": 0.0, "right-to-left": 180.0, "top-to-bottom": 90.0, "bottom-to-top": 270.0}
_PALETTE = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [0, 0, 0]], np.float32)
_PALETTE_DEG = (0.0, 90.0, 180.0, 270.0, np.nan)


@dataclass
class ClassicalGenerator:
    """Physically based generator: blur-field estimation, deconvolution, path rendering."""

    max_side: int = 640
    """Processing resolution: long side in pixels of the deblurred latent and the motion paths."""
    estimate_side: int = 384
    """Long side of the image the blur field is estimated on."""
    tile: int = 64
    """Tile size (pixels at ``estimate_side``) of the blur estimate; the longest measurable blur
    is 0.4 * tile there."""
    coarse: float = 0.5
    """Scale (relative to ``estimate_side``) of the coarse copy on which the camera field is
    scored as well (coarse-to-fine: long blur, and no short spurious texture dips); 0 = one
    scale only."""
    iterations: int = 20
    """Richardson-Lucy iterations of the deconvolution (0 = carry the blurry photo itself)."""
    tv: float = 0.0
    """Weight of the total-variation prior in the deconvolution (0 = plain Richardson-Lucy)."""
    support: tuple[float, float] | None = (0.03, 0.10)
    """Deconvolve only where the blur evidence supports the motion (see :func:`support_damping`):
    tiles whose evidence under their own motion is below ``support[0]`` are not sharpened, above
    ``support[1]`` fully; None = deconvolve everywhere alike."""
    deconv_confidence: float = 0.5
    """Strength of the confidence damping of the deconvolution: the Richardson-Lucy damping is
    raised to at least ``deconv_confidence`` x (1 - confidence) per pixel (1: damping = 1 -
    confidence; unsure motion is sharpened less, on top of the frame blend with the photo);
    0 = off (the deconvolution ignores the confidence). Default 0.5: ray-cast SSIM_p 0.6876 (off)
    -> 0.6885, above the photo repeated (0.6880); the real sets within 0.01 dB of off, no-blur
    sets unchanged (README generate rows)."""
    min_evidence: float = 0.05
    """Mean tile evidence below which the camera is taken as static."""
    output_size: tuple[int, int] | None = None
    """(W, H) of the output frames; default: the input photo's size."""
    response: str = "srgb"
    """Camera response used to go to linear light and back (srgb, gamma2.2, linear or a number)."""
    fps: float = 20.0
    """Playback rate written into the videos."""
    ambiguity_px: float = 3.0
    """Blur extent (output pixels) at which the time direction counts as fully ambiguous."""
    min_confidence: float = 0.15
    """Confidence (see :mod:`blur4d.generate._confidence`) below which a region's motion is
    taken as not there (no blur: its frames are the photo); 0 keeps every estimated motion at
    full strength (the model without the do-no-harm step)."""
    tile_check: bool = False
    """Scale each region's confidence per tile by how well its motion explains the tile against
    the best free motion there (:func:`blur4d.generate._confidence.tile_fit`): frames keep the
    photo where something else moves. Off by default: with the support damping on, it made
    the check call a generated clip of real blur rigid parallax at confidence 1.0 (residual
    growth 0.36 -> 0.62 of the rigid prediction; ``tests/test_stage_agreement.py``)."""
    direction_belief: float = 0.5
    """Probability given to a region's time direction (the sample's sign, where no direction
    guidance fixes it) for frames outside the exposure [-0.5, 0.5] whose time mirror is not
    requested as well. The photo cannot tell a motion from its reverse: a clip with a requested
    interval's mirror [-b, -a] for each [a, b] (the present frames tiling the exposure, past and
    future frames asked for symmetrically) is right up to playing it backwards, so it commits to
    the sample's direction; an unpaired frame outside the exposure (only past, or only future)
    has no such equivalent: committed, it is the true future frame when the direction is wrong.
    Its outside part is rendered as ``belief`` x (this direction) + (1 - belief) x (the reverse)
    in linear light, the expected-error-optimal frame when the direction is right with that
    probability: 0.5 (no direction evidence) averages both; 1 always commits."""
    _last: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if int(self.max_side) < 32:
            raise InputError(f"classical: max_side must be >= 32, got {self.max_side}")
        if int(self.estimate_side) < 64:
            raise InputError(f"classical: estimate_side must be >= 64, got {self.estimate_side}")
        if int(self.tile) < 16:
            raise InputError(f"classical: tile must be >= 16, got {self.tile}")
        if not 0.0 <= float(self.coarse) < 1.0:
            raise InputError(f"classical: coarse must be in [0, 1), got {self.coarse}")
        if self.support is not None:
            lo, hi = (float(v) for v in self.support)
            if not lo < hi:
                raise InputError(f"classical: support must be (low, high) with low < high, got {self.support!r}")
            self.support = (lo, hi)
        if not 0.5 <= float(self.direction_belief) <= 1.0:
            raise InputError(f"classical: direction_belief must be in [0.5, 1], got {self.direction_belief}")
        if not 0.0 <= float(self.deconv_confidence) <= 1.0:
            raise InputError(f"classical: deconv_confidence must be in [0, 1], got {self.deconv_confidence}")
        if int(self.iterations) < 0:
            raise InputError(f"classical: iterations must be >= 0, got {self.iterations}")
        if self.output_size is not None:
            try:
                w, h = (int(v) for v in self.output_size)
            except (TypeError, ValueError) as err:
                raise InputError(f"classical: output_size must be (W, H), got {self.output_size!r}") from err
            if w < 8 or h < 8:
                raise InputError(f"classical: output_size must be at least 8x8, got {w}x{h}")
            self.output_size = (w, h)
        _gamma_of(self.response)

    # ------------------------------------------------------------------------------------------
    def __call__(self, photo: Any, intervals: Intervals, *, samples: int = 1, seed: int | None = None,
                 direction: str | float | np.ndarray | None = None, progress: Progress = NO_PROGRESS) -> Generation:
        import cv2

        from ._blurfield import estimate_field
        from ._confidence import conf_grid, region_confidence, tile_fit
        from ._render import Warper, richardson_lucy, sample_times

        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        pixels = getattr(photo, "pixels", photo)
        pixels = np.asarray(pixels)
        if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
            raise InputError(f"photo: expected (H, W, 3) uint8 pixels, got shape {pixels.shape} {pixels.dtype}")
        if not isinstance(intervals, Intervals):
            intervals = Intervals(np.asarray(intervals, np.float64))
        samples = int(samples)
        if samples < 1:
            raise InputError(f"samples: must be >= 1, got {samples}")
        H0, W0 = pixels.shape[:2]
        Wo, Ho = self.output_size or (W0, H0)
        guidance = _guidance_vectors(direction, W0, H0)
        total = 3 + samples * len(intervals)
        progress("generate", 0, total)

        lin = decode(pixels, self.response)
        s_proc = min(1.0, self.max_side / max(W0, H0))
        pw, ph = max(8, round(W0 * s_proc)), max(8, round(H0 * s_proc))
        lin_proc = cv2.resize(lin, (pw, ph), interpolation=cv2.INTER_AREA) if (pw, ph) != (W0, H0) else lin
        s_est = min(1.0, self.estimate_side / max(W0, H0))
        ew, eh = max(16, round(W0 * s_est)), max(16, round(H0 * s_est))
        gray = cv2.resize(lin, (ew, eh), interpolation=cv2.INTER_AREA).mean(axis=2)
        timings["prepare"] = time.perf_counter() - t0

        t = time.perf_counter()
        bf = estimate_field(gray, tile=min(self.tile, ew, eh), min_global=self.min_evidence, coarse=float(self.coarse))
        bf, conf = region_confidence(bf, gray, self.min_confidence)
        V, labels = bf.dense(pw, ph)
        fit = tile_fit(bf, gray, min(self.tile, ew, eh)) if conf and self.tile_check else None
        C = bf._interp(conf_grid(bf, conf, fit), pw, ph) if conf else np.zeros((ph, pw), np.float32)
        timings["estimate"] = time.perf_counter() - t
        progress("generate", 1, total)

        t = time.perf_counter()
        warper = Warper(V)
        times = sample_times(-0.5, 0.5, warper.max_len, step=1.0, cap=48)
        damping = support_damping(bf, pw, ph, self.support) if self.support is not None else 0.0
        if self.deconv_confidence > 0:  # sharpen unsure motion less: combine as independent shrinks
            keep = 1.0 - float(self.deconv_confidence) * (1.0 - np.clip(C, 0.0, 1.0))[..., None]
            damping = (1.0 - (1.0 - damping) * keep).astype(np.float32)
        latent = richardson_lucy(lin_proc, warper, times, iters=self.iterations, tv=self.tv, damping=damping)
        reblur = warper.average(latent, times)
        lin_out = lin if (Wo, Ho) == (W0, H0) else cv2.resize(lin, (Wo, Ho), interpolation=cv2.INTER_AREA)
        residual = lin_out - _resize(reblur, Wo, Ho)
        timings["deblur"] = time.perf_counter() - t
        progress("generate", 2, total)

        regions = bf.regions
        sign_sets, guided = _choose_signs(regions, samples, seed, guidance, bf, pw, ph)
        info = _region_info(bf, labels, V, Wo / pw)
        for r in regions:
            info[r]["confidence"] = round(float(conf.get(r, 0.0)), 3)
        encoder = _Encoder(self.response)
        # expected-error-optimal render: a region's motion is right with probability C, else the
        # scene did not move there (frames = photo); the posterior mean blends the two in linear
        # light (which keeps blur consistency: both average to the photo over the exposure)
        C_out = np.clip(_resize(C, Wo, Ho), 0.0, 1.0)[..., None]
        photo_out = pixels if (Wo, Ho) == (W0, H0) else encoder(lin_out)
        still = C_out[..., 0] <= 0.0
        blend, any_still = bool((C_out < 1.0).any()), bool(still.any())
        hedge = _unpaired_outside(intervals.bounds) * (1.0 - float(self.direction_belief))
        if all(guided.get(r, False) for r in regions):
            hedge[:] = 0.0  # every region's direction is given
        videos: list[Video] = []
        choices: list[dict[str, Any]] = []
        t = time.perf_counter()
        done = 2
        for k, signs in enumerate(sign_sets):
            Vk = V if all(v > 0 for v in signs.values()) else bf.dense(pw, ph, signs)[0]
            wk = Warper(Vk)
            w_rev = None  # the reverse of the unguided regions, for frames outside the exposure
            if hedge.any():
                rev = {r: (s if guided.get(r, False) else -s) for r, s in ((r, signs.get(r, 1.0)) for r in regions)}
                w_rev = Warper(bf.dense(pw, ph, rev)[0]) if any(guided.values()) else None
            frames = np.empty((len(intervals), Ho, Wo, 3), np.uint8)
            for i, (a, b) in enumerate(intervals.bounds):
                if not conf:  # no blur anywhere: every frame is the photo
                    frames[i] = photo_out
                    done += 1
                    progress("generate", done, total)
                    continue
                ts = sample_times(float(a), float(b), wk.max_len, step=1.0, cap=64)
                f = wk.average(latent, ts)
                if hedge[i] > 0:  # unpaired frame outside the exposure: both time directions
                    fr = w_rev.average(latent, ts) if w_rev is not None else wk.average(latent, -ts)
                    f *= 1.0 - hedge[i]
                    f += hedge[i] * fr
                f = _resize(f, Wo, Ho) + residual
                if blend:
                    f -= lin_out
                    f *= C_out
                    f += lin_out
                frames[i] = encoder(f)
                if any_still:
                    frames[i][still] = photo_out[still]
                done += 1
                progress("generate", done, total)
            videos.append(Video(frames, intervals, float(self.fps)))
            choices.append({
                "sample": k,
                "regions": [dict(info[r], sign=int(signs.get(r, 1)), guided=bool(guided.get(r, False)),
                                 direction_deg=_deg(info[r]["direction_deg"] + (180.0 if signs.get(r, 1) < 0 else 0.0)))
                            for r in regions],
            })
        timings["render"] = time.perf_counter() - t
        mag = np.hypot(V[..., 0], V[..., 1]) * (Wo / pw) * np.clip(C, 0.0, 1.0)
        # time direction undetermined where the (confidence-weighted) motion is long; motion
        # itself uncertain where a region's confidence is low
        c_o = C_out[..., 0]
        ambiguity = np.clip(_resize(mag.astype(np.float32), Wo, Ho) / float(self.ambiguity_px), 0.0, 1.0)
        ambiguity = np.where(c_o > 0, np.maximum(ambiguity, 1.0 - c_o), 0.0).astype(np.float32)
        timings["total"] = time.perf_counter() - t0
        progress("generate", total, total)
        summary = {"processing_size": [pw, ph], "estimate_size": [ew, eh], "global_evidence": round(bf.global_score, 4),
                   "camera_field": [round(float(v), 4) for v in bf.global_params], "regions": len(regions),
                   "max_blur_px": round(float(mag.max()), 2), "no_blur": bool(not conf),
                   "confidence": {str(k): round(float(v), 3) for k, v in conf.items()}}
        self._last = {"field": bf, "latent": latent, "V": V}
        prov = Provenance.capture("classical", self._config(), seed=seed, packages=("opencv-python-headless", "scipy"),
                                  timings=timings, **summary)
        videos = [replace(v, provenance=replace(prov, extra={**prov.extra, "sample": i})) for i, v in enumerate(videos)]
        return Generation(samples=tuple(videos), ambiguity=ambiguity, choices=tuple(choices), provenance=prov)

    def _config(self) -> dict[str, Any]:
        return {"max_side": self.max_side, "estimate_side": self.estimate_side, "tile": self.tile,
                "coarse": self.coarse, "iterations": self.iterations, "tv": self.tv,
                "deconv_confidence": self.deconv_confidence,
                "support": list(self.support) if self.support is not None else None, "min_evidence": self.min_evidence,
                "output_size": list(self.output_size) if self.output_size else None, "response": self.response,
                "fps": self.fps, "ambiguity_px": self.ambiguity_px, "min_confidence": self.min_confidence,
                "tile_check": self.tile_check, "direction_belief": self.direction_belief}


# ----------------------------------------------------------------------------------------------
def support_damping(bf: Any, width: int, height: int, ramp: tuple[float, float]) -> np.ndarray:
    """(H, W, 1) Richardson-Lucy damping: 1 - ramp(per-tile blur evidence of the tile's own motion).

    Deconvolving along a motion the tile does not show (a person moving on their own inside the
    camera field's region; measured on real 240 fps footage, where 20 RL iterations under the
    camera pan turned such regions into ringing halos) sharpens the wrong kernel; a tile whose
    content shows its motion (blur evidence well above the ~0 of a wrong motion) is deconvolved
    fully. Tiles without texture have no evidence either, and nothing to sharpen."""
    if bf.support is None:
        return np.zeros((height, width, 1), np.float32)
    lo, hi = ramp
    fit = np.clip((np.asarray(bf.support, np.float32) - lo) / (hi - lo), 0.0, 1.0)
    return (1.0 - np.clip(bf._interp(fit, width, height), 0.0, 1.0))[..., None].astype(np.float32)


def _unpaired_outside(bounds: np.ndarray) -> np.ndarray:
    """Per interval [a, b]: the fraction of it outside the exposure [-0.5, 0.5] (instantaneous:
    0 or 1), 0 where its time mirror [-b, -a] is requested too (the clip reversed then holds it)."""
    keys = {(round(float(a), 6), round(float(b), 6)) for a, b in bounds}
    out = np.zeros(len(bounds))
    for i, (a, b) in enumerate(bounds):
        a, b = float(a), float(b)
        if (round(-b, 6), round(-a, 6)) in keys:
            continue
        if b <= a:
            out[i] = float(abs(a) > 0.5)
        else:
            out[i] = 1.0 - max(0.0, min(b, 0.5) - max(a, -0.5)) / (b - a)
    return out


def _deg(a: float) -> float:
    return round(float(a) % 360.0, 2)


def _resize(img: np.ndarray, W: int, H: int) -> np.ndarray:
    import cv2

    if img.shape[1] == W and img.shape[0] == H:
        return img
    interp = cv2.INTER_AREA if W < img.shape[1] else cv2.INTER_LINEAR
    return cv2.resize(img, (W, H), interpolation=interp)


class _Encoder:
    """Linear light -> uint8 through a 16-bit lookup table (fast, within 0.5 LSB of encode)."""

    def __init__(self, response: str | float) -> None:
        from ..exposure import encode_uint8

        self.lut = encode_uint8(np.linspace(0.0, 1.0, 65536, dtype=np.float32), response)

    def __call__(self, lin: np.ndarray) -> np.ndarray:
        idx = np.clip(lin * 65535.0 + 0.5, 0, 65535).astype(np.uint16)
        return self.lut[idx]


def _guidance_vectors(direction: Any, W: int, H: int) -> np.ndarray | None:
    """(H, W, 2) unit guidance vectors (NaN = none), or None without guidance."""
    import cv2

    if direction is None:
        return None
    if isinstance(direction, str):
        key = direction.strip().lower().replace("_", "-").replace(" ", "-")
        if key in _NAMED:
            ang = np.radians(_NAMED[key])
        else:
            try:
                ang = np.radians(float(key))
            except ValueError:
                raise InputError(f"direction: expected one of {sorted(_NAMED)}, an angle in degrees or a guidance map, "
                                 f"got {direction!r}") from None
        return np.broadcast_to(np.array([np.cos(ang), np.sin(ang)], np.float32), (H, W, 2))
    if isinstance(direction, (int, float, np.integer, np.floating)) and not isinstance(direction, bool):
        ang = np.radians(float(direction))
        return np.broadcast_to(np.array([np.cos(ang), np.sin(ang)], np.float32), (H, W, 2))
    arr = np.asarray(direction)
    if arr.ndim == 2:
        deg = cv2.resize(arr.astype(np.float32), (W, H), interpolation=cv2.INTER_NEAREST)
    elif arr.ndim == 3 and arr.shape[2] == 3:
        rgb = arr.astype(np.float32)
        if arr.dtype != np.uint8 and rgb.max() <= 1.0:
            rgb = rgb * 255.0
        rgb = cv2.resize(rgb, (W, H), interpolation=cv2.INTER_NEAREST)
        d = ((rgb[..., None, :] - _PALETTE[None, None]) ** 2).sum(-1)
        deg = np.asarray(_PALETTE_DEG, np.float32)[d.argmin(-1)]
    else:
        raise InputError(f"direction: a guidance map must be (H, W) angles or (H, W, 3) colours, got shape {arr.shape}")
    ang = np.radians(deg)
    return np.stack([np.cos(ang), np.sin(ang)], -1).astype(np.float32)


def _choose_signs(regions: list[int], samples: int, seed: int | None, guidance: np.ndarray | None, bf: Any,
                  pw: int, ph: int) -> tuple[list[dict[int, float]], dict[int, bool]]:
    """Per-sample region signs: guided regions follow the guidance; the others are +1 in sample 0
    and distinct seeded patterns in the further samples."""
    import cv2

    fixed: dict[int, float] = {}
    guided: dict[int, bool] = {}
    if guidance is not None and regions:
        V, lab = bf.dense(pw, ph)
        g = cv2.resize(np.nan_to_num(guidance, nan=0.0), (pw, ph), interpolation=cv2.INTER_NEAREST)
        for r in regions:
            m = lab == r
            dot = float((g[m] * V[m]).sum()) / max(int(m.sum()), 1)
            if abs(dot) > 1e-3:
                fixed[r], guided[r] = (1.0 if dot > 0 else -1.0), True
    free = [r for r in regions if r not in fixed]
    rng = np.random.default_rng(seed)
    patterns = [p for p in itertools.product((1.0, -1.0), repeat=len(free))][: 1 << min(len(free), 12)]
    rest = patterns[1:]
    order = rng.permutation(len(rest)) if rest else np.array([], int)
    out = []
    for k in range(samples):
        if k == 0 or not rest:
            pat = patterns[0]
        elif k - 1 < len(rest):
            pat = rest[order[k - 1]]
        else:
            pat = tuple(rng.choice([1.0, -1.0], size=len(free)))
        signs = dict(fixed)
        signs.update(dict(zip(free, pat)))
        out.append(signs)
    return out, guided


def _region_info(bf: Any, labels: np.ndarray, V: np.ndarray, scale: float) -> dict[int, dict[str, Any]]:
    info = {}
    n = labels.size
    for r in bf.regions:
        m = labels == r
        v = V[m] if m.any() else np.zeros((1, 2), np.float32)
        mean = v.mean(0)
        info[r] = {"region": r, "kind": "camera" if r == 0 else "object",
                   "fraction": round(float(m.sum()) / n, 4),
                   "blur_px": round(float(np.hypot(v[:, 0], v[:, 1]).mean() * scale), 2),
                   "direction_deg": float(np.degrees(np.arctan2(mean[1], mean[0])))}
    return info
