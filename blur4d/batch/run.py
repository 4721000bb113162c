"""The batch driver: items -> which to run -> an engine -> the table, summary.csv and index.html.

The driver holds only small rows (ids, hashes, key numbers); frames and point clouds stay in the
workers. One driver per output folder at a time (a lock file says so).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import shutil
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from ..errors import InputError
from .items import OUT_NAMES, Item, collect, fill_hashes, normalise_options, options_argv
from .table import Table, write_summary
from .worker import EXPENSIVE, RUNNER, commit

ENGINES = ("local", "ray")
Status = Callable[[dict[str, int]], None]


@contextlib.contextmanager
def _lock(out_dir: Path) -> Iterator[None]:
    import fcntl

    fh = open(out_dir / ".batch.lock", "a+")
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            raise InputError(f"{out_dir}: another blur4d batch is writing this folder") from err
        yield
    finally:
        fh.close()


def clean_partials(out_dir: Path) -> int:
    """Remove the temporary folders of items that did not finish (killed or interrupted)."""
    n = 0
    for p in out_dir.glob(".*.partial-*"):
        shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
        n += 1
    for p in out_dir.glob(".*.old-*"):
        shutil.rmtree(p, ignore_errors=True)
    return n


def validate(items: Sequence[Item], limit: int = 200) -> None:
    """Parse each distinct item command line with the verb's own parser before anything runs."""
    parser = importlib.import_module(RUNNER).build_parser()
    seen: set[str] = set()
    for item in items:
        if item.options_hash in seen or len(seen) >= limit:
            continue
        seen.add(item.options_hash)
        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                parser.parse_args(item.argv())
        except SystemExit as exc:
            if exc.code:
                msg = err.getvalue().strip().splitlines()
                raise InputError(f"item {item.id}: {msg[-1] if msg else 'bad options'}") from None


def _wants_gpu_model(items: Sequence[Item]) -> tuple[bool, bool]:
    """(an expensive backend is used, it should go on a GPU)."""
    expensive = gpu = False
    for item in items:
        o = item.options
        gen = o.get("backend-generate") or (o.get("backend") if item.verb == "generate" else None)
        trk = o.get("tracker") or (o.get("backend") if item.verb == "track" else None)
        if ("generate", gen) in EXPENSIVE or ("track", trk) in EXPENSIVE:
            expensive = True
            gpu = gpu or o.get("device") != "cpu"
    return expensive, gpu


def plan(items: Sequence[Item], table: Table, *, force: bool, retry_failed: bool) -> tuple[list[Item], list[dict]]:
    """(items to run, rows of the skipped ones). Default: skip an item whose last row is ok with
    the same input and options hashes; ``retry_failed``: run only items whose last row failed;
    ``force``: run everything."""
    last = table.last()
    todo, skipped = [], []
    for item in items:
        prev = last.get(item.id)
        if force:
            run = True
        elif retry_failed:
            run = prev is not None and prev.get("status") == "failed"
        else:
            run = not (prev and prev.get("status") == "ok" and prev.get("input_hash") == item.input_hash
                       and prev.get("options_hash") == item.options_hash and item.input_hash)
        if run:
            todo.append(item)
        else:
            base = dict(prev) if prev else {"id": item.id, "input": item.input, "verb": item.verb}
            skipped.append({**base, "status": "skipped", "error": "", "previous": prev.get("status") if prev else None})
    return todo, skipped


def batch(inputs: str | os.PathLike | Sequence[str | os.PathLike], *, out: str | os.PathLike,
          verb: str = "reconstruct", options: Mapping[str, Any] | None = None, glob: str | None = None,
          engine: str = "local", workers: int | None = None, retries: int = 2, force: bool = False,
          retry_failed: bool = False, address: str | None = None, num_cpus: float = 1,
          num_gpus: float | None = None, actors: bool | None = None, gallery: bool = True,
          status: Status | None = None, progress: Any = None, **verb_options: Any) -> list[dict[str, Any]]:
    """Run ``verb`` on every input; each item's outputs go to ``out/<item-id>/`` in the single
    verb's layout. Returns one row per item (status ok, failed or skipped). Verb options are
    keyword arguments with CLI names (``frames=8, skip=["faces"], past_future=True``); a
    manifest row's columns override them for that row. See ``blur4d batch --help``."""
    if engine not in ENGINES:
        raise InputError(f"--engine: one of {', '.join(ENGINES)}, got {engine!r}")
    if force and retry_failed:
        raise InputError("--force and --retry-failed: choose one")
    if workers is not None and int(workers) < 1:
        raise InputError(f"--workers: must be >= 1, got {workers}")
    if engine == "ray":
        from .ray_engine import import_ray

        import_ray()  # says how to install it before any work
    out_dir = Path(out).resolve()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(f"--out {out}: cannot create the folder ({err.strerror or err})") from err
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise InputError(f"--out {out}: folder is not writable")
    opts = {**normalise_options(options), **normalise_options(verb_options)}
    items = collect(inputs, verb=verb, options=opts, glob=glob, exclude=out_dir)
    if not items:
        raise InputError("no inputs: give photos, videos, folders or a manifest")
    with _lock(out_dir):
        clean_partials(out_dir)
        table = Table(out_dir / "batch.jsonl")
        fill_hashes(items, table.last())
        validate(items)
        todo, skipped = plan(items, table, force=force, retry_failed=retry_failed)
        done: dict[str, dict[str, Any]] = {r["id"]: r for r in skipped}
        counts = {"total": len(todo), "done": 0, "ok": 0, "failed": 0, "running": 0, "skipped": len(skipped)}
        bar = _progress(progress)

        def on_start(task: dict[str, Any]) -> None:
            counts["running"] += 1
            if status:
                status(dict(counts))

        def on_result(row: dict[str, Any]) -> None:
            row = commit(row, out_dir, table.append)
            done[row["id"]] = row
            counts["running"] = max(0, counts["running"] - 1)
            counts["done"] += 1
            counts["ok" if row.get("status") == "ok" else "failed"] += 1
            if status:
                status(dict(counts))
            bar("batch", counts["done"], counts["total"])

        tasks = (_task(item, out_dir, engine, table, gallery) for item in todo)
        if status:
            status(dict(counts))
        try:
            if engine == "local":
                from .local import run_local

                run_local(tasks, workers=workers or os.cpu_count() or 1, retries=retries, on_start=on_start,
                          on_result=on_result)
            elif todo:
                from .ray_engine import run_ray

                expensive, gpu = _wants_gpu_model(todo)
                run_ray(tasks, out_dir=str(out_dir), sample_inputs=[i.input for i in todo[:3]], on_start=on_start,
                        on_result=on_result, address=address, retries=retries, num_cpus=num_cpus,
                        num_gpus=(1 if gpu else 0) if num_gpus is None else num_gpus,
                        actors=expensive if actors is None else actors, workers=workers)
        finally:
            clean_partials(out_dir)
            rows = [done[i.id] for i in items if i.id in done]
            write_summary(out_dir / "summary.csv", rows)
            if gallery:
                from .gallery import write_index

                write_index(out_dir / "index.html", rows, title=f"blur4d batch: {verb}, {len(items)} items")
    return rows


def _task(item: Item, out_dir: Path, engine: str, table: Table, thumbs: bool) -> dict[str, Any]:
    return {"id": item.id, "input": item.input, "verb": item.verb, "argv": item.argv(OUT_NAMES[item.verb]),
            "options": item.options, "options_argv": options_argv(item.options), "input_hash": item.input_hash,
            "options_hash": item.options_hash, "size": item.size, "mtime_ns": item.mtime_ns,
            "attempt": table.attempts(item.id) + 1, "engine": engine, "out_dir": str(out_dir), "thumbs": thumbs}


def _progress(progress: Any) -> Any:
    from ..api import auto_progress

    return auto_progress(progress)


def summary_line(rows: Sequence[Mapping[str, Any]], out_dir: str | os.PathLike) -> str:
    n = {s: sum(1 for r in rows if r.get("status") == s) for s in ("ok", "failed", "skipped")}
    return f"{n['ok']} ok, {n['failed']} failed (see {Path(out_dir) / 'summary.csv'}), {n['skipped']} skipped"
