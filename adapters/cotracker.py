"""CoTracker3 adapter (``track`` backend ``cotracker``).

Uses an installed ``cotracker`` package (``pip install`` a clone of facebookresearch/co-tracker;
it is not on PyPI) and a LOCAL checkpoint: ``scaled_offline.pth`` (offline predictor, window 60)
or ``scaled_online.pth`` (online predictor, window 16) from the ``facebook/cotracker3`` model
page. Nothing is downloaded: torch.hub is not used.

Licence: the CoTracker3 code and weights are CC BY-NC 4.0 (non-commercial use only).

Conventions mapped here (``shared/reference/adapters.md`` section 1): the video goes in as float
``(1, T, 3, H, W)`` RGB 0-255; queries as ``(1, N, 3)`` rows of ``(t, x, y)`` in input pixels;
the predictor resizes frames to 384x512 internally and scales tracks back with
``(W - 1) / (w - 1)`` (pixel centres, as blur4d); tracks come back ``(1, T, N, 2)`` and
visibility ``(1, T, N)`` bool. The offline predictor gives no confidence, so ``Tracks.confidence``
is None; the online one thresholds visibility x confidence internally.

Queries are built exactly as the built-in tracker builds them (grid, file or mask; query frame
at the centre of the exposure by default) and passed explicitly, so both backends track the
same points. Frames before a query are filled by tracking backwards (the offline predictor's
``backward_tracking``; for the online predictor, a second pass over the reversed clip).
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from blur4d._checks import build_config
from blur4d.errors import BackendError, InputError, MissingDependencyError, WeightsNotFoundError
from blur4d.progress import NO_PROGRESS, Progress
from blur4d.types import Provenance, Tracks, Video

from .tracking import resolve_queries

__all__ = ["CoTrackerTracker", "CoTrackerConfig", "load_predictor", "LICENCE"]

LICENCE = "CC BY-NC 4.0 (non-commercial)"
CHECKPOINT_ENV = "BLUR4D_COTRACKER_CHECKPOINT"
_DEFAULT_NAMES = {"offline": "scaled_offline.pth", "online": "scaled_online.pth"}
_WINDOWS = {"offline": 60, "online": 16}


@dataclass
class CoTrackerConfig:
    """Options of the CoTracker3 backend (``blur4d track --backend cotracker``)."""

    checkpoint: str | None = None
    """Local checkpoint (.pth, a state dict, bare or under "model"); default: $BLUR4D_COTRACKER_CHECKPOINT."""
    mode: str = "offline"
    """'offline' (whole clip at once, scaled_offline.pth) or 'online' (sliding window, scaled_online.pth)."""
    grid_size: int = 32
    """Query grid points per side when no queries are given."""
    queries: Any = None
    """Query points: a .npy/.csv path or an array of (x, y) at query_frame, or (t, x, y)."""
    query_frame: int | None = None
    """Frame of the grid / of (x, y) queries; default: the frame at the centre of the exposure."""
    mask: Any = None
    """Only put grid points where this (H, W) image/array is non-zero."""
    backward_tracking: bool = True
    """Also track from each query frame back to the first frame (else those frames are occluded)."""
    window_len: int | None = None
    """Model window (default 60 offline, 16 online); must match the checkpoint."""
    device: str = "auto"
    """'auto' (CUDA when available), 'cpu' or 'cuda'."""
    predictor_factory: Callable[..., Any] | None = None
    """For tests and custom builds: ``f(checkpoint=Path, mode=str, window_len=int, device=str)``
    returning an object with CoTracker's predictor call signature."""

    def __post_init__(self) -> None:
        if self.mode not in _WINDOWS:
            raise InputError(f"--mode: expected 'offline' or 'online', got {self.mode!r}")
        if self.device not in ("auto", "cpu", "cuda") and not str(self.device).startswith("cuda:"):
            raise InputError(f"--device: expected auto, cpu or cuda, got {self.device!r}")
        if self.window_len is not None and int(self.window_len) < 2:
            raise InputError(f"window_len: must be >= 2, got {self.window_len}")


def _resolve_checkpoint(cfg: CoTrackerConfig) -> Path:
    raw = cfg.checkpoint or os.environ.get(CHECKPOINT_ENV)
    name = _DEFAULT_NAMES[cfg.mode]
    if not raw:
        raise WeightsNotFoundError(
            f"--checkpoint: CoTracker3 needs a local checkpoint and none was given; download {name} from "
            f"https://huggingface.co/facebook/cotracker3 and pass --checkpoint PATH (or set {CHECKPOINT_ENV})")
    path = Path(raw).expanduser()
    if path.is_dir():
        path = path / name
    if not path.is_file():
        raise WeightsNotFoundError(f"--checkpoint: {path} does not exist; download {name} from "
                                   "https://huggingface.co/facebook/cotracker3 and pass its path")
    return path


def _device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError("--device cuda: CUDA is not available in this torch build; use --device cpu")
    return name


def load_predictor(checkpoint: Path, mode: str, window_len: int, device: str) -> Any:
    """Build CoTracker's own predictor class and load ``checkpoint`` with
    ``torch.load(weights_only=True)`` (no pickled code is executed)."""
    try:
        import torch
        from cotracker.predictor import CoTrackerOnlinePredictor, CoTrackerPredictor
    except ImportError as err:
        raise MissingDependencyError(
            f"track backend 'cotracker' needs the cotracker package ({err}); it is not on PyPI: "
            "git clone https://github.com/facebookresearch/co-tracker && pip install -e ./co-tracker "
            "(see third_party/cotracker/README.md)") from err
    try:
        if mode == "offline":
            predictor = CoTrackerPredictor(checkpoint=None, offline=True, window_len=window_len)
        else:
            predictor = CoTrackerOnlinePredictor(checkpoint=None, offline=False, window_len=window_len)
    except TypeError as err:  # CoTracker 2.x predictors have no offline/v2 arguments
        raise MissingDependencyError(
            f"the installed cotracker is not CoTracker3 ({err}); install a current clone of "
            "facebookresearch/co-tracker") from err
    try:
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file is the user's input
        raise InputError(f"--checkpoint {checkpoint}: cannot read it as a torch state dict ({err})") from err
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    try:
        predictor.model.load_state_dict(state)
    except RuntimeError as err:
        raise InputError(
            f"--checkpoint {checkpoint}: does not fit the {mode} CoTracker3 model (window {window_len}); "
            f"use {_DEFAULT_NAMES[mode]} for --mode {mode} ({str(err).splitlines()[0]})") from err
    return predictor.to(device).eval()


class CoTrackerTracker:
    """CoTracker3 through its own predictor classes; ``CoTrackerTracker(**options)(video) -> Tracks``."""

    name = "cotracker"
    licence = LICENCE

    def __init__(self, **options: Any) -> None:
        self.config = build_config(CoTrackerConfig, options, backend="track backend 'cotracker'")
        self.checkpoint = _resolve_checkpoint(self.config)
        self._predictor: Any = None

    def _get_predictor(self, device: str) -> Any:
        if self._predictor is None:
            cfg = self.config
            window = int(cfg.window_len or _WINDOWS[cfg.mode])
            factory = cfg.predictor_factory or load_predictor
            self._predictor = factory(checkpoint=self.checkpoint, mode=cfg.mode, window_len=window, device=device)
        return self._predictor

    def __call__(self, video: Video, *, seed: int | None = 0, progress: Progress = NO_PROGRESS) -> Tracks:
        try:
            import torch
        except ImportError as err:
            raise MissingDependencyError(
                'track backend \'cotracker\' needs torch: pip install "blur4d[track]"') from err
        if not isinstance(video, Video):
            raise InputError(f"track: expected a blur4d Video, got {type(video).__name__}")
        cfg = self.config
        t0 = time.perf_counter()
        qframe, qxy = resolve_queries(video, grid_size=cfg.grid_size, queries=cfg.queries,
                                      query_frame=cfg.query_frame, mask=cfg.mask)
        device = _device(cfg.device)
        if seed is not None:
            torch.manual_seed(int(seed))
        predictor = self._get_predictor(device)
        T, N = video.num_frames, len(qxy)
        # (T, H, W, 3) uint8 -> (1, T, 3, H, W) float 0-255 RGB
        frames = torch.from_numpy(np.ascontiguousarray(video.frames)).to(device)
        clip = frames.permute(0, 3, 1, 2)[None].float()
        queries = torch.from_numpy(np.concatenate([qframe[:, None], qxy], 1).astype(np.float32))[None].to(device)
        progress("track", 0, 1)
        try:
            with torch.no_grad():
                if cfg.mode == "offline":
                    tr, vis = predictor(clip, queries=queries, backward_tracking=bool(cfg.backward_tracking))
                    xy, visible = self._to_numpy(tr, vis, T, N)
                else:
                    xy, visible = self._online(predictor, clip, queries, T, N)
                    if cfg.backward_tracking and np.any(qframe > 0):
                        rq = queries.clone()
                        rq[..., 0] = T - 1 - rq[..., 0]
                        bxy, bvis = self._online(predictor, clip.flip(1), rq, T, N)
                        before = np.arange(T)[:, None] < qframe[None]
                        xy = np.where(before[..., None], bxy[::-1], xy)
                        visible = np.where(before, bvis[::-1], visible)
        except (RuntimeError, ValueError, AssertionError) as err:
            raise BackendError(f"CoTracker3 ({cfg.mode}) failed on a {T}x{video.width}x{video.height} clip: "
                               f"{str(err).splitlines()[0] if str(err) else type(err).__name__}") from err
        if not cfg.backward_tracking:
            before = np.arange(T)[:, None] < qframe[None]
            visible = visible & ~before
        # the query itself is exact and visible (the offline predictor does this too)
        xy[qframe, np.arange(N)] = qxy
        visible[qframe, np.arange(N)] = True
        progress("track", 1, 1)
        config = {k: v for k, v in asdict(cfg).items() if k != "predictor_factory"}
        for key in ("queries", "mask"):
            val = config[key]
            if val is not None:
                config[key] = str(val) if isinstance(val, (str, os.PathLike)) else f"array {tuple(np.shape(val))}"
        prov = Provenance.capture(
            "track.cotracker", config, seed=seed, packages=("torch", "cotracker"),
            timings={"track": time.perf_counter() - t0}, checkpoint=str(self.checkpoint),
            window_len=int(cfg.window_len or _WINDOWS[cfg.mode]), device=device, licence=LICENCE,
            model_resolution=list(getattr(predictor, "interp_shape", (384, 512))),
        )
        return Tracks(xy=xy.astype(np.float32), visible=visible.astype(bool), query_frame=qframe.astype(np.int32),
                      query_xy=qxy.astype(np.float32), confidence=None, intervals=video.intervals,
                      image_size=(video.width, video.height), provenance=prov)

    @staticmethod
    def _to_numpy(tracks: Any, visibility: Any, T: int, N: int) -> tuple[np.ndarray, np.ndarray]:
        """(1, T', N', 2) and (1, T', N'[, 1]) tensors -> (T, N, 2) float, (T, N) bool."""
        xy = tracks.detach().float().cpu().numpy()
        vis = visibility.detach().cpu().numpy()
        if xy.ndim != 4 or xy.shape[0] != 1 or xy.shape[-1] != 2:
            raise BackendError(f"CoTracker3 returned tracks of shape {tuple(xy.shape)}; expected (1, T, N, 2)")
        if vis.ndim == 4 and vis.shape[-1] == 1:
            vis = vis[..., 0]
        if vis.shape != xy.shape[:3]:
            raise BackendError(
                f"CoTracker3 returned visibility of shape {tuple(vis.shape)} for tracks {tuple(xy.shape)}")
        xy, vis = xy[0], vis[0]
        if xy.shape[0] < T or xy.shape[1] < N:
            raise BackendError(f"CoTracker3 returned {xy.shape[0]} frames x {xy.shape[1]} points; expected {T} x {N}")
        xy, vis = xy[:T, :N], vis[:T, :N]
        if vis.dtype != bool:
            vis = vis > 0.5
        return np.nan_to_num(xy.astype(np.float64)), vis

    def _online(self, predictor: Any, clip: Any, queries: Any, T: int, N: int) -> tuple[np.ndarray, np.ndarray]:
        """The online predictor over the clip in overlapping windows of 2*step frames; the clip is
        padded by repeating its last frame to a whole number of steps, and cropped back."""
        import torch

        step = int(getattr(predictor, "step", 8))
        if step < 1:
            raise BackendError(f"CoTracker3 online predictor reports step {step}")
        need = max(2 * step, int(np.ceil(T / step)) * step)
        if need > T:
            clip = torch.cat([clip, clip[:, -1:].expand(-1, need - T, -1, -1, -1)], dim=1)
        predictor(video_chunk=clip[:, : 2 * step], is_first_step=True, queries=queries)
        tracks = vis = None
        for start in range(0, need - step, step):
            tracks, vis = predictor(video_chunk=clip[:, start:start + 2 * step])
        if tracks is None:
            raise BackendError("CoTracker3 online predictor returned no tracks")
        return self._to_numpy(tracks, vis, T, N)
