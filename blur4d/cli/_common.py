"""Helpers shared by the verbs: output checks, progress, the photo -> video options."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..progress import RichProgress


def progress(args: argparse.Namespace) -> RichProgress:
    return RichProgress(enabled=not args.quiet)


def check_out(path: str | Path, args: argparse.Namespace, what: str = "output") -> Path:
    """Refuse an output that exists (without --overwrite), is unwritable, or is the input itself."""
    from .._fs import check_output
    from ..errors import InputError

    source = getattr(args, "input", None) or getattr(args, "pred", None)
    if source is not None and Path(path).resolve() == Path(source).resolve():
        raise InputError(f"--out {path} is the input; choose another output path")
    return check_output(path, overwrite=args.overwrite, what=what)


def add_generate_options(p: argparse.ArgumentParser) -> None:
    """Options used when the input is a photo (it goes through the generation core first)."""
    g = p.add_argument_group("generation (when the input is a photo)")
    g.add_argument("--backend-generate", dest="gen_backend", default=None, metavar="NAME",
                   help="generation backend (default classical; see `blur4d backends`)")
    g.add_argument("--frames", type=int, default=16, help="number of frames (default 16)")
    g.add_argument("--past-future", action="store_true",
                   help="frames span [-1, 1]: the past, the exposure and the future")
    g.add_argument("--intervals", default=None, metavar="SPEC",
                   help="explicit intervals: present:N, ppf:N[:A:B] or 'a,b;c,d;...' (exposure units; write "
                        "--intervals=SPEC when SPEC starts with a minus sign)")
    g.add_argument("--direction", default=None,
                   help="motion-direction guidance: left-to-right, right-to-left, top-to-bottom, "
                        "bottom-to-top, or an angle in degrees")


def generate_options(args: argparse.Namespace) -> dict[str, Any]:
    opts: dict[str, Any] = {"frames": args.frames, "past_future": args.past_future, "seed": args.seed,
                            "intervals": args.intervals, "direction": parse_direction(args.direction)}
    if args.gen_backend:
        opts["backend"] = args.gen_backend
    return opts


def parse_direction(value: str | None) -> Any:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return value


def write_sidecar(out: Path, provenance: Any, **extra: Any) -> Path:
    """``<out>.json`` next to an output: resolved config, versions, seed, timings."""
    from .._fs import write_json

    data = provenance.to_dict() if hasattr(provenance, "to_dict") else dict(provenance)
    data.update(extra)
    side = out.with_name(out.name + ".json")
    return write_json(side, data)
