"""Spatially varying motion-blur estimation (pure math, no IO).

A linear motion blur of length ``L`` along direction ``theta`` turns the image derivative along
``theta`` into the difference of two copies ``L`` apart, so the autocorrelation of that derivative
has a deep negative peak at lag ``L`` along ``theta`` (Yitzhaky & Kopeika, 1997). Per overlapping
tile we evaluate that signature for a fan of candidate directions and lengths (all candidates
from three FFT correlations per tile: ``R_theta = c^2 Axx + cs (Axy + Ayx) + s^2 Ayy``), keep the
deepest peak, regularise the axial field across tiles, and orient it into signed regions.

The sign of each region (motion vs its reverse) is what the photo cannot tell: it is returned as
a free choice per region.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def _tile_starts(n: int, tile: int, stride: int) -> np.ndarray:
    if n <= tile:
        return np.array([0])
    k = int(np.ceil((n - tile) / stride)) + 1
    return np.round(np.linspace(0, n - tile, k)).astype(int)


@dataclass(frozen=True)
class TileStats:
    """Per-tile autocorrelations of the image derivatives, from which the blur evidence of any
    lag vector follows without another FFT.

    axx, ayy, cross: (ny, nx, N, N) autocorrelations (cross = Axy(r) + Axy(-r)), normalised by
    the window's own autocorrelation; centers_x (nx,), centers_y (ny,); texture (ny, nx) mean
    squared gradient; max_lag: the longest lag that is measured reliably.
    """

    axx: np.ndarray
    ayy: np.ndarray
    cross: np.ndarray
    centers_x: np.ndarray
    centers_y: np.ndarray
    texture: np.ndarray
    max_lag: float
    min_lag: float
    baseline: np.ndarray | None = None  # (ny, nx, K) median over directions of the raw dip per lag
    baseline_lags: np.ndarray | None = None  # (K,)

    def dip(self, vx: np.ndarray, vy: np.ndarray) -> np.ndarray:
        """Blur evidence for per-tile lag vectors (broadcast against (ny, nx)): minus the
        normalised autocorrelation of the derivative along v at lag |v|. About 0.5 for a clean
        box blur of exactly v, about 0 for a wrong v; 0 where |v| is outside the measurable range."""
        N = self.axx.shape[-1]
        vx, vy = np.broadcast_arrays(np.asarray(vx, np.float64), np.asarray(vy, np.float64))
        shape = np.broadcast_shapes(vx.shape, self.texture.shape)
        vx, vy = np.broadcast_to(vx, shape), np.broadcast_to(vy, shape)
        length = np.hypot(vx, vy)
        ok = (length >= self.min_lag) & (length <= self.max_lag)
        c = np.where(length > 0, vx / np.maximum(length, 1e-9), 1.0)
        s = np.where(length > 0, vy / np.maximum(length, 1e-9), 0.0)
        extra = shape[: len(shape) - self.texture.ndim]
        a_xx = np.broadcast_to(self.axx, extra + self.axx.shape)
        a_yy = np.broadcast_to(self.ayy, extra + self.ayy.shape)
        a_c = np.broadcast_to(self.cross, extra + self.cross.shape)
        x0, y0 = np.floor(vx).astype(int), np.floor(vy).astype(int)
        wx, wy = vx - x0, vy - y0
        idx = np.indices(shape)
        val = np.zeros(shape)
        for dy, wyy in ((0, 1 - wy), (1, wy)):
            for dx, wxx in ((0, 1 - wx), (1, wx)):
                yy, xx = (y0 + dy) % N, (x0 + dx) % N
                sel = tuple(idx) + (yy, xx)
                val += (c * c * a_xx[sel] + c * s * a_c[sel] + s * s * a_yy[sel]) * (wxx * wyy)
        r0 = c * c * self.axx[..., 0, 0] + c * s * self.cross[..., 0, 0] + s * s * self.ayy[..., 0, 0]
        raw = -val / np.maximum(r0, 1e-12)
        if self.baseline is not None:
            # the pre-filters and the texture give every direction some dip at short lags: only
            # the excess over the median direction is blur evidence
            pos = np.interp(length, self.baseline_lags, np.arange(len(self.baseline_lags)))
            i0 = np.clip(np.floor(pos).astype(int), 0, len(self.baseline_lags) - 1)
            i1 = np.clip(i0 + 1, 0, len(self.baseline_lags) - 1)
            f = pos - i0
            b = np.broadcast_to(self.baseline, extra + self.baseline.shape)
            base = (np.take_along_axis(b, i0[..., None], -1)[..., 0] * (1 - f)
                    + np.take_along_axis(b, i1[..., None], -1)[..., 0] * f)
            raw = raw - base
        return np.where(ok, raw, 0.0)


def tile_stats(gray: np.ndarray, *, tile: int = 64, stride: int | None = None, min_lag: float = 4.0,
               lag_smooth: float = 0.0) -> TileStats:
    """Derivative autocorrelations per overlapping tile of a float gray image (linear light)."""
    import cv2

    g = np.asarray(gray, np.float32)
    H, W = g.shape
    tile = int(min(tile, H, W))
    stride = int(stride or max(1, tile // 2))
    g = cv2.GaussianBlur(g, (0, 0), 0.8)

    def diff(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dx = np.zeros_like(a)
        dy = np.zeros_like(a)
        dx[:, :-1] = a[:, 1:] - a[:, :-1]
        dy[:-1] = a[1:] - a[:-1]
        return dx, dy

    # natural images have ~1/f^2 spectra, so their gradients are ~white; a box blur along v turns
    # the derivative (along v) of a gradient image into two white copies |v| apart
    gxx, gxy = diff(g)
    ys, xs = _tile_starts(H, tile, stride), _tile_starts(W, tile, stride)
    win = np.outer(np.hanning(tile + 2)[1:-1], np.hanning(tile + 2)[1:-1]).astype(np.float32)
    N = 2 * tile
    axx = ayy = cross = 0.0
    texture = 0.0
    for img in (gxx, gxy):
        ix, iy = diff(img)
        px = np.stack([np.stack([ix[y:y + tile, x:x + tile] for x in xs]) for y in ys])  # (ny, nx, t, t)
        py = np.stack([np.stack([iy[y:y + tile, x:x + tile] for x in xs]) for y in ys])
        pg = np.stack([np.stack([img[y:y + tile, x:x + tile] for x in xs]) for y in ys])
        texture = texture + (pg ** 2).mean(axis=(2, 3))
        px = (px - px.mean(axis=(2, 3), keepdims=True)) * win
        py = (py - py.mean(axis=(2, 3), keepdims=True)) * win
        fx = np.fft.rfft2(px, s=(N, N))
        fy = np.fft.rfft2(py, s=(N, N))
        axx = axx + np.fft.irfft2(np.abs(fx) ** 2, s=(N, N))
        ayy = ayy + np.fft.irfft2(np.abs(fy) ** 2, s=(N, N))
        axy = np.fft.irfft2(np.conj(fx) * fy, s=(N, N))
        cross = cross + axy + np.roll(axy[..., ::-1, ::-1], 1, axis=(-2, -1))  # axy(r) + axy(-r)
    ww = np.fft.irfft2(np.abs(np.fft.rfft2(win, s=(N, N))) ** 2, s=(N, N))
    ww = np.maximum(ww / ww[0, 0], 0.2)
    maps = [m / ww for m in (axx, ayy, cross)]
    if lag_smooth > 0:
        # real kernels are not exact boxes along exact directions: pool the evidence over a
        # small neighbourhood of lags (the lag-0 energies stay exact for the normalisation)
        from scipy.ndimage import gaussian_filter

        for m in maps:
            zero = m[..., 0, 0].copy()
            m[...] = gaussian_filter(m, sigma=(0, 0, lag_smooth, lag_smooth), mode="wrap")
            m[..., 0, 0] = zero
    st = TileStats(axx=maps[0].astype(np.float32), ayy=maps[1].astype(np.float32),
                   cross=maps[2].astype(np.float32), centers_x=xs + (tile - 1) / 2.0,
                   centers_y=ys + (tile - 1) / 2.0, texture=texture.astype(np.float64),
                   max_lag=0.4 * tile, min_lag=float(min_lag))
    lags = np.arange(0.0, st.max_lag + 1.0, 0.5)
    angs = np.arange(24) * np.pi / 24
    lo = TileStats(**{**st.__dict__, "min_lag": 0.0, "max_lag": float(lags[-1])})
    raw = lo.dip(np.cos(angs)[:, None, None, None] * lags[None, None, None, :].transpose(0, 3, 1, 2) * 0 +
                 (np.cos(angs)[:, None] * lags[None, :])[:, :, None, None],
                 (np.sin(angs)[:, None] * lags[None, :])[:, :, None, None])  # (A, K, ny, nx)
    base = np.median(raw, axis=0).transpose(1, 2, 0)
    return TileStats(**{**st.__dict__, "baseline": base.astype(np.float32), "baseline_lags": lags})


def affine_field(params: np.ndarray, x: np.ndarray, y: np.ndarray, center: tuple[float, float],
                 scale: float) -> tuple[np.ndarray, np.ndarray]:
    """V(x) = b + A (x - c) / scale with params (bx, by, a11, a12, a21, a22)."""
    bx, by, a11, a12, a21, a22 = params
    u, v = (x - center[0]) / scale, (y - center[1]) / scale
    return bx + a11 * u + a12 * v, by + a21 * u + a22 * v


def _tile_weights(stats: TileStats) -> np.ndarray:
    w = np.clip(np.sqrt(stats.texture / max(np.median(stats.texture), 1e-12)), 0.0, 2.0)
    return w / w.sum()


def fit_global(stats: TileStats, size: tuple[int, int], *, max_len: float | None = None,
               affine: bool = True, coarse: tuple[TileStats, float] | None = None,
               fill: float = 0.5) -> tuple[np.ndarray, float]:
    """Fit the camera's blur field that maximises the summed tile evidence: a similarity field
    (translation, roll, zoom) first, then a general affine one only if it explains clearly more
    (``affine``).

    ``coarse`` = (stats of a downscaled copy, its scale factor): coarse-to-fine scoring. A
    candidate field is scored at both scales (the sum of the two mean evidences): a real blur
    of length L leaves its dip at L and at L * factor, while the short dips that fine texture
    and noise leave at this scale vanish below the coarse scale's shortest lag, and the coarse
    scale measures blur up to ``coarse.max_lag / factor``, beyond this scale's range. The share
    of tiles one scale cannot measure counts with ``fill`` times the other scale's evidence
    (0: only fields both scales see score twice, which favours lengths the coarse scale
    measures; 1: no preference). Returns (affine params, mean evidence: with ``coarse``, that
    of the scale that sees the field best)."""
    from scipy.optimize import minimize

    W, H = size
    center, scale = ((W - 1) / 2.0, (H - 1) / 2.0), 0.5 * max(W, H)
    X, Y = np.meshgrid(stats.centers_x, stats.centers_y)
    w = _tile_weights(stats)
    mx = float(max_len or stats.max_lag)
    if coarse is not None:
        cst, f = coarse
        Xc, Yc = np.meshgrid((cst.centers_x + 0.5) / f - 0.5, (cst.centers_y + 0.5) / f - 0.5)
        wc = _tile_weights(cst)
        mx = max(mx, float(cst.max_lag) / f)

    def parts(p: np.ndarray) -> tuple[np.ndarray, ...]:
        vx, vy = affine_field(p, X, Y, center, scale)
        s = (stats.dip(vx, vy) * w).sum(axis=(-2, -1))
        if coarse is None:
            return s, s, 1.0, 1.0
        cx, cy = affine_field(p, Xc, Yc, center, scale)
        ln, lc = np.hypot(vx, vy), np.hypot(cx, cy) * f
        frac = (((ln >= stats.min_lag) & (ln <= stats.max_lag)) * w).sum(axis=(-2, -1))
        frac_c = (((lc >= cst.min_lag) & (lc <= cst.max_lag)) * wc).sum(axis=(-2, -1))
        return s, (cst.dip(cx * f, cy * f) * wc).sum(axis=(-2, -1)), frac, frac_c

    def score(p: np.ndarray) -> np.ndarray:
        s, sc, frac, frac_c = parts(p)
        if coarse is None:
            return s
        # tiles one scale cannot measure: too short for the coarse one, too long for the fine one
        return s + sc + fill * ((1 - frac) * sc + (1 - frac_c) * s)

    # coarse search over similarity fields (translation, roll, zoom), vectorised
    lens = np.linspace(stats.min_lag, mx, max(9, int(np.ceil((mx - stats.min_lag) / 2.5)) + 1))
    angs = np.arange(12) * np.pi / 12
    cands = [np.zeros(6)]
    for L in lens:
        for a in angs:
            cands.append(np.array([L * np.cos(a), L * np.sin(a), 0, 0, 0, 0]))
    for rot in np.linspace(-mx, mx, 9):
        for zoom in np.linspace(-mx, mx, 9):
            for bx, by in ((0, 0), (mx / 3, 0), (0, mx / 3), (-mx / 3, 0), (0, -mx / 3)):
                cands.append(np.array([bx, by, zoom, -rot, rot, zoom]))
    P = np.array(cands)
    s = score(P.T[:, :, None, None])
    order = np.argsort(-s)[:4]
    best, best_s = P[order[0]], s[order[0]]

    def sim(q: np.ndarray) -> np.ndarray:  # (bx, by, zoom, rot) -> affine params
        return np.array([q[0], q[1], q[2], -q[3], q[3], q[2]])

    for i in order:
        p0 = P[i]
        q0 = np.array([p0[0], p0[1], 0.5 * (p0[2] + p0[5]), 0.5 * (p0[4] - p0[3])])
        res = minimize(lambda q: -score(sim(q)[:, None, None]), q0, method="Nelder-Mead",
                       options={"xatol": 0.05, "fatol": 1e-5, "maxiter": 400})
        if -res.fun > best_s:
            best, best_s = sim(res.x), -res.fun
    if affine:
        res = minimize(lambda p: -score(p[:, None, None]), best, method="Nelder-Mead",
                       options={"xatol": 0.05, "fatol": 1e-5, "maxiter": 600})
        if -res.fun > best_s + 0.02:
            best, best_s = res.x, -res.fun
    if coarse is not None:
        # fine polish: the coarse scale finds the basin, this scale's finer lags place the
        # length (kept only as a small local change of a field this scale can measure)
        s0, _, frac0, _ = parts(best[:, None, None])
        if float(np.asarray(frac0).item()) >= 0.5:
            similar = abs(best[2] - best[5]) < 1e-9 and abs(best[3] + best[4]) < 1e-9
            if similar:  # stay a similarity field (the affine one needs a clear gain, above)
                q0 = np.array([best[0], best[1], best[2], best[4]])
                res = minimize(lambda q: -parts(sim(q)[:, None, None])[0].item(), q0, method="Nelder-Mead",
                               options={"xatol": 0.02, "fatol": 1e-6, "maxiter": 400})
                res.x = sim(res.x)
            else:
                res = minimize(lambda p: -parts(p[:, None, None])[0].item(), best, method="Nelder-Mead",
                               options={"xatol": 0.02, "fatol": 1e-6, "maxiter": 400})
            vx0, vy0 = affine_field(best, X, Y, center, scale)
            vx1, vy1 = affine_field(res.x, X, Y, center, scale)
            step = float(np.hypot(vx1 - vx0, vy1 - vy0).max())
            if -res.fun > float(np.asarray(s0).item()) and step <= 0.15 * float(np.hypot(vx0, vy0).max()) + 0.5:
                best = res.x
        # the evidence of the scale that sees the chosen field best
        best_s = float(max(np.asarray(v).item() for v in parts(best[:, None, None])[:2]))
    return best, float(best_s)


RIVAL_TURN = (45.0, 135.0)
"""Turns (degrees) of a motion over which :func:`rival_ratio` looks for a rival explanation."""


def _turned(vx: np.ndarray, vy: np.ndarray, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c, s = np.cos(phi), np.sin(phi)
    return c * vx - s * vy, s * vx + c * vy


def rival_ratio(stats: TileStats, vx: np.ndarray, vy: np.ndarray, weights: np.ndarray,
                coarse: tuple[TileStats, np.ndarray, np.ndarray, np.ndarray, float] | None = None) -> float:
    """How well the same motion turned by 45-135 degrees explains the tiles, relative to the
    motion itself: max over turns of the weighted evidence, over the motion's own (the sum of
    both scales with ``coarse`` = (stats, vx, vy, weights, factor) of the downscaled copy).

    A motion blur has ONE kernel: its signature is a single dip at lag ``v``, and the same
    length turned far from ``v`` finds nothing (a real blur: ratio <= 0.4 on the issue's real
    240 fps blur). A texture with a preferred scale makes a dip along the normal of each of its
    soft edges (a brick wall's mortar lines: at their width, in two orientations), so a fitted
    ``v`` that collects both families has a mirror twin that does nearly as well (sharp brick
    planes 0.6-1.0): two motions explain the photo alike, the blur is not identified. Turning
    keeps every lag's length, so the measurable tiles are the same for all turns. 1.0 where the
    motion has no positive evidence."""
    phis = np.radians(np.arange(RIVAL_TURN[0], RIVAL_TURN[1] + 1e-6, 7.5))

    def ev(st: TileStats, x: np.ndarray, y: np.ndarray, w: np.ndarray, phi: float) -> float:
        tx, ty = _turned(x, y, phi)
        return float((st.dip(tx, ty) * w).sum())

    def total(phi: float) -> float:
        e = ev(stats, vx, vy, weights, phi)
        if coarse is not None:
            cst, cx, cy, cw, f = coarse
            e += ev(cst, cx * f, cy * f, cw, phi)
        return e

    own = total(0.0)
    if own <= 1e-9:
        return 1.0
    return float(max(total(p) for p in phis) / own)


@dataclass(frozen=True)
class BlurField:
    """The estimated motion over the exposure, up to one sign per region.

    In pixels of an image of ``size`` (W, H). ``global_params``: the affine camera field (see
    :func:`affine_field`; all zero when the camera did not move measurably); ``gain`` (ny, nx):
    per-tile magnitude of the camera field relative to the affine fit (parallax); ``local``
    (ny, nx, 2): per-tile vectors of independently moving regions (NaN elsewhere); ``labels``
    (ny, nx) int: 0 = the camera field, k >= 1 = moving region k, -1 = static.
    """

    size: tuple[int, int]
    centers_x: np.ndarray
    centers_y: np.ndarray
    global_params: np.ndarray
    global_score: float
    gain: np.ndarray
    local: np.ndarray
    labels: np.ndarray
    evidence: dict = field(default_factory=dict)
    """Per region: mean blur evidence (dip) of its tiles under its motion (0: the camera field's
    mean evidence over all tiles) and the number of its tiles (``(evidence, tiles)``)."""
    support: np.ndarray | None = None
    """(ny, nx) blur evidence (dip) of each tile under the motion the field gives it: low where
    the tile's content does not show that motion (e.g. a person moving on their own inside the
    camera field's region, or no texture)."""
    rival: dict = field(default_factory=dict)
    """Per region: :func:`rival_ratio` of its motion (about 0-0.4 for a real blur, near 1 where
    the motion turned far away explains the tiles as well: the blur is not identified)."""

    @property
    def regions(self) -> list[int]:
        return sorted(int(v) for v in np.unique(self.labels) if v >= 0)

    def _interp(self, grid: np.ndarray, W: int, H: int) -> np.ndarray:
        """Bilinear interpolation of a tile-centre grid to every pixel of a (W, H) image."""
        import cv2

        sx, sy = self.size[0] / W, self.size[1] / H
        xs = (np.arange(W) + 0.5) * sx - 0.5
        ys = (np.arange(H) + 0.5) * sy - 0.5
        fx = np.interp(xs, self.centers_x, np.arange(len(self.centers_x)))
        fy = np.interp(ys, self.centers_y, np.arange(len(self.centers_y)))
        mx, my = np.meshgrid(fx.astype(np.float32), fy.astype(np.float32))
        g = np.ascontiguousarray(grid.astype(np.float32))
        return cv2.remap(g, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def dense(self, width: int, height: int, signs: dict[int, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Per-pixel motion over the exposure (H, W, 2) float32 in pixels of a (width, height)
        image, with ``signs[region]`` = +1 or -1 (default +1), and the (H, W) int label map."""
        signs = signs or {}
        f = width / self.size[0]
        X, Y = np.meshgrid((np.arange(width) + 0.5) / f - 0.5, (np.arange(height) + 0.5) / f - 0.5)
        W0, H0 = self.size
        gx, gy = affine_field(self.global_params, X, Y, ((W0 - 1) / 2.0, (H0 - 1) / 2.0), 0.5 * max(W0, H0))
        gain = self._interp(self.gain, width, height)
        s0 = float(signs.get(0, 1.0))
        cam = np.stack([gx * gain, gy * gain], -1) * (f * s0)
        if not (self.labels >= 1).any():
            lab = self._nearest_labels(width, height)
            cam[lab < 0] *= 0.0
            return cam.astype(np.float32), lab
        weights = np.zeros(self.labels.shape + (1,), np.float32)
        vec = np.zeros(self.labels.shape + (2,), np.float32)
        for k in self.regions:
            if k == 0:
                continue
            m = self.labels == k
            weights[m, 0] = 1.0
            vec[m] = self.local[m] * float(signs.get(k, 1.0))
        w = self._interp(weights[..., 0], width, height)[..., None]
        v = self._interp(vec, width, height) * f
        # vec is zero outside regions, so normalise the interpolated vectors by the weight
        v = np.where(w > 1e-3, v / np.maximum(w, 1e-3), 0.0)
        w = np.clip((w - 0.25) / 0.5, 0.0, 1.0)
        lab = self._nearest_labels(width, height)
        static = (self.labels < 0).astype(np.float32)
        st = self._interp(static, width, height)[..., None]
        cam = cam * (1.0 - np.clip((st - 0.25) / 0.5, 0, 1))
        out = cam * (1.0 - w) + v * w
        return out.astype(np.float32), lab

    def _nearest_labels(self, width: int, height: int) -> np.ndarray:
        f = width / self.size[0]
        xs = (np.arange(width) + 0.5) / f - 0.5
        ys = (np.arange(height) + 0.5) / f - 0.5
        ix = np.abs(xs[:, None] - self.centers_x[None]).argmin(1)
        iy = np.abs(ys[:, None] - self.centers_y[None]).argmin(1)
        return self.labels[iy][:, ix].astype(np.int32)


def estimate_field(gray: np.ndarray, *, tile: int = 64, min_global: float = 0.05, local_min: float = 0.3,
                   local_margin: float = 0.15, lag_smooth: float = 1.0, coarse: float = 0.5,
                   coarse_tile: float = 0.75, fill: float = 0.5) -> BlurField:
    """Estimate the blur field of a float gray image (linear light) at its own resolution.

    1. tile statistics, here and (``coarse`` > 0) on a copy downscaled by ``coarse`` with tiles
    ``coarse_tile`` times as large; 2. the affine camera field maximising the summed evidence
    of both scales (coarse-to-fine, see :func:`fit_global`; kept if its mean evidence is
    >= ``min_global``); 3. per tile, the magnitude along the camera field
    (parallax), and a free local vector where it explains the tile much better (``local_min``,
    ``local_margin``): independently moving content, grouped into connected regions whose
    vectors are oriented consistently.
    """
    from scipy import ndimage
    from scipy.optimize import minimize

    H, W = gray.shape
    st = tile_stats(gray, tile=tile, lag_smooth=lag_smooth)
    cst = None
    ctile = max(16, int(round(tile * coarse_tile)))
    if coarse > 0 and min(H, W) * coarse >= ctile:
        import cv2

        cw, ch = max(16, round(W * coarse)), max(16, round(H * coarse))
        g2 = cv2.resize(np.asarray(gray, np.float32), (cw, ch), interpolation=cv2.INTER_AREA)
        cst = (tile_stats(g2, tile=ctile, lag_smooth=lag_smooth), cw / W)
    params, gscore = fit_global(st, (W, H), coarse=cst, fill=fill)
    if gscore < min_global:
        params = np.zeros(6)
    X, Y = np.meshgrid(st.centers_x, st.centers_y)
    gx, gy = affine_field(params, X, Y, ((W - 1) / 2.0, (H - 1) / 2.0), 0.5 * max(W, H))
    glen = np.hypot(gx, gy)
    # magnitude refinement along the camera field
    gains = np.linspace(0.4, 2.0, 17)
    d_gain = st.dip(gains[:, None, None] * gx, gains[:, None, None] * gy)  # (G, ny, nx)
    best_g = gains[d_gain.argmax(0)]
    d_cam = d_gain.max(0)
    d_here = st.dip(gx, gy)
    use_gain = (d_cam > d_here + 0.05) & (glen >= st.min_lag)
    gain = np.where(use_gain, best_g, 1.0)
    gain = ndimage.median_filter(gain, size=3, mode="nearest")
    d_cam = np.maximum(d_cam, d_here)
    # free local search
    angles = np.arange(48) * np.pi / 48
    lags = np.arange(st.min_lag, st.max_lag + 1e-6, 1.0)
    A, L = np.meshgrid(angles, lags, indexing="ij")
    cx, cy = (L * np.cos(A)).ravel(), (L * np.sin(A)).ravel()
    d_loc = st.dip(cx[:, None, None], cy[:, None, None])  # (C, ny, nx)
    d_best = d_loc.max(0)
    textured = st.texture > 0.05 * np.median(st.texture)
    is_local = textured & (d_best >= local_min) & (d_best > d_cam + local_margin)
    is_local = (ndimage.binary_opening(is_local, structure=np.ones((1, 2)))
                | ndimage.binary_opening(is_local, structure=np.ones((2, 1))))
    labels = np.where(glen * gain >= st.min_lag * 0.5, 0, -1) if gscore >= min_global else np.full(glen.shape, -1)
    local = np.full(glen.shape + (2,), np.nan)
    comp, n = ndimage.label(is_local)
    evidence: dict[int, tuple[float, int]] = {0: (float(gscore), int((labels == 0).sum()))}
    support = d_cam.copy()
    for k in range(1, n + 1):
        m = comp == k
        # one vector per region: the candidate with the most summed evidence over its tiles
        tot = d_loc[:, m].sum(axis=1)
        v, best = np.array([cx[int(tot.argmax())], cy[int(tot.argmax())]]), float(tot.max())
        sub = TileStats(**{**st.__dict__, "axx": st.axx[m], "ayy": st.ayy[m], "cross": st.cross[m],
                           "texture": st.texture[m], "baseline": st.baseline[m]})
        for j in np.argsort(-tot)[:3]:
            res = minimize(lambda q: -float(sub.dip(q[0], q[1]).sum()), np.array([cx[j], cy[j]]), method="Nelder-Mead",
                           options={"xatol": 0.05, "fatol": 1e-5, "maxiter": 200})
            if -res.fun > best:
                v, best = res.x, -res.fun
        if v[0] < 0 or (abs(v[0]) < 1e-9 and v[1] < 0):
            v = -v
        local[m] = v
        labels[m] = k
        support[m] = st.dip(np.full(m.shape, v[0]), np.full(m.shape, v[1]))[m]
        evidence[k] = (best / max(int(m.sum()), 1), int(m.sum()))
    rival: dict[int, float] = {}
    if gscore >= min_global:
        w0 = _tile_weights(st) * (labels == 0)
        cpack = None
        if cst is not None:
            cs_, f = cst
            Xc, Yc = np.meshgrid((cs_.centers_x + 0.5) / f - 0.5, (cs_.centers_y + 0.5) / f - 0.5)
            cgx, cgy = affine_field(params, Xc, Yc, ((W - 1) / 2.0, (H - 1) / 2.0), 0.5 * max(W, H))
            cpack = (cs_, cgx, cgy, _tile_weights(cs_), f)
        rival[0] = rival_ratio(st, gx * gain, gy * gain, w0, cpack)
    for k in range(1, n + 1):
        m = labels == k
        if m.any():
            rival[k] = rival_ratio(st, np.full(m.shape, local[m][0][0]), np.full(m.shape, local[m][0][1]),
                                   _tile_weights(st) * m)
    # canonical sign of the camera field: its mean points right (or down when vertical)
    mean = np.array([np.mean(gx), np.mean(gy)])
    if abs(mean[0]) >= abs(mean[1]) and mean[0] < 0 or abs(mean[0]) < abs(mean[1]) and mean[1] < 0:
        params = -params
    return BlurField(size=(W, H), centers_x=st.centers_x, centers_y=st.centers_y, global_params=params,
                     global_score=gscore, gain=gain, local=local, labels=labels.astype(np.int32),
                     evidence=evidence, support=support.astype(np.float32), rival=rival)
