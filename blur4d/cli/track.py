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
                              "mask": args.mask, "checkpoint": args.checkpoint}.items() if v is not None}
    if args.device != "auto" and (args.backend or "") == "cotracker":
        opts["device"] = args.device
    with progress(args) as prog:
        video = api.as_video(args.input, generate_options=generate_options(args), max_pixels=args.max_pixels,
                             progress=prog)
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
