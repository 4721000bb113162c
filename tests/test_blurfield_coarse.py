"""Coarse-to-fine estimation of the camera's blur field (``_blurfield.fit_global`` with a
half-scale copy): blur longer than the fine scale measures is found, short blur is unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from blur4d.errors import InputError
from blur4d.generate._blurfield import estimate_field
from blur4d.generate.classical import ClassicalGenerator
from _blur_scenes import box_x, rectangles  # noqa: E402 (tests/ is on sys.path)


def _rectangles(W: int = 240, H: int = 136, seed: int = 3) -> np.ndarray:
    return rectangles(W, H, seed, count=300, sizes=(5, 30))


def _camera_length(bf) -> float:  # noqa: ANN001
    return float(np.hypot(*bf.global_params[:2]))


def test_blur_longer_than_the_fine_range_is_found_only_coarse_to_fine():
    # tile 48: the fine scale measures lags up to 19.2 px; the half-scale copy (tiles of 36) up to 28.8
    gray = box_x(_rectangles(), 24)
    bf = estimate_field(gray, tile=48, coarse=0.5)
    L = _camera_length(bf)
    assert abs(L - 24) < 0.1 * 24, bf.global_params
    assert abs(bf.global_params[1]) < 0.1 * L and np.abs(bf.global_params[2:]).max() < 0.1 * L
    single = estimate_field(gray, tile=48, coarse=0.0)
    assert _camera_length(single) < 0.6 * 24  # the failure this fixes: one scale finds a short spurious motion


@pytest.mark.parametrize("L", [6, 10])
def test_short_blur_is_the_same_coarse_to_fine(L):
    # (a box of L discrete samples reads as about L + 1 at the shortest lags)
    gray = box_x(_rectangles(), L)
    a = estimate_field(gray, tile=32, coarse=0.5)
    b = estimate_field(gray, tile=32, coarse=0.0)
    assert abs(_camera_length(a) - L) <= 1.2 and abs(_camera_length(a) - _camera_length(b)) < 0.1
    assert a.global_score == pytest.approx(b.global_score, abs=1e-3)


def test_coarse_option_is_checked_and_recorded():
    with pytest.raises(InputError, match="coarse"):
        ClassicalGenerator(coarse=1.5)
    assert ClassicalGenerator(coarse=0.0)._config()["coarse"] == 0.0
