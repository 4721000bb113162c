"""Shape and dtype checks for the typed containers (no IO, no heavy imports)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import InputError


def check_shape(
    arr: Any,
    spec: str,
    *,
    name: str,
    dtype: Any = None,
    dims: dict[str, int] | None = None,
) -> dict[str, int]:
    """Check that ``arr`` is an ndarray whose shape matches ``spec``.

    ``spec`` is a space-separated list of dimension names or integers, e.g. ``"T N 2"``. Named
    dimensions are bound on first sight and must agree afterwards; pass ``dims`` to share bindings
    between several arrays. Returns the (updated) binding dict.

    >>> check_shape(np.zeros((4, 3, 2)), "T N 2", name="xy")
    {'T': 4, 'N': 3}
    """
    dims = {} if dims is None else dims
    if not isinstance(arr, np.ndarray):
        raise InputError(f"{name}: expected a numpy array, got {type(arr).__name__}")
    parts = spec.split()
    if arr.ndim != len(parts):
        raise InputError(f"{name}: expected shape ({', '.join(parts)}), got {arr.shape}")
    for size, part in zip(arr.shape, parts):
        if part.isdigit():
            if size != int(part):
                raise InputError(f"{name}: expected shape ({', '.join(parts)}), got {arr.shape}")
        elif part in dims:
            if dims[part] != size:
                raise InputError(
                    f"{name}: dimension {part} is {size}, but {dims[part]} elsewhere "
                    f"(expected ({', '.join(parts)}), got {arr.shape})"
                )
        else:
            dims[part] = size
    if dtype is not None:
        wanted = dtype if isinstance(dtype, (tuple, list)) else (dtype,)
        if not any(np.dtype(arr.dtype) == np.dtype(w) for w in wanted):
            names = "/".join(np.dtype(w).name for w in wanted)
            raise InputError(f"{name}: expected dtype {names}, got {arr.dtype}")
    return dims


def check_finite(arr: np.ndarray, *, name: str) -> None:
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name}: contains NaN or infinite values")


def build_config(config_cls: Any, options: dict[str, Any], *, backend: str) -> Any:
    """Construct a backend's config dataclass from keyword options. An unknown name or a bad
    value is an :class:`InputError` that lists the valid option names."""
    from dataclasses import fields

    valid = sorted(f.name for f in fields(config_cls))
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise InputError(f"{backend}: unknown option(s) {', '.join(unknown)}; valid: {', '.join(valid)}")
    try:
        return config_cls(**options)
    except TypeError as err:
        raise InputError(f"{backend}: {err}") from err
