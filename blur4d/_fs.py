"""Safe file output: checked destinations and atomic writes (temporary name, then rename).

Nothing blur4d writes is ever half written: a writer gets a temporary path next to the final
one, and the rename happens only when the writer returned without an error.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .errors import InputError, OutputExistsError


def check_output(path: str | os.PathLike, *, overwrite: bool = False, what: str = "output") -> Path:
    """Validate an output destination before any work is done.

    Raises :class:`OutputExistsError` when it exists and ``overwrite`` is False, and
    :class:`InputError` when its folder cannot be created or written.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{what} {path} already exists; pass --overwrite to replace it")
    if path.exists() and path.is_dir() != (path.suffix == ""):
        kind = "a folder" if path.is_dir() else "a file"
        raise InputError(f"{what} {path} is {kind}; choose another path")
    parent = path.parent if str(path.parent) else Path(".")
    probe = parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise InputError(f"{what} {path}: folder {probe} is not writable")
    return path


def replace_folder(src: Path, dst: Path) -> None:
    """Rename the finished folder ``src`` onto ``dst``: an existing ``dst`` is moved aside first
    (two renames) and removed after, so ``dst`` is always either the old or the new folder."""
    if dst.exists():
        aside = dst.with_name(f".{dst.name}.old-{os.getpid()}")
        os.replace(dst, aside)
        os.replace(src, dst)
        shutil.rmtree(aside, ignore_errors=True)
    else:
        os.replace(src, dst)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    The temporary name keeps the suffix (writers such as ffmpeg pick the format from it). Works
    for files and for folders (the writer creates the folder at the yielded path).
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} already exists; pass --overwrite to replace it")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    except OSError as err:
        raise InputError(f"cannot write {path}: {err.strerror or err}") from err
    os.close(fd)
    os.unlink(tmp_name)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if not tmp.exists():
            raise InputError(f"writer produced no output for {path}")
        if path.is_dir() and not path.is_symlink():
            if tmp.is_dir():
                replace_folder(tmp, path)
                return
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink()


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"cannot write {type(obj).__name__} as JSON")


def to_json_text(obj: Any, indent: int | None = 2) -> str:
    separators = None if indent is not None else (",", ":")
    return json.dumps(obj, indent=indent, separators=separators, default=_json_default, allow_nan=False)


def write_json(path: str | os.PathLike, obj: Any, *, overwrite: bool = True, indent: int | None = 2) -> Path:
    """Write ``obj`` as JSON (indented unless ``indent=None``), atomically. NaN is written as null."""
    text = to_json_text(_nan_to_none(obj), indent)
    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_text(text + "\n", encoding="utf-8")
    return Path(path)


def _nan_to_none(obj: Any) -> Any:
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if isinstance(obj, np.floating) and not np.isfinite(obj):
        return None
    if isinstance(obj, np.ndarray) and obj.dtype.kind == "f":
        return [_nan_to_none(v) for v in obj.tolist()] if obj.ndim else _nan_to_none(float(obj))
    if isinstance(obj, dict):
        return {k: _nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_nan_to_none(v) for v in obj]
    return obj


def read_json(path: str | os.PathLike) -> Any:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"{path}: not valid JSON ({err})") from err


def write_npz(path: str | os.PathLike, *, overwrite: bool = True, **arrays: np.ndarray) -> Path:
    """Write arrays to a compressed npz, atomically (object arrays are refused: no pickles)."""
    for key, value in arrays.items():
        if np.asarray(value).dtype == object:
            raise TypeError(f"npz field {key}: object arrays are not allowed")
    with atomic_path(path, overwrite=overwrite) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)
    return Path(path)


def read_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError) as err:
        raise InputError(f"{path}: not a readable npz file ({err})") from err
