"""The live viewer: a viser server with the scene's layers and a small GUI.

Layers (scene-tree names): ``/static`` points, ``/moving/fNNN`` moving points of frame NNN,
``/cameras/fNNN`` frustums with the frame's image, ``/trajectory``, ``/tracks/lines`` (whole 3D
tracks) and ``/tracks/fNNN`` (their positions at frame NNN), ``/heads/fNNN/idK`` head axes.
Every per-frame node exists from the start and the time slider only switches visibility, so
playback sends a few small messages per frame, never the points again.
"""

from __future__ import annotations

import contextlib
import io
import threading
import time
from typing import Any, Iterator

import numpy as np

from ..registry import require
from ._layers import COLOUR_MODES, Layers

_CURRENT = (255, 40, 40)
_OTHER = (90, 90, 110)
_LAYER_NAMES = ("static points", "moving points", "cameras", "trajectory", "tracks", "heads")


def _viser() -> Any:
    return require("viser", extra="view", feature="blur4d view (the 4D viewer)")


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def _wxyz(R: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    x, y, z, w = Rotation.from_matrix(np.asarray(R, np.float64)).as_quat()
    return np.array([w, x, y, z])


def _segments(polyline: np.ndarray) -> np.ndarray:
    """(K, 3) points -> (K-1, 2, 3) consecutive segments."""
    return np.stack([polyline[:-1], polyline[1:]], axis=1)


class SceneViewer:
    """A running viewer. ``url`` is where to open it; ``stop()`` ends it (also at interpreter exit)."""

    def __init__(self, layers: Layers, *, host: str = "127.0.0.1", port: int = 8080, title: str = "blur4d",
                 gui: bool = True) -> None:
        viser = _viser()
        self.layers = layers
        self.host = host
        with _quiet():  # viser prints a banner with the URLs; the caller prints the one URL that matters
            self.server = viser.ViserServer(host=host, port=port, label=title, verbose=False)
        self.frame = 0
        self.playing = False
        self.speed = 1.0
        self.colour_mode = "rgb"
        self.point_scale = 1.0
        self.show = {name: True for name in _LAYER_NAMES}
        self._visible: dict[str, bool] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._nodes: dict[str, Any] = {}
        self._per_frame: dict[str, list[list[Any]]] = {k: [[] for _ in range(layers.num_frames)]
                                                      for k in ("moving points", "tracks", "heads")}
        with self.server.atomic():
            self._build_scene()
        self.gui = self._build_gui() if gui else None
        self._thread = threading.Thread(target=self._play_loop, name="blur4d-viewer-playback", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ scene
    @property
    def base_point_size(self) -> float:
        """World-space point size: about 1.5 pixels of the frames at the typical scene distance."""
        return 1.5 * self.layers.pixel

    def _cloud(self, name: str, cloud: Any, visible: bool) -> Any:
        precision = "float16" if float(np.abs(cloud.xyz).max(initial=0.0)) < 500.0 else "float32"
        return self.server.scene.add_point_cloud(name, cloud.xyz, cloud.colours(self.colour_mode),
                                                 point_size=self.base_point_size * self.point_scale,
                                                 point_shape="square", point_shading="flat", precision=precision,
                                                 visible=visible) if len(cloud) else None

    def _build_scene(self) -> None:
        L, scene = self.layers, self.server.scene
        scene.set_up_direction("-y")
        self._place_initial_camera()
        if L.static is not None:
            self._nodes["/static"] = self._cloud("/static", L.static, True)
        for t, cloud in enumerate(L.moving):
            node = self._cloud(f"/moving/f{t:03d}", cloud, t == self.frame)
            if node is not None:
                self._per_frame["moving points"][t].append(node)
        s = L.scale
        self._frustums: dict[int, Any] = {}
        for cam in L.cameras:
            T = cam.world_from_cam
            self._frustums[cam.index] = scene.add_camera_frustum(
                f"/cameras/f{cam.index:03d}", fov=cam.fov_y, aspect=cam.aspect, scale=0.05 * s,
                thickness=1.5, thickness_units="screen", color=_CURRENT if cam.index == self.frame else _OTHER,
                image=cam.image, format="jpeg", jpeg_quality=80, wxyz=_wxyz(T[:3, :3]), position=T[:3, 3])
        if len(L.trajectory) >= 2:
            self._nodes["/trajectory"] = scene.add_line_segments(
                "/trajectory", _segments(L.trajectory), colors=(230, 30, 200), thickness=3.0,
                thickness_units="screen")
        if L.tracks is not None:
            segs, cols = [], []
            for n in range(L.tracks.shape[1]):
                p = L.tracks[:, n]
                ok = np.all(np.isfinite(p), axis=1)
                pair = ok[:-1] & ok[1:]
                if pair.any():
                    segs.append(_segments(p)[pair])
                    cols.append(np.repeat(L.track_colours[n][None, None], pair.sum(), 0).repeat(2, 1))
            if segs:
                self._nodes["/tracks/lines"] = scene.add_line_segments(
                    "/tracks/lines", np.concatenate(segs), colors=np.concatenate(cols), thickness=1.0,
                    thickness_units="screen")
            for t in range(min(L.num_frames, len(L.tracks))):
                ok = np.all(np.isfinite(L.tracks[t]), axis=1)
                if ok.any():
                    node = scene.add_point_cloud(f"/tracks/f{t:03d}", L.tracks[t, ok], L.track_colours[ok],
                                                 point_size=0.008 * s, point_shape="circle", point_shading="flat",
                                                 visible=t == self.frame)
                    self._per_frame["tracks"][t].append(node)
        for h in L.heads:
            node = scene.add_frame(f"/heads/f{h.frame:03d}/id{h.face_id}", axes_length=h.axis_length,
                                   axes_radius=h.axis_length * 0.06, wxyz=_wxyz(h.world_from_head[:3, :3]),
                                   position=h.world_from_head[:3, 3], visible=h.frame == self.frame)
            self._per_frame["heads"][h.frame].append(node)

    def _place_initial_camera(self) -> None:
        L = self.layers
        cam = self.server.initial_camera
        if L.cameras:
            T = L.cameras[0].world_from_cam
            # behind, above and right of the first camera (OpenCV: -z behind, -y up), looking at the scene
            cam.position = T[:3, 3] + (-0.25 * T[:3, 2] - 0.2 * T[:3, 1] + 0.3 * T[:3, 0]) * L.scale
            cam.look_at = L.centre
        else:
            cam.position = L.centre + np.array([0.0, -0.5, -1.5]) * L.scale
            cam.look_at = L.centre

    # ------------------------------------------------------------------ GUI
    def _build_gui(self) -> dict[str, Any]:
        L, gui = self.layers, self.server.gui
        handles: dict[str, Any] = {}
        with gui.add_folder("Time"):
            handles["frame"] = gui.add_slider("frame", 0, max(L.num_frames - 1, 1), 1, 0,
                                              disabled=L.num_frames < 2)
            handles["play"] = gui.add_checkbox("play", False, disabled=L.num_frames < 2)
            handles["speed"] = gui.add_slider("speed", 0.25, 4.0, 0.25, 1.0,
                                              hint=f"x the clip's {L.fps:g} frames per second")
        with gui.add_folder("Points"):
            handles["point size"] = gui.add_slider("point size", 0.25, 8.0, 0.25, 1.0)
            handles["colour"] = gui.add_dropdown("colour", COLOUR_MODES, initial_value="rgb",
                                                 hint="rgb, confidence (viridis) or moving (orange) vs static (grey)")
        with gui.add_folder("Layers"):
            for name in _LAYER_NAMES:
                handles[name] = gui.add_checkbox(name, True)
        lines = [f"{L.counts.get('points_shown', 0):,} points shown, {L.num_frames} frames, "
                 f"{len(L.cameras)} cameras"] + L.notes
        handles["info"] = gui.add_markdown("  \n".join(lines))

        def frame_moved(_: Any) -> None:  # from a browser; set_frame's own update of the slider is a no-op here
            if int(handles["frame"].value) != self.frame:
                self.set_frame(int(handles["frame"].value))

        handles["frame"].on_update(frame_moved)
        handles["play"].on_update(lambda _: self._set(playing=bool(handles["play"].value)))
        handles["speed"].on_update(lambda _: self._set(speed=float(handles["speed"].value)))
        handles["point size"].on_update(lambda _: self.set_point_scale(float(handles["point size"].value)))
        handles["colour"].on_update(lambda _: self.set_colour_mode(str(handles["colour"].value)))
        for name in _LAYER_NAMES:
            handles[name].on_update(lambda _, n=name: self.set_layer(n, bool(handles[n].value)))
        return handles

    def _set(self, **kw: Any) -> None:
        with self._lock:
            for k, v in kw.items():
                setattr(self, k, v)

    # ------------------------------------------------------------------ state changes
    def _vis(self, node: Any, on: bool) -> None:
        if node is not None and self._visible.get(node.name) != on:
            node.visible = on
            self._visible[node.name] = on

    def set_frame(self, t: int) -> None:
        """Show frame ``t``: its moving points, track positions and heads; highlight its camera."""
        L = self.layers
        t = int(np.clip(t, 0, L.num_frames - 1))
        with self._lock, self.server.atomic():
            old, self.frame = self.frame, t
            for layer, per in self._per_frame.items():
                for k in {old, t}:
                    for node in per[k]:
                        self._vis(node, self.show[layer] and k == t)
            if old != t:
                if old in self._frustums:
                    self._frustums[old].color = _OTHER
                if t in self._frustums:
                    self._frustums[t].color = _CURRENT
        if self.gui is not None and int(self.gui["frame"].value) != t:
            self.gui["frame"].value = t

    def set_layer(self, layer: str, on: bool) -> None:
        with self._lock, self.server.atomic():
            self.show[layer] = on
            if layer in self._per_frame:
                for node in self._per_frame[layer][self.frame]:
                    self._vis(node, on)
            else:
                nodes = {"static points": [self._nodes.get("/static")],
                         "cameras": list(self._frustums.values()),
                         "trajectory": [self._nodes.get("/trajectory")]}.get(layer, [])
                for node in nodes:
                    self._vis(node, on)
            if layer == "tracks":
                self._vis(self._nodes.get("/tracks/lines"), on)

    def _clouds(self) -> list[tuple[Any, Any]]:
        L = self.layers
        out = [(self._nodes.get("/static"), L.static)]
        for t, nodes in enumerate(self._per_frame["moving points"]):
            out += [(n, L.moving[t]) for n in nodes]
        return [(n, c) for n, c in out if n is not None]

    def set_colour_mode(self, mode: str) -> None:
        if mode not in COLOUR_MODES:
            from ..errors import InputError

            raise InputError(f"colour mode must be one of {COLOUR_MODES}, got {mode!r}")
        with self._lock, self.server.atomic():
            self.colour_mode = mode
            for node, cloud in self._clouds():
                node.colors = cloud.colours(mode)

    def set_point_scale(self, factor: float) -> None:
        with self._lock, self.server.atomic():
            self.point_scale = float(factor)
            for node, _ in self._clouds():
                node.point_size = self.base_point_size * self.point_scale

    # ------------------------------------------------------------------ playback
    def _play_loop(self) -> None:
        next_tick = time.monotonic()
        while not self._stop.is_set():
            with self._lock:
                playing, speed = self.playing, self.speed
            if not playing or self.layers.num_frames < 2:
                next_tick = time.monotonic()
                self._stop.wait(0.05)
                continue
            next_tick += 1.0 / max(self.layers.fps * speed, 1e-3)
            delay = next_tick - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
            else:
                next_tick = time.monotonic()  # fell behind: do not try to catch up
            if self._stop.is_set():
                break
            self.set_frame((self.frame + 1) % self.layers.num_frames)

    def play(self, on: bool = True) -> None:
        if self.gui is not None:
            self.gui["play"].value = on
        self._set(playing=on)

    # ------------------------------------------------------------------ lifetime
    @property
    def port(self) -> int:
        return int(self.server.get_port())

    @property
    def url(self) -> str:
        host = self.host if self.host not in ("0.0.0.0", "::", "") else "localhost"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/"

    def wait(self) -> None:
        """Block until :meth:`stop` (Ctrl-C raises KeyboardInterrupt here)."""
        while not self._stop.wait(0.5):
            pass

    def stop(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join(timeout=5)
        with _quiet():
            self.server.stop()

    def __enter__(self) -> "SceneViewer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
