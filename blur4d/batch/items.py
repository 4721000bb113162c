"""What a batch works on: inputs -> items with stable ids, input hashes and option hashes.

An input is a file (a photo or a video), a folder (recursed; images and videos by suffix,
``glob`` filters the names) or a manifest (``.csv`` or ``.jsonl``: one row per item with its
``path`` (or ``input``), an optional ``id`` and any verb options, e.g. ``seed``, ``intervals``,
``direction``, ``fov``, which override the batch's options for that row).

Options are ``{name: value}`` with CLI names (``"past-future"`` or ``"past_future"``): ``True``
is a flag, ``False``/``None`` leaves it out, a list repeats it (``skip=["faces", "report"]``).
"""

from __future__ import annotations

import csv
import fnmatch
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ..errors import InputError
from ..media import IMAGE_SUFFIXES, VIDEO_SUFFIXES

VERBS = ("reconstruct", "generate", "track", "check", "face")
#: the file each verb writes into the item's folder: exactly the single verb's layout
OUT_NAMES = {"reconstruct": "scene.ply", "generate": "video.mp4", "track": "tracks.npz", "check": "report.html",
             "face": "faces.json"}
MANIFEST_SUFFIXES = (".csv", ".jsonl", ".ndjson")
MEDIA_SUFFIXES = tuple(sorted(set(IMAGE_SUFFIXES) | set(VIDEO_SUFFIXES)))
# batch-level names a manifest row may carry besides verb options
_ROW_KEYS = ("path", "input", "id")
# options that name a verb's own output or are decided by the batch
_RESERVED = ("out", "input", "overwrite", "reuse", "debug")


@dataclass
class Item:
    """One unit of work: ``verb INPUT --out DIR/<id>/<OUT_NAME> [options]``."""

    id: str
    input: str  # absolute path
    verb: str
    options: dict[str, Any] = field(default_factory=dict)
    input_hash: str = ""
    options_hash: str = ""
    size: int = 0
    mtime_ns: int = 0

    def argv(self, out_name: str | None = None) -> list[str]:
        """The single verb's command line (without the program name)."""
        return [self.verb, self.input, "--out", out_name or OUT_NAMES[self.verb], *options_argv(self.options)]


def norm_key(key: str) -> str:
    return str(key).strip().lstrip("-").replace("_", "-")


def normalise_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in dict(options or {}).items():
        name = norm_key(key)
        if not name:
            continue
        if name in _RESERVED:
            raise InputError(f"option {name!r}: decided by the batch (each item writes DIR/<item-id>/); drop it")
        if isinstance(value, tuple):
            value = list(value)
        out[name] = value
    return out


def options_argv(options: Mapping[str, Any]) -> list[str]:
    """``{"frames": 8, "skip": ["faces"], "past-future": True}`` -> CLI arguments, in key order."""
    argv: list[str] = []
    for name in sorted(options):
        value = options[name]
        flag = f"--{name}" if len(name) > 1 else f"-{name}"
        if value is None or value is False:
            continue
        if value is True:
            argv.append(flag)
        elif isinstance(value, list):
            for v in value:
                argv.append(f"{flag}={v}")
        else:
            argv.append(f"{flag}={value}")
    return argv


def options_hash(verb: str, options: Mapping[str, Any]) -> str:
    """Hash of what decides an item's result besides its input: the verb and its options."""
    text = json.dumps({"verb": verb, "argv": options_argv(options)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def file_hash(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes, or of a folder's files (relative names and bytes, sorted)."""
    path = Path(path)
    h = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        if path.is_dir():
            h.update(str(f.relative_to(path)).encode() + b"\0")
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:16]


def _stat_key(path: Path) -> tuple[int, int]:
    if path.is_dir():
        files = [p for p in path.rglob("*") if p.is_file()]
        return sum(p.stat().st_size for p in files), max((p.stat().st_mtime_ns for p in files), default=0)
    st = path.stat()
    return st.st_size, st.st_mtime_ns


_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_id(rel: str) -> str:
    """A relative path -> a folder name: separators become ``__``, other odd characters ``_``,
    the media suffix is dropped."""
    p = Path(rel)
    if p.suffix.lower() in MEDIA_SUFFIXES:
        p = p.with_suffix("")
    parts = [_SAFE.sub("_", part).strip("._") or "_" for part in p.parts if part not in ("", ".", "..", "/")]
    name = "__".join(parts) or "item"
    return name[:120]


def _media_files(folder: Path, glob: str | None, exclude: Path | None = None) -> list[Path]:
    found = []
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts) or not p.is_file():
            continue
        if exclude is not None and p.is_relative_to(exclude):  # the batch's own outputs are never inputs
            continue
        if p.suffix.lower() not in MEDIA_SUFFIXES:
            continue
        if glob and not (fnmatch.fnmatch(str(rel), glob) or fnmatch.fnmatch(p.name, glob)):
            continue
        found.append(p)
    return found


def _read_manifest(path: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    try:
        if path.suffix.lower() == ".csv":
            with open(path, newline="", encoding="utf-8") as fh:
                for row in csv.DictReader(fh):
                    rows.append({k.strip(): v.strip() for k, v in row.items()
                                 if k is not None and v is not None and v.strip() != ""})
        else:
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as err:
                    raise InputError(f"manifest {path}: line {n} is not JSON ({err.msg})") from err
                if not isinstance(row, dict):
                    raise InputError(f"manifest {path}: line {n} is not a JSON object")
                rows.append(row)
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"manifest {path}: cannot read it ({err})") from err
    for n, row in enumerate(rows, 1):
        if not (row.get("path") or row.get("input")):
            raise InputError(f"manifest {path}: row {n} has no 'path' column")
    return rows


def _parse_cell(value: Any) -> Any:
    """CSV cells are text: numbers become numbers, true/false flags; ``a|b`` a repeated option."""
    if not isinstance(value, str):
        return value
    low = value.lower()
    if low in ("true", "false"):
        return low == "true"
    if "|" in value:
        return [v for v in value.split("|") if v]
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def _absolute_paths(options: dict[str, Any], base: Path) -> dict[str, Any]:
    """Option values naming an existing file or folder relative to ``base`` become absolute:
    items run with their own working folder."""
    out = {}
    for key, value in options.items():
        if isinstance(value, str) and value and not os.path.isabs(value) and (base / value).exists() \
                and ("/" in value or "." in Path(value).name):
            value = str((base / value).resolve())
        out[key] = value
    return out


def collect(inputs: Sequence[str | os.PathLike] | str | os.PathLike, *, verb: str = "reconstruct",
            options: Mapping[str, Any] | None = None, glob: str | None = None,
            cwd: str | os.PathLike | None = None, exclude: str | os.PathLike | None = None) -> list[Item]:
    """Expand ``inputs`` into items (ids unique and stable; hashes not computed yet). Files under
    ``exclude`` (the batch's output folder) are left out of folder inputs."""
    if verb not in VERBS:
        raise InputError(f"--verb: one of {', '.join(VERBS)}, got {verb!r}")
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    base = Path(cwd or os.getcwd())
    common = _absolute_paths(normalise_options(options), base)
    raw: list[tuple[str, Path, dict[str, Any], str | None]] = []  # (rel for the id, path, options, given id)
    for given in inputs:
        path = (base / Path(given)).resolve() if not os.path.isabs(given) else Path(given)
        if not path.exists():
            raise InputError(f"input {given}: no such file or folder")
        if path.is_dir():
            files = _media_files(path, glob, Path(exclude).resolve() if exclude else None)
            if not files:
                raise InputError(f"input {given}: no images or videos in this folder"
                                 + (f" matching --glob {glob!r}" if glob else ""))
            raw += [(str(f.relative_to(path)), f, dict(common), None) for f in files]
        elif path.suffix.lower() in MANIFEST_SUFFIXES:
            for row in _read_manifest(path):
                row = dict(row)
                p = Path(str(row.pop("path", None) or row.pop("input")))
                row.pop("input", None)
                given_id = row.pop("id", None)
                p = p if p.is_absolute() else (path.parent / p)
                rel = os.path.relpath(p, path.parent)
                rel = p.name if rel.startswith("..") else rel
                own = _absolute_paths(normalise_options({k: _parse_cell(v) for k, v in row.items()}), path.parent)
                raw.append((rel, p.resolve(), {**common, **own}, str(given_id) if given_id else None))
        else:
            raw.append((path.name, path, dict(common), None))
    return [Item(id=i, input=str(p), verb=verb, options=o) for i, (_, p, o, _) in zip(unique_ids(raw), raw)]


def unique_ids(raw: Iterable[tuple[str, Path, dict[str, Any], str | None]]) -> list[str]:
    """Ids from relative paths (or given ones), made safe; a repeated id gets ``-2``, ``-3``...
    in input order, so the same inputs always give the same ids."""
    ids: list[str] = []
    seen: set[str] = set()
    for rel, _path, _opts, given in raw:
        base = safe_id(given) if given else safe_id(rel)
        cand, n = base, 1
        while cand in seen:
            n += 1
            cand = f"{base}-{n}"
        seen.add(cand)
        ids.append(cand)
    return ids


def fill_hashes(items: Sequence[Item], known: Mapping[str, Mapping[str, Any]] | None = None) -> None:
    """Compute input and options hashes; an input whose size and mtime match the last row of
    the same id keeps that row's hash (a rerun does not reread a million files)."""
    known = known or {}
    for item in items:
        item.options_hash = options_hash(item.verb, item.options)
        path = Path(item.input)
        try:
            item.size, item.mtime_ns = _stat_key(path)
        except OSError:
            item.input_hash = ""
            continue
        prev = known.get(item.id)
        if prev and prev.get("input") == item.input and prev.get("size") == item.size \
                and prev.get("mtime_ns") == item.mtime_ns and prev.get("input_hash"):
            item.input_hash = str(prev["input_hash"])
            continue
        try:
            item.input_hash = file_hash(path)
        except OSError:
            item.input_hash = ""  # the worker reports why it cannot read it
