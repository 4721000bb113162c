"""Progress reporting through an injectable callback ``progress(stage, done, total)``.

Stages call it; they never print. The CLI connects it to rich, notebooks to ``tqdm.auto``,
tests to a recorder. Stages run on several threads at once (the check and the faces beside the
cameras), so the displays below take a lock: two threads starting the display together made two
rich displays, and a task id of one was looked up in the other (``KeyError: 0``).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Callable, Protocol


class Progress(Protocol):
    def __call__(self, stage: str, done: int, total: int) -> None: ...


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


NO_PROGRESS: Progress = _no_progress


class Recorder:
    """Keeps every call; for tests."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int]] = []

    def __call__(self, stage: str, done: int, total: int) -> None:
        self.calls.append((stage, done, total))


class TqdmProgress:
    """One ``tqdm.auto`` bar per stage name."""

    def __init__(self, **tqdm_kwargs: Any) -> None:
        self._bars: dict[str, Any] = {}
        self._kw = tqdm_kwargs
        self._lock = threading.Lock()

    def __call__(self, stage: str, done: int, total: int) -> None:
        from tqdm.auto import tqdm

        with self._lock:
            bar = self._bars.get(stage)
            if bar is None:
                bar = self._bars[stage] = tqdm(total=total, desc=stage, leave=False, **self._kw)
            bar.total = total
            bar.n = done
            bar.refresh()
            if done >= total:
                bar.close()
                del self._bars[stage]


class RichProgress:
    """A rich progress display for the CLI (on stderr); a context manager."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._progress: Any = None
        self._tasks: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> "RichProgress":
        return self

    def _start(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress as RP, TextColumn, TimeElapsedColumn

        self._progress = RP(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), console=Console(stderr=True), transient=False)
        self._progress.__enter__()

    def __exit__(self, *exc: Any) -> None:
        with self._lock:
            if self._progress is not None:
                self._progress.__exit__(*exc)
                self._progress = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        with self._lock:
            if self._progress is None:
                self._start()
            task = self._tasks.get(stage)
            if task is None:
                task = self._tasks[stage] = self._progress.add_task(stage, total=total)
            self._progress.update(task, completed=done, total=total)


def iterate(items: Any, stage: str, progress: Progress, total: int | None = None) -> Any:
    """Yield from ``items`` and report progress after each."""
    total = len(items) if total is None else total
    progress(stage, 0, total)
    for i, item in enumerate(items, 1):
        yield item
        progress(stage, i, total)


ProgressFn = Callable[[str, int, int], None]


_IMPORTED_AT = time.perf_counter()  # ``import blur4d`` loads this module: the command's own start

_LATE_IMPORT_S = 2.0
"""More than this between the process's start and blur4d's import means the process is older than
the command (a shell's last command is exec'd in the shell's own process, keeping its start time)."""


def _proc_age() -> float | None:
    """Seconds since this process started, from /proc on Linux; None where not available."""
    try:
        with open("/proc/self/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        start_ticks = int(fields[19])  # field 22 of stat(5), counted after the ")" that ends the name
        with open("/proc/uptime", "rb") as fh:
            uptime = float(fh.read().split()[0])
        return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def process_age() -> float | None:
    """Seconds since this command started (interpreter start, imports, ...): the process's age from
    /proc on Linux, or, where the process started well before blur4d was imported (``bash -c 'a && b &&
    blur4d ...'`` execs its last command in the shell's process, which keeps the shell's start time:
    a fresh clone's first run reported 98 s of 'startup' for a 10 s command), the seconds since
    blur4d's import (interpreter start not counted then). The CLI records it so run.json accounts
    for the whole command."""
    since_import = time.perf_counter() - _IMPORTED_AT
    age = _proc_age()
    if age is None or age - since_import > _LATE_IMPORT_S:
        return since_import
    return age
