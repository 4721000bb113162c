"""``blur4d generate PHOTO --out video.mp4``: a blurry photo -> video(s) of the exposure."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(sub, parents):  # noqa: ANN001
    p = sub.add_parser("generate", parents=parents, help="generate a video of the exposure from a blurry photo")
    p.add_argument("input", help="the blurry photo")
    p.add_argument("--out", required=True, help="output .mp4, or a folder (no suffix) of PNG frames")
    p.add_argument("--backend", default=None, help="generation backend (default classical; `blur4d backends`)")
    p.add_argument("--frames", type=int, default=16, help="number of frames (default 16)")
    p.add_argument("--past-future", action="store_true", help="frames span [-1, 1] (past, exposure, future)")
    p.add_argument("--intervals", default=None, metavar="SPEC",
                   help="explicit intervals: present:N, ppf:N[:A:B] or 'a,b;c,d;...' (exposure units; write "
                        "--intervals=SPEC when SPEC starts with a minus sign)")
    p.add_argument("--samples", type=int, default=1, help="number of plausible videos to sample (default 1)")
    p.add_argument("--direction", default=None,
                   help="motion-direction guidance: left-to-right, right-to-left, top-to-bottom, bottom-to-top, "
                        "an angle in degrees (0 = rightwards, 90 = downwards), or a guidance-map image "
                        "(per pixel: red = moving right, green = down, blue = left, yellow = up, black = no guidance)")
    p.add_argument("--fps", type=float, default=None, help="playback rate of the written mp4")
    b = p.add_argument_group("blur2vid backend")
    b.add_argument("--weights", default=None, help="fine-tuned transformer: a .safetensors file, a folder or a hub id")
    b.add_argument("--base-model", default=None, help="CogVideoX-2b in diffusers layout: a folder or a hub id")
    b.add_argument("--steps", type=int, default=None, help="denoising steps (default 50)")
    b.add_argument("--guidance", type=float, default=None, help="classifier-free guidance scale (default 1.0)")
    b.add_argument("--dtype", default=None, help="float32, bfloat16 or float16 (default: bf16 on GPU, fp32 on CPU)")
    v = p.add_argument_group("video backend")
    v.add_argument("--video", default=None, help="an existing video or frame folder to analyse")
    p.add_argument("--option", "-o", action="append", default=[], metavar="KEY=VALUE",
                   help="any other backend option (repeatable)")
    p.set_defaults(run=run)


def backend_options(args: argparse.Namespace) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    for key in ("weights", "base_model", "steps", "guidance", "dtype"):
        if getattr(args, key, None) is not None:
            opts[key] = getattr(args, key)
    if getattr(args, "video", None):
        opts["path"] = args.video
    if (args.backend or "classical") in ("blur2vid",) and args.device != "auto":
        opts["device"] = args.device
    for item in args.option:
        key, sep, value = item.partition("=")
        if not sep:
            from ..errors import InputError

            raise InputError(f"--option: expected KEY=VALUE, got {item!r}")
        opts[key.replace("-", "_")] = _literal(value)
    return opts


def _literal(value: str) -> Any:
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(value.lower(), value)


def run(args: argparse.Namespace) -> int:
    from .. import api
    from ..errors import InputError
    from ..media import write_image
    from ._common import check_out, parse_direction, progress, write_sidecar

    out = check_out(args.out, args)
    if out.suffix not in ("", ".mp4"):
        raise InputError(f"--out {out}: write a .mp4 file or a folder (a path without suffix)")
    direction: Any = parse_direction(args.direction)
    if isinstance(direction, str) and Path(direction).suffix.lower() in (".png", ".jpg", ".jpeg", ".tif", ".tiff"):
        from ..media import read_image

        direction = read_image(direction, keep_gray=False).pixels
    outs = [out] if args.samples == 1 else [out.with_name(f"{out.stem}_sample{k}{out.suffix}") for k in range(args.samples)]
    for o in outs[1:]:
        check_out(o, args)
    with progress(args) as prog:
        result = api.generate(args.input, frames=args.frames, past_future=args.past_future, intervals=args.intervals,
                              backend=args.backend, samples=args.samples, seed=args.seed, direction=direction,
                              max_pixels=args.max_pixels, progress=prog, **backend_options(args))
    from dataclasses import replace

    import numpy as np

    written = []
    for k, (video, o) in enumerate(zip(result.samples, outs)):
        if args.fps:
            video = replace(video, fps=args.fps)
        video.save(o, overwrite=args.overwrite)
        written.append(str(o))
    extra: dict[str, Any] = {"outputs": written, "choices": [dict(c) for c in result.choices]}
    if result.ambiguity is not None:
        import numpy as np

        amb = out.with_name(f"{out.stem}_ambiguity.png")
        write_image(amb, (np.clip(result.ambiguity, 0, 1) * 255).astype(np.uint8), overwrite=True)
        extra["ambiguity_map"] = str(amb)
    write_sidecar(out, result.provenance, **extra)
    if not args.quiet:
        v = result.video
        print(f"wrote {len(written)} video(s): {', '.join(written)} ({v.num_frames} frames, {v.width}x{v.height})")
        if result.provenance is not None and result.provenance.extra.get("no_blur") is True:
            print("note: no motion blur this backend can estimate: every frame is the photo. A small object moving "
                  "over a sharp, still background (a hand, a ball) is not estimated by the classical backend; "
                  "its frames stay as the photo shows it")
        if len(result.samples) > 1 and all(np.array_equal(s.frames, v.frames) for s in result.samples[1:]):
            print("note: the samples are identical: the photo leaves no choice open"
                  + (" once --direction is given" if args.direction is not None else ""))
    return 0
