"""``blur4d face VIDEO_OR_PHOTO --out faces.json``: face landmarks and head pose."""

from __future__ import annotations

import argparse


def add_parser(sub, parents):  # noqa: ANN001
    from ._common import add_generate_options

    p = sub.add_parser("face", parents=parents, help="track faces: landmarks, stable ids, head pose")
    p.add_argument("input", help="a video, a folder of frames, or a blurry photo")
    p.add_argument("--out", required=True, help="output faces.json (an .npz with the arrays is written beside it)")
    p.add_argument("--backend", default=None, help="facemesh (default) or landmarker")
    p.add_argument("--model", default=None, help="face_landmarker.task for the landmarker backend")
    p.add_argument("--max-faces", type=int, default=None, help="most faces per frame")
    p.add_argument("--fov", type=float, default=None, help="horizontal field of view (degrees) for head pose")
    p.add_argument("--overlay", default=None, help="also write an overlay .mp4 (mesh + pose axes)")
    p.add_argument("--tum", default=None, help="also write the head-pose trajectory (TUM) of the first face")
    p.add_argument("--ply", default=None, help="also write the 3D landmarks per frame (a folder of PLY files)")
    add_generate_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from .. import api
    from ..errors import InputError
    from ._common import check_out, generate_options, progress, write_sidecar

    out = check_out(args.out, args)
    for extra in (args.overlay, args.tum, args.ply):
        if extra:
            check_out(extra, args)
    opts = {k: v for k, v in {"model": args.model, "max_faces": args.max_faces, "fov": args.fov}.items()
            if v is not None}
    with progress(args) as prog:
        video = api.as_video(args.input, generate_options=generate_options(args), max_pixels=args.max_pixels,
                             progress=prog)
        faces = api.face(video, backend=args.backend, progress=prog, **opts)
    if faces.num_faces == 0:
        raise InputError(f"{args.input}: no face found in any of the {faces.num_frames} frames")
    faces.save(out, overwrite=args.overwrite)
    from ..adapters import faces as faces_mod

    if args.overlay:
        faces_mod.write_overlay(args.overlay, video, faces, overwrite=args.overwrite)
    if args.tum:
        faces_mod.write_tum(args.tum, faces, video, overwrite=args.overwrite)
    if args.ply:
        faces_mod.write_landmark_plys(args.ply, faces, overwrite=args.overwrite)
    write_sidecar(out, faces.provenance)
    if not args.quiet:
        found = int(faces.present.any(axis=1).sum())
        print(f"wrote {out}: {faces.num_faces} face id(s), found in {found}/{faces.num_frames} frames")
    return 0
