"""``blur4d track VIDEO_OR_PHOTO --out tracks.npz``: point tracks."""

from __future__ import annotations

import argparse


def add_parser(sub, parents):  # noqa: ANN001
    from ._common import add_generate_options

    p = sub.add_parser("track", parents=parents, help="track points through a video (a photo is generated first)")
    p.add_argument("input", help="a video, a folder of frames, or a blurry photo")
    p.add_argument("--out", required=True, help="output tracks .npz (or .csv)")
    p.add_argument("--backend", default=None, help="tracking backend (default builtin; `blur4d backends`)")
    p.add_argument("--grid", type=int, default=None, help="query grid points per side")
    p.add_argument("--queries", default=None, help="query points: .npy or .csv of (x, y) or (t, x, y) pixels")
    p.add_argument("--query-frame", type=int, default=None, help="query frame (default: the centre of the exposure)")
    p.add_argument("--mask", default=None, help="only query points inside this mask image (non-zero pixels)")
    p.add_argument("--checkpoint", default=None, help="CoTracker checkpoint (.pth)")
    p.add_argument("--mode", choices=("offline", "online"), default=None,
                   help="CoTracker predictor (default offline)")
    p.add_argument("--clip", default=None, metavar="A:B[:S]",
                   help="track only frames A..B-1 (every S-th) of a long video, e.g. 0:32:2")
    p.add_argument("--overlay", default=None, help="also write an overlay .mp4 with coloured tracks")
    p.add_argument("--summary", default=None, help="also write a PNG of all trajectories over the query frame")
    add_generate_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from .. import api
    from ._common import check_out, generate_options, progress, write_sidecar

    out = check_out(args.out, args)
    for extra in (args.overlay, args.summary):
        if extra:
            check_out(extra, args)
    opts = {k: v for k, v in {"grid_size": args.grid, "queries": args.queries, "query_frame": args.query_frame,
                              "mask": args.mask, "checkpoint": args.checkpoint, "mode": args.mode}.items()
            if v is not None}
    if (args.backend or "builtin") == "builtin":
        from ..errors import InputError

        for flag, value in (("--checkpoint", args.checkpoint), ("--mode", args.mode)):
            if value is not None:
                raise InputError(f"{flag}: applies to --backend cotracker, not to the built-in tracker")
    clip = _parse_clip(args.clip) if args.clip else None
    if args.device != "auto" and (args.backend or "") == "cotracker":
        opts["device"] = args.device
    with progress(args) as prog:
        video = api.as_video(args.input, generate_options=generate_options(args), max_pixels=args.max_pixels,
                             progress=prog)
        if clip is not None:
            video = _select(video, clip, args.input)
        tracks = api.track(video, backend=args.backend, seed=args.seed, progress=prog, **opts)
    tracks.save(out, overwrite=args.overwrite)
    if args.overlay or args.summary:
        from ..adapters import tracking

        if args.overlay:
            tracking.write_overlay(args.overlay, video, tracks, overwrite=args.overwrite)
        if args.summary:
            tracking.write_summary(args.summary, video, tracks, overwrite=args.overwrite)
    write_sidecar(out, tracks.provenance)
    if not args.quiet:
        vis = tracks.visible.mean() if tracks.num_points else 0.0
        print(f"wrote {out}: {tracks.num_points} points x {tracks.num_frames} frames, {vis:.0%} visible")
    return 0


def _parse_clip(spec: str) -> slice:
    from ..errors import InputError

    try:
        parts = [int(v) if v else None for v in spec.split(":")]
    except ValueError:
        parts = []
    if not 2 <= len(parts) <= 3 or (len(parts) == 3 and parts[2] is not None and parts[2] < 1):
        raise InputError(f"--clip: expected A:B or A:B:S with integers (S >= 1), got {spec!r}")
    return slice(*parts)


def _select(video, clip: slice, source: str):  # noqa: ANN001, ANN202
    """The clipped frames; they keep their exposure intervals when the input came with an
    intervals file, otherwise (a plain video) the clip is taken as the exposure and its frames
    tile [-0.5, 0.5], as a whole plain video's would."""
    from dataclasses import replace
    from pathlib import Path

    import numpy as np

    from ..errors import InputError
    from ..types import Intervals

    idx = np.arange(video.num_frames)[clip]
    if len(idx) < 2:
        raise InputError(f"--clip: selects {len(idx)} frame(s) of this {video.num_frames}-frame video; need at least 2")
    out = video.select(idx)
    path = Path(source)
    sidecar = path / "intervals.json" if path.is_dir() else path.with_suffix(".intervals.json")
    if not sidecar.is_file():
        out = replace(out, intervals=Intervals.present(len(idx)))
    return out
