"""Headless-browser harness for the tests: Playwright driving Debian's Chromium (``executable_path``;
Playwright never downloads a browser here).

A :class:`PageLog` records, per page, every kind of failure as a structured event: uncaught
exceptions (``pageerror``), console errors/warnings (``console``; Chromium also reports failed
resources and CSP/security errors there), every request the page makes (``request``), failed
requests (``requestfailed``) and WebSocket traffic (``websocket`` + its frames). Tests skip,
saying why, only when no Chromium binary is installed.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import io
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage", "--no-default-browser-check",
                 "--disable-extensions", "--mute-audio"]
NO_CHROMIUM = ("no Chromium binary on PATH (Debian package `chromium`, installed by scripts/setup.sh and .ci/run); "
               "the browser test cannot run")

# Console warnings that come from the browser or viser's own client and say nothing about our page:
# the software (SwiftShader) WebGL driver complaining about read-backs for screenshots, and three.js
# deprecations inside viser's bundled client.
BENIGN_WARNINGS = ("GL Driver Message", "THREE.Clock: This module has been deprecated")


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        exe = shutil.which(name)
        if exe:
            return exe
    return None


@contextlib.contextmanager
def launch() -> Iterator[Any]:
    """A headless Chromium (Playwright Browser); closes it on exit."""
    from playwright.sync_api import sync_playwright

    exe = chromium_path()
    assert exe is not None, NO_CHROMIUM
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class PageLog:
    console: list[dict] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    websockets: list[str] = field(default_factory=list)
    ws_frames_received: int = 0
    ws_bytes_received: int = 0
    http_bytes: int = 0

    def attach(self, page: Any) -> "PageLog":
        page.on("console", lambda m: self.console.append({"type": m.type, "text": m.text,
                                                          "url": (m.location or {}).get("url", "")}))
        page.on("pageerror", lambda e: self.exceptions.append(str(e)))
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("requestfailed", lambda r: self.failed.append({"url": r.url, "error": r.failure}))
        page.on("response", self._response)
        page.on("websocket", self._websocket)
        return self

    def _response(self, response: Any) -> None:
        try:
            self.http_bytes += len(response.body())
        except Exception:  # noqa: BLE001 - redirects and aborted loads have no body
            pass

    def _websocket(self, ws: Any) -> None:
        self.websockets.append(ws.url)

        def got(payload: Any) -> None:
            self.ws_frames_received += 1
            self.ws_bytes_received += len(payload)

        ws.on("framereceived", got)

    def errors(self) -> list[dict]:
        return [c for c in self.console if c["type"] in ("error", "assert")]

    def warnings(self, allow: tuple[str, ...] = BENIGN_WARNINGS) -> list[dict]:
        return [c for c in self.console if c["type"] == "warning" and not any(a in c["text"] for a in allow)]


def new_page(browser: Any, width: int = 1280, height: int = 900) -> tuple[Any, PageLog]:
    page = browser.new_page(viewport={"width": width, "height": height}, device_scale_factor=1)
    return page, PageLog().attach(page)


def render_page(browser: Any, page_path: Path, screenshot: Path, width: int = 1280) -> dict:
    """Load a local HTML file; return the problems it reported and page facts, and write a
    full-page PNG screenshot (at most 12000 px tall)."""
    page, log = new_page(browser, width)
    url = page_path.resolve().as_uri()
    page.goto(url, wait_until="load")
    info = page.evaluate("""() => ({
        images: document.images.length,
        broken: Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt),
        height: document.documentElement.scrollHeight,
        width: document.documentElement.scrollWidth,
        sections: Array.from(document.querySelectorAll('section')).map(x => x.id),
        verdict: (document.querySelector('#verdict .name') || {}).textContent || null})""")
    h = min(int(info["height"]), 12000)
    page.screenshot(path=str(screenshot), full_page=True, clip={"x": 0, "y": 0, "width": width, "height": h})
    page.evaluate("1")  # flush pending events
    page.close()
    foreign = [u for u in log.requests if u != url and not u.startswith("data:")]
    return {"console": [c for c in log.console if c["type"] in ("error", "assert", "warning")],
            "exceptions": log.exceptions, "foreign_requests": foreign, "failed": log.failed, **info}


def image_of(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


@contextlib.contextmanager
def static_server(root: Path) -> Iterator[str]:
    """Serve ``root`` over HTTP on a free loopback port (a plain static file server) -> base URL."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
