"""``blur4d check VIDEO_OR_PHOTO --out report.html``: 3D-consistency analysis + report."""

from __future__ import annotations

import argparse


def add_parser(sub, parents):  # noqa: ANN001
    from ._common import add_generate_options

    p = sub.add_parser("check", parents=parents,
                       help="epipolar/homography consistency over the clip, with a verdict and an HTML report")
    p.add_argument("input", help="a video, a folder of frames, or a blurry photo")
    p.add_argument("--out", required=True, help="output report .html (consistency.json is written beside it)")
    p.add_argument("--json", default=None, help="where to write the JSON (default: <out stem>.json beside the report)")
    p.add_argument("--backend", default=None, help="check backend (default sift)")
    add_generate_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .. import api
    from ..errors import InputError
    from ._common import check_out, generate_options, progress

    out = check_out(args.out, args)
    if out.suffix.lower() not in (".html", ".htm"):
        raise InputError(f"--out {out}: the report is an .html file")
    json_out = check_out(Path(args.json) if args.json else out.with_suffix(".json"), args)
    with progress(args) as prog:
        video = api.as_video(args.input, generate_options=generate_options(args), max_pixels=args.max_pixels,
                             progress=prog)
        report = api.check(video, backend=args.backend, progress=prog)
    from ..report.html import write_report

    report.save(json_out, overwrite=args.overwrite)
    write_report(out, consistency=report, video=video, overwrite=args.overwrite)
    if not args.quiet:
        print(f"verdict: {report.verdict} (confidence {report.confidence:.2f}) — {report.reason}")
        print(f"wrote {out} and {json_out}")
    return 0
