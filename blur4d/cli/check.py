"""``blur4d check VIDEO_OR_PHOTO --out report.html``: 3D-consistency analysis + report.

Writes the self-contained HTML report and ``consistency.json`` beside it (its figures go to
``consistency_maps/``). A photo goes through the generation core first.
"""

from __future__ import annotations

import argparse


def add_parser(sub, parents):  # noqa: ANN001
    from ._common import add_generate_options

    p = sub.add_parser("check", parents=parents,
                       help="epipolar/homography consistency over the clip, with a verdict and an HTML report")
    p.add_argument("input", help="a video, a folder of frames, or a blurry photo")
    p.add_argument("--out", required=True, help="output report .html (consistency.json is written beside it)")
    p.add_argument("--json", default=None,
                   help="where to write the JSON (default: consistency.json in the report's folder)")
    p.add_argument("--backend", default=None, help="check backend (default sift)")
    g = p.add_argument_group("sift backend")
    g.add_argument("--max-side", type=int, default=None,
                   help="downscale frames whose long side is larger for feature detection (default 960)")
    g.add_argument("--threshold", type=float, default=None,
                   help="inlier threshold in pixels (of the frame at a 1280 px long side at most; default 1.0)")
    g.add_argument("--max-features", type=int, default=None, help="SIFT keypoints per frame (default 4000)")
    g.add_argument("--no-consecutive", action="store_true",
                   help="skip the consecutive frame pairs (first-last and the wide pairs only; faster)")
    add_generate_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from .. import api
    from ..errors import InputError
    from ._common import check_out, generate_options, progress

    out = Path(args.out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise InputError(f"--out {out}: the report is an .html file (e.g. report.html)")
    out = check_out(out, args, what="report")
    json_out = check_out(Path(args.json) if args.json else out.with_name("consistency.json"), args, what="--json")
    if json_out.suffix.lower() != ".json":
        raise InputError(f"--json {json_out}: expected a .json path")
    options = {k: v for k, v in (("max_side", args.max_side), ("threshold", args.threshold),
                                 ("max_features", args.max_features)) if v is not None}
    if args.no_consecutive:
        options["consecutive"] = False
    timings: dict[str, float] = {}
    with progress(args) as prog:
        t0 = time.perf_counter()
        video = api.as_video(args.input, generate_options=generate_options(args), max_pixels=args.max_pixels,
                             progress=prog)
        t1 = time.perf_counter()
        report = api.check(video, backend=args.backend, progress=prog, **options)
        t2 = time.perf_counter()
    if video.provenance.backend not in ("video", "unknown"):
        timings["generate"] = t1 - t0
    else:
        timings["read video"] = t1 - t0
    timings["check"] = t2 - t1
    from ..report.html import write_report

    report.save(json_out, overwrite=args.overwrite)
    write_report(out, consistency=report, video=video, timings=timings, overwrite=args.overwrite,
                 title=f"blur4d check: {Path(args.input).name}")
    if not args.quiet:
        print(f"verdict: {report.verdict} (confidence {report.confidence:.2f}) - {report.reason}")
        print(f"wrote {out} and {json_out}")
    return 0
