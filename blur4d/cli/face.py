"""``blur4d face VIDEO_OR_PHOTO --out faces.json``: face landmarks and head pose."""

from __future__ import annotations

import argparse


def add_parser(sub, parents):  # noqa: ANN001
    from ._common import add_generate_options

    p = sub.add_parser("face", parents=parents, help="track faces: landmarks, stable ids, head pose")
    p.add_argument("input", help="a video, a folder of frames, or a blurry photo")
    p.add_argument("--out", required=True, help="output faces.json (an .npz with the arrays is written beside it)")
    p.add_argument("--backend", default=None,
                   help="facemesh (default; offline) or landmarker (needs --model; chosen when --model is given)")
    p.add_argument("--model", default=None, help="face_landmarker.task for the landmarker backend")
    p.add_argument("--face-model", default=None, metavar="PATH",
                   help="3D face for head pose: canonical_face_model.obj, geometry_pipeline_metadata*.binarypb "
                        "or a .task (default: derived from MediaPipe on a reference portrait)")
    p.add_argument("--max-faces", type=int, default=None, help="most faces per frame (default 4)")
    p.add_argument("--fov", type=float, default=None,
                   help="horizontal field of view (degrees) of the intrinsics prior for head pose (default 60)")
    p.add_argument("--intrinsics", default=None, metavar="K",
                   help="known pinhole intrinsics for head pose: fx,fy,cx,cy in pixels, or a file (JSON "
                        "{fx,fy,cx,cy}, JSON 3x3 / {\"K\": 3x3}, or a 3x3 matrix as text); replaces --fov")
    p.add_argument("--smoothing", choices=("forward-backward", "causal", "none"), default=None,
                   help="One-Euro smoothing of landmarks and pose (default forward-backward: no lag; raw kept)")
    p.add_argument("--overlay", default=None, help="also write an overlay .mp4 (mesh, ids, pose axes)")
    p.add_argument("--tum", default=None,
                   help="also write the head-pose trajectory (TUM, t = frame/fps) of the face seen in most frames")
    p.add_argument("--ply", default=None, help="also write the 3D landmarks per frame (a folder of PLY files, cm)")
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
    backend = args.backend
    if args.model and backend is None:
        backend = "landmarker"
    if args.model and backend != "landmarker":
        raise InputError(f"--model: only the landmarker backend reads a .task model, got --backend {backend}; "
                         "drop --model or use --backend landmarker")
    K = None
    if args.intrinsics is not None:
        import numpy as np

        from ..adapters.colmap import parse_intrinsics

        if args.fov is not None:
            raise InputError("--intrinsics: give either --intrinsics or --fov, not both")
        fx, fy, cx, cy = parse_intrinsics(args.intrinsics)
        K = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
    opts = {k: v for k, v in {"model": args.model, "max_faces": args.max_faces, "fov": args.fov,
                              "face_model": args.face_model, "smoothing": args.smoothing}.items()
            if v is not None}
    tracker = api.make_backend("faces", backend, opts)  # bad options fail before any generation
    with progress(args) as prog:
        video = api.as_video(args.input, generate_options=generate_options(args), max_pixels=args.max_pixels,
                             progress=prog)
        faces = tracker(video, K=K, progress=prog)
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
