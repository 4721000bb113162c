"""``blur4d evaluate PRED --gt GT_FRAMES [--blurry PHOTO]``: the paper's metrics."""

from __future__ import annotations

import argparse


def add_parser(sub, parents):  # noqa: ANN001
    p = sub.add_parser("evaluate", parents=parents,
                       help="bidirectional PSNR/SSIM(/LPIPS) patch metrics, blur consistency and EPE")
    p.add_argument("pred", help="predicted video or frame folder")
    p.add_argument("--gt", required=True, help="ground-truth video or frame folder")
    p.add_argument("--blurry", default=None, help="the blurry photo (for blur-consistency PSNR)")
    p.add_argument("--out", default=None, help="write the metrics as JSON here")
    p.add_argument("--ssim-patch", type=int, default=40, help="SSIM patch size (40; 32 for B-AIST++ crops)")
    p.add_argument("--lpips-weights", default=None, help="local LPIPS weights (skip LPIPS without them)")
    p.add_argument("--raft-weights", default=None, help="local RAFT weights for EPE (default: OpenCV DIS flow)")
    p.add_argument("--response", default="srgb", help="camera response for blur consistency")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from .. import api
    from ._common import check_out

    out = check_out(args.out, args) if args.out else None
    result = api.evaluate(args.pred, args.gt, blurry=args.blurry, ssim_patch=args.ssim_patch,
                          lpips_weights=args.lpips_weights, raft_weights=args.raft_weights, response=args.response)
    if out is not None:
        result.save(out, overwrite=args.overwrite)
    if not args.quiet:
        print(result.table())
    return 0
