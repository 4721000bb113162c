"""The built-in tracker's query blend (``query_cell``) and helper grid (``support_grid``): a track
is a continuous function of its query, and depends on its own query only."""

from __future__ import annotations

import numpy as np
import pytest

from blur4d.errors import InputError
from blur4d.types import Intervals, Video

pytest.importorskip("cv2")

from blur4d.adapters.track_runs import triangle as _triangle  # noqa: E402
from blur4d.adapters.tracking import BuiltinTracker, grid_points  # noqa: E402


def test_triangle_weights_are_barycentric_and_continuous():
    rng = np.random.default_rng(0)
    p = rng.uniform(2, 60, (2000, 2))
    for cell in (1.0, 0.5, 2.0):
        corners, w = _triangle(p, cell, (64, 64))
        assert corners.shape == (3, len(p), 2) and w.shape == (3, len(p))
        assert (w >= -1e-12).all() and np.allclose(w.sum(0), 1.0)
        assert np.allclose(np.einsum("kn,knd->nd", w, corners), p)
        # corners lie on the lattice, two of them one step from the first along x and y
        assert np.allclose(corners / cell, np.round(corners / cell))
        assert np.allclose(np.abs(corners[1] - corners[0]).sum(1), cell)
    # continuity: a tiny move changes each corner's weight by at most 2 * |move|_1 / cell, also
    # across a cell's edge and its diagonal (the weight of a corner that is dropped is ~0)
    edges = np.array([[3.0, 4.5], [3.5, 4.0], [3.5, 3.5], [4.0, 4.0], [3.0, 3.0], [3.25, 3.75]])
    for q in np.r_[edges, p[:200]]:
        for e in ((1e-6, 0), (0, 1e-6), (-1e-6, 1e-6), (1e-6, 1e-6)):
            c0, w0 = _triangle(q[None], 1.0, (64, 64))
            c1, w1 = _triangle(q[None] + np.array(e), 1.0, (64, 64))

            def mass(c: np.ndarray, w: np.ndarray) -> dict:
                out: dict = {}
                for k in range(3):
                    key = tuple(np.round(c[k, 0], 6))
                    out[key] = out.get(key, 0.0) + w[k, 0]
                return out

            m0, m1 = mass(c0, w0), mass(c1, w1)
            for key in set(m0) | set(m1):
                assert abs(m0.get(key, 0.0) - m1.get(key, 0.0)) < 5e-6, (q, e, m0, m1)
    # corners are clipped into the frame
    corners, _ = _triangle(np.array([[-0.4, 0.2], [63.9, 63.7]]), 1.0, (64, 64))
    assert corners.min() >= 0 and corners.max() <= 63
    with pytest.raises(InputError):
        BuiltinTracker(query_cell=-1)


@pytest.fixture(scope="module")
def dog(shared_data) -> Video:
    from blur4d.media import read_frames

    path = shared_data / "video" / "sam2_gallery" / "01_dog.mp4"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    frames, fps = read_frames(path, max_frames=20)
    return Video(frames[4:20, ::4, ::4].copy(), Intervals.present(16), fps=fps)  # 320x180, the dog running


def test_a_track_depends_on_its_own_query_only(dog):
    """With the helper grid, a query's track is the same whether other points are asked for
    too or not (before, the other queries carried its lost positions)."""
    q = grid_points(dog.width, dog.height, 10).astype(np.float64) + 0.3
    opts = {"query_cell": 1.0, "support_grid": 16}
    run = lambda pts: BuiltinTracker(queries=np.c_[np.full(len(pts), 8), pts], **opts)(dog)  # noqa: E731
    every = run(q)
    some = run(q[::7])
    assert np.abs(some.xy - every.xy[:, ::7]).max() < 5e-3  # LK on a smaller crop: 4e-4 px
    assert (some.visible == every.visible[:, ::7]).all()
    assert np.abs(some.confidence - every.confidence[:, ::7]).max() < 1e-3


def test_a_sub_pixel_query_change_moves_a_track_by_at_most_its_corners_disagreement(dog):
    """Queries moved by 0.05 px along 4 diagonals on real footage (the running dog): each track
    moves by at most (|dx| + |dy|) / query_cell times its corners' disagreement (the evidence
    ``carried``, the largest pairwise displacement difference) plus the move itself, so no track
    called confident (disagreement <= 8 px) moves by more than 0.8 px beyond the change. Before the blend (the query lattice and stability runs), 0.2-1.7 % of the confident
    tracks on real clips moved by over a pixel (benchmarks/tracking.py --jitter --jitter-eps 0.05)."""
    q = grid_points(dog.width, dog.height, 12).astype(np.float64)
    q += np.random.default_rng(0).uniform(-0.5, 0.5, q.shape)
    opts = {"query_cell": 1.0, "support_grid": 16}

    def run(pts: np.ndarray) -> tuple:
        tracker = BuiltinTracker(queries=np.c_[np.full(len(pts), 8), pts], **opts)
        return tracker(dog), tracker.last_evidence["carried"]

    a, spread_a = run(q)
    assert (a.confidence >= 0.5).mean() > 0.5
    for sign in ((1, 1), (-1, -1), (1, -1), (-1, 1)):
        e = 0.05 * np.array(sign)
        b, spread_b = run(q + e)
        d = np.linalg.norm(b.xy.astype(np.float64) - a.xy, axis=-1)
        bound = 0.1 * np.maximum(spread_a, spread_b) + np.hypot(*e) + 1e-3
        assert (d <= bound).all(), float((d - bound).max())
        sure = a.visible & b.visible & (a.confidence >= 0.5) & (b.confidence >= 0.5)
        # confident: the corners part by at most max_spread * query_cell / doubt_shift = 8 px
        assert np.where(sure, d, 0).max() <= 0.1 * 8.0 + np.hypot(*e) + 1e-3


def test_a_helper_grid_as_dense_as_the_queries_depends_on_their_number_only(dog):
    """``support_max``: the helper grid follows the number of queries, so moving the other
    queries leaves a track as it was."""
    q = grid_points(dog.width, dog.height, 12).astype(np.float64) + 0.2
    moved = q.copy()
    moved[1:] += np.random.default_rng(1).uniform(-3, 3, moved[1:].shape)
    opts = {"support_max": 4096}
    a = BuiltinTracker(queries=np.c_[np.full(len(q), 8), q], **opts)(dog)
    b = BuiltinTracker(queries=np.c_[np.full(len(q), 8), moved], **opts)(dog)
    assert np.abs(a.xy[:, 0] - b.xy[:, 0]).max() < 5e-3
    assert (a.visible[:, 0] == b.visible[:, 0]).all()
    with pytest.raises(InputError):
        BuiltinTracker(support_max=-1)
