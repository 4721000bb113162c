"""``blur4d env``: versions, devices and which optional parts are usable."""

from __future__ import annotations

import argparse
import importlib.util
import platform
import sys


def add_parser(sub, parents):  # noqa: ANN001
    p = sub.add_parser("env", parents=parents, help="print versions and which optional parts are usable")
    p.set_defaults(run=run)


_PACKAGES = ("blur4d", "numpy", "pillow", "opencv-contrib-python", "opencv-python-headless", "scipy",
             "scikit-image", "imageio", "imageio-ffmpeg", "rich", "tqdm", "torch", "diffusers", "transformers",
             "safetensors", "pycolmap", "open3d", "trimesh", "mediapipe", "evo", "plotly", "cotracker")


def run(args: argparse.Namespace) -> int:
    from importlib import metadata

    from ..registry import list_backends

    lines = [f"python      {platform.python_version()} ({sys.executable})",
             f"platform    {platform.platform()}"]
    for name in _PACKAGES:
        try:
            lines.append(f"{name:<22}{metadata.version(name)}")
        except metadata.PackageNotFoundError:
            lines.append(f"{name:<22}-")
    cuda = "torch not installed"
    if importlib.util.find_spec("torch") is not None:
        import torch

        cuda = (f"available: {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "not available")
    lines.append(f"{'cuda':<22}{cuda}")
    lines.append("")
    lines.append("backends (stage/name: usable?):")
    for spec in list_backends():
        ok, why = spec.available()
        lines.append(f"  {spec.stage + '/' + spec.name:<22}{'yes' if ok else 'no: ' + why}")
    print("\n".join(lines))
    return 0
