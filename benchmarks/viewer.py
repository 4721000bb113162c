"""The 4D viewer (``blur4d view``) in headless Chromium: start-up time, bytes sent, playback rate.

    python benchmarks/viewer.py SCENE.ply                       # a scene written by reconstruct
    python benchmarks/viewer.py SCENE.ply --budget 1000000 --budget 250000
    python benchmarks/viewer.py --synthetic                     # 720p, 16 frames, ~250 k static + moving points

Per point budget, one run of the real command (``python -m blur4d view SCENE --port 0``, a fresh
process) and one Chromium page (Playwright, Debian's Chromium, SwiftShader WebGL: software
rendering on the CPU; a GPU browser is faster). Measured from the moment the command starts:

* ``url``        the command printed the URL (scene read, layers built, server listening);
* ``ws``         the page's WebSocket opened (the browser is started beforehand, as a user's is);
* ``drawn``      the first canvas screenshot that is not blank (std > 20) -- polled every ~0.2 s,
                 so it is late by up to one poll plus one screenshot;
* bytes          WebSocket bytes received by the page until ``drawn`` + 3 s, and HTTP bytes (the client page);
* playback       with "play" ticked in the page's GUI: time steps shown per second (the frame slider's
                 value, sampled every 25 ms in the page) against the target (clip fps x speed), and
                 WebGL frames rendered per second (animation frames in which the page issued a draw
                 call; viser renders on demand, so this counts real renders).

The trivial baseline printed beside it: the same page with an empty-ish scene is not meaningful for
viser, so the table shows the target rate and, for bytes, the raw size of the points (15 B/point:
float32 xyz + uint8 rgb) that a naive sender would ship.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

_COUNT_RENDERS = """
(() => {
  window.__renders = 0; let drew = false;
  for (const C of [window.WebGL2RenderingContext, window.WebGLRenderingContext]) {
    if (!C) continue;
    for (const name of ['drawArrays', 'drawElements', 'drawArraysInstanced', 'drawElementsInstanced']) {
      const orig = C.prototype[name];
      if (!orig) continue;
      C.prototype[name] = function (...a) { drew = true; return orig.apply(this, a); };
    }
  }
  const tick = () => { if (drew) { window.__renders++; drew = false; } requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
})();
"""

_SAMPLE_SLIDER = """async (ms) => {
  const el = document.querySelector('[role="slider"]');
  let last = el.getAttribute('aria-valuenow'), changes = 0;
  const r0 = window.__renders, t0 = performance.now();
  while (performance.now() - t0 < ms) {
    await new Promise(r => setTimeout(r, 25));
    const v = el.getAttribute('aria-valuenow');
    if (v !== last) { changes++; last = v; }
  }
  const s = (performance.now() - t0) / 1000;
  return {steps: changes / s, renders: (window.__renders - r0) / s};
}"""


def synthetic_scene(out: Path, width: int = 1280, height: int = 720, frames: int = 16, static: int = 250_000,
                    moving: int = 15_000, seed: int = 0) -> Path:
    """A scene with the issue's sizes: the bundled example's frames at 720p seen by a sideways camera,
    ``static`` points on its three planes and ``moving`` points per frame on a panel that slides."""
    from blur4d.synthetic import CameraPath, Scene as Synth, example_scene
    from blur4d.types import Cameras, Intervals, PointCloud, Scene, Video

    rng = np.random.default_rng(seed)
    base = example_scene(width, height)
    synth = Synth(base.layers, base.K, base.size, CameraPath.linear(velocity=(0.3, 0.0, 0.0)))
    s = np.linspace(-0.5, 0.5, frames)
    iv = Intervals(np.stack([s, s], 1))
    video = Video(synth.video(iv, samples_per_unit=8), iv, fps=16.0)
    cfw = synth.cam_from_world(s)
    K = np.tile(base.K, (frames, 1, 1))
    cams = Cameras(K=K, cam_from_world=cfw, image_size=(width, height), registered=np.ones(frames, bool),
                   motion="translation")

    def plane(n: int, z: float, frame: np.ndarray, cfw_t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        uv = rng.uniform([0, 0], [width - 1, height - 1], (n, 2))
        ray = np.linalg.inv(base.K) @ np.c_[uv, np.ones(n)].T
        pc = (ray * z).T
        wfc = np.linalg.inv(cfw_t)
        xyz = pc @ wfc[:3, :3].T + wfc[:3, 3]
        rgb = frame[np.round(uv[:, 1]).astype(int), np.round(uv[:, 0]).astype(int)]
        return xyz.astype(np.float32), rgb.astype(np.uint8)

    xyz, rgb = plane(static, 8.0, video.frames[0], cfw[0])
    pts = PointCloud(xyz=xyz, rgb=rgb, confidence=rng.uniform(0.3, 1.0, static).astype(np.float32),
                     dynamic=np.zeros(static, bool), frame=np.full(static, -1, np.int32))
    dyn = []
    for t in range(frames):
        xyz, rgb = plane(moving, 2.5 + 0.1 * t, video.frames[t], cfw[t])
        dyn.append(PointCloud(xyz=xyz, rgb=rgb, confidence=np.ones(moving, np.float32), dynamic=np.ones(moving, bool),
                              frame=np.full(moving, t, np.int32)))
    scene = Scene(video=video, cameras=cams, points=pts, dynamic_points=tuple(dyn),
                  depth=None)
    scene.save(out, overwrite=True)
    return out


def measure(scene: Path, budget: int, browser: Any, play_seconds: float = 5.0) -> dict[str, Any]:
    from _browser import new_page

    import blur4d

    sc = blur4d.load(scene)
    n_points = (len(sc.points) if sc.points is not None else 0) + sum(len(p) for p in sc.dynamic_points)
    fps = float(sc.video.fps) if sc.video is not None else 10.0
    page, log = new_page(browser, 1280, 800)
    page.add_init_script(_COUNT_RENDERS)
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "blur4d", "view", str(scene), "--port", "0",
                             "--max-points", str(budget)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = None
        while url is None:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"blur4d view ended: {proc.stderr.read()}")
            m = re.search(r"blur4d viewer: (\S+)", line)
            url = m.group(1) if m else None
        t_url = time.perf_counter() - t0
        ws_open: list[float] = []
        page.on("websocket", lambda ws: ws_open.append(time.perf_counter() - t0))
        page.goto(url, wait_until="load")
        from _browser import image_of

        t_drawn = None
        while time.perf_counter() - t0 < 300:
            img = image_of(page.locator("canvas").first.screenshot())
            if img.astype(np.float32).std() > 20:
                t_drawn = time.perf_counter() - t0
                break
            time.sleep(0.2)
        time.sleep(3.0)
        ws_bytes, http_bytes = log.ws_bytes_received, log.http_bytes
        shown = re.search(r"([\d,]+) points shown", page.content())
        rows = []
        page.get_by_role("checkbox", name="play").click()  # "play"
        time.sleep(1.0)
        rows.append(("1x", fps, page.evaluate(_SAMPLE_SLIDER, int(play_seconds * 1000))))
        speed = page.locator('[role="slider"]').nth(1)  # "speed"
        speed.focus()
        page.keyboard.press("End")  # 4x
        time.sleep(1.0)
        rows.append(("4x", 4 * fps, page.evaluate(_SAMPLE_SLIDER, int(play_seconds * 1000))))
        page.get_by_role("checkbox", name="play").click()  # pause
        time.sleep(0.5)
        idle = page.evaluate(_SAMPLE_SLIDER, 2000)
        errors = log.errors() + [{"text": e} for e in log.exceptions]
    finally:
        page.close()
        proc.terminate()
        proc.wait(timeout=20)
    return {"budget": budget, "points": n_points, "shown": int(shown.group(1).replace(",", "")) if shown else -1,
            "t_url": t_url, "t_ws": ws_open[0] if ws_open else float("nan"),
            "t_drawn": t_drawn if t_drawn is not None else float("nan"), "ws_bytes": ws_bytes,
            "http_bytes": http_bytes, "play": rows, "idle_renders": idle["renders"], "errors": errors}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("scene", nargs="?", help="scene.ply or scene/ (default: --synthetic)")
    ap.add_argument("--synthetic", action="store_true", help="build the 720p 16-frame test scene first")
    ap.add_argument("--budget", type=int, action="append", help="point budget(s) (default 1000000)")
    ap.add_argument("--play-seconds", type=float, default=5.0)
    args = ap.parse_args(argv)
    from _browser import chromium_path, launch

    if chromium_path() is None:
        print("no Chromium on PATH; install the Debian package `chromium`")
        return 1
    tmp = None
    scene = Path(args.scene) if args.scene else None
    if scene is None or args.synthetic:
        tmp = tempfile.TemporaryDirectory(prefix="blur4d-viewer-bench-")
        t = time.perf_counter()
        scene = synthetic_scene(Path(tmp.name) / "synthetic.ply")
        print(f"synthetic scene written in {time.perf_counter() - t:.1f} s: {scene}")
    budgets = args.budget or [1_000_000]
    results = []
    with launch() as browser:
        for b in budgets:
            results.append(measure(scene, b, browser, args.play_seconds))
    print(f"\nscene: {scene}  (headless Chromium, SwiftShader software WebGL, 1280x800 page)")
    print(f"{'budget':>9} {'points':>9} {'shown':>9} {'url s':>6} {'ws s':>6} {'drawn s':>8} {'WS MB':>7} "
          f"{'naive MB':>8} {'HTTP MB':>7} | {'speed':>5} {'target/s':>8} {'steps/s':>7} {'renders/s':>9}")
    for r in results:
        for i, (speed, target, got) in enumerate(r["play"]):
            head = (f"{r['budget']:>9,} {r['points']:>9,} {r['shown']:>9,} {r['t_url']:>6.2f} {r['t_ws']:>6.2f} "
                    f"{r['t_drawn']:>8.2f} {r['ws_bytes'] / 1e6:>7.2f} {r['shown'] * 15 / 1e6:>8.2f} "
                    f"{r['http_bytes'] / 1e6:>7.2f}") if i == 0 else " " * 80
            print(f"{head} | {speed:>5} {target:>8.1f} {got['steps']:>7.1f} {got['renders']:>9.1f}")
        print(f"{'':>80} | {'pause':>5} {0:>8.1f} {'':>7} {r['idle_renders']:>9.1f}")
        if r["errors"]:
            print(f"  console errors: {r['errors'][:3]}")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
