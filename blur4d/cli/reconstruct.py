"""``blur4d reconstruct PHOTO --out scene.ply``: the main job, end to end."""

from __future__ import annotations

import argparse


def add_parser(sub, parents):  # noqa: ANN001
    from ._common import add_generate_options

    p = sub.add_parser("reconstruct", parents=parents,
                       help="photo -> video -> tracks -> cameras -> point cloud -> checks -> faces -> report")
    p.add_argument("input", help="a blurry photo, or a video / folder of frames")
    p.add_argument("--out", required=True, help="output scene .ply; a sibling folder of the same stem gets the rest")
    p.add_argument("--tracker", default=None, help="tracking backend (default builtin)")
    p.add_argument("--cameras", default=None, help="camera backend (default colmap)")
    p.add_argument("--skip", action="append", default=[], metavar="STAGE",
                   help="skip a stage: track, cameras, dense, check, faces, report (repeatable)")
    p.add_argument("--reuse", action="store_true",
                   help="reuse finished stages found in an existing scene folder instead of recomputing them")
    p.add_argument("--megasam", default=None, help="path of a MegaSaM installation (cameras backend megasam)")
    add_generate_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from .. import api
    from ._common import check_out, generate_options, progress

    if not args.reuse:
        check_out(args.out, args)
    with progress(args) as prog:
        scene = api.reconstruct(args.input, out=args.out, generate_options=generate_options(args),
                                tracker=args.tracker, cameras=args.cameras, skip=tuple(args.skip), reuse=args.reuse,
                                overwrite=args.overwrite, seed=args.seed, max_pixels=args.max_pixels,
                                megasam=args.megasam, progress=prog)
    if not args.quiet:
        from ..pipeline import summary_lines

        print("\n".join(summary_lines(scene)))
    return 0
