"""Track drawings: colour-coded tracks with fading tails over the video (mp4), and every
trajectory over the query frame (PNG). Re-exported by :mod:`blur4d.adapters.tracking`."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from blur4d.errors import InputError
from blur4d.types import Tracks, Video

__all__ = ["track_colors", "render_overlay", "write_overlay", "summary_magnification", "render_summary",
           "write_summary"]

def track_colors(tracks: Tracks) -> np.ndarray:
    """(N, 3) uint8 RGB per track, coloured by query position (hue by x, brightness by y), so
    neighbouring points share a colour family and the colours are stable across runs."""
    import cv2

    W, H = tracks.image_size or (int(np.nanmax(tracks.query_xy[:, 0])) + 1, int(np.nanmax(tracks.query_xy[:, 1])) + 1)
    x = np.clip(tracks.query_xy[:, 0] / max(W - 1, 1), 0, 1)
    y = np.clip(tracks.query_xy[:, 1] / max(H - 1, 1), 0, 1)
    hsv = np.stack([x * 170, np.full_like(x, 230), 255 - 90 * y], 1)
    hsv = np.clip(np.rint(hsv), 0, 255).astype(np.uint8)[None]
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0]


def _check_match(video: Video, tracks: Tracks) -> None:
    if tracks.num_frames != video.num_frames:
        raise InputError(f"tracks: {tracks.num_frames} frames but the video has {video.num_frames}")
    if tracks.image_size is not None and tuple(tracks.image_size) != (video.width, video.height):
        raise InputError(f"tracks: made on {tracks.image_size[0]}x{tracks.image_size[1]} frames but the video is "
                         f"{video.width}x{video.height}")


def _draw_scale(video: Video) -> tuple[int, int]:
    """(line thickness, radius) for the frame size."""
    s = max(video.width, video.height)
    return max(1, round(s / 640)), max(2, round(s / 450))


def render_overlay(video: Video, tracks: Tracks, *, tail: int = 8, max_points: int = 2000) -> np.ndarray:
    """Frames with colour-coded tracks: a dot per visible point (a ring where occluded) and a
    tail over the last ``tail`` frames that fades with age -> (T, H, W, 3) uint8."""
    import cv2

    _check_match(video, tracks)
    idx = _subsample(tracks, max_points)
    cols = track_colors(tracks)[idx].astype(np.float64)
    xy = tracks.xy[:, idx].astype(np.float64)
    vis = tracks.visible[:, idx]
    thick, rad = _draw_scale(video)
    shift = 4
    fx = lambda p: np.rint(p * (1 << shift)).astype(np.int32)  # noqa: E731 - subpixel drawing
    out = np.empty_like(video.frames)
    for t in range(video.num_frames):
        base = video.frames[t].astype(np.float32)
        canvas = base.copy()
        for age in range(min(tail, t), 0, -1):
            a, b = t - age, t - age + 1
            layer = canvas.copy()
            seg = vis[a] & vis[b]
            for i in np.flatnonzero(seg):
                cv2.line(layer, tuple(fx(xy[a, i])), tuple(fx(xy[b, i])), cols[i].tolist(), thick,
                         cv2.LINE_AA, shift)
            w = 1.0 - (age - 1) / tail
            canvas = cv2.addWeighted(layer, w, canvas, 1 - w, 0)
        for i in range(len(idx)):
            c = tuple(fx(xy[t, i]))
            if vis[t, i]:
                cv2.circle(canvas, c, rad << shift, cols[i].tolist(), -1, cv2.LINE_AA, shift)
            else:
                cv2.circle(canvas, c, rad << shift, cols[i].tolist(), max(1, thick // 2), cv2.LINE_AA, shift)
        out[t] = np.clip(canvas, 0, 255).astype(np.uint8)
    return out


def _subsample(tracks: Tracks, max_points: int) -> np.ndarray:
    n = tracks.num_points
    if n <= max_points:
        return np.arange(n)
    return np.linspace(0, n - 1, max_points).round().astype(np.int64)


def write_overlay(path: str | os.PathLike, video: Video, tracks: Tracks, *, overwrite: bool = False,
                  tail: int = 8) -> Path:
    """An mp4 of the video with colour-coded tracks and fading tails (see :func:`render_overlay`)."""
    from blur4d.media import write_mp4

    path = Path(path)
    if path.suffix.lower() != ".mp4":
        raise InputError(f"--overlay {path}: expected an .mp4 path")
    return write_mp4(path, render_overlay(video, tracks, tail=tail), video.fps, overwrite=overwrite)


def summary_magnification(tracks: Tracks, target: float = 0.03, limit: int = 20) -> int:
    """How much to magnify displacements so that the largest visible displacement from the
    query point spans about ``target`` of the image width: generated clips often move by about a
    pixel everywhere, which is invisible at true scale. 1 when anything already moves that far
    (a video with a few fast movers stays at true scale); at most ``limit``."""
    W = (tracks.image_size or (1000, 0))[0]
    disp = np.linalg.norm(tracks.xy - tracks.xy[tracks.query_frame, np.arange(tracks.num_points)][None], axis=-1)
    disp = disp[tracks.visible]
    big = float(disp.max()) if disp.size else 0.0
    if big <= 1e-3:
        return 1
    return int(np.clip(np.floor(target * W / big), 1, limit))


def render_summary(video: Video, tracks: Tracks, *, magnify: float | None = None, max_points: int = 4000
                   ) -> np.ndarray:
    """All trajectories over the (dimmed) query frame: a line through each track's visible
    positions (occluded stretches are left out) and a dot at its query point -> (H, W, 3) uint8.

    Displacements from the query point are drawn ``magnify`` times longer (default: automatic,
    see :func:`summary_magnification`); the caption states the factor.
    """
    import cv2

    _check_match(video, tracks)
    q = int(np.bincount(tracks.query_frame).argmax()) if tracks.num_points else 0
    canvas = (video.frames[q].astype(np.float32) * 0.55).astype(np.uint8)
    k = float(summary_magnification(tracks) if magnify is None else magnify)
    if not k > 0:
        raise InputError(f"magnify: must be > 0, got {magnify}")
    idx = _subsample(tracks, max_points)
    cols = track_colors(tracks)[idx]
    xy = tracks.xy[:, idx].astype(np.float64)
    anchor = xy[tracks.query_frame[idx], np.arange(len(idx))]
    xy = anchor[None] + k * (xy - anchor[None])
    vis = tracks.visible[:, idx]
    thick, rad = _draw_scale(video)
    shift = 4
    fx = lambda p: np.rint(p * (1 << shift)).astype(np.int32)  # noqa: E731
    for i in range(len(idx)):
        col = cols[i].tolist()
        for t in range(video.num_frames - 1):
            if vis[t, i] and vis[t + 1, i]:
                cv2.line(canvas, tuple(fx(xy[t, i])), tuple(fx(xy[t + 1, i])), col, thick, cv2.LINE_AA, shift)
        cv2.circle(canvas, tuple(fx(anchor[i])), max(1, rad - 1) << shift, col, -1, cv2.LINE_AA, shift)
    text = (f"{tracks.num_points} tracks, {tracks.num_frames} frames, query frame {q}, "
            f"{tracks.visible.mean():.0%} visible" + (f", motion drawn x{k:g}" if k != 1 else ""))
    scale = max(0.4, video.width / 1600)
    org = (8, int(24 * scale + 6))
    cv2.putText(canvas, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), max(2, round(scale * 5)), cv2.LINE_AA)
    cv2.putText(canvas, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), max(1, round(scale * 2)),
                cv2.LINE_AA)
    return canvas


def write_summary(path: str | os.PathLike, video: Video, tracks: Tracks, *, overwrite: bool = False,
                  magnify: float | None = None) -> Path:
    """A PNG of every trajectory over the query frame (see :func:`render_summary`)."""
    from blur4d.media import write_image

    return write_image(path, render_summary(video, tracks, magnify=magnify), overwrite=overwrite)

