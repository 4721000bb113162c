"""``blur4d backends``: every backend per stage, whether it is usable, what it needs, licence."""

from __future__ import annotations

import argparse


def add_parser(sub, parents):  # noqa: ANN001
    p = sub.add_parser("backends", parents=parents, help="list backends per stage and what they need")
    p.add_argument("--stage", default=None, help="only this stage (generate, track, cameras, check, faces)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from ..registry import STAGES, list_backends

    table = Table(title="blur4d backends", show_lines=False)
    for col in ("stage", "name", "default", "usable", "what it is", "needs", "licence"):
        table.add_column(col, overflow="fold")
    for stage in STAGES:
        if args.stage and stage != args.stage:
            continue
        for spec in list_backends(stage):
            ok, why = spec.available()
            cells = (stage, spec.name, "*" if spec.default else "", "yes" if ok else f"no: {why}",
                     spec.summary, spec.needs or "-", spec.licence or "-")
            table.add_row(*(escape(c) for c in cells))
    Console(width=160).print(table)
    return 0
