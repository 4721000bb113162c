"""``blur4d reconstruct PHOTO --out scene.ply``: the main job, end to end."""

from __future__ import annotations

import argparse


def add_parser(sub, parents):  # noqa: ANN001
    from ..pipeline import SKIPPABLE
    from ._common import add_generate_options

    p = sub.add_parser("reconstruct", parents=parents,
                       help="photo -> video -> tracks -> cameras -> point cloud -> checks -> faces -> report")
    p.add_argument("input", help="a blurry photo, or a video / folder of frames")
    p.add_argument("--out", required=True, help="output scene .ply; a sibling folder of the same stem gets the rest")
    p.add_argument("--tracker", default=None, help="tracking backend (default builtin)")
    p.add_argument("--cameras", default=None, help="camera backend (default colmap)")
    p.add_argument("--skip", action="append", default=[], metavar="STAGE",
                   help=f"skip a stage: {', '.join(SKIPPABLE)} (repeatable)")
    p.epilog = ("writes OUT (static points, binary PLY) and a sibling folder of the same stem with frames/, "
                "video.mp4, tracks.npz, cameras.json, trajectory.tum (TUM/evo), colmap/ (text model), "
                "transforms.json (nerfstudio), depth/, points/ (moving points per frame), consistency.json, "
                "faces.json, report.html and run.json")
    p.add_argument("--reuse", action="store_true",
                   help="reuse finished stages found in an existing scene folder instead of recomputing them "
                        "(a finished stage is kept even when --skip names it)")
    p.add_argument("--megasam", default=None,
                   help="path of a MegaSaM installation (cameras backend megasam; or set BLUR4D_MEGASAM)")
    p.add_argument("--fov", type=float, default=None, metavar="DEG",
                   help="horizontal field-of-view prior in degrees when the photo has no EXIF focal length "
                        "(colmap cameras; default 60)")
    p.add_argument("--focal-px", type=float, default=None, metavar="PX",
                   help="known focal length in pixels of the frames (colmap cameras)")
    p.add_argument("--intrinsics", default=None, metavar="K",
                   help="known pinhole intrinsics of the frames, used as given by the cameras, the dense points, "
                        "face head pose and the exports: fx,fy,cx,cy in pixels (pixel centres at integers), or a "
                        "file: JSON {\"fx\":..,\"fy\":..,\"cx\":..,\"cy\":..}, JSON [[3x3]] or {\"K\": [[3x3]]}, "
                        "or a 3x3 matrix as text (colmap cameras; replaces --fov/--focal-px)")
    add_generate_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from .. import api
    from ._common import check_out, generate_options, progress

    if not args.reuse:
        check_out(args.out, args)
    camera_options = {}
    if args.fov is not None:
        camera_options["fov_deg"] = args.fov
    if args.focal_px is not None:
        camera_options["focal_px"] = args.focal_px
    from ..errors import InputError

    if args.intrinsics is not None:
        from ..adapters.colmap import parse_intrinsics

        if camera_options:
            raise InputError("--intrinsics: give either --intrinsics or --fov/--focal-px, not both")
        camera_options["intrinsics"] = parse_intrinsics(args.intrinsics)
    if camera_options and (args.cameras or "colmap") != "colmap":
        raise InputError("--fov/--focal-px/--intrinsics: only for the colmap cameras backend; drop them or use "
                         "--cameras colmap")
    from ..progress import process_age

    with progress(args) as prog:
        scene = api.reconstruct(args.input, out=args.out, generate_options=generate_options(args),
                                tracker=args.tracker, cameras=args.cameras, skip=tuple(args.skip), reuse=args.reuse,
                                overwrite=args.overwrite, seed=args.seed, max_pixels=args.max_pixels,
                                megasam=args.megasam, camera_options=camera_options or None, progress=prog,
                                startup_seconds=process_age())
    if not args.quiet:
        from ..pipeline import summary_lines

        print("\n".join(summary_lines(scene)))
    return 0
