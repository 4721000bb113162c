"""Options of the builtin point tracker (:class:`blur4d.adapters.tracking.BuiltinTracker`), with
what each one measured; the tracker itself lives in :mod:`blur4d.adapters.tracking`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from blur4d.errors import InputError

__all__ = ["TrackerConfig"]


@dataclass
class TrackerConfig:
    """Options of the built-in tracker (``blur4d track --backend builtin``)."""

    grid_size: int = 32
    """Query grid points per side (grid_size**2 points) when no queries are given."""
    queries: Any = None
    """Query points: a .npy/.csv path or an array of (x, y) at query_frame, or (t, x, y)."""
    query_frame: int | None = None
    """Frame of the grid / of (x, y) queries; default: the frame at the centre of the exposure."""
    mask: Any = None
    """Only put grid points where this (H, W) image/array is non-zero."""
    method: str = "lk"
    """Initial guess from the previous frame: 'lk' (chained Lucas-Kanade) or 'dis' (dense DIS flow)."""
    win_size: int = 15
    """Lucas-Kanade window of the frame-to-frame step (pixels, odd)."""
    refine_win: int = 11
    """Lucas-Kanade window of the refinement and check against the query frame (pixels, odd;
    small windows mix less of a neighbouring surface into the patch at occlusion boundaries)."""
    levels: int = 3
    """Pyramid levels above the full-resolution image for the frame-to-frame step."""
    refine_levels: int = 1
    """Pyramid levels for the refinement against the query frame, which starts from a good guess
    (few levels keep a small moving object's patch from being pulled by its surroundings)."""
    fb_threshold: float = 1.0
    """Forward-backward error (pixels, at the tracking size) above which a point is occluded."""
    residual_threshold: float = 12.0
    """Mean absolute grey-level patch difference (0-255) above which a point is occluded."""
    small_win: int = 5
    """A second, smaller refinement window tried where ``refine_win`` fails (0 = off)."""
    chain_check: bool = True
    """Where the query-frame patch no longer matches (it held part of an occluder, or the
    appearance changed), still call a point visible if the frame-to-frame step is
    forward-backward consistent (at half the confidence)."""
    match_carried: bool = True
    """Also call an occluded point visible again where the patch at its carried position matches
    its small query patch (re-acquisition when the large query patch held part of the occluder)."""
    min_texture: float = 3.0
    """Grey-level standard deviation a query patch needs for ``match_carried`` (flat patches
    match anywhere)."""
    reacquire: bool = True
    """Try to find occluded points again in later frames (against the query-frame patch)."""
    neighbours: int = 24
    """Nearby points whose motion carries an occluded point (8 before t13h)."""
    carry_pool: int = 96
    """Candidates (nearest visible points) the carrying ``neighbours`` are chosen from
    (0 = 12 x ``neighbours``). ``neighbours=24, carry_pool=96`` (the pool of the old default 8):
    a median over more neighbours moves less when one neighbour's track changes (t13h, 0.05 px
    query shift: visible tracks moved > 1 px dog/juggle/blocks/realblur 165/249 11.3/8.2/6.2/
    25.0/20.5 -> 7.6/5.9/5.0/25.9/15.1 %), ray-cast Brier 0.0621 -> 0.0581, realblur 0.088 ->
    0.076; alone it lets a confident 0.001 px mover back (juggle, 53 px), hence the default
    together with ``edge_band=1.5``."""
    carry_anchor: bool = True
    """Carry an occluded point from where it was last verified against its query patch (by its
    neighbours' displacement since then), not frame to frame from its last position: a carried
    position then does not depend on hard decisions taken after that frame (chained steps, the
    frame it was lost at). Ray-cast occluder clips, 'first' queries, seed 0: AJ 0.50 -> 0.74,
    OA 0.77 -> 0.84 (benchmarks/tracking.py --raycast); False: the frame-to-frame carry."""
    max_side: int = 1280
    """Track on frames downscaled so the longer side is at most this (0 = full size)."""
    stability_offset: float = 0.0625
    """Second run, for the tracks that were ever not verified against their query patch (chained,
    matched or lost: where a hard decision could flip) or whose carried positions are called
    visible, from queries moved by this many pixels (along x; 0 = off). 1/16 = one step of the
    query lattice (``query_grid``): the runs start from the neighbouring lattice points, where a
    query change that crosses a cell edge sends the track (0.05 before the lattice). Where the two runs
    disagree by more than ``max_spread``, the point's confidence is at most 0.25 (its position is
    not fixed: a sub-pixel change of its query could have moved it that far); see
    ``unstable_hides`` and ``stability_carried`` for its visibility, and ``visibility='thresholds'``."""
    max_spread: float = 1.0
    """Disagreement (pixels, input scale) between the two runs above which a point is in doubt."""
    stability_runs: int = 2
    """How many second runs (queries moved by ``stability_offset`` along x, then along y): a hard
    decision that a sub-pixel change flips is caught by one run in about half the cases (1: the
    behaviour before)."""
    edge_band: float = 1.5
    """With ``visibility='calibrated'`` and without the blend (``query_cell`` = 0; see ``edge_doubt``): a check decided near its threshold puts the point in
    doubt (confidence at most ``doubt_cap``) where its other outcome would put the point more than
    ``max_spread`` away: the verification against the query patch (score = max(fb /
    ``fb_threshold``, residual / ``residual_threshold``, correction / its limit), < 1 passes, in
    (1 / edge_band, edge_band)), for either window, and the frame-to-frame chain check (chained
    vs carried). The doubt lasts until the large window verifies the point clear of the edge.
    1 = off. Unlike the stability runs it needs no second run (CPU 0.98x, noise)
    and catches decisions whose other outcome no neighbouring lattice point showed; it cannot
    catch a chaotic LK solve far from any threshold. 2 (t13h, under load; ``--jitter
    --jitter-eps 0.05``, dog/juggle/blocks/realblur 165/249): tracks confident in both runs and
    moved > 1 px 1.0/0.9/0.2/2.4/2.6 -> 0.3/0.2/0.0/1.6/0.3 % (shift 1:1; -1:0.4 0.5/0.7/0.3/
    1.2/0.7 -> 0.0/0.0/0.0/1.0/0.2 %), positions unchanged, but the capped samples are 93 %
    within 4 px of the flow pseudo-truth: realblur Brier 0.088 -> 0.109 (ray-cast 0.0621 ->
    0.0629). The default, 1.5 with ``neighbours=24, carry_pool=96`` (t13h, same clips): confident
    movers at 0.05 px 1.0/0.9/0.2/2.4/2.6 -> 0.2/0.5/0.0/1.7/1.0 % (1:1), 0.5/0.7/0.3/1.2/0.7 ->
    0.2/0.0/0.0/1.2/0.7 % (-1:0.4); at 0.001 px 0 % on all along both directions (main: 0.2 % on
    249 along -1:0.4); visible movers at 0.05 px 11.3/8.2/6.2/25.0/20.5 -> 7.6/5.9/5.0/25.9/15.1 %;
    ray-cast 'first' delta/OA/AJ sharp 0.903/0.912/0.801 -> 0.901/0.911/0.797, blur 0.860/0.887/
    0.738 -> 0.861/0.886/0.738, Brier 0.0621 -> 0.0587; realblur OA within 0.001, pooled Brier
    0.0883 -> 0.0890. Chosen on the jitter clips themselves (not held out)."""
    claimed_runs: int = 1
    """Stability runs for a track run again only because its carried (lost) positions are
    called visible (no hard decision steered it): 1 = the x run only (default), 2 = as many as
    ``stability_runs``. The y run of those tracks (most of them lost, so carried every frame)
    was 11-14 % of the stability runs' CPU (``--stability-cost``: 1.52x -> 1.47x synthetic,
    1.69x -> 1.59x blocks) and caught no confident jitter on the clips of ``--jitter`` (0 %
    either way); ray-cast Brier 0.0616 -> 0.0615, realblur 0.091 -> 0.088 (t13e, under load)."""
    stability_flips: bool = False
    """With ``visibility='calibrated'``: also cap the confidence at 0.45 from the frame where a
    stability run took another decision for the point on (chained instead of verified, the small
    window instead of the large one...). Off by default: a flipped decision is an input of the
    position model instead (ray-cast: 0.89 of the capped points were within 4 px, so the cap made
    the confidence under-confident), and ``in_doubt`` keeps what moves below 0.5."""
    carried_cap: float = 1.0
    """With ``visibility='calibrated'``: cap the confidence of every carried (lost) position at
    this (1 = off, the default; 0.45 was the rule before the lost state became a model input and
    ``in_doubt`` caught the carried positions that a sub-pixel query change moves)."""
    doubt_cap: float = 0.45
    """With ``visibility='calibrated'``: the confidence where the stability runs put the point
    more than ``max_spread`` away (carried or found), or a carried position more than half that
    (:func:`blur4d.adapters.track_visibility.in_doubt`), is at most this: such positions can move
    by a pixel when the query moves by a thousandth of one (``benchmarks/tracking.py --jitter``)."""
    clip_prior: bool = False
    """With ``visibility='calibrated'``: re-weight p(visible) to the clip's own visible share,
    estimated from the clip (:func:`blur4d.adapters.track_visibility.adapt_prior`), instead of
    the calibration clips'. Off by default: realblur OA 0.960-0.964 -> 0.970 (held-out clip 249),
    but ray-cast AJ means fell by 0.004-0.03 (the estimate drifts on clips with much occlusion)."""
    stability_carried: bool = False
    """Let disagreeing carried (lost) positions in the stability run also clear ``visible`` (by
    default they lower only the confidence; doubt resets where both runs verify the point). Off
    by default (measured before the confidence/visibility split and carry_anchor): 0.001 px query shift, tracks >1 px while visible: realblur 2.6/2.8 ->
    1.0/0.5 %, dog 2.3 -> 1.6 %, juggle 0.5 -> 0 %, blocks 1.0 -> 0.2 %; ray-cast AJ means up (0.647/
    0.848/0.615/0.795), but OA fell below 'always visible' on 2 of 12 ray-cast clips ('first' queries)."""
    unstable_hides: bool = False
    """With ``visibility='calibrated'``: where the stability run parts from this one (both
    finding the point), also call the point not visible. Off: only its confidence is capped (it
    is in view, its position unsure): ray-cast 'first' queries OA/AJ up on all 6 clips (seed 0:
    0.842/0.738 -> 0.863/0.760), realblur pseudo-truth OA 0.924-0.946 -> 0.928-0.956."""
    visible_threshold: float = 0.5
    """With ``visibility='calibrated'``: ``visible`` is p(visible) >= this. 0.5 is right where the
    model's prior holds (ray-cast renders, 17-28 % occluded); on real footage where hardly anything
    is occluded (realblur, 3.5-4.8 % by flow pseudo-truth) 0.3 beats 'always visible' (held-out
    OA 0.961-0.969 vs 0.952) but costs ray-cast AJ (0.760 -> 0.712 on seed 0): see the README."""
    query_grid: int = 16
    """Track from each query rounded to the nearest 1/query_grid pixel (at the tracking size),
    then move the whole track by what the rounding took off (0 = off: track from the exact
    query). The tracker's hard decisions (verified / chained / lost, which window, LK's own
    convergence on weak texture, and through the carry, the neighbours' decisions) flip under
    any change of its input, so without it a 0.001 px query change moved 1-7 % of the tracks
    that stay visible by more than a pixel (``benchmarks/tracking.py --jitter``: dog, juggle,
    blocks, 2 realblur clips 4.0 / 1.2 / 2.8 / 6.6 / 6.1 % -> 1.7 / 0.9 / 0.3 / 0.9 / 0.2 %); on
    the lattice such a change alters nothing unless a query crosses a cell's edge (3 % of them
    for 0.001 px along x and y). Larger sub-pixel changes (``--jitter-eps 0.05``) move tracks
    as before: the stability runs, from the neighbouring lattice points (``stability_offset``),
    and the confidence cap answer those. 8 (with ``stability_offset`` 0.05): 0.2 / 0.9 / 0.2 /
    0.2 / 0.5 %, but with 0.05 px changes more confident tracks moved (2.3 / 1.6 / 1.4 / 5.9 /
    4.0 % vs 0.7 / 0.7 / 0.2 / 3.3 / 2.3 %; t13g, under load)."""
    query_cell: float = 1.0
    """Track each query as the blend of the tracks from the three corners of its triangle on a
    lattice of this many pixels (at the tracking size; barycentric weights, 0 = off: the
    nearest point of the ``query_grid`` lattice and ``stability_offset`` runs instead). A track
    is then a continuous function of its query: moving the query by e moves it by at most
    (|e_x| + |e_y|) / query_cell times the corners' disagreement (plus e), which caps the
    confidence (``doubt_shift``). t13j (``benchmarks/tracking.py --jitter --jitter-eps 0.05``,
    dog/juggle/blocks/realblur 165/249): confident tracks moved > 1 px 0.2/0.5/0.0/1.7/1.0 % ->
    0 % on all (max 0.79 px), visible ones 7.6/5.9/5.0/25.9/15.1 -> 6.9/4.0/6.1/2.3/1.7 %; at
    0.001 px no track moves by more than 0.30 px; realblur Brier 0.089 -> 0.042 (constant
    0.061), ray-cast AJ up 0.012 (see the README); CPU 1.3x the lattice path. Options that
    only act without it: ``query_grid``, ``stability_offset``, ``stability_runs``,
    ``claimed_runs``, ``stability_flips``, ``edge_band``; the models were refit on blended
    tracks."""
    doubt_shift: float = 0.125
    """With ``query_cell``: a confidence >= 0.5 promises that moving the query by up to this
    many pixels (|dx| + |dy|) moves the track by at most ``max_spread`` beyond the move itself:
    the confidence is at most ``doubt_cap`` where the corners disagree by more than
    max_spread * query_cell / doubt_shift (8 px by default). 0.1 (10 px) let tracks whose
    corners parted by just under 10 px move by 1.02-1.05 px for a 0.05 px (1:1) query change
    (0.2 % of confident tracks on the realblur clips of ``benchmarks/tracking.py --jitter``)."""
    support_grid: int = 24
    """With ``query_cell``: lost points are carried by the tracks of a fixed grid of helper
    points (this many along the frame's long side) instead of by the other queries' tracks, so
    a track depends on its own query only (0 = the queries carry each other: a query that
    crossed a lattice cell then still moved other tracks, 0.2 % of confident ones by up to 4.2 px
    on realblur 165 at 0.05 px)."""
    support_max: int = 0
    """With ``support_grid``: make the helper grid about as dense as the queries (as many helper
    points as queries, at most this many; 0 = the ``support_grid`` spacing only). It depends on
    the number of queries only, not on where they are. t13j: on our dense synthetic scenes (2,120
    queries on 240x180) 4096 recovers what the coarse grid lost (static ppf delta_avg 0.910 ->
    0.961, rotate ppf 0.880 -> 0.961; before the blend 0.956 / 0.940); on ray-cast and realblur
    (576-900 queries) no measurable change; CPU +6-19 % at 1,024 queries (hence off by default)."""
    visibility: str = "calibrated"
    """'calibrated': ``visible`` is p(visible) >= 0.5 from a model calibrated on independently
    rendered scenes and ``confidence`` is that probability (see
    :mod:`blur4d.adapters.track_visibility`); 'thresholds': the tracker's own pass/fail decisions
    and internal score (the behaviour before calibration)."""

    @property
    def edge_doubt(self) -> bool:
        """Whether a decision at a check's edge puts the point in doubt (``edge_band``): only
        without the blend (``query_cell``), under which no decision can make a track jump."""
        return self.edge_band > 1 and not self.query_cell > 0

    def __post_init__(self) -> None:
        if self.visibility not in ("calibrated", "thresholds"):
            raise InputError(f"visibility: expected 'calibrated' or 'thresholds', got {self.visibility!r}")
        if self.method not in ("lk", "dis"):
            raise InputError(f"method: expected 'lk' or 'dis', got {self.method!r}")
        if int(self.small_win) != 0 and int(self.small_win) < 3:
            raise InputError(f"small_win: must be 0 (off) or >= 3, got {self.small_win}")
        for name in ("win_size", "refine_win"):
            if int(getattr(self, name)) < 5:
                raise InputError(f"{name}: must be >= 5, got {getattr(self, name)}")
        for name in ("levels", "refine_levels"):
            if not 0 <= int(getattr(self, name)) <= 8:
                raise InputError(f"{name}: must be in [0, 8], got {getattr(self, name)}")
        if not self.fb_threshold > 0 or not self.residual_threshold > 0:
            raise InputError("fb_threshold and residual_threshold must be > 0")
        if int(self.neighbours) < 1:
            raise InputError(f"neighbours: must be >= 1, got {self.neighbours}")
        if not 0.0 < self.doubt_cap < 0.5:
            raise InputError(f"doubt_cap: must be in (0, 0.5), got {self.doubt_cap}")
        if not 0.0 < self.visible_threshold < 1.0:
            raise InputError(f"visible_threshold: must be in (0, 1), got {self.visible_threshold}")
        if not self.edge_band >= 1.0:
            raise InputError(f"edge_band: must be >= 1 (1 = off), got {self.edge_band}")
        if int(self.claimed_runs) not in (1, 2):
            raise InputError(f"claimed_runs: must be 1 or 2, got {self.claimed_runs}")
        if int(self.stability_runs) not in (1, 2):
            raise InputError(f"stability_runs: must be 1 or 2, got {self.stability_runs}")
        if not self.stability_offset >= 0 or not self.max_spread > 0:
            raise InputError("stability_offset must be >= 0 and max_spread > 0")
        if not self.doubt_shift > 0:
            raise InputError(f"doubt_shift: must be > 0, got {self.doubt_shift}")
        if int(self.support_grid) < 0 or int(self.support_max) < 0:
            raise InputError("support_grid and support_max must be >= 0")
        if not self.query_cell >= 0:
            raise InputError(f"query_cell: must be >= 0 (0 = off), got {self.query_cell}")
        if int(self.query_grid) < 0:
            raise InputError(f"query_grid: must be >= 0, got {self.query_grid}")
        if int(self.max_side) < 0:
            raise InputError(f"max_side: must be >= 0, got {self.max_side}")
