"""``blur4d example OUT.png``: write the bundled example blurry photo (made by the package)."""

from __future__ import annotations

import argparse


def add_parser(sub, parents):  # noqa: ANN001
    p = sub.add_parser("example", parents=parents,
                       help="write a bundled example blurry photo (synthesised, sideways camera motion, parallax)")
    p.add_argument("out", help="output image (.png, .jpg, .tif, .webp)")
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=480)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..api import example
    from ..media import write_image
    from ..types import Provenance
    from ._common import check_out, write_sidecar

    out = check_out(args.out, args)
    img = example(args.width, args.height)
    write_image(out, img, overwrite=args.overwrite)
    write_sidecar(out, Provenance.capture("example", {"width": args.width, "height": args.height,
                                                      "scene": "blur4d.synthetic.example_scene"}))
    if not args.quiet:
        print(f"wrote {out} ({img.shape[1]}x{img.shape[0]})")
    return 0
