"""Options of the face backends (the CLI/API keyword options) and their valid values."""

from __future__ import annotations

from dataclasses import dataclass

from blur4d.errors import InputError

DEFAULT_FOV = 60.0


SMOOTHING_MODES = ("forward-backward", "causal", "none")


DETECTORS = ("crops", "facemesh")


@dataclass(frozen=True)
class FaceMeshConfig:
    """Options of the Face Mesh backend (also the CLI/API keyword options)."""

    max_faces: int = 4
    """Most faces per frame."""
    detector: str = "crops"
    """``crops`` (default): MediaPipe's full-range and short-range face detectors (tiled, so faces
    from ~20 px are found), the mesh run on upscaled crops around each face, implausible meshes
    rejected. ``facemesh``: the Face Mesh solution on whole frames (its own short-range detector;
    misses faces smaller than ~1/6 of the frame)."""
    min_face_px: float = 24.0
    """``crops`` detector: smallest face height (px) to look for (sets the tile size)."""
    tile_period: int = 4
    """``crops`` detector: the whole-frame detectors run every this many frames (and on the frame
    after a tracked face was lost)."""
    tiles_per_frame: int = 1
    """``crops`` detector: tiles of the small-face sweep run per frame (the sweep is spread over
    frames; all tiles on the first frame)."""
    coarse_tiles_per_frame: int = 1
    """``crops`` detector: tiles of a second sweep with tiles twice as large (faces from
    2 ``min_face_px``) run per frame; 0 turns that sweep off. A mid-size face entering a 1280x720
    video is then found within 15 frames instead of up to 45."""
    sweep_changes: bool = True
    """``crops`` detector: each tile sweep (fine and coarse) looks first where the frame changed
    since it last looked there: its tile of a frame is the window centred on the largest change
    (a face walking in, entering at a border, turning up); the round robin when nothing changed
    by ``min_change`` and on the frame after a changed window (every tile is still swept in turn,
    at half the rate, in a video that changes everywhere). Faces already tracked do not count
    as change."""
    shift_tolerant_change: bool = True
    """``crops`` detector, ``sweep_changes``: count as change only what a shift of up to one cell of
    the change map (8 px) does not explain (each cell against the range of its 3x3 neighbourhood
    when last looked at): a hand-held camera's shake changes a textured background everywhere and
    would otherwise take the changed-region look away from a small face appearing."""
    follow_camera: bool = True
    """``crops`` detector, ``sweep_changes``: what each sweep last looked at moves with the camera
    (the pan or tilt between consecutive frames, by phase correlation of the change map's
    thumbnails), so a panning camera does not change the whole frame: the change is the content
    the pan brings in over a border (where it differs from that border) or what moves in the
    scene. Without it, a pan makes every region "changed" and a small face entering at the border
    waits its turn."""
    strip_peaks: bool = True
    """``crops`` detector, ``follow_camera``: the extra tile on the strip a pan brings in is centred
    on the strip's strongest face-sized blob of change (``min_face_px`` for the fine sweep, averaged
    over that square; within that distance of the strip), the next blob once looked at; False: on
    its largest change averaged over half a tile (a face under 30 px entering at 1280x720 was then
    missed by the tile and waited for the round robin). With it, the boxes of tracked faces also
    move with the camera's pan (a face found while the pan goes on is not lost on the next frame)."""
    min_change: float = 6.0
    """``crops`` detector: smallest change (mean absolute grey level, 0-255, over half a tile)
    that takes a sweep's tile to the changed region."""
    max_reprojection: float = 0.10
    """``crops`` detector: largest RMS misfit (face sizes) of a mesh against the 3D face model."""
    min_track_frames: int = 2
    """A face id seen in fewer frames (of a clip that long) is dropped as implausible (a one-frame
    false face); clips shorter than this keep every face."""
    min_detection_confidence: float = 0.5
    """MediaPipe face-detector score threshold."""
    min_tracking_confidence: float = 0.5
    """MediaPipe landmark-tracking threshold (below it the detector runs again)."""
    static_image_mode: bool = False
    """Run the detector on every frame instead of tracking landmarks from frame to frame."""
    redetect_on_loss: bool = True
    """When tracking finds fewer faces than in the previous frame (fast motion), run the
    detector on that frame too."""
    fov: float = DEFAULT_FOV
    """Horizontal field of view (degrees) of the intrinsics prior, used when no K is given."""
    face_model: str | None = None
    """3D face model for PnP: canonical_face_model.obj, geometry_pipeline_metadata*.binarypb or a
    .task; None = derived from MediaPipe on a reference photo (see module docs)."""
    smoothing: str = "forward-backward"
    """forward-backward (no lag, offline), causal (online One-Euro) or none."""
    min_cutoff: float = 1.0
    """One-Euro minimum cutoff frequency (Hz of playback time) at rest."""
    beta_landmarks: float = 10.0
    """One-Euro speed coefficient for landmarks (speed in face sizes per second)."""
    beta_rotation: float = 10.0
    """One-Euro speed coefficient for the head rotation (quaternion components per second)."""
    beta_translation: float = 0.05
    """One-Euro speed coefficient for the head translation (cm per second)."""
    d_cutoff: float = 1.0
    """One-Euro cutoff (Hz) of the speed estimate."""
    max_gap: int = 5
    """Frames a face may be missing before its id is closed (a later face gets a new id)."""
    max_match_cost: float = 1.0
    """Largest distance (in face sizes, plus |log size ratio|) at which a detection continues a track."""

    def __post_init__(self) -> None:
        if self.detector not in DETECTORS:
            raise InputError(f"detector: expected one of {', '.join(DETECTORS)}, got {self.detector!r}")
        if not float(self.min_face_px) >= 8:
            raise InputError(f"min_face_px: expected >= 8 px, got {self.min_face_px}")
        for name in ("tile_period", "tiles_per_frame", "min_track_frames"):
            if int(getattr(self, name)) < 1:
                raise InputError(f"{name}: expected >= 1, got {getattr(self, name)}")
        if int(self.coarse_tiles_per_frame) < 0:
            raise InputError(f"coarse_tiles_per_frame: expected >= 0, got {self.coarse_tiles_per_frame}")
        if not float(self.min_change) >= 0:
            raise InputError(f"min_change: expected >= 0 grey levels, got {self.min_change}")
        if not float(self.max_reprojection) > 0:
            raise InputError(f"max_reprojection: expected > 0, got {self.max_reprojection}")
        if int(self.max_faces) < 1:
            raise InputError(f"max_faces: expected >= 1, got {self.max_faces}")
        for name in ("min_detection_confidence", "min_tracking_confidence"):
            v = float(getattr(self, name))
            if not 0.0 <= v <= 1.0:
                raise InputError(f"{name}: expected a value in [0, 1], got {v}")
        if not 1.0 <= float(self.fov) <= 170.0:
            raise InputError(f"fov: expected a horizontal field of view in degrees in [1, 170], got {self.fov}")
        if self.smoothing not in SMOOTHING_MODES:
            raise InputError(f"smoothing: expected one of {', '.join(SMOOTHING_MODES)}, got {self.smoothing!r}")
        for name in ("min_cutoff", "d_cutoff"):
            if not float(getattr(self, name)) > 0:
                raise InputError(f"{name}: expected > 0 Hz, got {getattr(self, name)}")
        for name in ("beta_landmarks", "beta_rotation", "beta_translation"):
            if float(getattr(self, name)) < 0:
                raise InputError(f"{name}: expected >= 0, got {getattr(self, name)}")
        if int(self.max_gap) < 0:
            raise InputError(f"max_gap: expected >= 0 frames, got {self.max_gap}")
        if not float(self.max_match_cost) > 0:
            raise InputError(f"max_match_cost: expected > 0, got {self.max_match_cost}")


@dataclass(frozen=True)
class FaceLandmarkerConfig(FaceMeshConfig):
    """Options of the Face Landmarker (Tasks API) backend."""

    model: str = ""
    """Path to a face_landmarker.task model bundle (required)."""
