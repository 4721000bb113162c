"""Typed result containers shared by every stage.

Conventions (see README):

* exposure intervals are in units of the photo's exposure, which is ``[-0.5, 0.5]``;
* pixel coordinates put the centre of the top-left pixel at ``(0, 0)``;
* cameras are ``cam_from_world`` 4x4 in OpenCV axes (x right, y down, z forward);
* quaternions are ``wxyz`` unless a file format says otherwise (TUM is ``xyzw``).

Every container is a frozen dataclass that validates shapes in ``__post_init__`` and saves to
plain formats (npz, JSON, PLY, PNG/mp4) — never pickle.

The types sit low in the import layers (README, "Layout"): they import only helpers below them.
Conveniences that need a module above (``Video.save`` -> ``blur4d.media``, ``Scene.save`` ->
``blur4d.pipeline``, notebook HTML -> ``blur4d.display``) name it by a dotted path resolved at
call time through ``blur4d.registry``. This package only re-exports its modules' classes.
"""

from .cameras import Cameras
from .consistency import VERDICTS, ConsistencyReport
from .faces import FaceTracks
from .intervals import Intervals
from .points import PointCloud
from .provenance import Provenance, package_versions
from .scene import Scene
from .tracks import Tracks
from .video import Generation, Video

__all__ = [
    "Provenance", "Intervals", "Video", "Generation", "Tracks", "Cameras", "PointCloud",
    "ConsistencyReport", "FaceTracks", "Scene", "VERDICTS", "package_versions",
]
