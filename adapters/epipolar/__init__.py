"""3D-consistency analysis of a clip: SIFT matches, MAGSAC fundamental matrices and homographies,
H-versus-F model selection (Torr's GRIC), residual parallax, and a clip-level verdict.

A stage in the blur4d sense: ``EpipolarChecker(**options)(video, progress=...) ->
ConsistencyReport``. Everything numerical lives in small pure functions (no IO) so that tests can
reach them directly; the OpenCV calls go through normalisers that hide the differences between
OpenCV 4.x and 5.x (output shapes, stacked 9x3 fundamental matrices, ``None`` returns, errors on
too few points).

Verdicts (``blur4d.types.VERDICTS``):

* ``homography``: one homography explains the rigid scene (pure rotation, a planar scene, or too
  little motion to see depth): no depth is recoverable;
* ``parallax``: the fundamental matrix explains clearly more than a homography: 3D structure is
  recoverable;
* ``independent motion``: a coherent group of matches moves in a way the camera motion cannot
  explain (it violates the epipolar geometry, or the background is static while it moves); the
  ``independent_motion_mask`` map says where;
* ``insufficient texture``: too few reliable matches to tell.

Conventions: pixel coordinates put the centre of the top-left pixel at (0, 0); every error is in
pixels of the input frames.

Modules: ``config`` (options), ``models`` (F/H estimation, errors, GRIC), ``matching`` (SIFT,
ratio test, pair choice), ``pair`` (one pair's analysis), ``verdict`` (the clip-level verdict),
``figures`` (the report's images), ``checker`` (the stage).
"""

from .checker import EpipolarChecker
from .config import EpipolarConfig
from .figures import _line_in_image, _maps
from .matching import _detect, _Features, _gray, _hull_fraction, _match, select_pairs
from .models import (_apply_h, _homog, as_points, find_fundamental, find_homography, gric, normalise_fundamental,
                     normalise_mask, sampson_distance, transfer_errors)
from .pair import _corner_motion, analyse_pair
from .verdict import _reference_pair, _verdict

__all__ = [
    "EpipolarConfig", "EpipolarChecker", "as_points", "normalise_mask", "normalise_fundamental",
    "find_fundamental", "find_homography", "sampson_distance", "transfer_errors", "gric",
    "select_pairs", "analyse_pair",
]
