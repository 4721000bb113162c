"""The HTML report: ONE self-contained file (CSS inline, images as base64 data URIs, no script,
no network), the page users open first.

Sections, top to bottom: the 3D-consistency verdict (always present; it says so when no analysis
ran), the clip, the consistency figures (epipolar lines, homography residual vectors, the
difference after homography warping, the independent-motion mask) and the per-pair table, then
whatever other stages produced: track overlay, camera trajectory, point-cloud snapshot, faces,
timings. A section is rendered only when its data is given.

``blur4d check`` writes it as ``report.html``; ``blur4d reconstruct`` as ``scene/report.html``.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from .._fs import atomic_path, to_json_text
from ..errors import InputError
from ..types import Cameras, ConsistencyReport, FaceTracks, PointCloud, Tracks, Video

__all__ = ["write_report", "render_report"]

_VERDICT_COLOURS = {"homography": "#a86b00", "parallax": "#1b7f3b", "independent motion": "#7a2fc0",
                    "insufficient texture": "#b3261e"}
_VERDICT_MEANING = {
    "homography": "one homography explains the rigid scene: pure rotation, a planar scene, or too little "
                  "baseline. No depth is recoverable from this clip.",
    "parallax": "the epipolar geometry (F) explains the motion clearly better than any homography: the camera "
                "translated and the scene has depth, so 3D structure is recoverable.",
    "independent motion": "a coherent group of matches moves in a way a single rigid scene cannot explain "
                          "(see the mask): something moves on its own.",
    "insufficient texture": "too few reliable feature matches to judge the geometry.",
}
_MAP_CAPTIONS = {
    "epipolar_lines": "Epipolar lines of sample inlier matches in the reference pair. In a 3D-consistent clip "
                      "every point lies on the line of its partner.",
    "residual_vectors": "Residual of every match after the best homography. Green: explained by "
                        "the homography; orange: residual parallax; magenta: independently moving; red dots: "
                        "matches no model explains (mismatches).",
    "warp_difference": "Absolute difference of the first frame and the second frame warped onto it by the "
                       "homography (x4, colour map). Bright structure = parallax or motion the homography misses.",
    "independent_motion_mask": "Where matches move independently of the camera (union over pairs).",
}

_CSS = """
*{box-sizing:border-box}
body{margin:0;background:#f4f5f7;color:#1d1f23;
 font:14px/1.45 system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif}
main{max-width:1180px;margin:0 auto;padding:20px 22px 40px}
h1{font-size:22px;margin:4px 0 2px}
h2{font-size:17px;margin:0 0 8px}
.sub{color:#5f6670;font-size:12.5px}
section{background:#fff;border:1px solid #dde0e5;border-radius:8px;padding:14px 16px;margin:14px 0}
.verdict{border-left:8px solid var(--c)}
.verdict .name{font-size:28px;font-weight:700;color:var(--c);text-transform:capitalize}
.bar{height:10px;background:#e7e9ed;border-radius:5px;overflow:hidden;width:260px;display:inline-block;
 vertical-align:middle}
.bar>span{display:block;height:100%;background:var(--c)}
.facts{display:flex;flex-wrap:wrap;gap:6px 18px;margin-top:8px;font-size:13px}
.facts b{font-weight:600}
figure{margin:8px 0 14px}
figure img{max-width:100%;height:auto;border:1px solid #e3e5e9;border-radius:4px;display:block}
figcaption{color:#4b525c;font-size:12.5px;margin-top:4px}
table{border-collapse:collapse;font-size:12.5px;width:100%}
th,td{padding:3px 7px;border-bottom:1px solid #eceef1;text-align:right;white-space:nowrap}
th{background:#f7f8fa;position:sticky;top:0;white-space:normal;vertical-align:bottom}
td.l,th.l{text-align:left}
td.r{text-align:left;white-space:normal;min-width:230px}
tr.ref td{background:#fff8e1}
.tag{display:inline-block;padding:0 6px;border-radius:9px;color:#fff;font-size:11.5px}
.scroll{max-height:460px;overflow:auto;border:1px solid #eceef1}
.grid{display:flex;flex-wrap:wrap;gap:10px}
pre{background:#f7f8fa;padding:8px;overflow:auto;font-size:12px;max-height:420px}
.kv td{text-align:left}
.kv td:first-child{color:#5f6670;width:260px}
.tbar{display:inline-block;height:9px;background:#5b7fd6;border-radius:2px;vertical-align:middle;margin-left:6px}
"""


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def _e(v: Any) -> str:
    return html.escape(str(v), quote=True)


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (float, np.floating)):
        if not np.isfinite(v):
            return "–"
        return f"{float(v):.{digits}g}" if abs(float(v)) >= 1000 else f"{float(v):.{digits}f}".rstrip("0").rstrip(".")
    return str(v)


def _rgb_uint8(img: Any, what: str) -> np.ndarray:
    a = np.asarray(img)
    if a.dtype != np.uint8:
        if np.issubdtype(a.dtype, np.floating) and a.size and np.nanmax(a) <= 1.0:
            a = np.clip(np.nan_to_num(a) * 255 + 0.5, 0, 255).astype(np.uint8)
        else:
            a = np.clip(np.nan_to_num(a.astype(np.float64)), 0, 255).astype(np.uint8)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] not in (1, 3, 4):
        raise InputError(f"{what}: expected an (H, W[, 3]) image, got shape {a.shape}")
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    return np.ascontiguousarray(a[..., :3])


def _data_uri(img: np.ndarray, *, long_side: int = 1280, jpeg: bool = False) -> str:
    from PIL import Image

    from ..media import resize_long_side

    a = resize_long_side(_rgb_uint8(img, "image"), long_side)
    buf = io.BytesIO()
    if jpeg:
        Image.fromarray(a).save(buf, format="JPEG", quality=88)
        mime = "image/jpeg"
    else:
        from ..media import encode_png

        buf.write(encode_png(a))  # OpenCV, zlib level 3: ~4x faster than Pillow's default
        mime = "image/png"
    return f"data:{mime};base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(img: np.ndarray, caption: str, alt: str, *, long_side: int = 1280, jpeg: bool = False,
            width: int | None = None) -> str:
    w = f' style="width:{int(width)}px"' if width else ""
    return (f'<figure><img src="{_data_uri(img, long_side=long_side, jpeg=jpeg)}" alt="{_e(alt)}"{w}>'
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def _kv(rows: Sequence[tuple[str, Any]]) -> str:
    body = "".join(f"<tr><td>{_e(k)}</td><td>{_e(_fmt(v))}</td></tr>" for k, v in rows)
    return f'<table class="kv">{body}</table>'


def _section(title: str, body: str, *, sid: str, cls: str = "", style: str = "") -> str:
    c = f' class="{cls}"' if cls else ""
    s = f' style="{style}"' if style else ""
    return f'<section id="{_e(sid)}"{c}{s}><h2>{_e(title)}</h2>{body}</section>'


# --------------------------------------------------------------------------------------------
# sections
# --------------------------------------------------------------------------------------------
def _verdict_section(rep: ConsistencyReport | None) -> str:
    if rep is None:
        return _section("3D consistency", "<p>No 3D-consistency analysis was run for this report.</p>",
                        sid="verdict", cls="verdict", style="--c:#8a8f98")
    col = _VERDICT_COLOURS.get(rep.verdict, "#333")
    s = dict(rep.summary)
    pct = int(round(100 * float(rep.confidence)))
    facts = []
    for label, key in (("pairs analysed", "pairs_analysed"), ("usable pairs", "pairs_ok"),
                       ("reference pair", "reference_pair"), ("evidence strength", "evidence_strength"),
                       ("largest motion (p90, px)", "max_displacement_p90_px"),
                       ("inlier threshold (px)", "threshold_px"),
                       ("frame size", "image_size")):
        if key in s and s[key] is not None:
            v = s[key]
            v = "–".join(str(x) for x in v) if key == "reference_pair" else ("×".join(str(x) for x in v)
                                                                              if key == "image_size" else _fmt(v))
            facts.append(f"<span>{_e(label)}: <b>{_e(v)}</b></span>")
    shares = s.get("weighted_share") or {}
    if shares:
        facts.append("<span>weighted pair votes: " + ", ".join(
            f"<b>{_e(k)}</b> {100 * float(v):.0f}%" for k, v in shares.items()) + "</span>")
    body = (f'<div class="name">{_e(rep.verdict)}</div>'
            f'<div>confidence <b>{float(rep.confidence):.2f}</b> <span class="bar"><span style="width:{pct}%">'
            f"</span></span></div>"
            f"<p>{_e(rep.reason)}</p>"
            f'<p class="sub">{_e(_VERDICT_MEANING.get(rep.verdict, ""))}</p>'
            f'<div class="facts">{"".join(facts)}</div>')
    return _section("3D consistency", body, sid="verdict", cls="verdict", style=f"--c:{col}")


def _video_section(video: Video) -> str:
    from ..display import contact_sheet

    n = video.num_frames
    idx = np.unique(np.linspace(0, n - 1, min(n, 8)).round().astype(int))
    labels = [f"#{i} [{a:+.2f},{b:+.2f}]" for i, (a, b) in zip(idx, video.intervals.bounds[idx])]
    sheet = contact_sheet(video.frames[idx], labels, cols=4, long_side=270)
    lo, hi = video.intervals.span
    info = (f'<p class="sub">{n} frames, {video.width}×{video.height}, intervals {lo:+.3g} … {hi:+.3g} '
            f"(the photo's exposure is [-0.5, 0.5]); source: {_e(video.provenance.backend)}</p>")
    return _section("Clip", info + _figure(sheet, "Evenly spaced frames with their exposure intervals.",
                                           "frames of the clip", jpeg=True), sid="clip")


def _maps_section(rep: ConsistencyReport, video: Video | None) -> str:
    parts = []
    ref = rep.summary.get("reference_pair")
    meta = rep.summary.get("figures") or {}
    for name in ("epipolar_lines", "residual_vectors", "warp_difference", "independent_motion_mask"):
        if name not in rep.maps:
            continue
        img = np.asarray(rep.maps[name])
        if name == "independent_motion_mask":
            img = _mask_overlay(img, video)
        caption = _MAP_CAPTIONS[name]
        pair = meta.get("warp_difference_pair", ref) if name == "warp_difference" else ref
        if pair is not None and name != "independent_motion_mask":
            caption = f"Frames {pair[0]} and {pair[1]}. " + caption
        if name == "residual_vectors" and meta.get("residual_vectors_scale"):
            caption += f" Vectors are drawn {float(meta['residual_vectors_scale']):.0f}x their length."
        parts.append(_figure(img, caption, name.replace("_", " ")))
    for name, img in rep.maps.items():  # any other map a backend adds
        if name not in _MAP_CAPTIONS:
            parts.append(_figure(np.asarray(img), name.replace("_", " "), name))
    if "epipolar_lines" not in rep.maps and ref is not None:
        rec = next((p for p in rep.pairs if [p.get("i"), p.get("j")] == list(ref)), {})
        why = rec.get("fundamental") or "no fundamental matrix could be estimated for this pair"
        parts.insert(0, f'<p class="sub">No epipolar-line figure for frames {ref[0]} and {ref[1]}: {_e(why)}.</p>')
    if not parts:
        return ""
    return _section("Consistency figures", "".join(parts), sid="figures")


def _mask_overlay(mask: np.ndarray, video: Video | None) -> np.ndarray:
    m = np.asarray(mask)
    if m.ndim == 3:
        m = m.max(axis=2)
    if video is None or video.frames.shape[1:3] != m.shape:
        return _rgb_uint8(m, "independent_motion_mask")
    base = video.frames[0].astype(np.float32) * 0.6
    sel = m > 0
    base[sel] = base[sel] * 0.5 + np.array([200, 40, 220], np.float32) * 0.5
    return np.clip(base, 0, 255).astype(np.uint8)


_PAIR_COLS = (("pair", None), ("label", "label"), ("matches", "matches"), ("F inl.", "inlier_ratio_F"),
              ("H inl.", "inlier_ratio_H"), ("Sampson med (px)", "sampson_median_px"),
              ("transfer med (px)", "transfer_median_px"), ("σ noise (px)", "noise_sigma_px"),
              ("parallax p90 (px)", "parallax_p90_px"), ("along share", "along_fraction"), ("along z", "along_z"),
              ("excess (σ)", "parallax_excess_sigmas"), ("evidence", "parallax_evidence"),
              ("motion p90 (px)", "displacement_p90_px"), ("moving", "moving_points"), ("weight", "weight"),
              ("vote", "vote"), ("reason", "reason"))


def _pairs_section(rep: ConsistencyReport) -> str:
    if not rep.pairs:
        return ""
    ref = rep.summary.get("reference_pair")
    head = "".join(f'<th class="{"l" if k in ("label", "reason") else ""}">{_e(t)}</th>' for t, k in _PAIR_COLS)
    rows = []
    for p in rep.pairs:
        cells = []
        for _, key in _PAIR_COLS:
            if key is None:
                cells.append(f"<td>{_e(p.get('i'))}–{_e(p.get('j'))}</td>")
            elif key == "label":
                lab = p.get("label", "")
                c = _VERDICT_COLOURS.get(lab, "#666")
                cells.append(f'<td class="l"><span class="tag" style="background:{c}">{_e(lab)}</span></td>')
            elif key == "reason":
                cells.append(f'<td class="r">{_e(p.get("reason", ""))}</td>')
            elif key in ("inlier_ratio_F", "inlier_ratio_H", "along_fraction") and p.get(key) is not None:
                cells.append(f"<td>{100 * float(p[key]):.0f}%</td>")
            else:
                cells.append(f"<td>{_e(_fmt(p.get(key)))}</td>")
        is_ref = ref is not None and [p.get("i"), p.get("j")] == list(ref)
        rows.append(f'<tr{" class=ref" if is_ref else ""}>{"".join(cells)}</tr>')
    note = ('<p class="sub">One row per analysed frame pair (first–last, a spread of wide pairs, then consecutive '
            "pairs). F/H inl.: share of matches within the threshold of the fundamental matrix / homography; "
            "σ noise: keypoint noise measured on the homography inliers; parallax p90: 90th percentile of the "
            "homography residual of the epipolar inliers; along share / along z: share of that residual that lies "
            "along the epipolar lines (parallax) rather than across them (noise), and its z-score; excess: the "
            "residual in units of σ; evidence: the resulting parallax evidence (0–1); weight: the pair's evidence "
            "in the clip-level vote; vote: that weight scaled by how far its motion reaches. The highlighted row is "
            "the reference pair of the figures.</p>")
    return _section("Frame pairs", note + f'<div class="scroll"><table><tr>{head}</tr>{"".join(rows)}</table></div>',
                    sid="pairs")


def _tracks_section(tracks: Tracks | None, overlay_frames: Any, video: Video | None) -> str:
    parts = []
    if tracks is not None:
        from ..display import tracks_svg

        bg = None
        if video is not None and tracks.num_points:
            q = int(np.bincount(tracks.query_frame).argmax())
            bg = video.frames[min(q, video.num_frames - 1)]
        vis_end = float(tracks.visible[-1].mean()) if tracks.num_points else 0.0
        both = tracks.visible[0] & tracks.visible[-1] if tracks.num_points else np.zeros(0, bool)
        moved = np.linalg.norm(tracks.xy[-1] - tracks.xy[0], axis=-1)[both] if tracks.num_points else np.zeros(0)
        parts.append(_kv([("points × frames", f"{tracks.num_points} × {tracks.num_frames}"),
                          ("visible in the last frame", f"{100 * vis_end:.0f}%"),
                          ("median first→last motion (px)", float(np.median(moved)) if len(moved) else None),
                          ("backend", tracks.provenance.backend)]))
        parts.append(f"<figure>{tracks_svg(tracks, bg, max_tracks=300, width=720)}"
                     "<figcaption>Trajectories of (a sample of) the tracked points; dots mark the query "
                     "positions.</figcaption></figure>")
    if overlay_frames is not None:
        frames = [_rgb_uint8(f, "overlay_frames") for f in _as_image_list(overlay_frames, "overlay_frames")]
        if frames:
            from ..display import contact_sheet

            pick = np.unique(np.linspace(0, len(frames) - 1, min(len(frames), 4)).round().astype(int))
            same = all(frames[i].shape == frames[pick[0]].shape for i in pick)
            if same:
                sheet = contact_sheet(np.stack([frames[i] for i in pick]), [f"#{i}" for i in pick], cols=4,
                                      long_side=270)
                parts.append(_figure(sheet, "Track overlay frames.", "track overlay", jpeg=True))
            else:
                parts.extend(_figure(frames[i], f"Track overlay frame #{i}.", "track overlay", long_side=540,
                                     jpeg=True) for i in pick)
    return _section("Point tracks", "".join(parts), sid="tracks") if parts else ""


def _as_image_list(x: Any, what: str) -> list[np.ndarray]:
    if isinstance(x, np.ndarray):
        if x.ndim == 4:
            return list(x)
        if x.ndim in (2, 3):
            return [x]
        raise InputError(f"{what}: expected (K, H, W, 3) frames or a list of images, got shape {x.shape}")
    if isinstance(x, (list, tuple)):
        return [np.asarray(f) for f in x]
    raise InputError(f"{what}: expected (K, H, W, 3) frames or a list of images, got {type(x).__name__}")


def _trajectory_plot(cameras: Cameras) -> np.ndarray | None:
    """Top-down (x-z) and front (x-y) views of the camera centres with viewing directions."""
    reg = cameras.registered & np.all(np.isfinite(cameras.cam_from_world.reshape(cameras.num_frames, -1)), axis=1)
    if not reg.any():
        return None
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    wfc = np.linalg.inv(cameras.cam_from_world[reg])
    c, fwd = wfc[:, :3, 3], wfc[:, :3, 2]
    t = np.flatnonzero(reg)
    span = float(np.ptp(c, axis=0).max()) if len(c) > 1 else 0.0
    span = span if span > 1e-12 else 1.0
    # a fixed layout (margins sized for 7-character tick labels and the axis labels): matplotlib's
    # constrained layout measured every tick label's extent: 0.24-0.26 s CPU -> 0.13-0.15 s a plot
    fig = Figure(figsize=(9.0, 3.9), dpi=100)
    for k, (a, b, name) in enumerate(((0, 2, "top view (x right, z forward)"), (0, 1, "front view (x right, y down)"))):
        ax = fig.add_axes((0.115 + 0.43 * k, 0.13, 0.325, 0.79))
        ax.plot(c[:, a], c[:, b], "-", color="#999", lw=1)
        sc = ax.scatter(c[:, a], c[:, b], c=t, cmap="viridis", s=28, zorder=3)
        ax.quiver(c[:, a], c[:, b], fwd[:, a], fwd[:, b], t, cmap="viridis", angles="xy", scale_units="xy",
                  scale=1.0 / (0.2 * span), width=0.006)
        ax.set_aspect("equal", adjustable="datalim")
        if b == 1:
            ax.invert_yaxis()
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("xyz"[a])
        ax.set_ylabel("xyz"[b])
        ax.grid(alpha=0.3)
    fig.colorbar(sc, cax=fig.add_axes((0.9, 0.17, 0.015, 0.71)), label="frame")
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)  # the rendered pixels, not a PNG encoded and decoded again
    canvas.draw()
    return np.array(canvas.buffer_rgba())[..., :3]


def _cameras_section(cameras: Cameras) -> str:
    n_reg = int(cameras.registered.sum())
    ok_c = cameras.registered & np.all(np.isfinite(cameras.cam_from_world.reshape(cameras.num_frames, -1)), axis=1)
    centres = np.linalg.inv(cameras.cam_from_world[ok_c])[:, :3, 3] if ok_c.any() else np.zeros((0, 3))
    path_len = float(np.linalg.norm(np.diff(centres, axis=0), axis=1).sum()) if len(centres) > 1 else 0.0
    info = _kv([("status", "ok" if cameras.ok else f"not ok: {cameras.reason}"),
                ("motion", cameras.motion or "–"), ("registered frames", f"{n_reg}/{cameras.num_frames}"),
                ("focal length (px, median)", float(np.nanmedian(cameras.K[:, 0, 0]))),
                ("path length", f"{path_len:.4g} ({'metric' if cameras.scale_known else 'arbitrary scale'})"),
                ("image size", f"{cameras.image_size[0]}×{cameras.image_size[1]}"),
                ("backend", cameras.provenance.backend)])
    plot = _trajectory_plot(cameras)
    fig = (_figure(plot, "Camera centres (colour = frame) and viewing directions; cam_from_world, OpenCV axes.",
                   "camera trajectory") if plot is not None else "<p>No registered camera to plot.</p>")
    return _section("Cameras", info + fig, sid="cameras")


def _points_section(points: PointCloud, cameras: Cameras | None, max_points: int = 60000) -> str:
    from ..display import render_points

    n = len(points)
    dyn = int(points.dynamic.sum())
    ok = np.all(np.isfinite(points.xyz), axis=1)
    rows: list[tuple[str, Any]] = [("points", n), ("dynamic", dyn), ("static", n - dyn)]
    if ok.any():
        ext = np.percentile(points.xyz[ok], 98, axis=0) - np.percentile(points.xyz[ok], 2, axis=0)
        rows.append(("extent (2–98%, x y z)", " × ".join(f"{v:.3g}" for v in ext)))
    body = _kv(rows)
    if ok.any():
        idx = np.flatnonzero(ok)
        if len(idx) > max_points:
            idx = np.sort(np.random.default_rng(0).choice(idx, max_points, replace=False))
        xyz, rgb = points.xyz[idx].astype(np.float64), points.rgb[idx]
        views = [render_points(xyz, rgb, size=(540, 400)), render_points(xyz, rgb, size=(540, 400), yaw=1.2,
                                                                          pitch=-0.6)]
        snap = np.concatenate([views[0], np.full((400, 6, 3), 255, np.uint8), views[1]], axis=1)
        body += _figure(snap, "Splat snapshots of the point cloud from two orthographic viewpoints (far points "
                              "drawn first).", "point cloud snapshot")
    return _section("Point cloud", body, sid="points")


def _faces_section(faces: FaceTracks) -> str:
    rows = []
    for m, fid in enumerate(faces.ids.tolist()):
        fr = np.flatnonzero(faces.present[:, m])
        if len(fr):
            bb = faces.bbox[fr, m]
            size = np.nanmedian(np.stack([bb[:, 2] - bb[:, 0], bb[:, 3] - bb[:, 1]], 1), axis=0)
            rows.append(f"<tr><td>{fid}</td><td>{len(fr)}/{faces.num_frames}</td><td>{fr.min()}–{fr.max()}</td>"
                        f"<td>{size[0]:.0f}×{size[1]:.0f}</td></tr>")
        else:
            rows.append(f"<tr><td>{fid}</td><td>0/{faces.num_frames}</td><td>–</td><td>–</td></tr>")
    missing = int((~faces.present.any(axis=1)).sum()) if faces.num_frames else 0
    body = (f'<p class="sub">{faces.num_faces} face identit{"y" if faces.num_faces == 1 else "ies"}; '
            f"{missing} of {faces.num_frames} frames without a face; backend {_e(faces.provenance.backend)}.</p>")
    if rows:
        body += ('<table style="width:auto"><tr><th>face id</th><th>frames found</th><th>range</th>'
                 "<th>median box (px)</th></tr>"
                 + "".join(rows) + "</table>")
    return _section("Faces", body, sid="faces")


def _timings_section(timings: Mapping[str, Any]) -> str:
    items = [(str(k), float(v)) for k, v in timings.items() if v is not None and np.isfinite(float(v))]
    if not items:
        return ""
    top = max(v for _, v in items) or 1.0
    rows = "".join(f'<tr><td class="l">{_e(k)}</td><td>{v:.2f} s'
                   f'<span class="tbar" style="width:{int(160 * v / top)}px"></span></td></tr>' for k, v in items)
    total = sum(v for _, v in items)
    return _section("Timings", f'<table style="width:auto">{rows}</table><p class="sub">sum {total:.2f} s</p>',
                    sid="timings")


def _details_section(rep: ConsistencyReport) -> str:
    d = {"summary": dict(rep.summary), "provenance": rep.provenance.to_dict()}
    return ('<section id="details"><details><summary>Analysis details (JSON)</summary>'
            f"<pre>{_e(to_json_text(_jsonable(d)))}</pre></details></section>")


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, (np.integer, np.bool_)):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    return obj


# --------------------------------------------------------------------------------------------
# public
# --------------------------------------------------------------------------------------------
def _check_type(value: Any, cls: type, name: str) -> None:
    if value is not None and not isinstance(value, cls):
        raise InputError(f"write_report: {name} must be a blur4d {cls.__name__} or None, got {type(value).__name__}")


def render_report(*, consistency: ConsistencyReport | None = None, video: Video | None = None,
                  tracks: Tracks | None = None, cameras: Cameras | None = None, points: PointCloud | None = None,
                  faces: FaceTracks | None = None, timings: Mapping[str, float] | None = None,
                  overlay_frames: Any = None, title: str | None = None) -> str:
    """The report as one HTML string (see :func:`write_report`)."""
    for value, cls, name in ((consistency, ConsistencyReport, "consistency"), (video, Video, "video"),
                             (tracks, Tracks, "tracks"), (cameras, Cameras, "cameras"),
                             (points, PointCloud, "points"), (faces, FaceTracks, "faces")):
        _check_type(value, cls, name)
    if timings is not None and not isinstance(timings, Mapping):
        raise InputError(f"write_report: timings must be a mapping stage -> seconds, got {type(timings).__name__}")
    from .._version import __version__ as version

    title = title or "blur4d report"
    created = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [_verdict_section(consistency)]
    if video is not None:
        parts.append(_video_section(video))
    if consistency is not None:
        parts.append(_maps_section(consistency, video))
        parts.append(_pairs_section(consistency))
    parts.append(_tracks_section(tracks, overlay_frames, video))
    if cameras is not None:
        parts.append(_cameras_section(cameras))
    if points is not None:
        parts.append(_points_section(points, cameras))
    if faces is not None:
        parts.append(_faces_section(faces))
    if timings:
        parts.append(_timings_section(timings))
    if consistency is not None:
        parts.append(_details_section(consistency))
    body = "".join(p for p in parts if p)
    return ("<!DOCTYPE html>\n"
            '<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<link rel="icon" href="data:,">'
            f"<title>{_e(title)}</title><style>{_CSS}</style></head><body><main>"
            f'<h1>{_e(title)}</h1><div class="sub">blur4d {_e(version)} · {_e(created)} · a self-contained file: '
            "all images are embedded</div>"
            f"{body}</main></body></html>\n")


def write_report(path: str | os.PathLike, *, consistency: ConsistencyReport | None = None,
                 video: Video | None = None, tracks: Tracks | None = None, cameras: Cameras | None = None,
                 points: PointCloud | None = None, faces: FaceTracks | None = None,
                 timings: Mapping[str, float] | None = None, overlay_frames: Any = None,
                 title: str | None = None, overwrite: bool = False) -> Path:
    """Write ONE self-contained HTML report (images embedded as base64, no script, no network).

    The verdict section is always there (it says so when ``consistency`` is None); every other
    section appears only when its data is given: the clip (``video``), the consistency figures
    and per-pair table (``consistency``), point tracks (``tracks`` and/or ``overlay_frames``:
    (K, H, W, 3) uint8 frames or a list of images), the camera trajectory (``cameras``), a
    point-cloud snapshot (``points``), faces (``faces``), and ``timings`` (stage -> seconds).
    Written atomically; an existing file is replaced only with ``overwrite=True``.
    """
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise InputError(f"report {path}: expected an .html path")
    text = render_report(consistency=consistency, video=video, tracks=tracks, cameras=cameras, points=points,
                         faces=faces, timings=timings, overlay_frames=overlay_frames, title=title)
    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


_VIEWER_START, _VIEWER_END = "<!--blur4d:viewer-->", "<!--/blur4d:viewer-->"


def link_viewer(path: str | os.PathLike, href: str) -> Path:
    """Add (or update) a link to the static 4D viewer (``blur4d view --export``) under the
    report's title. ``href`` is relative to the report. Written atomically."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    link = (f'{_VIEWER_START}<p class="sub"><a href="{_e(href)}">Open the interactive 4D viewer</a> '
            "(open it through a web server, e.g. <code>python -m http.server</code>, not from disk)</p>" + _VIEWER_END)
    if _VIEWER_START in text and _VIEWER_END in text:
        a, b = text.index(_VIEWER_START), text.index(_VIEWER_END) + len(_VIEWER_END)
        text = text[:a] + link + text[b:]
    else:
        sub = text.find('<div class="sub">')
        end = text.find("</div>", sub)
        if sub < 0 or end < 0:
            raise InputError(f"report {path}: not a blur4d report (no title block); cannot link the viewer")
        text = text[:end + 6] + link + text[end + 6:]
    with atomic_path(path, overwrite=True) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path
