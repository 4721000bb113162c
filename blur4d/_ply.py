"""Binary little-endian PLY point files: write and read vertex-only clouds.

Layout written (what Open3D, trimesh, MeshLab, CloudCompare and plyfile read):
``x y z`` float32, optional ``nx ny nz`` float32, ``red green blue`` uchar, then any extra
scalar properties (e.g. ``confidence`` float32, ``frame`` int32, ``dynamic`` uchar).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ._fs import atomic_path
from .errors import InputError

_PLY_TYPES = {
    "f4": "float", "f8": "double", "u1": "uchar", "i1": "char",
    "u2": "ushort", "i2": "short", "u4": "uint", "i4": "int",
}
_NP_TYPES = {
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
    "uchar": "u1", "uint8": "u1", "char": "i1", "int8": "i1",
    "ushort": "u2", "uint16": "u2", "short": "i2", "int16": "i2",
    "uint": "u4", "uint32": "u4", "int": "i4", "int32": "i4",
}


def write_ply(path: str | os.PathLike, fields: dict[str, np.ndarray], *, overwrite: bool = True,
              comments: tuple[str, ...] = ()) -> Path:
    """Write named per-vertex scalar columns (all of length N) as a binary PLY."""
    if not fields:
        raise InputError("write_ply: no fields")
    n = len(next(iter(fields.values())))
    dtype = []
    for name, col in fields.items():
        col = np.asarray(col)
        if col.shape != (n,):
            raise InputError(f"write_ply: field {name} has shape {col.shape}, expected ({n},)")
        code = col.dtype.str.lstrip("<>|=")
        if code not in _PLY_TYPES:
            raise InputError(f"write_ply: field {name} has unsupported dtype {col.dtype}")
        dtype.append((name, "<" + code))
    data = np.empty(n, dtype=dtype)
    for name, col in fields.items():
        data[name] = col
    header = ["ply", "format binary_little_endian 1.0"]
    header += [f"comment {c}" for c in comments]
    header.append(f"element vertex {n}")
    header += [f"property {_PLY_TYPES[d.lstrip('<')]} {name}" for name, d in dtype]
    header.append("end_header")
    with atomic_path(path, overwrite=overwrite) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(("\n".join(header) + "\n").encode("ascii"))
            fh.write(data.tobytes())
    return Path(path)


def read_ply(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read the vertex element of a binary little-endian or ASCII PLY into named columns."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    with open(path, "rb") as fh:
        if fh.readline().strip() != b"ply":
            raise InputError(f"{path}: not a PLY file")
        fmt = None
        elements: list[tuple[str, int, list[tuple[str, str]]]] = []
        while True:
            line = fh.readline()
            if not line:
                raise InputError(f"{path}: PLY header has no end_header")
            words = line.decode("ascii", "replace").split()
            if not words or words[0] in ("comment", "obj_info"):
                continue
            if words[0] == "format":
                fmt = words[1]
            elif words[0] == "element":
                elements.append((words[1], int(words[2]), []))
            elif words[0] == "property":
                if words[1] == "list":
                    raise InputError(f"{path}: list properties are not supported")
                elements[-1][2].append((words[2], _NP_TYPES[words[1]]))
            elif words[0] == "end_header":
                break
        if not elements or elements[0][0] != "vertex":
            raise InputError(f"{path}: first PLY element is not 'vertex'")
        _, n, props = elements[0]
        if fmt == "binary_little_endian":
            dtype = np.dtype([(name, "<" + code) for name, code in props])
            raw = fh.read(dtype.itemsize * n)
            if len(raw) != dtype.itemsize * n:
                raise InputError(f"{path}: PLY file is truncated")
            data = np.frombuffer(raw, dtype=dtype)
            return {name: np.array(data[name]) for name, _ in props}
        if fmt == "ascii":
            rows = np.loadtxt(fh, max_rows=n, ndmin=2)
            return {name: rows[:, i].astype(code) for i, (name, code) in enumerate(props)}
        raise InputError(f"{path}: unsupported PLY format {fmt}")
