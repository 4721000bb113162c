"""``--engine local``: a process pool on this machine (spawn start method, so it behaves the same
on every OS and never forks a driver holding threads).

Each of the N workers caps its BLAS/OpenMP/OpenCV/torch threads at cores // N so the pool does
not oversubscribe the cores. At most N items are in flight (a million-item batch does not queue a
million futures). A worker that dies (killed, out of memory, a crash in native code) breaks the
pool: the items it held are retried in a fresh pool up to ``retries`` times, like Ray's task
retries. Ctrl-C terminates the workers; the driver then removes their partial folders.
"""

from __future__ import annotations

import contextlib
import os
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Iterable, Iterator, Mapping

from .worker import init_worker, run_item, thread_env


@contextlib.contextmanager
def _environ(values: Mapping[str, str]) -> Iterator[None]:
    """Spawned workers inherit these (BLAS reads its thread count when numpy is imported)."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _stop(ex: ProcessPoolExecutor) -> None:
    procs = list((getattr(ex, "_processes", None) or {}).values())
    for p in procs:
        with contextlib.suppress(Exception):
            p.terminate()
    for p in procs:
        with contextlib.suppress(Exception):
            p.join(5)
            if p.is_alive():
                p.kill()
                p.join(5)
    ex.shutdown(wait=False, cancel_futures=True)


def run_local(tasks: Iterable[dict[str, Any]], *, workers: int, retries: int = 2,
              on_start: Callable[[dict[str, Any]], None], on_result: Callable[[dict[str, Any]], None],
              threads: int | None = None) -> None:
    import multiprocessing

    workers = max(1, int(workers))
    threads = threads or max(1, (os.cpu_count() or 1) // workers)
    ctx = multiprocessing.get_context("spawn")
    queue = iter(tasks)
    retry: list[dict[str, Any]] = []

    def new_pool() -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=init_worker, initargs=(threads,))

    with _environ(thread_env(threads)):
        ex = new_pool()
        inflight: dict[Future, dict[str, Any]] = {}
        try:
            def submit_next() -> bool:
                task = retry.pop(0) if retry else next(queue, None)
                if task is None:
                    return False
                inflight[ex.submit(run_item, task)] = task
                if task.get("_crashes", 0) == 0:
                    on_start(task)
                return True

            while len(inflight) < workers and submit_next():
                pass
            while inflight:
                done, _ = wait(list(inflight), return_when=FIRST_COMPLETED)
                broken = False
                for fut in done:
                    task = inflight.pop(fut)
                    try:
                        row = fut.result()
                    except BrokenProcessPool:
                        broken = True
                        task["_crashes"] = task.get("_crashes", 0) + 1
                        if task["_crashes"] <= retries:
                            retry.append(task)
                            continue
                        row = _crashed(task)
                    except Exception as err:  # noqa: BLE001 - e.g. an unpicklable result: the item failed
                        row = {**_row(task), "status": "failed", "error": f"{type(err).__name__}: {err}"}
                    if task.get("_crashes"):
                        row["crashes"] = max(int(row.get("crashes") or 0), task["_crashes"])
                    on_result(row)
                if broken:  # the pool is unusable: every item in it goes back for a retry
                    for fut, task in list(inflight.items()):
                        inflight.pop(fut)
                        task["_crashes"] = task.get("_crashes", 0) + 1
                        if task["_crashes"] <= retries:
                            retry.append(task)
                        else:
                            on_result(_crashed(task))
                    _stop(ex)
                    time.sleep(0.1)
                    ex = new_pool()
                while len(inflight) < workers and submit_next():
                    pass
        except BaseException:
            _stop(ex)
            raise
        ex.shutdown(wait=True)


def _row(task: Mapping[str, Any]) -> dict[str, Any]:
    import socket

    return {k: task.get(k) for k in ("id", "input", "verb", "input_hash", "options_hash", "options", "size",
                                     "mtime_ns", "attempt", "engine")} | {"host": socket.gethostname()}


def _crashed(task: Mapping[str, Any]) -> dict[str, Any]:
    n = task.get("_crashes", 0)
    return {**_row(task), "status": "failed", "crashes": n,
            "error": f"the worker process died {n} time(s) on this item (killed, out of memory, or a crash in "
                     "native code)"}
