"""``blur4d view``: the layers a scene becomes (exact geometry), the point budget, one-line errors
for broken scene folders, the CLI server, the static export, the notebook view in a real kernel,
and the viewer in headless Chromium through Playwright (tests/_browser.py): no console errors, the
WebSocket connects, the 3D canvas is not blank, the time slider changes the rendered points, and
the exported static viewer loads from a plain HTTP server.

Scene: the bundled example with its near panel moving on its own, seen by a sideways camera,
through the real ``reconstruct`` (so static points, per-frame moving points, depth, tracks and
cameras come from the pipeline), plus synthetic head poses saved with ``Scene.save()``.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pycolmap")

from blur4d import geometry as geo  # noqa: E402
from blur4d.errors import InputError, OutputExistsError  # noqa: E402
from blur4d.types import FaceTracks, Intervals, Video  # noqa: E402

from _browser import NO_CHROMIUM, chromium_path, image_of, launch, new_page, static_server  # noqa: E402

W, H, T = 320, 240, 8


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    from blur4d import pipeline
    from blur4d.synthetic import CameraPath, Scene, example_scene

    base = example_scene(W, H, object_motion=(60.0, 0.0))
    sc = Scene(base.layers, base.K, base.size, CameraPath.linear(velocity=(0.3, 0.0, 0.0)))
    s = np.linspace(-0.5, 0.5, T)
    iv = Intervals(np.stack([s, s], 1))
    out = tmp_path_factory.mktemp("view") / "scene.ply"
    scene = pipeline.reconstruct(Video(sc.video(iv), iv, fps=8.0), out=out, skip=("faces",), seed=0)
    assert scene.cameras.ok and sum(len(p) for p in scene.dynamic_points) > 0
    return out


def _faces(scene) -> FaceTracks:
    """One head per frame, 60 cm in front of the camera, its box around the image centre."""
    Tn = scene.cameras.num_frames
    pose = np.tile(np.eye(4), (Tn, 1, 1, 1))
    pose[:, 0, :3, 3] = [0.0, 0.0, 60.0]
    bbox = np.tile(np.array([W / 2 - 20, H / 2 - 25, W / 2 + 20, H / 2 + 25], np.float32), (Tn, 1, 1))
    return FaceTracks(ids=np.array([3], np.int32), present=np.ones((Tn, 1), bool),
                      landmarks=np.zeros((Tn, 1, 478, 3), np.float32), bbox=bbox, cam_from_head=pose,
                      image_size=(W, H))


@pytest.fixture(scope="module")
def saved(written, tmp_path_factory):
    """The same scene with head poses, written by ``Scene.save()``."""
    import blur4d

    scene = dataclasses.replace(blur4d.load(written), faces=None)
    scene = dataclasses.replace(scene, faces=_faces(scene))
    return Path(scene.save(tmp_path_factory.mktemp("saved") / "withfaces.ply")).with_suffix(".ply")


# --------------------------------------------------------------------------------------------
# layers (no viser, no browser)
# --------------------------------------------------------------------------------------------
def test_layers_of_a_reconstructed_scene(written):
    import blur4d
    from blur4d.viewer import build_layers

    scene = blur4d.load(written)
    L = build_layers(scene)
    assert L.num_frames == T and len(L.moving) == T
    assert len(L.static) == len(scene.points) and [len(c) for c in L.moving] == [len(p) for p in scene.dynamic_points]
    assert L.moving[0].moving.all() and not L.static.moving.all()
    assert len(L.cameras) == int(scene.cameras.registered.sum()) and L.trajectory.shape == (len(L.cameras), 3)
    np.testing.assert_allclose(L.trajectory, scene.cameras.centers[scene.cameras.registered], atol=1e-9)
    assert L.cameras[0].image.shape[:2] == (192, 256)  # thumbnails, long side 256
    # the 3D tracks reproject onto the 2D tracks they were lifted from
    assert L.tracks is not None
    from blur4d.viewer._layers import lift_tracks

    X, keep = lift_tracks(scene.tracks, scene.depth, scene.cameras)
    assert np.isfinite(X).all(axis=2).mean() > 0.5
    for t in (0, T - 1):
        ok = np.isfinite(X[t]).all(axis=1)
        uv, _ = geo.project(scene.cameras.K[t], scene.cameras.cam_from_world[t], X[t, ok].astype(np.float64))
        err = np.linalg.norm(uv - scene.tracks.xy[t, keep[ok]], axis=1)
        assert np.median(err) < 0.6 and err.max() < 1.0  # the depth pixel is the rounded track position
    assert L.heads == [] and L.counts["points_shown"] == L.counts["points_in_scene"]


def test_heads_are_placed_along_their_ray_at_the_depth(saved):
    import blur4d
    from blur4d.viewer import build_layers

    scene = blur4d.load(saved)
    L = build_layers(scene)
    assert len(L.heads) == T and all(h.from_depth and h.face_id == 3 for h in L.heads)
    for h in L.heads:
        cfw = scene.cameras.cam_from_world[h.frame]
        p_cam = cfw[:3, :3] @ h.world_from_head[:3, 3] + cfw[:3, 3]
        uv = scene.cameras.K[h.frame] @ p_cam
        np.testing.assert_allclose(uv[:2] / uv[2], scene.cameras.K[h.frame][:2, 2], atol=1e-6)
        box = scene.depth[h.frame, H // 2 - 25:H // 2 + 25, W // 2 - 20:W // 2 + 20]
        assert p_cam[2] == pytest.approx(np.nanmedian(box), rel=0.05)
        assert h.axis_length == pytest.approx(p_cam[2] * 10 / 60, rel=1e-6)  # 10 cm at 60 cm, scaled


def test_point_budget_and_colour_modes(written):
    import blur4d
    from blur4d.viewer import build_layers

    scene = blur4d.load(written)
    total = len(scene.points) + sum(len(p) for p in scene.dynamic_points)
    L = build_layers(scene, point_budget=20_000)
    assert L.counts == {"points_in_scene": total, "points_shown": L.total_points, "point_budget": 20_000}
    assert 20_000 - (T + 1) <= L.total_points <= 20_000
    frac = len(L.static) / len(scene.points)
    assert all(abs(len(c) / len(p) - frac) < 0.01 for c, p in zip(L.moving, scene.dynamic_points))
    assert any("20,000" in n for n in L.notes)
    again = build_layers(scene, point_budget=20_000)
    np.testing.assert_array_equal(again.static.xyz, L.static.xyz)  # seeded: reproducible
    # every kept point is a point of the scene
    rows = {tuple(r) for r in scene.points.xyz.tolist()}
    assert all(tuple(r) in rows for r in L.static.xyz[:500].tolist())
    moving = L.moving[0].colours("moving")
    assert (moving == [255, 110, 0]).all()
    static = L.static.colours("moving")
    assert ((static == [150, 150, 150]).all(axis=1) | (static == [255, 110, 0]).all(axis=1)).all()
    conf = L.static.colours("confidence")
    assert conf.shape == L.static.rgb.shape and len(np.unique(conf, axis=0)) > 10
    np.testing.assert_array_equal(L.static.colours("rgb"), L.static.rgb)
    with pytest.raises(InputError, match="colour mode"):
        L.static.colours("depth")
    with pytest.raises(InputError, match="point budget"):
        build_layers(scene, point_budget=0)


def test_server_state_playback_and_controls(saved):
    pytest.importorskip("viser")
    from blur4d import viewer

    v = viewer.serve(saved, port=0, point_budget=50_000)
    try:
        L = v.layers
        assert L.total_points <= 50_000 and v.url == f"http://127.0.0.1:{v.port}/"
        moving = v._per_frame["moving points"]
        assert all(len(m) == 1 for m in moving) and moving[0][0].visible and not moving[3][0].visible
        v.set_frame(3)
        assert v.frame == 3 and moving[3][0].visible and not moving[0][0].visible
        assert v.gui["frame"].value == 3 and v._per_frame["heads"][3][0].visible
        v.set_layer("moving points", False)
        assert not moving[3][0].visible
        v.set_frame(4)
        assert not moving[4][0].visible and not moving[3][0].visible
        v.set_layer("moving points", True)
        assert moving[4][0].visible
        v.set_colour_mode("moving")
        assert (moving[4][0].colors == [255, 110, 0]).all()
        v.set_point_scale(2.0)
        assert moving[4][0].point_size == pytest.approx(2 * v.base_point_size)
        # playback advances at the clip's fps x speed (8 fps here)
        calls = []
        orig = v.set_frame
        v.set_frame = lambda t: (calls.append(time.monotonic()), orig(t))  # type: ignore[method-assign]
        for speed, expect in ((1.0, 8.0), (2.0, 16.0)):
            calls.clear()
            v.speed = speed
            v.play(True)
            time.sleep(1.5)
            v.play(False)
            rate = (len(calls) - 1) / (calls[-1] - calls[0])
            assert rate == pytest.approx(expect, rel=0.25), (speed, rate)
    finally:
        v.stop()
    assert not v._thread.is_alive()


# --------------------------------------------------------------------------------------------
# the CLI: errors, missing viser, a running server, the export
# --------------------------------------------------------------------------------------------
def _copy(written, tmp_path, name="s"):
    folder = tmp_path / name
    shutil.copytree(written.with_suffix(""), folder)
    shutil.copy(written, tmp_path / f"{name}.ply")
    return folder


def _cli(args, capsys):
    from blur4d.cli.main import main

    rc = main(args)
    err = capsys.readouterr().err
    return rc, err


@pytest.mark.parametrize("damage, expect", [
    ("nothing", "no such file or folder"),
    ("no-folder", "its folder"),
    ("missing-frame-points", "frame_003.ply"),
    ("no-depth-npz", "depth.npz"),
    ("corrupt-cameras", "cameras.json|unreadable"),
    ("empty-folder", "nothing 3D to view"),
    ("faces-without-arrays", "faces.npz"),
])
def test_bad_scene_folders_are_one_line_errors(written, tmp_path, capsys, damage, expect):
    folder = _copy(written, tmp_path)
    target = folder
    if damage == "nothing":
        target = tmp_path / "missing.ply"
    elif damage == "no-folder":
        shutil.rmtree(folder)
        target = tmp_path / "s.ply"
    elif damage == "missing-frame-points":
        (folder / "points" / "frame_003.ply").unlink()
    elif damage == "no-depth-npz":
        (folder / "depth" / "depth.npz").unlink()
    elif damage == "corrupt-cameras":
        (folder / "cameras.json").write_text('{"K": [1, 2', encoding="utf-8")
    elif damage == "empty-folder":
        for p in list(folder.iterdir()):
            shutil.rmtree(p) if p.is_dir() else p.unlink()
        (tmp_path / "s.ply").unlink()
    elif damage == "faces-without-arrays":
        (folder / "faces.json").write_text("{}", encoding="utf-8")
    rc, err = _cli(["view", str(target), "--port", "0"], capsys)
    assert rc == 1 and err.count("\n") == 1 and err.startswith("blur4d: error: scene "), err
    assert re.search(expect, err), err
    assert "Traceback" not in err


def test_without_viser_the_verb_says_how_to_install_it(written, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "viser", None)  # import viser -> ImportError
    rc, err = _cli(["view", str(written)], capsys)
    assert rc == 1 and 'pip install "blur4d[view]"' in err and err.count("\n") == 1, err
    rc, err = _cli(["view", str(written), "--export", "x"], capsys)
    assert rc == 1 and 'pip install "blur4d[view]"' in err


def test_cli_serves_until_interrupted(written):
    pytest.importorskip("viser")
    proc = subprocess.Popen([sys.executable, "-m", "blur4d", "view", str(written), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        m = re.search(r"blur4d viewer: (http://127\.0\.0\.1:\d+/)", line)
        assert m, line + proc.stderr.read() if proc.poll() is not None else line
        page = urllib.request.urlopen(m.group(1), timeout=10).read().decode("utf-8", "replace")
        assert "<html" in page.lower()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "Traceback" not in proc.stderr.read()


def test_export_writes_a_static_viewer_and_links_the_report(saved, tmp_path, capsys):
    pytest.importorskip("viser")
    folder = _copy(saved, tmp_path, "withfaces")
    out = folder / "viewer"
    rc, err = _cli(["view", str(folder), "--export", str(out)], capsys)
    assert rc == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["index.html", "scene.viser"]
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "playbackPath" in html and "scene.viser" in html
    assert (out / "scene.viser").stat().st_size > 100_000
    report = (folder / "report.html").read_text(encoding="utf-8")
    assert report.count('href="viewer/index.html"') == 1
    rc, err = _cli(["view", str(folder), "--export", str(out)], capsys)
    assert rc == 1 and "already exists" in err
    rc, err = _cli(["--overwrite", "view", str(folder), "--export", str(out)], capsys)
    assert rc == 0 and (folder / "report.html").read_text(encoding="utf-8").count("viewer/index.html") == 1
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # nothing temporary left behind
    from blur4d.viewer import export

    with pytest.raises(OutputExistsError):
        export(folder, out)


# --------------------------------------------------------------------------------------------
# the notebook view: a real kernel; stopping it stops the server
# --------------------------------------------------------------------------------------------
def _port_open(port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_scene_view_in_a_kernel_shows_an_iframe_and_dies_with_it(written):
    pytest.importorskip("viser")
    jc = pytest.importorskip("jupyter_client")
    km, kc = jc.manager.start_new_kernel(kernel_name="python3")
    try:
        code = (f"import blur4d\nv = blur4d.load({str(written)!r}).view(height=500)\nprint('PORT', v.port)")
        outputs = []
        reply = kc.execute_interactive(code, timeout=120, output_hook=outputs.append)
        assert reply["content"]["status"] == "ok", reply["content"]
        text = "".join(o["content"].get("text", "") for o in outputs if o["msg_type"] == "stream")
        port = int(re.search(r"PORT (\d+)", text).group(1))
        shown = [o["content"]["data"] for o in outputs if o["msg_type"] == "display_data"]
        assert any(f"127.0.0.1:{port}" in d.get("text/html", "") and "<iframe" in d.get("text/html", "")
                   for d in shown), shown
        assert _port_open(port)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)
    deadline = time.monotonic() + 10
    while _port_open(port) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _port_open(port)


def test_scene_view_outside_a_notebook_prints_the_url(written, capsys):
    pytest.importorskip("viser")
    import blur4d

    v = blur4d.load(written).view()
    try:
        assert capsys.readouterr().out.strip() == f"blur4d viewer: {v.url}"
        assert urllib.request.urlopen(v.url, timeout=10).status == 200
    finally:
        v.stop()
    assert not _port_open(v.port)


# --------------------------------------------------------------------------------------------
# headless Chromium (Playwright)
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser():
    pytest.importorskip("viser")
    if chromium_path() is None:
        pytest.skip(NO_CHROMIUM)
    with launch() as b:
        yield b


def _canvas(page) -> np.ndarray:
    return image_of(page.locator("canvas").first.screenshot()).astype(np.float32)


def _wait_drawn(page, min_std: float = 20.0, timeout: float = 60.0, stable: bool = True) -> np.ndarray:
    """Poll the 3D canvas until it holds a picture (not one flat colour) that stopped changing
    (``stable``; a playing recording never stops)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        img = _canvas(page)
        if img.std() > min_std and (not stable or (last is not None and np.abs(img - last).mean() < 0.5)):
            return img
        last = img if img.std() > min_std else None
        time.sleep(0.5)
    raise AssertionError(f"the 3D canvas was still blank or changing after {timeout:.0f} s")


def _close_notifications(page) -> None:
    for b in page.locator(".mantine-Notification-root button").all():
        b.click()


def test_live_viewer_in_headless_chromium(browser, saved):
    from blur4d import viewer

    v = viewer.serve(saved, port=0)
    page, log = new_page(browser, 1280, 800)
    try:
        page.goto(v.url + "?fixedDpr=1", wait_until="load")  # no adaptive resolution: comparable screenshots
        first = _wait_drawn(page)
        # the WebSocket connected and carried the scene
        assert log.websockets == [f"ws://127.0.0.1:{v.port}/"], log.websockets
        assert log.ws_bytes_received > 200_000 and len(v.server.get_clients()) == 1
        assert first.std() > 20
        # leave only the points: then the picture can change with the frame only through them
        for layer in ("cameras", "trajectory", "tracks", "heads"):
            v.set_layer(layer, False)
        before = _wait_drawn(page)
        # drag the time slider to its end through the browser (keyboard on the slider thumb)
        thumb = page.locator('[role="slider"]').first
        assert thumb.get_attribute("aria-valuemax") == str(T - 1)
        thumb.focus()
        page.keyboard.press("End")
        deadline = time.monotonic() + 20
        while v.frame != T - 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert v.frame == T - 1
        after = _wait_drawn(page)
        changed = np.abs(after - before).max(axis=2) > 30
        assert changed.mean() > 0.002, changed.mean()  # the moving panel's points moved
        # and back: frame 0 draws what it drew before
        v.set_frame(0)
        back = _wait_drawn(page)
        assert (np.abs(back - before).max(axis=2) > 30).mean() < changed.mean() / 5
        assert log.errors() == [] and log.exceptions == [], (log.errors(), log.exceptions)
        assert log.warnings() == [], log.warnings()
        assert log.failed == [] and all(u.startswith(v.url.rstrip("/")) or u.startswith(("ws://127.0.0.1", "data:",
                                                                                         "blob:"))
                                        for u in log.requests), log.requests
        keep = os.environ.get("BLUR4D_VIEWER_SCREENSHOT")
        if keep:  # the README's screenshot: every layer on, the last frame
            for layer in ("cameras", "trajectory", "tracks", "heads"):
                v.set_layer(layer, True)
            v.set_frame(T - 1)
            _close_notifications(page)
            _wait_drawn(page)
            from PIL import Image

            shot = Image.fromarray(image_of(page.screenshot()))  # 256 colours keep the README's PNG small
            shot.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(keep, optimize=True)
    finally:
        page.close()
        v.stop()


def test_exported_viewer_loads_from_a_static_http_server(browser, saved, tmp_path):
    from blur4d.viewer import export

    out = export(saved, tmp_path / "site")
    with static_server(out) as base:
        page, log = new_page(browser, 1000, 700)
        try:
            page.goto(base, wait_until="load")
            img = _wait_drawn(page, stable=False)
            assert img.std() > 20
            assert page.url.endswith("?playbackPath=scene.viser")
            # the recording plays: viser's playback bar (a slider over the clip's duration) advances
            bar = page.locator('[role="slider"]').first
            assert float(bar.get_attribute("aria-valuemax")) == pytest.approx(T / 8.0)  # T steps at 8 fps
            seen = {bar.get_attribute("aria-valuenow") for _ in range(8) if page.wait_for_timeout(300) is None}
            assert len(seen) > 1, seen
            assert any(u == base + "scene.viser" for u in log.requests), log.requests
            assert all(u.startswith(base) or u.startswith(("data:", "blob:")) for u in log.requests), log.requests
            assert log.websockets == []  # a recording: no server behind it
            assert log.errors() == [] and log.exceptions == [] and log.failed == [], (log.errors(), log.failed)
            assert log.warnings() == [], log.warnings()
        finally:
            page.close()
