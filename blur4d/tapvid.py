"""TAP-Vid point-tracking metrics, and exact ground-truth tracks for the synthetic scenes.

Metrics follow the TAP-Vid benchmark's definitions (Doersch et al., NeurIPS 2022), written
here from the paper's definitions in plain numpy (no IO):

* coordinates are rescaled to 256x256 before any distance is measured;
* ``delta_avg``: for each threshold in 1, 2, 4, 8, 16 px, the fraction of ground-truth-visible
  evaluation points whose prediction lies strictly within the threshold; then the mean;
* ``occlusion_accuracy``: the fraction of evaluation points whose predicted visibility equals
  the ground truth;
* ``average_jaccard``: per threshold, TP / (TP + FN + FP) where a true positive is visible in
  both and within the threshold, and a false positive is predicted visible but either occluded
  in the ground truth or too far; then the mean over thresholds;
* query modes: ``"first"`` queries each track at its first visible frame and evaluates the
  frames after it; ``"strided"`` queries every ``stride``-th frame where the point is visible
  and evaluates every other frame.

Layouts follow blur4d: (T, N, ...) arrays, pixel centres at integer coordinates (TAP-Vid puts
the origin at the pixel corner; a constant offset cancels in every distance, so the metrics are
the same).

The ground-truth half (:func:`scene_tracks`, :func:`tracking_scene`) maps reference pixels of
:class:`blur4d.synthetic.Scene` layers through the same plane homographies the renderer uses, so
positions and occlusions are exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .errors import InputError

__all__ = ["THRESHOLDS", "TapVidMetrics", "tapvid_metrics", "sample_queries", "evaluate_tracker_output",
           "scene_tracks", "tracking_scene", "layer_homography"]

THRESHOLDS: tuple[int, ...] = (1, 2, 4, 8, 16)


@dataclass(frozen=True)
class TapVidMetrics:
    """TAP-Vid scores of one video (fractions in [0, 1]; NaN when nothing could be evaluated)."""

    delta_avg: float
    occlusion_accuracy: float
    average_jaccard: float
    delta: dict[int, float] = field(default_factory=dict)  # threshold (px at 256x256) -> fraction within
    jaccard: dict[int, float] = field(default_factory=dict)
    num_tracks: int = 0
    num_evaluated: int = 0  # evaluation (frame, track) pairs
    query_mode: str = "strided"

    def to_dict(self) -> dict[str, Any]:
        return {"delta_avg": self.delta_avg, "occlusion_accuracy": self.occlusion_accuracy,
                "average_jaccard": self.average_jaccard,
                "delta": {str(k): v for k, v in self.delta.items()},
                "jaccard": {str(k): v for k, v in self.jaccard.items()},
                "num_tracks": self.num_tracks, "num_evaluated": self.num_evaluated, "query_mode": self.query_mode}


def _scale(xy: np.ndarray, image_size: tuple[int, int], resolution: tuple[int, int]) -> np.ndarray:
    W, H = image_size
    rw, rh = resolution
    return np.asarray(xy, np.float64) * np.array([rw / W, rh / H])


def tapvid_metrics(
    gt_xy: np.ndarray,
    gt_visible: np.ndarray,
    pred_xy: np.ndarray,
    pred_visible: np.ndarray,
    query_frame: np.ndarray,
    *,
    image_size: tuple[int, int],
    query_mode: str = "strided",
    resolution: tuple[int, int] = (256, 256),
    thresholds: Sequence[float] = THRESHOLDS,
) -> TapVidMetrics:
    """TAP-Vid metrics of one video.

    gt_xy, pred_xy: (T, N, 2) pixels in an image of ``image_size`` (W, H); gt_visible,
    pred_visible: (T, N) bool; query_frame: (N,) int, the frame each track was queried at.
    Distances are measured after rescaling both to ``resolution`` (TAP-Vid: 256x256).
    """
    gt_xy = np.asarray(gt_xy, np.float64)
    pred_xy = np.asarray(pred_xy, np.float64)
    gt_vis = np.asarray(gt_visible, bool)
    pred_vis = np.asarray(pred_visible, bool)
    qf = np.asarray(query_frame).astype(np.int64)
    if gt_xy.ndim != 3 or gt_xy.shape[2] != 2:
        raise InputError(f"gt_xy: expected (T, N, 2), got {gt_xy.shape}")
    T, N = gt_xy.shape[:2]
    for name, arr, shape in (("pred_xy", pred_xy, (T, N, 2)), ("gt_visible", gt_vis, (T, N)),
                             ("pred_visible", pred_vis, (T, N)), ("query_frame", qf, (N,))):
        if arr.shape != shape:
            raise InputError(f"{name}: expected shape {shape}, got {arr.shape}")
    if query_mode not in ("first", "strided"):
        raise InputError(f"query_mode: expected 'first' or 'strided', got {query_mode!r}")
    if N and (qf.min() < 0 or qf.max() >= T):
        raise InputError(f"query_frame: values must lie in [0, {T - 1}], got [{qf.min()}, {qf.max()}]")

    t = np.arange(T)[:, None]
    evaluate = (t > qf[None]) if query_mode == "first" else (t != qf[None])
    dist = np.linalg.norm(_scale(pred_xy, image_size, resolution) - _scale(gt_xy, image_size, resolution), axis=-1)
    dist = np.where(np.isfinite(dist), dist, np.inf)

    occ_acc = _ratio(np.sum((pred_vis == gt_vis) & evaluate), np.sum(evaluate))
    n_visible = np.sum(gt_vis & evaluate)
    delta: dict[int, float] = {}
    jaccard: dict[int, float] = {}
    for thr in thresholds:
        within = dist < thr
        correct = within & gt_vis
        delta[thr] = _ratio(np.sum(correct & evaluate), n_visible)
        tp = np.sum(correct & pred_vis & evaluate)
        fp = np.sum(pred_vis & (~gt_vis | ~within) & evaluate)
        jaccard[thr] = _ratio(tp, n_visible + fp)
    return TapVidMetrics(
        delta_avg=float(np.mean(list(delta.values()))), occlusion_accuracy=occ_acc,
        average_jaccard=float(np.mean(list(jaccard.values()))), delta=delta, jaccard=jaccard,
        num_tracks=N, num_evaluated=int(np.sum(evaluate)), query_mode=query_mode,
    )


def _ratio(a: float, b: float) -> float:
    return float(a) / float(b) if b else float("nan")


def sample_queries(gt_visible: np.ndarray, query_mode: str = "strided", stride: int = 5
                   ) -> tuple[np.ndarray, np.ndarray]:
    """TAP-Vid query sampling from ground-truth visibility (T, N).

    Returns ``(track_index, query_frame)``, both (M,) int: ``"first"`` gives each track that is
    ever visible once, at its first visible frame; ``"strided"`` gives every track once per frame
    ``0, stride, 2*stride, ...`` at which it is visible.
    """
    vis = np.asarray(gt_visible, bool)
    if vis.ndim != 2:
        raise InputError(f"gt_visible: expected (T, N), got {vis.shape}")
    if query_mode == "first":
        seen = vis.any(axis=0)
        idx = np.flatnonzero(seen)
        return idx, np.argmax(vis[:, idx], axis=0).astype(np.int64)
    if query_mode != "strided":
        raise InputError(f"query_mode: expected 'first' or 'strided', got {query_mode!r}")
    if stride < 1:
        raise InputError(f"stride: must be >= 1, got {stride}")
    frames, tracks = [], []
    for t in range(0, vis.shape[0], stride):
        n = np.flatnonzero(vis[t])
        tracks.append(n)
        frames.append(np.full(len(n), t, np.int64))
    return np.concatenate(tracks).astype(np.int64), np.concatenate(frames)


def evaluate_tracker_output(gt_xy: np.ndarray, gt_visible: np.ndarray, tracks: Any, track_index: np.ndarray,
                            *, query_mode: str, image_size: tuple[int, int]) -> TapVidMetrics:
    """Score a :class:`blur4d.types.Tracks` whose point ``m`` was queried from ground-truth track
    ``track_index[m]`` (as :func:`sample_queries` returns them)."""
    idx = np.asarray(track_index, np.int64)
    return tapvid_metrics(np.asarray(gt_xy)[:, idx], np.asarray(gt_visible)[:, idx], tracks.xy, tracks.visible,
                          tracks.query_frame, image_size=image_size, query_mode=query_mode)


# ------------------------------------------------------------------------------------------
# Ground truth from blur4d.synthetic scenes
# ------------------------------------------------------------------------------------------
def layer_homography(scene: Any, layer: Any, s: float) -> np.ndarray:
    """3x3 map from a layer's reference pixels to the image at time ``s`` (exposure units): the
    same matrix :meth:`blur4d.synthetic.Scene.render` warps the layer with."""
    return scene.layer_homography(layer, s)


def _apply(H: np.ndarray, xy: np.ndarray) -> np.ndarray:
    p = np.concatenate([xy, np.ones((len(xy), 1))], axis=1) @ H.T
    return p[:, :2] / p[:, 2:3]


def _alpha_at(layer: Any, uv: np.ndarray) -> np.ndarray:
    """Bilinear sample of a layer's alpha at reference pixels ``uv`` (N, 2); opaque layers are
    1 everywhere (the renderer reflects their texture at the borders); outside an alpha map is 0."""
    if layer.alpha is None:
        return np.ones(len(uv))
    a = np.asarray(layer.alpha, np.float64)
    h, w = a.shape
    x, y = uv[:, 0], uv[:, 1]
    x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    fx, fy = x - x0, y - y0
    out = np.zeros(len(uv))
    for dx, dy, wgt in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        xi, yi = x0 + dx, y0 + dy
        ok = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
        out[ok] += wgt[ok] * a[yi[ok], xi[ok]]
    return out


def scene_tracks(scene: Any, times: Sequence[float], query_index: int | np.ndarray,
                 query_xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact tracks of image points through a :class:`blur4d.synthetic.Scene`.

    ``times``: (T,) frame times in exposure units (use interval centres for blurred frames);
    ``query_index``: frame index (scalar or (N,)) at which ``query_xy`` (N, 2) pixels are given.
    Each query is assigned to the front-most layer covering it (alpha > 0.5) at its frame and
    mapped through that layer's homographies. Returns ``xy`` (T, N, 2) float32, ``visible``
    (T, N) bool (inside the image and not covered by a nearer layer) and ``layer`` (N,) int.
    """
    times = np.asarray(times, np.float64)
    q = np.asarray(query_xy, np.float64).reshape(-1, 2)
    N = len(q)
    qi = np.broadcast_to(np.asarray(query_index, np.int64), (N,))
    W, H = scene.size
    L = len(scene.layers)
    homs = np.stack([[layer_homography(scene, lay, s) for lay in scene.layers] for s in times])  # (T, L, 3, 3)
    inv = np.linalg.inv(homs)
    # the layer each query lies on: the front-most with alpha > 0.5 at the query frame
    layer = np.zeros(N, np.int64)
    ref = np.zeros((N, 2))
    for t in np.unique(qi):
        sel = np.flatnonzero(qi == t)
        chosen = np.full(len(sel), -1)
        for k in range(L):
            uv = _apply(inv[t, k], q[sel])
            covered = _alpha_at(scene.layers[k], uv) > 0.5
            chosen[covered] = k
        chosen[chosen < 0] = 0
        layer[sel] = chosen
        for k in np.unique(chosen):
            m = sel[chosen == k]
            ref[m] = _apply(inv[t, k], q[m])
    xy = np.zeros((len(times), N, 2))
    visible = np.zeros((len(times), N), bool)
    for t in range(len(times)):
        for k in np.unique(layer):
            m = np.flatnonzero(layer == k)
            xy[t, m] = _apply(homs[t, k], ref[m])
        inside = (xy[t, :, 0] >= -0.5) & (xy[t, :, 0] < W - 0.5) & (xy[t, :, 1] >= -0.5) & (xy[t, :, 1] < H - 0.5)
        covered = np.zeros(N, bool)
        for k in range(L):
            front = layer < k
            if front.any():
                uv = _apply(inv[t, k], xy[t, front])
                covered[front] |= _alpha_at(scene.layers[k], uv) > 0.5
        visible[t] = inside & ~covered
    return xy.astype(np.float32), visible, layer


def tracking_scene(width: int = 320, height: int = 240, *, object_speed: float = 0.5,
                   camera: str = "translate") -> Any:
    """A layered scene for tracking ground truth: a textured background at 10 m, a photo panel at
    5 m, and a near panel at 2.5 m that moves on its own across the panel (``object_speed``
    image widths per exposure) so that it occludes and disoccludes both; the camera translates
    sideways and rotates a little (``camera="translate"``), only rotates (``"rotate"``) or
    stays (``"static"``)."""
    from .synthetic import CameraPath, Layer, Scene, intrinsics, panel_layers

    K = intrinsics(width, height, 60.0)
    size = (width, height)
    layers = panel_layers(width, height, 10.0, (("astronaut", 5.0, (0.30, 0.12, 0.75, 0.70)),
                                                ("chelsea", 2.5, (0.05, 0.45, 0.35, 0.92))), grain=3)
    speed = float(object_speed) * width
    near = layers[-1]
    layers[-1] = Layer(near.texture, near.depth, near.alpha, motion=lambda s: (speed * (s + 0.5), -0.15 * speed * s))
    if camera == "translate":
        path = CameraPath.linear(velocity=(0.25, 0.04, 0.0), angular=(0.0, 0.03, 0.01))
    elif camera == "rotate":
        path = CameraPath.linear(angular=(0.01, 0.06, 0.02))
    elif camera == "static":
        path = CameraPath()
    else:
        raise InputError(f"camera: expected translate, rotate or static, got {camera!r}")
    return Scene(tuple(layers), K, size, path)
