"""Read a scene for viewing, turning every way a folder can be broken into one line that names
what is missing or unreadable."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from .. import api
from .._fs import read_json
from ..errors import Blur4DError, InputError
from ..types import Scene


def _paths(path: Path) -> tuple[Path, Path]:
    if path.suffix.lower() == ".ply":
        return path, path.with_suffix("")
    return path.with_name(path.name + ".ply"), path


def check_scene_files(path: str | os.PathLike) -> None:
    """Raise :class:`InputError` naming the first missing piece of a scene written by
    ``reconstruct`` or ``Scene.save()``: the folder, or a file an index refers to."""
    path = Path(path)
    ply, folder = _paths(path)
    if not path.exists():
        raise InputError(f"scene {path}: no such file or folder")
    if not folder.is_dir():
        raise InputError(f"scene {path}: its folder {folder}/ is missing (`blur4d reconstruct ... --out {ply}` "
                         "writes both)")
    index = folder / "points" / "index.json"
    if index.is_file():
        try:
            entries = read_json(index).get("frames", [])
        except (ValueError, AttributeError, OSError) as err:
            raise InputError(f"scene {path}: {index} is unreadable ({err})") from err
        missing = [e.get("file", "?") for e in entries if not (folder / "points" / str(e.get("file", ""))).is_file()]
        if missing:
            raise InputError(f"scene {path}: {len(missing)} moving-point file(s) listed in points/index.json are "
                             f"missing, first {folder / 'points' / missing[0]}")
    elif (folder / "points").is_dir():
        raise InputError(f"scene {path}: {index} is missing (the moving points cannot be read)")
    if (folder / "depth").is_dir() and not (folder / "depth" / "depth.npz").is_file():
        raise InputError(f"scene {path}: {folder / 'depth' / 'depth.npz'} is missing (the depth maps)")
    if (folder / "faces.json").is_file() and not (folder / "faces.npz").is_file():
        raise InputError(f"scene {path}: {folder / 'faces.npz'} is missing (faces.json has no arrays without it)")


def open_scene(path: str | os.PathLike) -> Scene:
    """``blur4d.load`` with the checks above and one-line errors for unreadable files."""
    check_scene_files(path)
    try:
        return api.load(path)
    except InputError as err:
        if str(err).startswith("scene "):
            raise
        raise InputError(f"scene {path}: {err}") from err
    except Blur4DError:
        raise
    except FileNotFoundError as err:
        raise InputError(f"scene {path}: {err.filename or err} is missing") from err
    except (OSError, ValueError, KeyError, IndexError, TypeError, EOFError, zipfile.BadZipFile) as err:
        text = " ".join(str(err).split())[:200]
        raise InputError(f"scene {path}: a file is unreadable ({type(err).__name__}: {text})") from err
