"""Pixel support of an independently moving region (pure math, no IO).

The blur field finds moving regions per tile (:func:`blur4d.generate._blurfield.estimate_field`):
a tile is tens of pixels wide, and a small object moving over a sharp, static background fills a
part of it. Rendering the region's motion over its whole tiles moves the sharp background too,
and the region's checks (:mod:`blur4d.generate._confidence`) measured over the whole tiles see
the background's sharp steps and reject the motion (a 70 px object blurred 14 px over sharp
rectangles: edge ratio 2.8, peak step ratio 6.6 over its tiles).

Here the region is cut down to the pixels whose steps look blurred along its motion ``v``
(length ``L``, unit ``u``): at each steep step along ``u``, the ratio ``r = L |I(x + u/2) -
I(x - u/2)| / |I(x + v/2) - I(x - v/2)|`` is about 1-2 inside a blur ramp of length ``L`` and
about ``L`` at a sharp step (the first-order check of :func:`._confidence.edge_ratio`, taken
pixel by pixel). Blurred steps minus sharp steps, pooled over about ``L`` pixels, give the
object's smear; closed and grown by ``L / 2`` along ``v`` it is the region's support, and the
region's motion applies there only (elsewhere the camera field, or the photo).

A motion blur smooths along one direction only: the same test along ``v`` turned by 90 degrees
must find the region's steps sharp (``anisotropy``: the blurred share of the steep steps across
``v`` over that along ``v``). Soft content (defocus, smooth shading, soft texture) is blurred in
every direction and is dropped, as a region whose support is too small.

Opt-in (``_blurfield.LOCAL_MASKS``), measured with ``benchmarks/generator.py`` (helper g12L): it
does what it is for where the tile stage finds the region (the synthetic object above: no blur
found -> moved on its smear, +1.1 dB over the photo), and changes nothing on the issue's video
set (24-30 fps clips interpolated 8x: +0.00 dB, default +0.02): there the tile stage finds no
region for the moving hand, ball and legs at all (blur evidence at their TRUE motion: median
0.00-0.14, below the sharp static background's best dips), while the same pipeline fed the true
local motion gains +2.7 dB. The estimate, not this support or the renderer, is the gap. The
16:9 edge-padded copies of the synthetic scene are not found by the tile stage either.
"""

from __future__ import annotations

import numpy as np

BLURRED_RATIO = 2.2
"""Step ratio ``r`` at or below which a steep step counts as inside a blur ramp of length L."""
SHARP_RATIO = 3.0
"""Step ratio at or above which a steep step counts as sharp (only for ``L`` > this)."""
MAX_ANISOTROPY = 0.3
"""Largest share of blurred steps across the motion relative to along it (see module doc): a
70 px object blurred 14 px over sharp rectangles 0.06; soft content on the benchmark's sharp
calibration photos (a multiview photo, scikit-image's brick) 0.50-0.53."""
MAX_RIVAL = 0.55
"""Largest :func:`blur4d.generate._blurfield.rival_ratio` of a region's motion over its tiles
(the start of the camera field's rival ramp in :mod:`._confidence`): the synthetic object
above 0.14; scikit-image's camera and brick regions 0.74-0.81 (anisotropy 0.05 on the camera's
coat: soft along one direction, but a turned motion explains its tiles as well)."""
MIN_BLURRED_SHARE = 0.3
"""Smallest share of blurred steps among the steep steps along the motion in the region's tiles
(a 70 px object blurred 14 px in two 64 px tiles of sharp rectangles: 0.40; the tile pair below
it, sharp rectangles and the object's lower edge matched at a wrong 22 px: 0.15)."""
MIN_SUPPORT = 0.02
"""Smallest support, as a share of the region's own tiles' area, for the region to be kept."""


def _shift(img: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """img sampled at (x + dx, y + dy), replicated borders."""
    import cv2

    M = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]], np.float32)
    H, W = img.shape
    return cv2.warpAffine(img, M, (W, H), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


def step_classes(enc: np.ndarray, v: np.ndarray, area: np.ndarray, q: float = 85.0
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(blurred, sharp, steep but not blurred) bool maps of the steep steps along ``v`` inside ``area`` (see module doc) on
    the gamma-encoded gray image ``enc``. Steep: ``L * g1`` in the top ``100 - q`` % of ``area``
    and a step over ``L`` above the noise."""
    L = float(np.hypot(v[0], v[1]))
    ux, uy = v[0] / L, v[1] / L

    def diff(dx: float, dy: float) -> np.ndarray:
        return np.abs(_shift(enc, 0.5 * dx, 0.5 * dy) - _shift(enc, -0.5 * dx, -0.5 * dy))

    g1 = diff(ux, uy) * L
    gl = diff(float(v[0]), float(v[1]))
    if int(area.sum()) < 50:
        z = np.zeros(enc.shape, bool)
        return z, z, z
    thr = max(float(np.percentile(g1[area], q)), 0.02)
    steep = area & (g1 >= thr) & (gl >= 0.02)
    r = g1 / np.maximum(gl, 1e-4)
    blurred = steep & (r <= BLURRED_RATIO)
    sharp = steep & (r >= max(SHARP_RATIO, 0.4 * L))
    return blurred, sharp, steep & ~blurred


def region_support(enc: np.ndarray, v: np.ndarray, tiles: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, float, float]:
    """(support, core, anisotropy, blurred share along v) of a moving region with motion ``v`` (pixels of ``enc``) whose
    tiles cover ``tiles`` (bool, the image's shape): support is a float mask in [0, 1] (0
    outside), where the motion applies; core (bool) the pixels near its blurred steps and away
    from sharp ones, where the region's own checks look."""
    import cv2

    H, W = enc.shape
    L = float(np.hypot(v[0], v[1]))
    k = max(3, int(round(L)) | 1)
    area = cv2.dilate(tiles.astype(np.uint8), np.ones((k, k), np.uint8)).astype(bool)
    blurred, sharp, other = step_classes(enc, v, area)
    perp = np.array([-v[1], v[0]])
    b_perp, _, o_perp = step_classes(enc, perp, area)
    along = blurred.sum() / max(int(blurred.sum() + other.sum()), 1)
    across = b_perp.sum() / max(int(b_perp.sum() + o_perp.sum()), 1)
    aniso = float(across / along) if along > 0 else float("inf")
    dens = cv2.boxFilter(blurred.astype(np.float32) - sharp.astype(np.float32), -1, (k, k), normalize=True)
    seed = (dens > 1.0 / (k * k)) & area
    # close the smear (a textureless object has blurred steps only at its two ends along v) and
    # grow it by L/2 along v: the smear's ends are where the object's footprint begins
    n = max(3, int(round(L)) | 1)
    line = np.zeros((n, n), np.uint8)
    c = n // 2
    cv2.line(line, (int(round(c - 0.5 * v[0] * (n - 1) / max(L, 1e-6))), int(round(c - 0.5 * v[1] * (n - 1) / max(L, 1e-6)))),
             (int(round(c + 0.5 * v[0] * (n - 1) / max(L, 1e-6))), int(round(c + 0.5 * v[1] * (n - 1) / max(L, 1e-6)))), 1, 1)
    m = cv2.morphologyEx(seed.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((k, k), np.uint8))
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, line)
    m = cv2.dilate(m, line) & area.astype(np.uint8)
    soft = cv2.GaussianBlur(m.astype(np.float32), (0, 0), max(1.0, 0.15 * L))
    # the region's steps for its checks: near blurred steps, away from any steep step that is not
    core = (m > 0) & ~cv2.dilate(other.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    return np.clip(soft * area, 0.0, 1.0), core, aniso, float(along)


def refine_regions(gray: np.ndarray, labels: np.ndarray, local: np.ndarray, centers_x: np.ndarray,
                   centers_y: np.ndarray, tile: int) -> tuple[dict[int, np.ndarray], dict[int, float]]:
    """Per moving region k >= 1 of a tile label grid: its pixel support (float (H, W) mask of
    the linear gray image ``gray``; exactly 1 on its core, see :func:`region_support`) and
    anisotropy. Regions whose anisotropy exceeds
    ``MAX_ANISOTROPY``, whose blurred share is below ``MIN_BLURRED_SHARE`` or whose support is below ``MIN_SUPPORT`` of their tiles' area get no
    entry in the masks (the caller drops them)."""
    H, W = gray.shape
    enc = np.power(np.clip(gray, 0.0, 1.0), 1 / 2.2).astype(np.float32)
    masks: dict[int, np.ndarray] = {}
    aniso: dict[int, float] = {}
    half = tile / 2.0
    for k in sorted(int(x) for x in np.unique(labels) if x >= 1):
        sel = labels == k
        v = local[sel][0]
        if not np.all(np.isfinite(v)) or np.hypot(v[0], v[1]) < 1.0:
            continue
        tiles = np.zeros((H, W), bool)
        for iy, ix in zip(*np.nonzero(sel)):
            y0, x0 = int(round(centers_y[iy] - half + 0.5)), int(round(centers_x[ix] - half + 0.5))
            tiles[max(0, y0):y0 + tile, max(0, x0):x0 + tile] = True
        sup, core, a, share = region_support(enc, np.asarray(v, np.float64), tiles)
        aniso[k] = a
        if (a <= MAX_ANISOTROPY and share >= MIN_BLURRED_SHARE
                and float(sup.sum()) >= MIN_SUPPORT * float(tiles.sum())):
            # the core (checks) is stored as the support's values above 1 - 1e-3: support 1 - 1e-3
            # where the motion applies fully but the pixel is no core pixel
            masks[k] = np.where(core, 1.0, np.minimum(sup, 1.0 - 1e-3)).astype(np.float32)
    return masks, aniso
