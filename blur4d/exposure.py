"""The exposure model (the paper's Eq. 1): a photo is the linear-light average of the scene over
its exposure, then the camera response. Pure math; no IO.

Camera responses: ``"srgb"`` (IEC 61966-2-1), ``"gamma2.2"`` (the published model's training
response, x**2.2), ``"linear"``, or a number g meaning x**g.
"""

from __future__ import annotations

from typing import Union

import numpy as np

from .errors import InputError
from .types import Intervals, Video

Response = Union[str, float]
RESPONSES = ("srgb", "gamma2.2", "linear")


def _gamma_of(response: Response) -> float | None:
    if isinstance(response, (int, float)) and not isinstance(response, bool):
        if not response > 0:
            raise InputError(f"response: gamma must be > 0, got {response}")
        return float(response)
    if response == "srgb":
        return None
    if response == "linear":
        return 1.0
    if isinstance(response, str) and response.startswith("gamma"):
        try:
            return float(response[5:])
        except ValueError:
            pass
    raise InputError(f"response: expected one of {RESPONSES} or a gamma number, got {response!r}")


def _as_unit_float(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype == np.uint8:
        return x.astype(np.float32) / 255.0
    if x.dtype == np.uint16:
        return x.astype(np.float32) / 65535.0
    return np.clip(x.astype(np.float32, copy=False), 0.0, 1.0)


def decode(x: np.ndarray, response: Response = "srgb") -> np.ndarray:
    """Encoded pixels (uint8, uint16, or float in [0, 1]) -> float32 linear light in [0, 1]."""
    v = _as_unit_float(x)
    g = _gamma_of(response)
    if g is None:
        return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4).astype(np.float32)
    return v if g == 1.0 else np.power(v, g, dtype=np.float32)


def encode(linear: np.ndarray, response: Response = "srgb") -> np.ndarray:
    """float linear light -> float32 encoded values in [0, 1] (clipped)."""
    v = np.clip(np.asarray(linear, dtype=np.float32), 0.0, 1.0)
    g = _gamma_of(response)
    if g is None:
        return np.where(v <= 0.0031308, v * 12.92, 1.055 * np.power(v, 1 / 2.4) - 0.055).astype(np.float32)
    return v if g == 1.0 else np.power(v, 1.0 / g, dtype=np.float32)


def encode_uint8(linear: np.ndarray, response: Response = "srgb") -> np.ndarray:
    """Linear light -> uint8, rounding to nearest."""
    return np.clip(np.rint(encode(linear, response) * 255.0), 0, 255).astype(np.uint8)


def overlap_weights(frame_intervals: Intervals, interval: tuple[float, float]) -> np.ndarray:
    """Weight of each frame in the average over ``interval`` (F,) summing to 1.

    A frame with a sub-interval contributes in proportion to the time it overlaps ``interval``;
    instantaneous frames (zero length), used when frames are point samples, contribute equally
    if they fall inside ``[a, b]``.
    """
    a, b = float(interval[0]), float(interval[1])
    if b < a:
        raise InputError(f"interval: end {b} is before start {a}")
    s, e = frame_intervals.starts, frame_intervals.ends
    length = e - s
    overlap = np.clip(np.minimum(e, b) - np.maximum(s, a), 0.0, None)
    if b > a and np.all(length > 0):
        w = overlap
    else:
        inside = (s + e) / 2
        w = ((inside >= a - 1e-12) & (inside <= b + 1e-12)).astype(np.float64)
        w = np.where(length > 0, np.where(overlap > 0, overlap / np.where(length > 0, length, 1), 0), w)
    total = w.sum()
    if total <= 0:
        raise InputError(
            f"interval [{a}, {b}] does not overlap the frames, which span {frame_intervals.span}"
        )
    return w / total


def synthesize_blur(
    frames: np.ndarray | Video,
    intervals: Intervals | None = None,
    response: Response = "srgb",
    interval: tuple[float, float] = (-0.5, 0.5),
) -> np.ndarray:
    """Eq. 1: average sharp frames in linear light over ``interval``, then encode.

    frames: (F, H, W, 3) uint8/float frames or a :class:`Video`; ``intervals`` gives each frame's
    exposure interval (default: the F frames tile ``[-0.5, 0.5]`` equally, as a high-frame-rate
    clip over one exposure does). Returns (H, W, 3) uint8.
    """
    if isinstance(frames, Video):
        intervals = frames.intervals if intervals is None else intervals
        frames = frames.frames
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise InputError(f"frames: expected (F, H, W, 3), got shape {frames.shape}")
    if intervals is None:
        intervals = Intervals.present(len(frames))
    if len(intervals) != len(frames):
        raise InputError(f"frames: {len(frames)} frames but {len(intervals)} intervals")
    w = overlap_weights(intervals, interval)
    acc = np.zeros(frames.shape[1:], np.float64)
    for wi, f in zip(w, frames):
        if wi > 0:
            acc += wi * decode(f, response)
    return encode_uint8(acc, response)


def average_linear(video: Video, response: Response = "srgb", interval: tuple[float, float] = (-0.5, 0.5)) -> np.ndarray:
    """Linear-light average (H, W, 3) float32 of a video's frames over ``interval``."""
    w = overlap_weights(video.intervals, interval)
    acc = np.zeros(video.frames.shape[1:], np.float64)
    for wi, f in zip(w, video.frames):
        if wi > 0:
            acc += wi * decode(f, response)
    return acc.astype(np.float32)


def interval_encoding(values: np.ndarray, num_freqs: int = 12, base: float = 10000.0) -> np.ndarray:
    """The published model's sinusoidal encoding of interval coordinates.

    For each scalar x: ``[sin(x w_0..x w_{n-1}), cos(x w_0..x w_{n-1})]`` with
    ``w_k = base ** (-k / n)``; the sin block first, no flip, computed in float64. An input of
    shape (..., J) gives (..., J * 2n) with feature index ``2n*j + m`` (m < n: sin).

    >>> interval_encoding(np.array([[0.0, 1.0]])).shape
    (1, 48)
    """
    x = np.asarray(values, dtype=np.float64)
    omega = base ** (-np.arange(num_freqs, dtype=np.float64) / num_freqs)
    arg = x[..., None] * omega
    feats = np.concatenate([np.sin(arg), np.cos(arg)], axis=-1)
    return feats.reshape(*x.shape[:-1], x.shape[-1] * 2 * num_freqs)


def group_intervals(intervals: Intervals, frames_per_latent: int = 4, pad_to: int | None = None) -> np.ndarray:
    """The published model's per-latent grouping of output intervals.

    Pads the rows to ``pad_to`` (default: F + 1, the model's extra padding slot, repeating the
    last row), then pads to a multiple of ``frames_per_latent`` by repeating the *first* row at
    the front, and flattens each group into ``[s0, e0, s1, e1, ...]``. Returns (G, 2*k) float64.
    """
    rows = intervals.bounds
    target = len(rows) + 1 if pad_to is None else int(pad_to)
    if target < len(rows):
        raise InputError(f"pad_to={target} is less than the {len(rows)} intervals")
    rows = np.concatenate([rows, np.repeat(rows[-1:], target - len(rows), 0)])
    k = frames_per_latent
    front = (-len(rows)) % k
    rows = np.concatenate([np.repeat(rows[:1], front, 0), rows])
    return rows.reshape(-1, 2 * k)
