"""The static viewer: viser's recorded scene (``scene.viser``) beside viser's own client build.

``DIR/index.html`` is viser's pre-built client with one line added before ``</head>`` (the way
viser's own ``as_html`` embeds a scene) that points it at ``scene.viser``; viser's playback bar
then plays the clip (play/pause, time scrubbing, speed) and its scene tree toggles the layers.
Any static file server can host DIR (``python -m http.server -d DIR``); browsers do not fetch
files from ``file://`` pages, so opening index.html from disk shows only a progress bar.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .._fs import atomic_path, check_output
from ..errors import InputError
from ._layers import Layers

SCENE_FILE = "scene.viser"
_REDIRECT = ("<script>(function(){var q=new URLSearchParams(location.search);"
             "if(!q.has('playbackPath')){q.set('playbackPath','" + SCENE_FILE + "');"
             "history.replaceState(null,'',location.pathname+'?'+q.toString()+location.hash);}})();</script>")


def client_build() -> Path:
    """viser's pre-built web client (a folder with index.html)."""
    from ._server import _viser

    root = Path(_viser().__file__).resolve().parent / "client" / "build"
    if not (root / "index.html").is_file():
        raise InputError(f"viser's client build is missing ({root}/index.html); reinstall viser")
    return root


def record(layers: Layers, title: str) -> bytes:
    """Build the scene on a private viser server (loopback, any free port), then record it: the
    first frame, then one step per frame at the clip's frame rate."""
    from ._server import SceneViewer

    viewer = SceneViewer(layers, host="127.0.0.1", port=0, title=title, gui=False)
    try:
        ser = viewer.server.get_scene_serializer()
        dt = 1.0 / max(layers.fps, 1e-3)
        for t in range(1, layers.num_frames):
            ser.insert_sleep(dt)
            viewer.set_frame(t)
        if layers.num_frames > 1:
            ser.insert_sleep(dt)
        return ser.serialize()
    finally:
        viewer.stop()


def write_export(layers: Layers, out: str | os.PathLike, *, title: str, overwrite: bool = False) -> Path:
    """Write the static viewer folder atomically; refuse an existing one without ``overwrite``."""
    out = check_output(out, overwrite=overwrite, what="--export folder")
    if out.exists() and not out.is_dir():
        raise InputError(f"--export {out} is a file; choose a folder")
    data = record(layers, title)
    client = client_build()
    html = (client / "index.html").read_text(encoding="utf-8")
    cut = html.find("</head>")
    if cut < 0:
        raise InputError(f"viser's client page {client / 'index.html'} has no </head>; cannot export")
    with atomic_path(out, overwrite=overwrite) as tmp:
        shutil.copytree(client, tmp)
        (tmp / "index.html").write_text(html[:cut] + _REDIRECT + html[cut:], encoding="utf-8")
        (tmp / SCENE_FILE).write_bytes(data)
    return out
