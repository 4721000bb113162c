"""The rival-direction check of the no-blur decision: a sharp soft-edged periodic texture (a brick
wall's mortar lines) is not taken for motion blur, a blurred one still is."""

from __future__ import annotations

import numpy as np
import pytest

from blur4d.generate import _confidence
from blur4d.generate._blurfield import estimate_field


def _brick(length: float = 0.0) -> np.ndarray:
    """scikit-image's brick wall (soft, evenly spaced mortar lines) in linear light at 384x384,
    blurred along +x by ``length`` px (linear-light mean of 32 sub-pixel shifts) when > 0."""
    import cv2
    import skimage.data as skd

    g = cv2.resize((skd.brick() / 255.0) ** 2.2, (384, 384), interpolation=cv2.INTER_AREA).astype(np.float32)
    if length <= 0:
        return g
    acc = np.zeros_like(g)
    for t in np.linspace(-0.5, 0.5, 32):
        M = np.float32([[1, 0, t * length], [0, 1, 0]])
        acc += cv2.warpAffine(g, M, (384, 384), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return acc / 32


def test_sharp_brick_has_a_turned_rival_and_no_motion(monkeypatch: pytest.MonkeyPatch) -> None:
    g = _brick()
    bf = estimate_field(g)
    assert bf.global_score > 0.1  # the autocorrelation evidence alone reads blur here
    assert bf.rival[0] > 0.8  # but the motion turned by 45-135 degrees explains it as well
    # where the edge checks pass (as on the ray-cast brick planes: soft mortar lines are ramps in
    # every direction), the rival check alone decides: no motion
    monkeypatch.setattr(_confidence, "edge_ratio", lambda *a, **k: 1.0)
    monkeypatch.setattr(_confidence, "peak_step_ratio", lambda *a, **k: 1.0)
    _, conf = _confidence.region_confidence(bf, g)
    assert 0 not in conf
    monkeypatch.setattr(_confidence, "RIVAL", (10.0, 9.0))  # the check off: the camera field is kept
    _, conf_off = _confidence.region_confidence(bf, g)
    assert conf_off.get(0, 0.0) > 0.5


def test_blurred_brick_motion_is_found() -> None:
    g = _brick(4.5)
    bf = estimate_field(g)
    _, conf = _confidence.region_confidence(bf, g)
    assert conf.get(0, 0.0) > 0.5
    assert bf.rival[0] < 0.5
    vx, vy = bf.global_params[:2]
    assert abs(np.degrees(np.arctan2(vy, vx))) < 15 and 3.0 < np.hypot(vx, vy) < 7.0
