"""The results table: ``batch.jsonl`` (append-only, one row per finished attempt, written by the
driver only) and ``summary.csv`` (one row per item of the last run, written at the end).

A row is appended with one ``write`` of a whole line and flushed to disk, so an interrupted run
leaves valid JSON Lines; a torn last line (the machine lost power mid-write) is dropped when the
table is opened again.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

from .._fs import atomic_path, to_json_text

SUMMARY_COLUMNS = ("id", "status", "input", "error", "seconds", "verdict", "confidence", "cameras_ok", "motion",
                   "registered", "points", "faces", "frames", "attempt", "host", "finished")


class Table:
    """``DIR/batch.jsonl``: read the history (keeping only each item's last attempt and its
    attempt count in memory), append rows."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._last: dict[str, dict[str, Any]] = {}
        self._attempts: dict[str, int] = {}
        self.torn = False
        if self.path.is_file():
            self._load()

    def _load(self) -> None:
        with open(self.path, "rb") as fh:
            data = fh.read()
        end = data.rfind(b"\n") + 1
        if end < len(data):  # a torn last line: drop it, the table stays valid JSON Lines
            with open(self.path, "r+b") as fh:
                fh.truncate(end)
            self.torn = True
        for line in data[:end].decode("utf-8", errors="replace").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict) and "id" in row:
                self._note(row)

    def _note(self, row: Mapping[str, Any]) -> None:
        if row.get("status") in ("ok", "failed"):
            self._last[row["id"]] = dict(row)
            self._attempts[row["id"]] = self._attempts.get(row["id"], 0) + 1

    def last(self) -> dict[str, dict[str, Any]]:
        """The last finished attempt (ok or failed) per item id."""
        return self._last

    def attempts(self, item_id: str) -> int:
        return self._attempts.get(item_id, 0)

    def append(self, row: Mapping[str, Any]) -> None:
        line = (to_json_text(dict(row), indent=None) + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        self._note(row)


def summary_record(row: Mapping[str, Any]) -> dict[str, Any]:
    res = row.get("results") or {}
    rec = {k: row.get(k, "") for k in ("id", "status", "input", "error", "seconds", "attempt", "host", "finished")}
    rec.update({k: res.get(k, "") for k in ("verdict", "confidence", "cameras_ok", "motion", "registered", "points",
                                            "faces", "frames")})
    if isinstance(rec["confidence"], float):
        rec["confidence"] = round(rec["confidence"], 3)
    return {k: ("" if rec.get(k) is None else rec.get(k)) for k in SUMMARY_COLUMNS}


def write_summary(path: str | os.PathLike, rows: Iterable[Mapping[str, Any]]) -> Path:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=SUMMARY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(summary_record(row))
    with atomic_path(path) as tmp:
        tmp.write_text(buf.getvalue(), encoding="utf-8")
    return Path(path)
