"""The stage: ``EpipolarChecker(**options)(video, progress=...) -> ConsistencyReport``."""

from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np

from blur4d._checks import build_config
from blur4d.errors import InputError
from blur4d.progress import NO_PROGRESS, Progress
from blur4d.types import ConsistencyReport, Provenance, Video

from .config import EpipolarConfig
from .figures import _maps
from .matching import _detect, _Features, _match, select_pairs
from .pair import analyse_pair
from .verdict import _reference_pair, _verdict


class EpipolarChecker:
    """SIFT + MAGSAC fundamental/homography checks over a clip, with a verdict.

    ``EpipolarChecker(**options)(video, progress=...) -> ConsistencyReport``; options are the
    fields of :class:`EpipolarConfig`. :meth:`check_frames` takes a list of frames of any sizes
    (e.g. two photos).
    """

    name = "sift"

    def __init__(self, **options: Any) -> None:
        self.config = build_config(EpipolarConfig, options, backend="check backend 'sift'")
        c = self.config
        if not 0 < c.ratio < 1:
            raise InputError(f"ratio: expected a value in (0, 1), got {c.ratio}")
        if c.matcher not in ("flann", "bf"):
            raise InputError(f"matcher: expected 'flann' or 'bf', got {c.matcher!r}")
        if (c.threshold <= 0 or c.max_side < 32 or c.threshold_side < 32 or c.max_features < 8 or c.min_matches < 8
                or (c.max_frames is not None and c.max_frames < 2)):
            raise InputError("threshold must be > 0, max_side and threshold_side >= 32, max_features >= 8, "
                             f"min_matches >= 8, max_frames >= 2; got {c.threshold}, {c.max_side}, {c.threshold_side}, "
                             f"{c.max_features}, {c.min_matches}, {c.max_frames}")

    def __call__(self, video: Video, *, progress: Progress = NO_PROGRESS) -> ConsistencyReport:
        if not isinstance(video, Video):
            raise InputError(f"video: expected a blur4d Video, got {type(video).__name__}")
        return self.check_frames(list(video.frames), progress=progress)

    # ----------------------------------------------------------------------------------------
    def check_frames(self, frames: Sequence[np.ndarray], pairs: Sequence[tuple[int, int]] | None = None, *,
                     progress: Progress = NO_PROGRESS) -> ConsistencyReport:
        import cv2

        cfg = self.config
        if len(frames) < 2:
            raise InputError(f"video: the consistency check needs at least 2 frames, got {len(frames)}")
        t0 = time.perf_counter()
        if pairs is None:
            keys = np.unique(np.linspace(0, len(frames) - 1, min(len(frames), cfg.max_frames or len(frames))).round().astype(int))
            pairs = [(int(keys[i]), int(keys[j])) for i, j in select_pairs(
                len(keys), consecutive=cfg.consecutive, spread=cfg.spread, max_pairs=cfg.max_pairs)]
        pairs = list(pairs)
        for i, j in pairs:
            if not (0 <= i < len(frames) and 0 <= j < len(frames)) or i == j:
                raise InputError(f"pairs: ({i}, {j}) is not a pair of distinct frames of 0..{len(frames) - 1}")
        needed = sorted({k for p in pairs for k in p})
        feats: dict[int, _Features] = {}
        old_threads = cv2.getNumThreads()
        try:
            # first and last frames first: the camera stage (on another thread) matches those two
            # and finds them in the shared SIFT cache (blur4d.adapters._features)
            for n, k in enumerate(sorted(needed, key=lambda k: (k not in (needed[0], needed[-1]), k))):
                progress("check: features", n, len(needed))
                feats[k] = _detect(frames[k], cfg)
            progress("check: features", len(needed), len(needed))
            t1 = time.perf_counter()
            records, arrays = [], {}
            for n, (i, j) in enumerate(pairs):
                progress("check: pairs", n, len(pairs))
                tp = time.perf_counter()
                cv2.setRNGSeed(int(cfg.seed))  # FLANN's randomised trees draw from OpenCV's RNG
                p1, p2, ratios = _match(feats[i], feats[j], cfg.ratio, cfg.matcher)
                rec, arr = analyse_pair(p1, p2, feats[i].size, cfg, scale=feats[i].tscale, i=i, j=j, ratios=ratios)
                rec["features"] = [int(len(feats[i].xy)), int(len(feats[j].xy))]
                rec["seconds"] = round(time.perf_counter() - tp, 4)
                records.append(rec)
                arrays[(i, j)] = arr
            progress("check: pairs", len(pairs), len(pairs))
        finally:
            cv2.setNumThreads(old_threads)
        t2 = time.perf_counter()
        verdict, conf, reason, summary = _verdict(records, cfg)
        ref = _reference_pair(records, pairs, verdict)
        figures: dict[str, Any] = {}
        maps = _maps(frames, records, arrays, ref, verdict, cfg, figures) if ref is not None else {}
        t3 = time.perf_counter()
        summary.update(reference_pair=list(ref) if ref is not None else None,
                       frames=len(frames), pairs_analysed=len(pairs),
                       image_size=list(feats[needed[0]].size), analysis_scale=round(feats[needed[0]].scale, 4),
                       threshold_px=cfg.threshold / feats[needed[0]].tscale, figures=figures)
        timings = {"features": t1 - t0, "pairs": t2 - t1, "figures": t3 - t2,
                   "per_pair": (t2 - t0) / max(len(pairs), 1)}
        prov = Provenance.capture("check.sift", cfg, seed=cfg.seed,
                                  packages=("opencv-python", "opencv-python-headless"),
                                  timings={k: round(v, 4) for k, v in timings.items()},
                                  opencv=cv2.__version__)
        return ConsistencyReport(verdict=verdict, confidence=float(np.clip(conf, 0.0, 1.0)), reason=reason,
                                 pairs=tuple(records), summary=summary, maps=maps, provenance=prov)
