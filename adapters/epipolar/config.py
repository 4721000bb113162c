"""Options of the ``sift`` check backend."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EpipolarConfig:
    """Options of the ``sift`` check backend."""

    max_features: int = 4000
    """SIFT keypoints kept per frame (strongest first)."""
    ratio: float = 0.8
    """Lowe's ratio test: keep a match when best / second-best distance < ratio."""
    matcher: str = "flann"
    """``flann`` (KD-tree, ~3x faster at 4000 features, deterministic) or ``bf`` (exact)."""
    max_side: int = 960
    """Frames whose long side is larger are downscaled for SIFT detection (a proxy: positions and
    errors stay in input pixels). Detection only: the pixel thresholds follow ``threshold_side``.
    960 is the camera stage's ``long_side``: both stages reduce frames alike and share the SIFT of
    the frames both use (``blur4d.adapters._features``)."""
    threshold_side: int = 1280
    """The pixel thresholds (``threshold``, ``min_residual_px``, ``static_px``) are in pixels of
    the frame scaled to this long side (never up): input pixels up to 1280 px. Separate from
    ``max_side`` because a SIFT proxy's keypoint noise in input pixels grows far less than the
    proxy's 1/scale (0.44-0.66 -> 0.58-0.70 px at 960 px from 1280), and thresholds scaled with the
    proxy hid the real moving person of benchmarks/epipolar.py's realblur 000249-000272 clip."""
    threshold: float = 1.0
    """Inlier threshold in pixels at ``threshold_side`` (MAGSAC and our own inlier counts)."""
    confidence: float = 0.999
    """RANSAC confidence."""
    max_iters: int = 5000
    """RANSAC iterations."""
    min_matches: int = 24
    """Fewer ratio-test matches than this make a pair degenerate (``ok=False``)."""
    min_coverage: float = 0.01
    """Matches whose convex hull covers less than this fraction of the image are degenerate."""
    consecutive: bool = True
    """Analyse every consecutive frame pair."""
    spread: int = 6
    """Extra pairs with wide gaps (F/4, F/2, 3F/4) spread over the clip, besides first-last."""
    max_pairs: int = 64
    """Upper bound on analysed pairs (first-last and the spread pairs are kept first)."""
    max_frames: int | None = 16
    """A longer clip is analysed on this many evenly spaced key frames (first and last included):
    the pairs above are chosen among them, so the cost stops growing with the clip's length
    (None: every frame). On benchmarks/epipolar.py's long clips (ray-cast kinds at 32 frames,
    the real 24-frame moving-person clips) 16/16 right with key frames vs 15/16 on every frame."""
    full_evidence: float = 5.0
    """A pair counts as full evidence when its matches move (90th percentile) this many times the
    smallest detectable residual; a pair that moves less than that residual has no weight
    (parallax below the noise cannot be excluded)."""
    min_residual_px: float = 0.5
    """Smallest homography residual (px) that counts as real motion (parallax or a moving
    object), whatever the noise."""
    noise_sigmas: float = 5.0
    """... and it must also exceed this many noise standard deviations (estimated per pair from
    the Sampson errors). A pair shows parallax when GRIC prefers F and the 90th percentile of the
    homography residual of the epipolar inliers exceeds both."""
    along_fraction: float = 0.6
    """Parallax test (see ``models.parallax_evidence``): the share of epipolar inliers whose
    homography residual runs more along their epipolar line than across it starts to count above
    this (0.5 without parallax) ..."""
    along_span: float = 0.1
    """... and counts fully this much higher."""
    min_z: float = 3.0
    """... and must be significant (sign-test z score)."""
    excess_sigmas: float = 1.0
    """The along component's 75th percentile must exceed the across one's by this many keypoint
    noise sigmas to start counting (fully at twice this)."""
    static_px: float = 0.5
    """The dominant homography counts as a static camera when it moves no image corner further."""
    object_min_points: int = 12
    """Smallest coherent group of matches that counts as an independently moving object."""
    object_min_fraction: float = 0.01
    """... and the smallest fraction of the pair's matches, when the background is static."""
    violation_min_fraction: float = 0.03
    """... and when the camera moves (the group must violate the epipolar geometry)."""
    distinct_ratio: float = 0.7
    """Only matches with a descriptor ratio below this can count as an epipolar violation."""
    min_growth: float = 0.5
    """A clip's parallax must grow with the pairs' motion: where consecutive pairs show parallax,
    pairs moving 3x as much or more must show at least this fraction of the parallax a rigid
    scene predicts from them (rigid ray-cast and synthetic clips of the labelled set: 0.88-3.13;
    classical-generator clips from real blurry photos: 0.19-0.37); below it the parallax verdict
    gets low confidence."""
    seed: int = 0
    """Seed for OpenCV's RANSAC random generator (results are deterministic for a seed)."""
