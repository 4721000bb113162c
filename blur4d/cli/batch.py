"""``blur4d batch INPUTS... --out DIR [--verb reconstruct] [verb options...]``: many items,
resumable, on a local process pool or a Ray cluster (see :mod:`blur4d.batch`)."""

from __future__ import annotations

import argparse
import importlib
from typing import Any

BATCH_VERBS = ("reconstruct", "generate", "track", "check", "face")
_PREFIX = "verbopt__"
_NOT_PASSED = {"--out", "--overwrite", "--reuse", "-h", "--help"}
_APPEND: set[str] = set()  # verb options that may repeat (e.g. --skip): always passed as a list


def _verb_actions() -> dict[str, argparse.Action]:
    """Every option of the batchable verbs, by option string (first definition wins)."""
    scratch = argparse.ArgumentParser(add_help=False)
    sub = scratch.add_subparsers()
    found: dict[str, argparse.Action] = {}
    for verb in BATCH_VERBS:
        importlib.import_module(f"blur4d.cli.{verb}").add_parser(sub, [])
    for parser in sub.choices.values():
        for action in parser._actions:  # noqa: SLF001 - argparse has no public accessor
            for opt in action.option_strings:
                if opt.startswith("--") and opt not in _NOT_PASSED:
                    found.setdefault(opt, action)
                    if isinstance(action, argparse._AppendAction):  # noqa: SLF001
                        _APPEND.add(opt[2:])
    return found


def add_parser(sub, parents):  # noqa: ANN001
    p = sub.add_parser(
        "batch", parents=parents, allow_abbrev=False,
        help="run a verb on many photos/videos: resumable, local process pool or Ray cluster",
        description="Run one verb on every input. Each item's outputs go to DIR/<item-id>/ in the single verb's "
                    "layout (reconstruct: scene.ply + scene/); DIR/batch.jsonl records every attempt, "
                    "DIR/summary.csv and DIR/index.html the last state. A rerun skips items already done "
                    "with the same input and options.")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="photos, videos, folders (recursed) or a manifest (.csv / .jsonl: a 'path' column, optional "
                        "'id', and per-item verb options such as seed, intervals, direction, fov)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created; reused to resume)")
    p.add_argument("--verb", choices=BATCH_VERBS, default="reconstruct", help="what to run on each item")
    p.add_argument("--glob", default=None, help="only files in folders whose name (or relative path) matches")
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local: a process pool here (default); ray: a Ray cluster (pip install \"blur4d[ray]\")")
    p.add_argument("--workers", type=int, default=None,
                   help="parallel items (local default: the number of cores; ray default: what the cluster fits)")
    p.add_argument("--retries", type=int, default=2, help="retries of an item whose worker process died (default 2)")
    p.add_argument("--force", action="store_true", help="redo items already done")
    p.add_argument("--retry-failed", action="store_true", help="run only the items whose last attempt failed")
    p.add_argument("--no-gallery", action="store_true", help="do not write index.html and its thumbnails")
    r = p.add_argument_group("ray engine")
    r.add_argument("--address", default=None, help="auto, HOST:PORT or ray://HOST:10001 (default: start a local Ray)")
    r.add_argument("--num-cpus", type=float, default=1, help="CPUs per item (default 1)")
    r.add_argument("--num-gpus", type=float, default=None,
                   help="GPUs per item (default 1 for the blur2vid/cotracker backends unless --device cpu, else 0)")
    r.add_argument("--actors", action=argparse.BooleanOptionalAction, default=None,
                   help="long-lived actors that keep expensive models loaded (default: on for blur2vid/cotracker)")
    v = p.add_argument_group("verb options (passed to every item; a manifest column overrides its row)")
    for opt, action in sorted(_verb_actions().items()):
        kind = {argparse._StoreTrueAction: "store_true", argparse._CountAction: "count"}.get(type(action))  # noqa: SLF001
        dest = _PREFIX + opt[2:]
        if kind:
            v.add_argument(opt, action=kind, dest=dest, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        else:
            v.add_argument(opt, action="append", dest=dest, default=argparse.SUPPRESS, metavar="VALUE",
                           help=argparse.SUPPRESS)
    p.epilog = ("verb options: any option of the chosen verb (see `blur4d VERB --help`), e.g. --frames 8 --skip faces; "
                "--seed, --device and --max-pixels apply to every item too")
    p.set_defaults(run=run)


def verb_options(args: argparse.Namespace) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    for key, value in vars(args).items():
        if not key.startswith(_PREFIX):
            continue
        name = key[len(_PREFIX):]
        if isinstance(value, list):
            value = value if name in _APPEND or len(value) > 1 else value[-1]
        opts[name] = value
    opts["seed"] = args.seed
    if args.device != "auto":
        opts["device"] = args.device
    if args.max_pixels != 100_000_000:
        opts["max-pixels"] = args.max_pixels
    return opts


class _Bar:
    """One overall bar: items done / ok / failed / running, elapsed and ETA."""

    def __init__(self, enabled: bool) -> None:
        self.enabled, self.progress, self.task = enabled, None, None

    def __call__(self, c: dict[str, int]) -> None:
        if not self.enabled:
            return
        if self.progress is None:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                       TimeRemainingColumn)

            self.progress = Progress(TextColumn("batch"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("{task.fields[stat]}"), TimeElapsedColumn(), TextColumn("ETA"),
                                     TimeRemainingColumn(), console=Console(stderr=True))
            self.progress.__enter__()
            self.task = self.progress.add_task("batch", total=c["total"], stat="")
        stat = f"{c['ok']} ok · {c['failed']} failed · {c['running']} running"
        if c.get("skipped"):
            stat += f" · {c['skipped']} skipped"
        self.progress.update(self.task, completed=c["done"], total=c["total"], stat=stat)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.__exit__(None, None, None)
            self.progress = None


def run(args: argparse.Namespace) -> int:
    from ..batch import batch, summary_line

    bar = _Bar(enabled=not args.quiet)
    try:
        rows = batch(args.inputs, out=args.out, verb=args.verb, options=verb_options(args), glob=args.glob,
                     engine=args.engine, workers=args.workers, retries=args.retries, force=args.force,
                     retry_failed=args.retry_failed, address=args.address, num_cpus=args.num_cpus,
                     num_gpus=args.num_gpus, actors=args.actors, gallery=not args.no_gallery, status=bar)
    finally:
        bar.close()
    print(summary_line(rows, args.out))
    return 1 if any(r.get("status") == "failed" for r in rows) else 0
