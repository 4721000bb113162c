"""The paper's evaluation metrics for videos generated from a blurry photo.

Bidirectional patch metrics (the paper's Eq. 6): a blurry photo does not tell the time direction
of each region, so each spatial patch is scored with the better of the forward prediction and
the time-reversed prediction (the choice is made per patch over the whole clip and then applies
to every frame of that patch):

* ``psnr_p``: 1x1 patches. Per pixel, the direction with the lower clip MSE is chosen; the
  chosen per-pixel MSEs are averaged per frame, PSNR is taken per frame and averaged over frames.
* ``ssim_p``: non-overlapping ``ssim_patch`` x ``ssim_patch`` patches (40; 32 for B-AIST++
  crops), each frame's patch scored with :func:`skimage.metrics.structural_similarity`; per
  patch the direction with the higher clip-mean SSIM is chosen; the mean over patches and frames.
  Edge remainders narrower than a patch are left out (images smaller than a patch are one patch).
* ``lpips_p``: the same patches with LPIPS (lower is better), only with local LPIPS weights and
  the ``lpips`` package.

Also: ``blur_consistency`` (average the predicted present frames in linear light, re-encode,
PSNR against the photo) and ``epe`` (end-point error between the first-to-last-frame optical
flow of the prediction and of the ground truth; per pixel the better of the forward flow and the
time-reversed one; OpenCV DIS flow by default, RAFT with local weights). Every bidirectional
metric is also reported forward-only and reverse-only. Pure functions; only :func:`evaluate`
and :meth:`EvalResult.save` touch files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .errors import InputError, MissingDependencyError
from .types import Intervals, Video

__all__ = ["EvalResult", "evaluate", "psnr_p", "ssim_p", "lpips_p", "blur_consistency", "epe", "psnr"]


# --------------------------------------------------------------------------------------------
def _as_float(frames: np.ndarray) -> np.ndarray:
    return np.asarray(frames, dtype=np.float64)


def _check_pair(pred: np.ndarray, gt: np.ndarray) -> None:
    if pred.ndim != 4 or pred.shape[-1] != 3:
        raise InputError(f"pred: expected frames (F, H, W, 3), got shape {pred.shape}")
    if gt.ndim != 4 or gt.shape[-1] != 3:
        raise InputError(f"gt: expected frames (F, H, W, 3), got shape {gt.shape}")
    if pred.shape != gt.shape:
        raise InputError(f"pred: shape {pred.shape} differs from the ground truth's {gt.shape}; "
                         "generate the same number of frames at the same size")


def psnr(mse: np.ndarray | float, data_range: float = 255.0) -> np.ndarray:
    """PSNR in dB from an MSE (capped at 100 dB for a perfect match)."""
    mse = np.asarray(mse, np.float64)
    return np.minimum(10.0 * np.log10(data_range ** 2 / np.maximum(mse, 1e-300)), 100.0)


def psnr_p(pred: np.ndarray, gt: np.ndarray, data_range: float = 255.0) -> dict[str, float]:
    """Bidirectional PSNR with 1x1 patches, plus forward- and reverse-only PSNR (dB).

    pred, gt: (F, H, W, 3) frames (uint8 or float in the units of ``data_range``).
    """
    _check_pair(pred, gt)
    p, g = _as_float(pred), _as_float(gt)
    ef = ((p - g) ** 2).mean(-1)  # (F, H, W)
    er = ((p[::-1] - g) ** 2).mean(-1)
    choose_f = ef.sum(0) <= er.sum(0)  # per pixel, over the whole clip
    eb = np.where(choose_f[None], ef, er)
    return {
        "psnr_p": float(psnr(eb.mean((1, 2)), data_range).mean()),
        "psnr_forward": float(psnr(ef.mean((1, 2)), data_range).mean()),
        "psnr_reverse": float(psnr(er.mean((1, 2)), data_range).mean()),
        "psnr_p_forward_fraction": float(choose_f.mean()),
    }


def _patches(H: int, W: int, size: int) -> list[tuple[slice, slice]]:
    if H < size or W < size:
        return [(slice(0, H), slice(0, W))]
    return [(slice(y, y + size), slice(x, x + size)) for y in range(0, H - size + 1, size)
            for x in range(0, W - size + 1, size)]


def ssim_p(pred: np.ndarray, gt: np.ndarray, patch: int = 40, data_range: float = 255.0) -> dict[str, float]:
    """Bidirectional SSIM over non-overlapping ``patch`` x ``patch`` patches (skimage SSIM per
    frame and patch), plus forward- and reverse-only values."""
    from skimage.metrics import structural_similarity

    _check_pair(pred, gt)
    if int(patch) < 7:
        raise InputError(f"ssim_patch: must be >= 7 (the SSIM window), got {patch}")
    F, H, W, _ = pred.shape
    p, g = _as_float(pred), _as_float(gt)
    boxes = _patches(H, W, int(patch))
    sf = np.empty((len(boxes), F))
    sr = np.empty((len(boxes), F))
    side = min(H, W, int(patch))
    if side < 3:
        raise InputError(f"ssim: frames of {W}x{H} are too small for SSIM")
    win = 7 if side >= 7 else (side if side % 2 else side - 1)
    for j, (ys, xs) in enumerate(boxes):
        for t in range(F):
            gp = g[t, ys, xs]
            sf[j, t] = structural_similarity(p[t, ys, xs], gp, channel_axis=-1, data_range=data_range, win_size=win)
            sr[j, t] = structural_similarity(p[F - 1 - t, ys, xs], gp, channel_axis=-1, data_range=data_range,
                                             win_size=win)
    choose_f = sf.mean(1) >= sr.mean(1)
    sb = np.where(choose_f[:, None], sf, sr)
    return {"ssim_p": float(sb.mean()), "ssim_forward": float(sf.mean()), "ssim_reverse": float(sr.mean()),
            "ssim_patches": len(boxes)}


def lpips_p(pred: np.ndarray, gt: np.ndarray, weights: str | os.PathLike, patch: int = 40,
            net: str = "alex") -> dict[str, float]:
    """Bidirectional LPIPS (lower is better) over ``patch``-sized patches of LPIPS's spatial map.

    Needs the ``lpips`` package and a LOCAL state dict of the whole LPIPS model (backbone and
    linear heads, as saved by ``torch.save(lpips.LPIPS(net=net).state_dict(), path)``), so that
    nothing is downloaded."""
    try:
        import lpips  # type: ignore
        import torch
    except ImportError as err:
        raise MissingDependencyError(f"LPIPS needs the lpips package ({err}); install with: pip install lpips") from err
    path = Path(weights)
    if not path.is_file():
        raise InputError(f"--lpips-weights {path}: no such file; pass a local LPIPS state dict")
    _check_pair(pred, gt)
    model = lpips.LPIPS(net=net, pretrained=False, pnet_rand=True, spatial=True, verbose=False)
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=False)
    model.eval()

    def dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        ta = torch.from_numpy(a.astype(np.float32) / 127.5 - 1.0).permute(0, 3, 1, 2)
        tb = torch.from_numpy(b.astype(np.float32) / 127.5 - 1.0).permute(0, 3, 1, 2)
        with torch.no_grad():
            return model(ta, tb).numpy()[:, 0]  # (F, H, W)

    F, H, W, _ = pred.shape
    df, dr = dist(pred, gt), dist(pred[::-1], gt)
    boxes = _patches(H, W, int(patch))
    pf = np.array([[df[t, ys, xs].mean() for t in range(F)] for ys, xs in boxes])
    pr = np.array([[dr[t, ys, xs].mean() for t in range(F)] for ys, xs in boxes])
    choose_f = pf.mean(1) <= pr.mean(1)
    return {"lpips_p": float(np.where(choose_f[:, None], pf, pr).mean()), "lpips_forward": float(pf.mean()),
            "lpips_reverse": float(pr.mean())}


def blur_consistency(pred: Video, photo: np.ndarray, response: str | float = "srgb") -> float:
    """PSNR (dB) between the photo and the re-encoded linear-light average of the predicted
    frames over the exposure [-0.5, 0.5] (frames weighted by their overlap with it)."""
    from .exposure import average_linear, encode_uint8

    photo = np.asarray(photo)
    if photo.shape != pred.frames.shape[1:]:
        raise InputError(f"--blurry: photo shape {photo.shape} differs from the frames' {pred.frames.shape[1:]}")
    avg = encode_uint8(average_linear(pred, response, (-0.5, 0.5)), response)
    mse = ((avg.astype(np.float64) - photo.astype(np.float64)) ** 2).mean()
    return float(psnr(mse))


def dis_flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """OpenCV DIS optical flow (medium preset) from frame a to frame b -> (H, W, 2) float32."""
    import cv2

    ga = cv2.cvtColor(np.ascontiguousarray(a), cv2.COLOR_RGB2GRAY)
    gb = cv2.cvtColor(np.ascontiguousarray(b), cv2.COLOR_RGB2GRAY)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return dis.calc(ga, gb, None)


def raft_flow_fn(weights: str | os.PathLike) -> Any:
    """A flow function backed by torchvision's RAFT-large with a LOCAL state dict."""
    try:
        from torchvision.models.optical_flow import raft_large  # type: ignore  (imports torch)
        import torch
    except ImportError as err:
        raise MissingDependencyError(f"RAFT flow needs torchvision ({err}); install with: pip install torchvision, "
                                     "or leave out --raft-weights to use OpenCV DIS flow") from err
    path = Path(weights)
    if not path.is_file():
        raise InputError(f"--raft-weights {path}: no such file; pass a local RAFT-large state dict")
    model = raft_large(weights=None)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    model.eval()

    def flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        H, W = a.shape[:2]
        ph, pw = (-H) % 8, (-W) % 8

        def prep(x: np.ndarray) -> Any:
            t = torch.from_numpy(np.pad(x, ((0, ph), (0, pw), (0, 0)), mode="edge").astype(np.float32))
            return (t.permute(2, 0, 1)[None] / 127.5) - 1.0

        with torch.no_grad():
            out = model(prep(a), prep(b))[-1][0].permute(1, 2, 0).numpy()
        return out[:H, :W]

    return flow


def epe(pred: np.ndarray, gt: np.ndarray, flow_fn: Any = None) -> dict[str, float]:
    """End-point error (px) between the first-to-last flow of the prediction and of the ground
    truth. Bidirectional: per pixel the smaller error of the forward prediction (first -> last)
    and the reversed one (last -> first)."""
    _check_pair(pred, gt)
    if len(pred) < 2:
        raise InputError("epe: needs at least 2 frames")
    flow_fn = flow_fn or dis_flow
    fg = flow_fn(gt[0], gt[-1])
    ff = flow_fn(pred[0], pred[-1])
    fr = flow_fn(pred[-1], pred[0])
    ef = np.hypot(*(ff - fg).transpose(2, 0, 1))
    er = np.hypot(*(fr - fg).transpose(2, 0, 1))
    return {"epe": float(np.minimum(ef, er).mean()), "epe_forward": float(ef.mean()), "epe_reverse": float(er.mean()),
            "gt_flow_mean": float(np.hypot(*fg.transpose(2, 0, 1)).mean())}


# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EvalResult:
    """Metric values (``metrics``), what was skipped and why (``skipped``), and notes."""

    metrics: Mapping[str, float]
    skipped: Mapping[str, str] = field(default_factory=dict)
    info: Mapping[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> float:
        return self.metrics[key]

    def to_dict(self) -> dict[str, Any]:
        return {"metrics": dict(self.metrics), "skipped": dict(self.skipped), "info": dict(self.info)}

    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        from ._fs import write_json

        return write_json(path, self.to_dict(), overwrite=overwrite)

    def table(self) -> str:
        rows = [("metric", "bidirectional", "forward", "reverse")]
        m = self.metrics
        for name, key, fwd, rev, unit in (
            ("PSNR_p (dB)", "psnr_p", "psnr_forward", "psnr_reverse", ""),
            (f"SSIM_p ({self.info.get('ssim_patch', 40)}px)", "ssim_p", "ssim_forward", "ssim_reverse", ""),
            ("LPIPS_p", "lpips_p", "lpips_forward", "lpips_reverse", ""),
            ("EPE (px)", "epe", "epe_forward", "epe_reverse", ""),
        ):
            if key in m:
                rows.append((name, f"{m[key]:.4f}", f"{m[fwd]:.4f}", f"{m[rev]:.4f}"))
        if "blur_consistency" in m:
            rows.append(("blur consistency PSNR (dB)", f"{m['blur_consistency']:.2f}", "", ""))
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        for k, why in self.skipped.items():
            lines.append(f"skipped {k}: {why}")
        return "\n".join(lines)


def _load(x: Any, what: str) -> Video:
    if isinstance(x, Video):
        return x
    if isinstance(x, np.ndarray):
        frames = np.asarray(x)
        if frames.ndim != 4 or frames.dtype != np.uint8:
            raise InputError(f"{what}: expected (F, H, W, 3) uint8 frames, got shape {frames.shape} {frames.dtype}")
        return Video(frames, Intervals.present(len(frames)))
    from .media import load_video

    return load_video(Path(x))


def evaluate(pred: Any, gt: Any, *, blurry: Any = None, ssim_patch: int = 40, lpips_weights: str | None = None,
             raft_weights: str | None = None, response: str | float = "srgb") -> EvalResult:
    """All metrics for a predicted clip against ground-truth frames.

    pred, gt: :class:`Video`, (F, H, W, 3) uint8 arrays, or paths to videos / frame folders.
    blurry: the photo (path or (H, W, 3) uint8) for blur consistency (skipped without it).
    """
    pv, gv = _load(pred, "pred"), _load(gt, "gt")
    _check_pair(pv.frames, gv.frames)
    metrics: dict[str, float] = {}
    skipped: dict[str, str] = {}
    metrics.update(psnr_p(pv.frames, gv.frames))
    metrics.update(ssim_p(pv.frames, gv.frames, patch=ssim_patch))
    if lpips_weights:
        metrics.update(lpips_p(pv.frames, gv.frames, lpips_weights, patch=ssim_patch))
    else:
        import importlib.util

        have = importlib.util.find_spec("lpips") is not None
        skipped["lpips_p"] = ("no --lpips-weights given (pass a local LPIPS state dict; nothing is downloaded)" if have
                              else "the lpips package is not installed (pip install lpips) "
                                   "and no --lpips-weights given")
    flow_fn = raft_flow_fn(raft_weights) if raft_weights else None
    if len(pv.frames) >= 2:
        metrics.update(epe(pv.frames, gv.frames, flow_fn))
    else:
        skipped["epe"] = "needs at least 2 frames"
    if blurry is not None:
        if isinstance(blurry, np.ndarray):
            photo = blurry
        else:
            from .media import read_image

            photo = read_image(blurry).pixels
        if not pv.intervals.inside_exposure().any() and not (
                (pv.intervals.starts < 0.5) & (pv.intervals.ends > -0.5)).any():
            skipped["blur_consistency"] = "no predicted frame overlaps the exposure [-0.5, 0.5]"
        else:
            metrics["blur_consistency"] = blur_consistency(pv, photo, response)
    else:
        skipped["blur_consistency"] = "no --blurry photo given"
    info = {"frames": int(pv.num_frames), "size": [pv.width, pv.height], "ssim_patch": int(ssim_patch),
            "flow": "raft" if raft_weights else "opencv-dis", "response": response,
            "pred_intervals": pv.intervals.to_list()}
    return EvalResult(metrics=metrics, skipped=skipped, info=info)
