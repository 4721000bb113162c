"""The notebook-facing verbs. They mirror the CLI and return typed results.

This is the one place (with the CLI) where stages are chained. Each stage is a backend class
from the registry, constructed with keyword options (its config) and called on a
:class:`~blur4d.types.Video`:

* generate: ``backend(photo, intervals, *, samples, seed, direction, progress) -> Generation``
* track:    ``backend(video, *, seed, progress) -> Tracks``
* cameras:  ``backend(video, *, tracks, seed, progress)`` (see ``blur4d.pipeline``)

``make_backend`` (from the registry) and ``resolve_intervals`` (from ``blur4d.stages``) are
re-exported here: they used to live in this module.
* check:    ``backend(video, *, progress) -> ConsistencyReport``
* faces:    ``backend(video, *, K, progress) -> FaceTracks``
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from . import stages
from .errors import InputError
from .media import DEFAULT_MAX_PIXELS, IMAGE_SUFFIXES, Photo, load_video
from .progress import NO_PROGRESS, Progress
from .registry import make_backend  # re-exported: it used to live here
from .stages import resolve_intervals  # noqa: F401  (re-exported: it used to live here)
from .types import ConsistencyReport, FaceTracks, Generation, Intervals, Scene, Tracks, Video

PathLike = str | os.PathLike


def auto_progress(progress: Progress | None) -> Progress:
    """``None`` means: tqdm bars inside a Jupyter kernel, nothing elsewhere."""
    if progress is not None:
        return progress
    import sys

    if "ipykernel" in sys.modules:
        from .progress import TqdmProgress

        return TqdmProgress()
    return NO_PROGRESS


def generate(
    photo: PathLike | np.ndarray | Photo,
    *,
    frames: int | None = 16,
    past_future: bool = False,
    intervals: Intervals | str | Sequence[Sequence[float]] | None = None,
    backend: str | None = None,
    samples: int = 1,
    seed: int | None = 0,
    direction: str | float | np.ndarray | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    progress: Progress | None = None,
    **options: Any,
) -> Generation:
    """A blurry photo -> ``samples`` plausible videos for the requested exposure intervals.

    ``direction`` guides the ambiguous time direction: ``"left-to-right"`` etc., an angle in
    degrees (image axes, 0 = rightwards, 90 = downwards), or a per-region guidance map.
    """
    return stages.generate(photo, frames=frames, past_future=past_future, intervals=intervals, backend=backend,
                           samples=samples, seed=seed, direction=direction, max_pixels=max_pixels,
                           progress=auto_progress(progress), **options)


def as_video(
    source: PathLike | Video | Generation | np.ndarray | Photo,
    *,
    generate_options: Mapping[str, Any] | None = None,
    intervals: Intervals | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    progress: Progress | None = None,
) -> Video:
    """A video from whatever the user has: a Video, a Generation, a video file or frame folder
    (with its intervals), or a photo, which goes through the generation core first."""
    if isinstance(source, Video):
        return source
    if isinstance(source, Generation):
        return source.video
    if isinstance(source, (np.ndarray, Photo)):
        return generate(source, progress=progress, max_pixels=max_pixels, **dict(generate_options or {})).video
    path = Path(source)
    if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and path.suffix.lower() != ".gif":
        return generate(path, progress=progress, max_pixels=max_pixels, **dict(generate_options or {})).video
    if not path.exists():
        raise InputError(f"input {path}: no such file or folder")
    return load_video(path, intervals=intervals)


def track(source: PathLike | Video | np.ndarray, *, backend: str | None = None, seed: int | None = 0,
          generate_options: Mapping[str, Any] | None = None, progress: Progress | None = None,
          **options: Any) -> Tracks:
    """Point tracks through a video (a photo is generated first)."""
    progress = auto_progress(progress)
    video = as_video(source, generate_options=generate_options, progress=progress)
    tracker = make_backend("track", backend, options)
    return tracker(video, seed=seed, progress=progress)


def check(source: PathLike | Video | np.ndarray, *, backend: str | None = None,
          generate_options: Mapping[str, Any] | None = None, progress: Progress | None = None,
          **options: Any) -> ConsistencyReport:
    """3D-consistency analysis (SIFT + RANSAC epipolar/homography checks) with a verdict."""
    progress = auto_progress(progress)
    video = as_video(source, generate_options=generate_options, progress=progress)
    checker = make_backend("check", backend, options)
    return checker(video, progress=progress)


def face(source: PathLike | Video | np.ndarray, *, backend: str | None = None, K: np.ndarray | None = None,
         generate_options: Mapping[str, Any] | None = None, progress: Progress | None = None,
         **options: Any) -> FaceTracks:
    """Face landmarks, stable ids and head pose over the clip."""
    progress = auto_progress(progress)
    video = as_video(source, generate_options=generate_options, progress=progress)
    tracker = make_backend("faces", backend, options)
    return tracker(video, K=K, progress=progress)


def reconstruct(source: PathLike | Video | np.ndarray, *, out: PathLike | None = None, **options: Any) -> Scene:
    """The main job: photo -> video -> tracks -> cameras -> points -> checks -> faces -> report.
    Writes ``out`` (a .ply) and its sibling folder when ``out`` is given. See
    :func:`blur4d.pipeline.reconstruct` for the options."""
    from .pipeline import reconstruct as _reconstruct

    return _reconstruct(source, out=out, **options)


def load(path: PathLike) -> Scene:
    """Read back what ``reconstruct`` wrote (``scene.ply`` or its ``scene/`` folder)."""
    from .pipeline import load_scene

    return load_scene(path)


def evaluate(pred: PathLike | Video, gt: PathLike | Video, *, blurry: PathLike | np.ndarray | None = None,
             **options: Any) -> Any:
    """The paper's metrics (bidirectional PSNR_p / SSIM_p / LPIPS_p, blur consistency, EPE)."""
    from .metrics import evaluate as _evaluate

    return _evaluate(pred, gt, blurry=blurry, **options)


def synth(source: PathLike | Video | np.ndarray, *, interval: tuple[float, float] = (-0.5, 0.5),
          intervals: Intervals | None = None, response: str | float = "srgb") -> np.ndarray:
    """Eq. 1 on real frames: the blurry photo a camera would take over ``interval`` (in units of
    the clip, whose frames tile [-0.5, 0.5] unless ``intervals`` says otherwise)."""
    from .exposure import synthesize_blur

    if isinstance(source, Video):
        return synthesize_blur(source, intervals, response, interval)
    if isinstance(source, np.ndarray):
        return synthesize_blur(source, intervals, response, interval)
    video = load_video(Path(source), intervals=intervals)
    return synthesize_blur(video, None, response, interval)


def example(width: int = 640, height: int = 480, samples: int = 48) -> np.ndarray:
    """The bundled example: a blurry photo synthesised from scikit-image sample images seen by a
    sideways-moving camera (real parallax) -> (H, W, 3) uint8."""
    from .synthetic import example_scene

    if width < 64 or height < 64:
        raise InputError(f"example: size must be at least 64x64, got {width}x{height}")
    return example_scene(width, height).photo(samples)


class Timer:
    """Collects per-stage wall times: ``with timer("track"): ...``."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    def __call__(self, name: str) -> "_Span":
        return _Span(self, name)


class _Span:
    def __init__(self, timer: Timer, name: str) -> None:
        self.timer, self.name = timer, name

    def __enter__(self) -> None:
        self.t0 = time.perf_counter()

    def __exit__(self, *exc: Any) -> None:
        self.timer.timings[self.name] = self.timer.timings.get(self.name, 0.0) + time.perf_counter() - self.t0
