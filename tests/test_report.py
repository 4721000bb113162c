"""The HTML report (blur4d/report/html.py): structure, optional sections, self-containedness, and
a real render in headless Chromium.

Browser harness: Chromium's DevTools protocol over ``--remote-debugging-pipe`` (file descriptors
3 and 4, NUL-separated JSON), with nothing but the standard library. Chosen over
``--screenshot`` + ``--enable-logging=stderr`` because the protocol reports every kind of failure
as a structured event rather than as log text whose format changes between Chromium versions:
uncaught exceptions (``Runtime.exceptionThrown``), ``console.error/warn``
(``Runtime.consoleAPICalled``), failed resources and CSP/security errors (``Log.entryAdded``), and
every request the page makes (``Network.requestWillBeSent``: a self-contained report makes none
except itself and data: URIs). It also lets the test ask the page whether every image decoded and
capture a full-page screenshot. A control page with deliberate errors proves the harness catches
them. The test skips, saying why, only when no Chromium binary is installed.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import re
import select
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from blur4d.errors import InputError, OutputExistsError
from blur4d.report.html import render_report, write_report
from blur4d.types import Cameras, ConsistencyReport, FaceTracks, Intervals, PointCloud, Tracks, Video

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
# a real browser
# --------------------------------------------------------------------------------------------
def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        exe = shutil.which(name)
        if exe:
            return exe
    return None


class _Browser:
    """Headless Chromium driven over the DevTools pipe (fd 3 in, fd 4 out)."""

    def __init__(self, exe: str, user_dir: Path) -> None:
        to_r, to_w = os.pipe()
        from_r, from_w = os.pipe()

        def wire() -> None:  # in the child: put the pipe ends on fds 3 and 4
            a = fcntl.fcntl(to_r, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(from_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        args = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-extensions", "--disable-quic", "--mute-audio",
                f"--user-data-dir={user_dir}", "--remote-debugging-pipe", "about:blank"]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, close_fds=False, preexec_fn=wire)
        os.close(to_r)
        os.close(from_w)
        self.w, self.r = to_w, from_r
        self.buf = b""
        self.next_id = 0
        self.events: list[dict] = []

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from Chromium")
            ready, _, _ = select.select([self.r], [], [], left)
            if ready:
                chunk = os.read(self.r, 1 << 20)
                if not chunk:
                    raise RuntimeError("Chromium closed the DevTools pipe")
                self.buf += chunk
        msg, _, self.buf = self.buf.partition(b"\0")
        return json.loads(msg)

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 60):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            m = self._read_message(deadline)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def wait_event(self, method: str, timeout: float = 60) -> dict:
        for e in self.events:
            if e.get("method") == method:
                return e
        deadline = time.monotonic() + timeout
        while True:
            m = self._read_message(deadline)
            self.events.append(m)
            if m.get("method") == method:
                return m

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=10)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.w)
        os.close(self.r)


def render_in_chromium(page: Path, screenshot: Path, user_dir: Path, width: int = 1280) -> dict:
    """Load ``page`` in headless Chromium; return the problems it reported and page facts, and
    write a full-page PNG screenshot."""
    exe = _chromium()
    assert exe is not None
    b = _Browser(exe, user_dir)
    try:
        target = b.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        s = b.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Network", "Page"):
            b.send(f"{domain}.enable", session=s)
        b.send("Emulation.setDeviceMetricsOverride",
               {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False}, session=s)
        url = page.resolve().as_uri()
        b.send("Page.navigate", {"url": url}, session=s)
        b.wait_event("Page.loadEventFired")
        facts = b.send("Runtime.evaluate", {"returnByValue": True, "expression": """JSON.stringify({
            images: document.images.length,
            broken: Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt),
            height: document.documentElement.scrollHeight,
            width: document.documentElement.scrollWidth,
            sections: Array.from(document.querySelectorAll('section')).map(x => x.id),
            verdict: (document.querySelector('#verdict .name') || {}).textContent || null})"""}, session=s)
        info = json.loads(facts["result"]["value"])
        h = min(int(info["height"]), 12000)
        shot = b.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                 "clip": {"x": 0, "y": 0, "width": width, "height": h, "scale": 1}},
                      session=s)
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        time.sleep(0.2)
        b.send("Runtime.evaluate", {"expression": "1"}, session=s)  # flush pending events
    finally:
        b.close()
    console = [e["params"] for e in b.events if e.get("method") == "Runtime.consoleAPICalled"
               and e["params"].get("type") in ("error", "assert", "warning")]
    exceptions = [e["params"]["exceptionDetails"] for e in b.events if e.get("method") == "Runtime.exceptionThrown"]
    log_errors = [e["params"]["entry"] for e in b.events if e.get("method") == "Log.entryAdded"
                  and e["params"]["entry"].get("level") in ("error", "warning")]
    requests = [e["params"]["request"]["url"] for e in b.events if e.get("method") == "Network.requestWillBeSent"]
    failed = [e["params"] for e in b.events if e.get("method") == "Network.loadingFailed"]
    foreign = [u for u in requests if u != url and not u.startswith("data:")]
    return {"console": console, "exceptions": exceptions, "log_errors": log_errors, "foreign_requests": foreign,
            "failed": failed, **info}


@pytest.fixture(scope="module")
def chromium():
    exe = _chromium()
    if exe is None:
        pytest.skip("no Chromium binary on PATH (Debian package `chromium`, installed by scripts/setup.sh and "
                    ".ci/run); the browser test cannot run")
    return exe


def test_control_page_errors_are_caught(chromium, tmp_path):
    """The harness must see what it is meant to catch, or its 'no errors' means nothing."""
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"></head><body>'
                   '<img src="missing.png" alt="missing"><script>console.error("boom");'
                   "throw new Error('bang');</script></body></html>", encoding="utf-8")
    got = render_in_chromium(bad, tmp_path / "bad.png", tmp_path / "profile")
    assert any("boom" in json.dumps(c) for c in got["console"])
    assert any("bang" in json.dumps(x) for x in got["exceptions"])
    assert any(u.endswith("missing.png") for u in got["foreign_requests"])
    assert got["broken"] == ["missing"]


def test_report_renders_in_headless_chromium(chromium, tmp_path, consistency, video, others):
    page = write_report(tmp_path / "report.html", consistency=consistency, video=video,
                        overlay_frames=video.frames[:3], title="browser test", **others)
    shot = tmp_path / "report.png"
    got = render_in_chromium(page, shot, tmp_path / "profile")
    assert got["console"] == [] and got["exceptions"] == [] and got["log_errors"] == [], got
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
