"""The 4D viewer: a scene's static points, moving points over time, cameras with their frames,
trajectory, 3D tracks and head poses in viser (``pip install "blur4d[view]"``).

* :func:`serve` starts a live viewer (``blur4d view``) and returns it (``.url``, ``.stop()``);
* :func:`export` writes a static viewer folder any static file server can host (``--export``);
* :func:`show` is ``Scene.view()``: a live viewer shown inline in a notebook.

This package sits above :mod:`blur4d.api`; nothing below imports it (``Scene.view`` reaches
:func:`show` through a dotted path at call time).
"""

from __future__ import annotations

import atexit
import os
from pathlib import Path
from typing import Any

from ..types import Scene
from ._layers import COLOUR_MODES, DEFAULT_POINT_BUDGET, Layers, build_layers, scene_title
from ._load import check_scene_files, open_scene

__all__ = ["serve", "export", "show", "prepare", "open_scene", "check_scene_files", "Layers", "COLOUR_MODES",
           "DEFAULT_POINT_BUDGET", "SceneViewer"]

_RUNNING: list[Any] = []


def __getattr__(name: str) -> Any:  # SceneViewer imports nothing heavy itself, but keep viser lazy
    if name == "SceneViewer":
        from ._server import SceneViewer

        return SceneViewer
    raise AttributeError(name)


def prepare(scene: Scene | str | os.PathLike, *, point_budget: int = DEFAULT_POINT_BUDGET) -> tuple[Scene, Layers]:
    """A Scene (or the path of one) -> (scene, the layers the viewer draws)."""
    sc = scene if isinstance(scene, Scene) else open_scene(scene)
    return sc, build_layers(sc, point_budget=point_budget)


def serve(scene: Scene | str | os.PathLike, *, host: str = "127.0.0.1", port: int = 8080,
          point_budget: int = DEFAULT_POINT_BUDGET) -> Any:
    """Start a live viewer on ``host:port`` (the next free port if taken; 0 = any) -> a
    :class:`SceneViewer` (``.url``, ``.set_frame(t)``, ``.play()``, ``.stop()``)."""
    from ._server import SceneViewer, _viser

    _viser()  # a missing viser says how to install it before any work
    sc, layers = prepare(scene, point_budget=point_budget)
    viewer = SceneViewer(layers, host=host, port=port, title=scene_title(sc))
    _RUNNING.append(viewer)
    return viewer


def export(scene: Scene | str | os.PathLike, out: str | os.PathLike, *, point_budget: int = DEFAULT_POINT_BUDGET,
           overwrite: bool = False) -> Path:
    """Write a static, self-contained viewer folder ``out`` (index.html + scene.viser + viser's
    client build). When the scene folder has a report.html, it gains a link to the viewer."""
    from ._export import write_export
    from ._server import _viser

    _viser()
    sc, layers = prepare(scene, point_budget=point_budget)
    path = write_export(layers, out, title=scene_title(sc), overwrite=overwrite)
    if sc.path is not None:
        report = Path(sc.path) / "report.html"
        if report.is_file():
            from ..report.html import link_viewer

            link_viewer(report, os.path.relpath(path / "index.html", report.parent))
    return path


def show(scene: Scene | str | os.PathLike, *, height: int = 600, host: str = "127.0.0.1", port: int = 0,
         point_budget: int = DEFAULT_POINT_BUDGET) -> Any:
    """Start a viewer in this process and show it inline (an IFrame) when running in a notebook.
    The server lives as long as the kernel (stopping the kernel stops it) or until ``.stop()``."""
    viewer = serve(scene, host=host, port=port, point_budget=point_budget)
    try:
        from IPython import get_ipython
        from IPython.display import IFrame, display
    except ImportError:
        print(f"blur4d viewer: {viewer.url}")
        return viewer
    if get_ipython() is None:
        print(f"blur4d viewer: {viewer.url}")
    else:
        display(IFrame(viewer.url, width="100%", height=height))
    return viewer


@atexit.register
def _stop_all() -> None:
    while _RUNNING:
        try:
            _RUNNING.pop().stop()
        except Exception:  # noqa: BLE001 - shutting down anyway
            pass
