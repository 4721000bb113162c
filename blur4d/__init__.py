"""blur4d: one motion-blurred photo -> a short video of the exposure -> 3D analysis.

``import blur4d`` is cheap: numpy only; torch, open3d, mediapipe and friends load inside the
stages that use them.
"""

from __future__ import annotations

import logging

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
