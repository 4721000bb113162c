"""``blur4d view SCENE``: the scene in 4D in the browser (viser); ``--export DIR`` writes a static viewer."""

from __future__ import annotations

import argparse


def add_parser(sub, parents):  # noqa: ANN001
    from ..viewer._layers import DEFAULT_POINT_BUDGET

    p = sub.add_parser("view", parents=parents,
                       help="open a scene in the interactive 4D viewer (viser), or export a static viewer")
    p.add_argument("input", metavar="SCENE", help="scene.ply or its scene/ folder (written by reconstruct or "
                                                   "Scene.save())")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0: every interface)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080; the next free one when taken)")
    p.add_argument("--max-points", type=int, default=DEFAULT_POINT_BUDGET, metavar="N",
                   help=f"point budget: static + moving points over all frames (default {DEFAULT_POINT_BUDGET:,})")
    p.add_argument("--export", default=None, metavar="DIR",
                   help="write a static viewer folder (index.html + scene.viser) instead of serving; host it "
                        "with any static file server; the scene's report.html gains a link to it")
    p.epilog = 'needs viser: pip install "blur4d[view]". Stop the server with Ctrl-C.'
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..viewer import _server

    _server._viser()  # say how to install viser before reading anything
    if args.max_points < 1:
        raise InputError(f"--max-points: must be >= 1, got {args.max_points}")
    if not 0 <= args.port <= 65535:
        raise InputError(f"--port: must be in 0..65535, got {args.port}")
    from .. import viewer

    if args.export:
        from ._common import check_out

        check_out(args.export, args, what="--export folder")
        out = viewer.export(args.input, args.export, point_budget=args.max_points, overwrite=args.overwrite)
        if not args.quiet:
            print(f"wrote {out}/ (index.html + scene.viser); serve it with: python -m http.server -d {out}")
        return 0
    v = viewer.serve(args.input, host=args.host, port=args.port, point_budget=args.max_points)
    try:
        for note in v.layers.notes:
            if not args.quiet:
                print(f"note: {note}")
        print(f"blur4d viewer: {v.url}  (Ctrl-C to stop)", flush=True)
        v.wait()
    except KeyboardInterrupt:
        pass
    finally:
        v.stop()
    return 0
