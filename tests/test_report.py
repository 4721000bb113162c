"""The HTML report (blur4d/report/html.py): structure, optional sections, self-containedness, and
a real render in headless Chromium.

Browser harness: Playwright driving Debian's Chromium (tests/_browser.py). It reports every kind of
failure as a structured event: uncaught exceptions, ``console.error/warn``, failed resources and
CSP/security errors (Chromium's log entries, delivered as console messages), failed requests, and
every request the page makes (a self-contained report makes none except itself and data: URIs). It
also asks the page whether every image decoded and captures a full-page screenshot. A control page
with deliberate errors proves the harness catches them. The test skips, saying why, only when no
Chromium binary is installed.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil

import numpy as np
import pytest

from blur4d.errors import InputError, OutputExistsError
from blur4d.report.html import render_report, write_report
from blur4d.types import Cameras, ConsistencyReport, FaceTracks, Intervals, PointCloud, Tracks, Video

from _browser import NO_CHROMIUM, chromium_path, launch, render_page  # noqa: E402 (tests/ is on sys.path)

# --------------------------------------------------------------------------------------------
# fixtures: small containers of every kind
# --------------------------------------------------------------------------------------------
W, H, T = 320, 180, 5


@pytest.fixture(scope="module")
def video():
    from blur4d.synthetic import motion_clip

    frames, _ = motion_clip("object", W, H, frames=T, margin=40)
    return Video(frames, Intervals.present(T))


@pytest.fixture(scope="module")
def consistency(video):
    pytest.importorskip("cv2")
    from blur4d.adapters.epipolar import EpipolarChecker

    return EpipolarChecker()(video)


@pytest.fixture(scope="module")
def others():
    rng = np.random.default_rng(0)
    n = 40
    xy = (rng.uniform([0, 0], [W, H], (n, 2))[None] + np.linspace(0, 6, T)[:, None, None]).astype(np.float32)
    tracks = Tracks(xy=xy, visible=np.ones((T, n), bool), query_frame=np.zeros(n, np.int32), query_xy=xy[0],
                    image_size=(W, H))
    K = np.tile(np.array([[277.0, 0, 159.5], [0, 277, 89.5], [0, 0, 1]]), (T, 1, 1))
    cfw = np.tile(np.eye(4), (T, 1, 1))
    cfw[:, 0, 3] = -np.linspace(0, 0.2, T)
    reg = np.ones(T, bool)
    reg[2] = False
    cfw[2] = np.nan  # an unregistered frame must not break the plot
    cams = Cameras(K=K, cam_from_world=cfw, image_size=(W, H), registered=reg, motion="translation")
    xyz = (rng.normal(size=(3000, 3)) * [1, 0.5, 0.3] + [0, 0, 5]).astype(np.float32)
    pts = PointCloud(xyz=xyz, rgb=rng.integers(0, 255, (3000, 3)).astype(np.uint8))
    faces = FaceTracks(ids=np.array([7], np.int32), present=np.array([[True]] * 3 + [[False]] * 2),
                       landmarks=np.zeros((T, 1, 478, 3), np.float32),
                       bbox=np.tile(np.array([10, 10, 110, 140], np.float32), (T, 1, 1)),
                       cam_from_head=np.tile(np.eye(4), (T, 1, 1, 1)))
    return {"tracks": tracks, "cameras": cams, "points": pts, "faces": faces,
            "timings": {"generate": 12.5, "track": 1.25, "check": 2.0}}


def _sections(text: str) -> list[str]:
    return re.findall(r'<section id="([a-z_]+)"', text)


def _images(text: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/(?:png|jpeg);base64,([A-Za-z0-9+/=]+)"', text)]


# --------------------------------------------------------------------------------------------
# structure (no browser)
# --------------------------------------------------------------------------------------------
def test_verdict_section_always_and_others_only_with_data(consistency, video, others):
    assert _sections(render_report()) == ["verdict"]
    assert "No 3D-consistency analysis" in render_report()
    only = render_report(consistency=consistency)
    assert _sections(only) == ["verdict", "figures", "pairs", "details"]
    full = render_report(consistency=consistency, video=video, overlay_frames=video.frames[:3], **others)
    assert _sections(full) == ["verdict", "clip", "figures", "pairs", "tracks", "cameras", "points", "faces",
                               "timings", "details"]
    assert _sections(render_report(cameras=others["cameras"])) == ["verdict", "cameras"]
    assert _sections(render_report(overlay_frames=list(video.frames[:2]))) == ["verdict", "tracks"]
    assert consistency.verdict in full and f"{consistency.confidence:.2f}" in full


def test_self_contained_and_images_decode(consistency, video, others):
    from PIL import Image
    import io

    text = render_report(consistency=consistency, video=video, **others)
    # nothing is fetched: every src/href is a data: URI or a fragment (SVG's xmlns is a name, not a fetch)
    refs = re.findall(r'(?:src|href)="([^"]*)"', text)
    assert refs and all(r.startswith(("data:", "#")) for r in refs), [r[:40] for r in refs if not r.startswith("data:")]
    assert "<script" not in text and "@import" not in text and "url(" not in text
    imgs = _images(text)
    assert len(imgs) == 1 + len(consistency.maps) + 2  # clip, maps, camera plot, point snapshot
    for raw in imgs:
        im = Image.open(io.BytesIO(raw))
        im.load()
        assert min(im.size) > 10


def test_text_is_escaped(video):
    rep = ConsistencyReport(verdict="homography", confidence=0.5, reason="<script>alert(1)</script> & co")
    text = render_report(consistency=rep, title="<b>t</b>")
    assert "<script>alert" not in text and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in text
    assert "&lt;b&gt;t&lt;/b&gt;" in text


def test_pair_table_shows_the_along_across_parallax_fields(consistency):
    """The pair table carries the check's own decision fields (noise, along share/z, excess, evidence,
    weight, vote) with each pair's values, and no longer the GRIC column the verdict does not use."""
    pair = {"i": 0, "j": 4, "label": "parallax", "matches": 321, "noise_sigma_px": 0.3172,
            "along_fraction": 0.8125, "along_z": 7.25, "parallax_excess_sigmas": 4.375,
            "parallax_evidence": 0.9123, "weight": 0.6543, "vote": 1.2345, "gric_delta_per_match": 9.876}
    text = render_report(consistency=ConsistencyReport(verdict="parallax", confidence=0.8, pairs=[pair]))
    table = text[text.index('<section id="pairs"'):]
    table = table[:table.index("</table>")]
    heads = re.findall(r"<th[^>]*>([^<]*)</th>", table)
    for h in ("σ noise (px)", "along share", "along z", "excess (σ)", "evidence", "weight", "vote"):
        assert h in heads, h
    assert "GRIC" not in table and "9.876" not in table
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", table)
    for v in ("0.317", "81%", "7.25", "4.375", "0.912", "0.654", "1.234"):
        assert any(v in c for c in cells), (v, cells)
    # and the checker's real per-pair records fill these columns
    assert all(k in consistency.pairs[0] for k in ("along_fraction", "along_z", "parallax_excess_sigmas",
                                                   "parallax_evidence", "vote"))


def test_write_report_is_atomic_and_refuses_to_overwrite(tmp_path, consistency):
    p = write_report(tmp_path / "r.html", consistency=consistency)
    assert p.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    with pytest.raises(OutputExistsError):
        write_report(tmp_path / "r.html", consistency=consistency)
    write_report(tmp_path / "r.html", overwrite=True)
    assert "No 3D-consistency analysis" in p.read_text(encoding="utf-8")
    assert [f.name for f in tmp_path.iterdir()] == ["r.html"]  # no temporary left behind
    with pytest.raises(InputError, match=".html"):
        write_report(tmp_path / "r.png")
    with pytest.raises(InputError, match="consistency"):
        write_report(tmp_path / "x.html", consistency={"verdict": "parallax"})
    with pytest.raises(InputError, match="overlay_frames"):
        write_report(tmp_path / "y.html", overlay_frames="frames.mp4")


def test_report_from_loaded_json(tmp_path, consistency, video):
    """``reconstruct --reuse`` renders a report from consistency.json: maps come back as PNGs
    (the mask as a grey image) and the summary through JSON."""
    back = ConsistencyReport.load(consistency.save(tmp_path / "consistency.json"))
    text = render_report(consistency=back, video=video)
    assert _sections(text)[:4] == ["verdict", "clip", "figures", "pairs"]
    assert len(_images(text)) == 1 + len(back.maps)


# --------------------------------------------------------------------------------------------
# a real browser (Playwright driving Debian's Chromium: tests/_browser.py)
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser():
    if chromium_path() is None:
        pytest.skip(NO_CHROMIUM)
    with launch() as b:
        yield b


def test_control_page_errors_are_caught(browser, tmp_path):
    """The harness must see what it is meant to catch, or its 'no errors' means nothing."""
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"></head><body>'
                   '<img src="missing.png" alt="missing"><script>console.error("boom");'
                   "throw new Error('bang');</script></body></html>", encoding="utf-8")
    got = render_page(browser, bad, tmp_path / "bad.png")
    assert any("boom" in json.dumps(c) for c in got["console"])
    assert any("bang" in x for x in got["exceptions"])
    assert any(u.endswith("missing.png") for u in got["foreign_requests"])
    assert any(f["url"].endswith("missing.png") for f in got["failed"])
    # Chromium's log entries (failed resources, CSP/security errors) arrive as console errors too
    assert any(c["type"] == "error" and c["url"].endswith("missing.png") for c in got["console"])
    assert got["broken"] == ["missing"]


def test_report_renders_in_headless_chromium(browser, tmp_path, consistency, video, others):
    page = write_report(tmp_path / "report.html", consistency=consistency, video=video,
                        overlay_frames=video.frames[:3], title="browser test", **others)
    shot = tmp_path / "report.png"
    got = render_page(browser, page, shot)
    assert got["console"] == [] and got["exceptions"] == [], got
    assert got["foreign_requests"] == [] and got["failed"] == [], got
    assert got["broken"] == [] and got["images"] == 1 + len(consistency.maps) + 2 + 1  # + overlay strip
    assert got["sections"] == ["verdict", "clip", "figures", "pairs", "tracks", "cameras", "points", "faces",
                               "timings", "details"]
    assert got["verdict"].strip() == consistency.verdict
    assert got["width"] <= 1280  # no horizontal overflow at a laptop width
    from PIL import Image

    img = np.asarray(Image.open(shot).convert("RGB"))
    assert img.shape[1] == 1280 and img.shape[0] > 2000
    assert img.std() > 20  # not a blank page
    keep = os.environ.get("BLUR4D_KEEP_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)
