"""CoTracker3 adapter against stand-in predictors with CoTracker's call signatures and tensor
conventions (the real package and weights are not available here)."""

from __future__ import annotations

import importlib.util
import sys
import types

import numpy as np
import pytest

from blur4d.errors import BackendError, InputError, MissingDependencyError, WeightsNotFoundError
from blur4d.types import Intervals, Video

torch = pytest.importorskip("torch")

from blur4d.adapters.cotracker import CHECKPOINT_ENV, CoTrackerTracker, load_predictor  # noqa: E402

VELOCITY = np.array([1.5, -0.5])  # pixels per frame of the stand-in "tracker"


def _video(T: int = 9, H: int = 48, W: int = 64) -> Video:
    """Flat frames: red 200, green 100 (the RGB order must survive), blue = the frame's time
    (10 + t), which the stand-ins read to "track" (so a reversed clip reverses the motion)."""
    frames = np.zeros((T, H, W, 3), np.uint8)
    frames[..., 0], frames[..., 1] = 200, 100
    frames[..., 2] = (10 + np.arange(T))[:, None, None]
    return Video(frames, Intervals.present(T))


def _clock(video) -> np.ndarray:
    return video[0, :, 2, 0, 0].numpy().astype(np.float64) - 10


def _check_clip(video, T, H, W) -> None:
    assert isinstance(video, torch.Tensor) and video.dtype == torch.float32
    assert tuple(video.shape) == (1, T, 3, H, W)  # (B, T, C, H, W)
    means = video[0, 0].mean(dim=(1, 2)).tolist()
    assert means[:2] == pytest.approx([200, 100])  # 0-255 floats, RGB, not normalised


def _expected(queries: np.ndarray, T: int, clock: np.ndarray | None = None) -> np.ndarray:
    """Points moving at VELOCITY per unit of the frames' clock from (x, y) at frame t."""
    clock = np.arange(T, dtype=np.float64) if clock is None else clock
    qt = queries[:, 0].astype(int)
    known = qt < len(clock)
    c_q = np.where(known, clock[np.minimum(qt, len(clock) - 1)], 0.0)
    return queries[None, :, 1:] + (clock[:, None, None] - c_q[None, :, None]) * VELOCITY


class FakeOffline:
    """CoTrackerPredictor's signature: (video, queries=None, segm_mask=None, grid_size=0,
    grid_query_frame=0, backward_tracking=False) -> (tracks (B,T,N,2), visibility (B,T,N) bool)."""

    interp_shape = (384, 512)

    def __init__(self, shape):
        self.shape, self.calls = shape, []

    def __call__(self, video, queries=None, segm_mask=None, grid_size=0, grid_query_frame=0, backward_tracking=False):
        T, H, W = self.shape
        _check_clip(video, T, H, W)
        assert queries is not None and tuple(queries.shape[::2]) == (1, 3) and queries.dtype == torch.float32
        self.calls.append({"backward_tracking": backward_tracking, "grid_size": grid_size})
        q = queries[0].numpy().astype(np.float64)
        tracks = _expected(q, T, _clock(video))
        vis = np.ones((T, len(q)), bool)
        if not backward_tracking:
            before = np.arange(T)[:, None] < q[None, :, 0]
            tracks[before] = 0.0
            vis[before] = False
        return torch.from_numpy(tracks[None].astype(np.float32)), torch.from_numpy(vis[None])


class FakeOnline:
    """CoTrackerOnlinePredictor's signature: (video_chunk, is_first_step=False, queries=None,
    grid_size=5, grid_query_frame=0, add_support_grid=False); returns tracks for every frame
    seen so far."""

    interp_shape = (384, 512)

    def __init__(self, step=4):
        self.step, self.queries, self.clock, self.chunks = step, None, None, []

    def __call__(self, video_chunk, is_first_step=False, queries=None, grid_size=5, grid_query_frame=0,
                 add_support_grid=False):
        assert video_chunk.dtype == torch.float32 and video_chunk.shape[2] == 3
        if is_first_step:
            self.queries, self.clock = queries[0].numpy().astype(np.float64), None
            return None, None
        assert video_chunk.shape[1] == 2 * self.step  # windows of 2*step frames
        self.chunks.append(video_chunk.shape[1])
        c = _clock(video_chunk)
        self.clock = c if self.clock is None else np.concatenate([self.clock, c[self.step:]])
        q = self.queries
        tracks = _expected(q, len(self.clock), self.clock)
        vis = np.arange(len(self.clock))[:, None] >= q[None, :, 0]  # online: nothing before the query
        return torch.from_numpy(tracks[None].astype(np.float32)), torch.from_numpy(vis[None])


@pytest.fixture
def ckpt(tmp_path):
    p = tmp_path / "scaled_offline.pth"
    p.write_bytes(b"stand-in")
    return p


def _factory(predictor):
    seen = {}

    def make(*, checkpoint, mode, window_len, device):
        seen.update(checkpoint=checkpoint, mode=mode, window_len=window_len, device=device)
        return predictor

    return make, seen


def test_offline_conventions_queries_and_backward(ckpt):
    video = _video()
    queries = np.array([[4, 10.0, 20.0], [0, 30.0, 5.0], [8, 50.0, 40.0]])
    fake = FakeOffline((9, 48, 64))
    make, seen = _factory(fake)
    tracks = CoTrackerTracker(checkpoint=str(ckpt), queries=queries, device="cpu", predictor_factory=make)(video)
    assert seen == {"checkpoint": ckpt, "mode": "offline", "window_len": 60, "device": "cpu"}
    assert fake.calls == [{"backward_tracking": True, "grid_size": 0}]
    np.testing.assert_allclose(tracks.xy, _expected(queries, 9), atol=1e-5)
    assert tracks.visible.all() and tracks.visible.dtype == bool and tracks.confidence is None
    assert tracks.query_frame.tolist() == [4, 0, 8] and tracks.image_size == (64, 48)
    assert tracks.intervals == video.intervals
    prov = tracks.provenance
    assert prov.backend == "track.cotracker" and "CC BY-NC" in prov.extra["licence"]
    assert prov.extra["checkpoint"] == str(ckpt) and prov.extra["window_len"] == 60
    assert prov.config["queries"] == "array (3, 3)"


def test_offline_grid_default_query_frame_and_no_backward(ckpt):
    video = _video()
    fake = FakeOffline((9, 48, 64))
    tracks = CoTrackerTracker(checkpoint=str(ckpt), grid_size=3, backward_tracking=False,
                              predictor_factory=_factory(fake)[0])(video)
    assert tracks.num_points == 9 and (tracks.query_frame == 4).all()  # centre of the exposure
    assert not tracks.visible[:4].any() and tracks.visible[4:].all()
    np.testing.assert_allclose(tracks.xy[4], tracks.query_xy)


def test_online_windows_padding_and_reverse_pass(tmp_path):
    ckpt = tmp_path / "scaled_online.pth"
    ckpt.write_bytes(b"x")
    video = _video(T=10)  # not a multiple of the step: padded, then cropped
    queries = np.array([[0, 10.0, 20.0], [6, 30.0, 5.0]])
    fake = FakeOnline(step=4)
    make, seen = _factory(fake)
    tracks = CoTrackerTracker(checkpoint=str(tmp_path), mode="online", queries=queries,
                              predictor_factory=make)(video)
    assert seen["window_len"] == 16 and seen["checkpoint"] == ckpt  # a folder resolves to the file
    assert set(fake.chunks) == {8}
    np.testing.assert_allclose(tracks.xy, _expected(queries, 10), atol=1e-5)  # frames before 6 from the reverse pass
    assert tracks.visible.all()


def test_predictor_output_shape_is_checked(ckpt):
    class Broken(FakeOffline):
        def __call__(self, video, **kw):
            t, v = super().__call__(video, **kw)
            return t[:, :3], v[:, :3]

    with pytest.raises(BackendError, match="frames"):
        make = _factory(Broken((9, 48, 64)))[0]
        CoTrackerTracker(checkpoint=str(ckpt), grid_size=2, predictor_factory=make)(_video())


def test_missing_weights(monkeypatch, tmp_path):
    monkeypatch.delenv(CHECKPOINT_ENV, raising=False)
    with pytest.raises(WeightsNotFoundError, match="scaled_offline.pth"):
        CoTrackerTracker()
    with pytest.raises(WeightsNotFoundError, match="does not exist"):
        CoTrackerTracker(checkpoint=str(tmp_path / "nope.pth"))
    with pytest.raises(WeightsNotFoundError, match="scaled_online.pth"):
        CoTrackerTracker(checkpoint=str(tmp_path), mode="online")  # a folder without the file
    (tmp_path / "w.pth").write_bytes(b"x")
    monkeypatch.setenv(CHECKPOINT_ENV, str(tmp_path / "w.pth"))
    assert CoTrackerTracker().checkpoint == tmp_path / "w.pth"
    with pytest.raises(InputError, match="mode"):
        CoTrackerTracker(mode="streaming")


@pytest.mark.skipif(importlib.util.find_spec("cotracker") is not None, reason="cotracker is installed here")
def test_missing_package(ckpt):
    with pytest.raises(MissingDependencyError, match="co-tracker"):
        CoTrackerTracker(checkpoint=str(ckpt), grid_size=2)(_video())
    from blur4d.registry import get_backend, get_spec

    with pytest.raises(MissingDependencyError, match="cotracker"):
        get_backend("track", "cotracker")
    assert "CC BY-NC" in get_spec("track", "cotracker").licence


def test_load_predictor_reads_a_state_dict_safely(monkeypatch, tmp_path):
    """The real loading path, with a stand-in ``cotracker.predictor`` module: a state dict wrapped
    under "model" loads with weights_only=True; one that does not fit is a clear InputError."""

    class Pred(torch.nn.Module):
        def __init__(self, checkpoint=None, offline=True, v2=False, window_len=60):
            super().__init__()
            assert checkpoint is None  # the adapter loads the weights itself
            self.model = torch.nn.Linear(3, 2)
            self.args = (offline, window_len)

    mod = types.ModuleType("cotracker.predictor")
    mod.CoTrackerPredictor = Pred
    mod.CoTrackerOnlinePredictor = Pred
    monkeypatch.setitem(sys.modules, "cotracker", types.ModuleType("cotracker"))
    monkeypatch.setitem(sys.modules, "cotracker.predictor", mod)
    weights = {"weight": torch.full((2, 3), 0.25), "bias": torch.zeros(2)}
    torch.save({"model": weights}, tmp_path / "wrapped.pth")
    torch.save(weights, tmp_path / "bare.pth")
    for name in ("wrapped.pth", "bare.pth"):
        p = load_predictor(tmp_path / name, "offline", 60, "cpu")
        assert torch.equal(p.model.weight, weights["weight"]) and p.args == (True, 60)
    assert load_predictor(tmp_path / "bare.pth", "online", 16, "cpu").args == (False, 16)
    torch.save({"weight": torch.zeros(5, 5)}, tmp_path / "wrong.pth")
    with pytest.raises(InputError, match="does not fit"):
        load_predictor(tmp_path / "wrong.pth", "offline", 60, "cpu")
    (tmp_path / "junk.pth").write_bytes(b"not a torch file")
    with pytest.raises(InputError, match="cannot read"):
        load_predictor(tmp_path / "junk.pth", "offline", 60, "cpu")
