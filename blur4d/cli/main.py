"""``blur4d`` entry point: parse -> api -> map errors to exit codes.

Exit codes: 0 ok; 1 a blur4d error (bad input, missing dependency, backend failure: one line on
stderr); 2 bad usage (argparse); 3 an internal error (a bug: one line, traceback with --debug);
130 interrupted. Each verb lives in its own module of this package with ``add_parser(sub,
parents)`` and ``run(args) -> int``; heavy modules load only after parsing.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import warnings
from typing import Sequence

VERBS = ("generate", "track", "reconstruct", "check", "face", "batch", "view", "evaluate", "synth", "example", "env",
         "backends")

_GLOBAL_DEFAULTS = {"seed": 0, "overwrite": False, "verbose": 0, "quiet": False, "debug": False, "device": "auto",
                    "max_pixels": 100_000_000}


def _global_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("global options")
    g.add_argument("--seed", type=int, default=argparse.SUPPRESS,
                   help="random seed; the same seed gives the same result (default 0)")
    g.add_argument("--overwrite", action="store_true", default=argparse.SUPPRESS,
                   help="replace existing outputs (never done silently)")
    g.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                   help="more log output (-vv for debug logs and third-party output)")
    g.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                   help="no progress bars, errors only")
    g.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                   help="show tracebacks for errors")
    g.add_argument("--device", choices=("auto", "cpu", "cuda"), default=argparse.SUPPRESS,
                   help="compute device for backends that can use a GPU (default auto)")
    g.add_argument("--max-pixels", type=int, default=argparse.SUPPRESS,
                   help="refuse input images larger than this many pixels (default 100000000)")
    return p


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    common = _global_parser()
    parser = _Parser(prog="blur4d", parents=[common],
                     description="One motion-blurred photo -> a video of the exposure -> 3D analysis.")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser)
    sub.required = True
    for verb in VERBS:
        importlib.import_module(f"blur4d.cli.{verb}").add_parser(sub, [common])
    return parser


def _setup_logging(args: argparse.Namespace) -> None:
    level = logging.ERROR if args.quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)]
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("blur4d: %(levelname)s: %(message)s"))
    root = logging.getLogger("blur4d")
    root.handlers[:] = [h for h in root.handlers if isinstance(h, logging.NullHandler)] + [handler]
    root.setLevel(level)
    root.propagate = False

    def _show(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
        if not args.quiet:
            sys.stderr.write(f"blur4d: warning: {message}\n")

    warnings.showwarning = _show
    if args.verbose < 2:
        for noisy in ("absl", "diffusers", "transformers", "PIL", "matplotlib", "h5py"):
            logging.getLogger(noisy).setLevel(logging.ERROR)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    for key, value in _GLOBAL_DEFAULTS.items():
        if not hasattr(args, key):
            setattr(args, key, value)
    _setup_logging(args)
    from ..errors import Blur4DError

    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        sys.stderr.write("blur4d: interrupted\n")
        return 130
    except Blur4DError as err:
        if args.debug:
            raise
        sys.stderr.write(f"blur4d: error: {_one_line(err)}\n")
        return 1
    except OSError as err:  # disk full, permissions, a vanished folder: the environment, not a bug
        if args.debug:
            raise
        where = f": {err.filename}" if getattr(err, "filename", None) else ""
        sys.stderr.write(f"blur4d: error: {err.strerror or _one_line(err)}{where}\n")
        return 1
    except MemoryError:
        if args.debug:
            raise
        sys.stderr.write("blur4d: error: out of memory; try a smaller input or --max-pixels\n")
        return 1
    except Exception as err:  # noqa: BLE001 - the last line of defence: one line, not a traceback
        if args.debug:
            raise
        sys.stderr.write(f"blur4d: internal error: {type(err).__name__}: {_one_line(err)} "
                         "(run with --debug for the traceback)\n")
        return 3


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text[:500] if text else type(err).__name__


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
