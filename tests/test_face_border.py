"""Faces sliding in from a frame border (``benchmarks/face_border.py``): the ray-cast clip's
truth (projected by the renderer, the face wholly outside, then cut, then whole) and the face
stage finding the face within a couple of frames of it being whole, with no false face."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from face_border import border_clip, evaluate_border  # noqa: E402
from face_detection import CROP, FACE_BOX, _tex, tracker_boxes  # noqa: E402


@pytest.fixture(scope="module")
def clip():
    from blur4d import raycast as R

    x0, y0, x1, y1 = CROP
    W, H = 480, 270
    rng = np.random.default_rng(3)
    return border_clip(_tex("astronaut")[y0:y1, x0:x1], FACE_BOX - [x0, y0, x0, y0], 36.0, "right", rng,
                       R.intrinsics(W, H, 60.0), (W, H), 9, "astronaut from right", supersample=1)


def test_border_clip_truth_slides_in_from_outside_to_whole(clip):
    share = np.asarray(clip.meta["inside"])
    assert share[0] == 0.0 and share[-1] == 1.0
    assert np.all(np.diff(share[: clip.meta["pan_frames"] + 1]) >= -0.05)  # entering, never leaving
    x = [b[0] for b in clip.meta["boxes"]]
    assert x[0] > clip.frames.shape[2] - 0.5 and x[-1] < x[0]  # it came in over the right border
    assert [len(t) for t in clip.truth] == [int(s >= 0.5) for s in share]


def test_face_entering_at_a_border_is_found_soon_after_it_is_whole_and_nothing_else(clip):
    pytest.importorskip("mediapipe")
    from blur4d.adapters import faces as F

    r = evaluate_border(clip, tracker_boxes(F.FaceMeshTracker(smoothing="none"), clip.frames))
    assert r["false"] == 0
    assert r["first"] is not None and r["first"] - r["whole_at"] <= 2
    assert np.mean(r["whole"]) >= 0.8
