"""blur4d: one motion-blurred photo -> a short video of the exposure -> 3D analysis.

``import blur4d`` is cheap: numpy only; torch, open3d, mediapipe and friends load inside the
stages that use them.
"""

from __future__ import annotations

import logging
import os

# OpenBLAS threads busy-wait: blur4d's linear algebra is many small products (bundle adjustment's
# 3x3 / 6x6 blocks, per-frame projections), where a second BLAS thread only spins against the
# stage's own work. Measured on the 720p example, 16 frames, 2 cores: camera stage CPU 12.2 -> 8.2 s,
# bundle adjustment alone 6.0 -> 1.0 s CPU with identical results. Takes effect only when blur4d
# is imported before numpy (the CLI); a value the user set is kept.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# The backend subpackage blur4d/generate/ shares its name with the verb blur4d.generate(). Load
# the (cheap) subpackage first: Python binds a package attribute only when a submodule is first
# loaded, so the function bound below is never replaced by a later backend import.
from . import generate as _generate_backends  # noqa: F401  (import order matters)
from .api import check, evaluate, example, face, generate, load, reconstruct, synth, track
from .batch import batch  # the subpackage blur4d/batch/ loads first, then its function takes the name
from .errors import Blur4DError, InputError, MissingDependencyError
from ._version import __version__
from .types import (Cameras, ConsistencyReport, FaceTracks, Generation, Intervals, PointCloud, Provenance, Scene,
                    Tracks, Video)


logging.getLogger("blur4d").addHandler(logging.NullHandler())

__all__ = [
    "generate", "track", "check", "face", "reconstruct", "batch", "load", "evaluate", "synth", "example",
    "Intervals", "Video", "Generation", "Tracks", "Cameras", "PointCloud", "ConsistencyReport", "FaceTracks",
    "Scene", "Provenance", "Blur4DError", "InputError", "MissingDependencyError", "__version__",
]
