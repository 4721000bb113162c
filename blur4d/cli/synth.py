"""``blur4d synth FRAMES_OR_VIDEO --out blurry.png``: Eq. 1 on real frames."""

from __future__ import annotations

import argparse


def add_parser(sub, parents):  # noqa: ANN001
    p = sub.add_parser("synth", parents=parents,
                       help="make a blurry photo from a high-frame-rate clip (linear-light average, Eq. 1)")
    p.add_argument("input", help="video file or folder of frames (their intervals tile [-0.5, 0.5])")
    p.add_argument("--out", required=True, help="output image")
    p.add_argument("--interval", nargs=2, type=float, metavar=("A", "B"), default=(-0.5, 0.5),
                   help="exposure to integrate, in units of the clip (default -0.5 0.5: all of it)")
    p.add_argument("--response", default="srgb", help="camera response: srgb, gamma2.2, linear or a number")
    p.add_argument("--frames", type=int, default=None, help="use only the first N frames")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..exposure import synthesize_blur
    from ..media import load_video, write_image
    from ..types import Provenance
    from ._common import check_out, write_sidecar

    out = check_out(args.out, args)
    try:
        response = float(args.response)
    except ValueError:
        response = args.response
    video = load_video(args.input)
    if args.frames:
        video = video.select(range(min(args.frames, video.num_frames)))
    img = synthesize_blur(video, None, response, tuple(args.interval))
    write_image(out, img, overwrite=args.overwrite)
    write_sidecar(out, Provenance.capture("synth", {"input": args.input, "interval": list(args.interval),
                                                    "response": args.response, "frames": video.num_frames}))
    if not args.quiet:
        print(f"wrote {out} from {video.num_frames} frames over {list(args.interval)}")
    return 0
