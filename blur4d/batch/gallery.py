"""``DIR/index.html``: one self-contained page for the whole batch (thumbnails embedded as data
URIs, no scripts, no external resources), with a link to each item's report and log."""

from __future__ import annotations

import base64
import html
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

from .._fs import atomic_path
from .worker import GALLERY

#: the page each verb's item links to, relative to the item folder
REPORTS = {"reconstruct": "scene/report.html", "check": "report.html", "generate": "video.mp4",
           "track": "tracks.npz", "face": "faces.json"}

_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em} .sum{margin-bottom:1em}
table{border-collapse:collapse} td,th{border-bottom:1px solid #ddd;padding:4px 8px;vertical-align:middle;text-align:left}
th{background:#f4f4f4} img{display:block;max-width:160px;max-height:120px}
.ok{color:#176117;font-weight:600} .failed{color:#b00020;font-weight:600} .skipped{color:#666}
.err{max-width:36em;font-size:.9em;color:#b00020} .none{color:#999}
"""


def _thumb(path: Path, alt: str) -> str:
    if not path.is_file():
        return '<span class="none">-</span>'
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/jpeg;base64,{data}">'


def _cameras(res: Mapping[str, Any]) -> str:
    if "cameras_ok" not in res:
        return "-"
    text = "ok" if res.get("cameras_ok") else "not ok"
    if res.get("motion"):
        text += f", {res['motion']}"
    if res.get("registered") is not None:
        text += f", {res['registered']} posed"
    return text


def _verdict(res: Mapping[str, Any]) -> str:
    if not res.get("verdict"):
        return "-"
    conf = res.get("confidence")
    return f"{res['verdict']}" + (f" ({conf:.2f})" if isinstance(conf, (int, float)) else "")


MAX_ROWS = 2000  # a page, not a database: summary.csv lists everything


def write_index(path: str | os.PathLike, rows: Iterable[Mapping[str, Any]], *, title: str = "blur4d batch",
                max_rows: int = MAX_ROWS) -> Path:
    """The gallery; failed items first. Beyond ``max_rows`` items the page says so and shows the first."""
    path = Path(path)
    out_dir = path.parent
    rows = list(rows)
    counts = {s: sum(1 for r in rows if r.get("status") == s) for s in ("ok", "failed", "skipped")}
    shown = sorted(rows, key=lambda r: r.get("status") != "failed")[:max_rows]
    more = (f" Showing {len(shown)} of {len(rows)} items (failed ones first)." if len(shown) < len(rows) else "")
    body = []
    for row in shown:
        item = str(row["id"])
        res = row.get("results") or {}
        status = str(row.get("status", ""))
        links = []
        report = REPORTS.get(str(row.get("verb")), "")
        if status in ("ok", "skipped") and report and (out_dir / item / report).exists():
            links.append(f'<a href="{html.escape(item + "/" + report)}">report</a>')
        if (out_dir / item / "log.txt").is_file():
            links.append(f'<a href="{html.escape(item + "/log.txt")}">log</a>')
        extra = []
        for key in ("points", "faces", "frames"):
            if res.get(key) is not None:
                extra.append(f"{key} {res[key]}")
        err = f'<div class="err">{html.escape(str(row.get("error") or ""))}</div>' if row.get("error") else ""
        body.append(
            "<tr>"
            f"<td>{html.escape(item)}<br><small>{html.escape(Path(str(row.get('input', ''))).name)}</small></td>"
            f"<td>{_thumb(out_dir / GALLERY / f'{item}.photo.jpg', 'photo ' + item)}</td>"
            f"<td>{_thumb(out_dir / GALLERY / f'{item}.clip.jpg', 'clip middle frame ' + item)}</td>"
            f'<td class="{html.escape(status)}">{html.escape(status)}{err}</td>'
            f"<td>{html.escape(_verdict(res))}</td><td>{html.escape(_cameras(res))}</td>"
            f"<td>{html.escape(', '.join(extra) or '-')}</td>"
            f"<td>{' · '.join(links) or '-'}</td></tr>")
    page = (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<p class=\"sum\">{counts['ok']} ok, {counts['failed']} failed, {counts['skipped']} skipped "
        f"({len(rows)} items). Full table: <a href=\"summary.csv\">summary.csv</a>, "
        f"every attempt: <a href=\"batch.jsonl\">batch.jsonl</a>.{html.escape(more)}</p>"
        "<table><thead><tr><th>item</th><th>photo</th><th>clip (middle frame)</th><th>status</th>"
        "<th>verdict</th><th>cameras</th><th>results</th><th>links</th></tr></thead><tbody>"
        + "\n".join(body) + "</tbody></table></body></html>\n")
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path
