"""Rich notebook display: self-contained HTML for every result container.

Everything is inline (PNG/mp4 as base64, SVG, a small canvas script), so it renders in plain
Jupyter, JupyterLab, VS Code and exported HTML with no extensions and no network. The point
cloud viewer is a few lines of vanilla JavaScript on a 2D canvas (drag to rotate, wheel to
zoom) with a static PNG shown first as the fallback, because plotly's offline bundle is ~3.5 MB
per figure and three.js would need a network fetch.
"""

from __future__ import annotations

import base64
import html
import json
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from .types import Cameras, ConsistencyReport, FaceTracks, Generation, PointCloud, Scene, Tracks, Video

_STYLE = ("font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;font-size:13px;"
          "line-height:1.35;max-width:1100px")
_MAX_EMBED_PIXELS = 640


def _png_uri(img: np.ndarray) -> str:
    from .media import encode_png

    return "data:image/png;base64," + base64.b64encode(encode_png(np.ascontiguousarray(img))).decode("ascii")


def _img(img: np.ndarray, width: int | None = None, alt: str = "") -> str:
    w = f' width="{width}"' if width else ""
    return f'<img src="{_png_uri(img)}"{w} alt="{html.escape(alt)}" style="image-rendering:auto;max-width:100%">'


def _thumb(img: np.ndarray, long_side: int = _MAX_EMBED_PIXELS) -> np.ndarray:
    from .media import resize_long_side

    return resize_long_side(np.asarray(img), long_side)


def _table(rows: Sequence[Sequence[Any]], header: Sequence[str] | None = None) -> str:
    out = ['<table style="border-collapse:collapse;margin:4px 0">']
    if header:
        out.append("<tr>" + "".join(f'<th style="text-align:left;padding:2px 8px;border-bottom:1px solid #ccc">'
                                    f"{html.escape(str(h))}</th>" for h in header) + "</tr>")
    for r in rows:
        out.append("<tr>" + "".join(f'<td style="padding:2px 8px">{html.escape(_fmt(c))}</td>' for c in r) + "</tr>")
    out.append("</table>")
    return "".join(out)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _box(title: str, body: str) -> str:
    return (f'<div style="{_STYLE};border:1px solid #ddd;border-radius:6px;padding:8px 12px;margin:6px 0">'
            f'<div style="font-weight:600;margin-bottom:4px">{html.escape(title)}</div>{body}</div>')


# ------------------------------------------------------------------------------------------
# Video
# ------------------------------------------------------------------------------------------
def contact_sheet(frames: np.ndarray, labels: Sequence[str] | None = None, cols: int = 8,
                  long_side: int = 160) -> np.ndarray:
    """Tile frames (F, H, W, 3) into one uint8 image, with an optional label under each."""
    import cv2

    thumbs = [_thumb(f, long_side) for f in frames]
    h, w = thumbs[0].shape[:2]
    label_h = 16 if labels else 0
    cols = max(1, min(cols, len(thumbs)))
    rows = (len(thumbs) + cols - 1) // cols
    sheet = np.full((rows * (h + label_h + 4), cols * (w + 4), 3), 255, np.uint8)
    for i, t in enumerate(thumbs):
        r, c = divmod(i, cols)
        y, x = r * (h + label_h + 4), c * (w + 4)
        sheet[y:y + t.shape[0], x:x + t.shape[1]] = t[..., :3]
        if labels:
            cv2.putText(sheet, labels[i], (x + 2, y + h + 12), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (40, 40, 40), 1,
                        cv2.LINE_AA)
    return sheet


def _interval_labels(video: "Video") -> list[str]:
    return [f"[{a:+.2f},{b:+.2f}]" for a, b in video.intervals.bounds]


def _mp4_uri(video: "Video", long_side: int = _MAX_EMBED_PIXELS) -> str | None:
    import tempfile
    from pathlib import Path

    from .media import write_mp4

    frames = np.stack([_thumb(f, long_side) for f in video.frames])
    try:
        with tempfile.TemporaryDirectory() as d:
            p = Path(d) / "v.mp4"
            write_mp4(p, frames, video.fps, overwrite=True)
            data = p.read_bytes()
    except Exception:  # noqa: BLE001 - no ffmpeg: the contact sheet alone still shows the clip
        return None
    if len(data) > 8_000_000:
        return None
    return "data:video/mp4;base64," + base64.b64encode(data).decode("ascii")


def video_html(video: "Video", *, player: bool = True) -> str:
    labels = _interval_labels(video)
    parts = [f"{video.num_frames} frames, {video.width}×{video.height}, fps {video.fps:g}, "
             f"intervals span {video.intervals.span[0]:+.3g}…{video.intervals.span[1]:+.3g} "
             f"(exposure = [-0.5, 0.5]); backend <code>{html.escape(video.provenance.backend)}</code>"]
    if player:
        uri = _mp4_uri(video)
        if uri:
            parts.append(f'<div><video controls loop muted playsinline src="{uri}" '
                         f'style="max-width:100%;max-height:360px"></video></div>')
    parts.append(_img(contact_sheet(video.frames, labels), alt="contact sheet"))
    return _box("Video", "".join(parts))


def generation_html(gen: "Generation") -> str:
    parts = [f"{len(gen.samples)} sample(s) of {gen.video.num_frames} frames"]
    for k, v in enumerate(gen.samples):
        choice = gen.choices[k] if k < len(gen.choices) else {}
        parts.append(f"<div>sample {k}: {html.escape(json.dumps(_jsonable(choice))[:300])}</div>")
        parts.append(_img(contact_sheet(v.frames, _interval_labels(v), long_side=120), alt=f"sample {k}"))
    if gen.ambiguity is not None:
        import cv2

        amb = cv2.applyColorMap((np.clip(gen.ambiguity, 0, 1) * 255).astype(np.uint8), cv2.COLORMAP_VIRIDIS)
        parts.append("<div>ambiguity (bright = time direction undetermined by the photo):</div>")
        parts.append(_img(_thumb(amb[..., ::-1], 320), alt="ambiguity map"))
    return _box("Generation", "".join(parts))


def _jsonable(obj: Any) -> Any:
    from ._fs import to_json_text

    try:
        return json.loads(to_json_text(obj))
    except (TypeError, ValueError):
        return str(obj)


# ------------------------------------------------------------------------------------------
# Tracks
# ------------------------------------------------------------------------------------------
def _track_colors(n: int) -> list[str]:
    import colorsys

    return ["#%02x%02x%02x" % tuple(int(255 * c) for c in colorsys.hsv_to_rgb((i * 0.618) % 1, 0.85, 0.95))
            for i in range(n)]


def tracks_svg(tracks: "Tracks", background: np.ndarray | None = None, max_tracks: int = 400,
               width: int = 560) -> str:
    """SVG of all trajectories (visible parts as polylines, the query point as a dot)."""
    if tracks.image_size is not None:
        W, H = tracks.image_size
    elif background is not None:
        H, W = background.shape[:2]
    else:
        W = int(np.nanmax(tracks.xy[..., 0])) + 1 if tracks.num_points else 1
        H = int(np.nanmax(tracks.xy[..., 1])) + 1 if tracks.num_points else 1
    height = int(round(width * H / max(W, 1)))
    idx = np.arange(tracks.num_points)
    if len(idx) > max_tracks:
        idx = np.linspace(0, len(idx) - 1, max_tracks).astype(int)
    colors = _track_colors(len(idx))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="-0.5 -0.5 {W} {H}" style="background:#111">']
    if background is not None:
        out.append(f'<image href="{_png_uri(_thumb(background, 900))}" x="-0.5" y="-0.5" width="{W}" '
                   f'height="{H}" opacity="0.75"/>')
    sw = max(W, H) / 400
    for c, n in zip(colors, idx):
        segs: list[list[str]] = [[]]
        for t in range(tracks.num_frames):
            if tracks.visible[t, n]:
                segs[-1].append(f"{tracks.xy[t, n, 0]:.1f},{tracks.xy[t, n, 1]:.1f}")
            elif segs[-1]:
                segs.append([])
        for s in segs:
            if len(s) > 1:
                out.append(f'<polyline points="{" ".join(s)}" fill="none" stroke="{c}" stroke-width="{sw:.2f}"/>')
        qx, qy = tracks.query_xy[n]
        out.append(f'<circle cx="{qx:.1f}" cy="{qy:.1f}" r="{1.5 * sw:.2f}" fill="{c}"/>')
    out.append("</svg>")
    return "".join(out)


def tracks_html(tracks: "Tracks", video: "Video | None" = None) -> str:
    bg = None
    if video is not None and tracks.num_points:
        q = int(np.bincount(tracks.query_frame).argmax())
        bg = video.frames[min(q, video.num_frames - 1)]
    moved = (np.linalg.norm(tracks.xy[-1] - tracks.xy[0], axis=-1)
             if tracks.num_points else np.zeros(0))
    both = tracks.visible[0] & tracks.visible[-1] if tracks.num_points else np.zeros(0, bool)
    info = _table([
        ("points × frames", f"{tracks.num_points} × {tracks.num_frames}"),
        ("visible", f"{tracks.visible.mean():.1%}" if tracks.num_points else "-"),
        ("median first→last displacement (px)", float(np.median(moved[both])) if both.any() else "-"),
        ("backend", tracks.provenance.backend),
    ])
    return _box("Tracks", info + tracks_svg(tracks, bg))


# ------------------------------------------------------------------------------------------
# Cameras
# ------------------------------------------------------------------------------------------
def cameras_svg(cameras: "Cameras", size: int = 420) -> str:
    """Top-down (x-z) and side (x-y) views of camera centres with viewing directions."""
    reg = cameras.registered & np.all(np.isfinite(cameras.cam_from_world.reshape(len(cameras.registered), -1)), 1)
    if not reg.any():
        return "<div>no registered cameras</div>"
    wfc = np.linalg.inv(cameras.cam_from_world[reg])
    c = wfc[:, :3, 3]
    fwd = wfc[:, :3, 2]
    views = []
    for name, (a, b) in (("top (x → , z ↑)", (0, 2)), ("front (x → , y ↓)", (0, 1))):
        pts = c[:, [a, b]]
        span = float(np.ptp(pts, axis=0).max()) or 1.0
        arrow = fwd[:, [a, b]] * span * 0.25
        lo = np.minimum(pts.min(0), (pts + arrow).min(0)) - 0.1 * span
        hi = np.maximum(pts.max(0), (pts + arrow).max(0)) + 0.1 * span
        ext = float((hi - lo).max())
        flip = -1 if b == 2 else 1  # z up in the top view

        def to_px(p: np.ndarray) -> tuple[float, float]:
            x = (p[0] - lo[0]) / ext * (size - 20) + 10
            y = (p[1] - lo[1]) / ext * (size - 20) + 10
            return x, (size - y) if flip < 0 else y

        out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
               f'style="background:#fafafa;border:1px solid #eee;margin-right:6px">',
               f'<text x="6" y="14" font-size="11" fill="#555">{html.escape(name)}</text>']
        colors = _track_colors(len(pts))
        path = " ".join("%.1f,%.1f" % to_px(p) for p in pts)
        out.append(f'<polyline points="{path}" fill="none" stroke="#999" stroke-width="1"/>')
        for p, d, col in zip(pts, arrow, colors):
            x0, y0 = to_px(p)
            x1, y1 = to_px(p + d)
            out.append(f'<line x1="{x0:.1f}" y1="{y0:.1f}" x2="{x1:.1f}" y2="{y1:.1f}" stroke="{col}" stroke-width="1.5"/>')
            out.append(f'<circle cx="{x0:.1f}" cy="{y0:.1f}" r="3" fill="{col}"/>')
        out.append("</svg>")
        views.append("".join(out))
    return "<div>" + "".join(views) + "</div>"


def cameras_html(cameras: "Cameras") -> str:
    n_reg = int(cameras.registered.sum())
    fx = float(np.nanmedian(cameras.K[:, 0, 0]))
    centres = cameras.centers[cameras.registered] if n_reg else np.zeros((0, 3))
    path_len = float(np.linalg.norm(np.diff(centres, axis=0), axis=1).sum()) if len(centres) > 1 else 0.0
    info = _table([
        ("status", "ok" if cameras.ok else f"not ok: {cameras.reason}"),
        ("motion", cameras.motion or "-"),
        ("registered", f"{n_reg}/{cameras.num_frames}"),
        ("focal (px)", fx),
        ("path length", f"{path_len:.4g} ({'metric' if cameras.scale_known else 'arbitrary scale'})"),
        ("image size", f"{cameras.image_size[0]}×{cameras.image_size[1]}"),
    ])
    return _box("Cameras", info + cameras_svg(cameras))


# ------------------------------------------------------------------------------------------
# PointCloud
# ------------------------------------------------------------------------------------------
def render_points(xyz: np.ndarray, rgb: np.ndarray, size: tuple[int, int] = (480, 360), yaw: float = 0.35,
                  pitch: float = -0.25) -> np.ndarray:
    """A static splat render (orthographic, painter's order) of a point cloud -> uint8 image."""
    W, H = size
    img = np.full((H, W, 3), 245, np.uint8)
    ok = np.all(np.isfinite(xyz), axis=1)
    if not ok.any():
        return img
    p = xyz[ok].astype(np.float64)
    col = rgb[ok]
    p = p - np.median(p, axis=0)
    cy, sy, cp, sp = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch)
    Ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    Rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    q = p @ (Rx @ Ry).T
    scale = 0.45 * min(W, H) / max(np.percentile(np.abs(q[:, :2]), 98), 1e-9)
    u = np.round(q[:, 0] * scale + W / 2).astype(int)
    v = np.round(q[:, 1] * scale + H / 2).astype(int)
    order = np.argsort(-q[:, 2])  # far first
    for du in (0, 1):
        for dv in (0, 1):
            uu, vv = u[order] + du, v[order] + dv
            inside = (uu >= 0) & (uu < W) & (vv >= 0) & (vv < H)
            img[vv[inside], uu[inside]] = col[order][inside]
    return img


_VIEWER_JS = """
(function(){
var c=document.getElementById("%(id)s"), d=JSON.parse(atob(c.dataset.pts)), ctx=c.getContext("2d");
var yaw=0.35, pitch=-0.25, zoom=1, drag=null, n=d.p.length/3;
function draw(){
 var W=c.width,H=c.height,cy=Math.cos(yaw),sy=Math.sin(yaw),cp=Math.cos(pitch),sp=Math.sin(pitch);
 var q=new Array(n);
 for(var i=0;i<n;i++){var x=d.p[3*i],y=d.p[3*i+1],z=d.p[3*i+2];
  var x1=cy*x+sy*z, z1=-sy*x+cy*z, y2=cp*y-sp*z1, z2=sp*y+cp*z1; q[i]=[x1,y2,z2,i];}
 q.sort(function(a,b){return b[2]-a[2];});
 ctx.fillStyle="#f5f5f5";ctx.fillRect(0,0,W,H);var s=d.s*zoom*Math.min(W,H);
 for(var k=0;k<n;k++){var e=q[k],j=e[3];
  ctx.fillStyle="rgb("+d.c[3*j]+","+d.c[3*j+1]+","+d.c[3*j+2]+")";
  ctx.fillRect(W/2+e[0]*s,H/2+e[1]*s,2,2);}
}
c.onmousedown=function(e){drag=[e.clientX,e.clientY];};
window.addEventListener("mouseup",function(){drag=null;});
c.onmousemove=function(e){if(!drag)return;yaw+=(e.clientX-drag[0])*0.01;pitch-=(e.clientY-drag[1])*0.01;
 drag=[e.clientX,e.clientY];draw();};
c.onwheel=function(e){e.preventDefault();zoom*=e.deltaY<0?1.1:1/1.1;draw();};
var img=document.getElementById("%(id)s_img"); if(img){img.style.display="none";} c.style.display="block"; draw();
})();
"""


def points_html(points: "PointCloud", max_points: int = 20000, seed: int = 0) -> str:
    n = len(points)
    dyn = int(points.dynamic.sum())
    info = _table([("points", n), ("dynamic", dyn), ("static", n - dyn),
                   ("frames", len(np.unique(points.frame)) if n else 0)])
    if n == 0:
        return _box("Point cloud", info)
    idx = np.arange(n)
    if n > max_points:
        idx = np.sort(np.random.default_rng(seed).choice(n, max_points, replace=False))
    xyz = points.xyz[idx].astype(np.float64)
    ok = np.all(np.isfinite(xyz), 1)
    xyz, rgb = xyz[ok], points.rgb[idx][ok]
    centre = np.median(xyz, axis=0)
    rel = xyz - centre
    scale = 0.45 / max(float(np.percentile(np.abs(rel), 98)), 1e-9)
    payload = {"p": np.round(rel, 5).ravel().tolist(), "c": rgb.ravel().tolist(), "s": scale}
    b64 = base64.b64encode(json.dumps(payload).encode()).decode("ascii")
    vid = f"b4dpc{abs(hash((n, float(xyz.sum())))) % 10**9}"
    static = render_points(xyz, rgb)
    body = (info + f'<img id="{vid}_img" src="{_png_uri(static)}" alt="point cloud (static view)">'
            f'<canvas id="{vid}" width="560" height="420" data-pts="{b64}" '
            f'style="display:none;border:1px solid #eee;cursor:grab" title="drag to rotate, wheel to zoom"></canvas>'
            f"<script>{_VIEWER_JS % {'id': vid}}</script>")
    return _box("Point cloud", body)


# ------------------------------------------------------------------------------------------
# Consistency, faces, scene
# ------------------------------------------------------------------------------------------
_VERDICT_COLORS = {"homography": "#b07d00", "parallax": "#1b7f3b", "independent motion": "#8a2be2",
                   "insufficient texture": "#a33"}


def consistency_html(report: "ConsistencyReport") -> str:
    col = _VERDICT_COLORS.get(report.verdict, "#333")
    head = (f'<div style="font-size:16px"><b style="color:{col}">{html.escape(report.verdict)}</b> '
            f"— confidence {report.confidence:.2f}</div><div>{html.escape(report.reason)}</div>")
    keys = ("i", "j", "ok", "matches", "inliers_F", "inliers_H", "residual_parallax_px", "reason")
    rows = [[p.get(k, "") for k in keys] for p in list(report.pairs)[:12]]
    table = _table(rows, keys) if rows else ""
    maps = "".join(f'<div style="display:inline-block;margin:4px"><div>{html.escape(name)}</div>'
                   f"{_img(_thumb(img, 360), alt=name)}</div>" for name, img in report.maps.items())
    return _box("3D consistency", head + table + maps)


def faces_html(faces: "FaceTracks") -> str:
    rows = []
    for m, fid in enumerate(faces.ids.tolist()):
        frames = np.flatnonzero(faces.present[:, m])
        rows.append((fid, f"{len(frames)}/{faces.num_frames}",
                     f"{frames.min()}–{frames.max()}" if len(frames) else "-"))
    body = _table(rows, ("face id", "frames found", "range")) if rows else "<div>no face found</div>"
    return _box("Faces", body)


def scene_html(scene: "Scene") -> str:
    parts = []
    if scene.video is not None:
        parts.append(video_html(scene.video))
    if scene.tracks is not None:
        parts.append(tracks_html(scene.tracks, scene.video))
    if scene.cameras is not None:
        parts.append(cameras_html(scene.cameras))
    if scene.points is not None:
        parts.append(points_html(scene.points))
    if scene.consistency is not None:
        parts.append(consistency_html(scene.consistency))
    if scene.faces is not None:
        parts.append(faces_html(scene.faces))
    timings = dict(scene.provenance.timings)
    if timings:
        parts.append(_box("Timings (s)", _table([(k, float(v)) for k, v in timings.items()])))
    where = f" — {html.escape(str(scene.path))}" if scene.path else ""
    return f'<div style="{_STYLE}"><h3 style="margin:4px 0">blur4d scene{where}</h3>{"".join(parts)}</div>'
