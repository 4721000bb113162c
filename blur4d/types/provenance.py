"""Provenance: where a result came from (backend, versions, config, seed, timings)."""

from __future__ import annotations

import datetime as _dt
import functools
import platform
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping

import numpy as np


# --------------------------------------------------------------------------------------------
# Provenance
# --------------------------------------------------------------------------------------------
def package_versions(names: Iterable[str] = ()) -> dict[str, str]:
    """Installed versions of ``names`` (plus numpy and blur4d); absent packages are skipped. Any
    ``opencv-*`` name stands for the OpenCV distribution actually installed. Looked up once per
    process (a metadata scan costs ~0.2 s; reconstruct records provenance seven times)."""
    out: dict[str, str] = {"python": platform.python_version()}
    for name in ("blur4d", "numpy", *names):
        if name.startswith("opencv"):  # whichever OpenCV distribution provides cv2 here
            out.update(_opencv_versions())
            continue
        version = _version(name)
        if version is not None:
            out[name] = version
    return out


@functools.lru_cache(maxsize=None)
def _version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


@functools.lru_cache(maxsize=1)
def _opencv_versions() -> dict[str, str]:
    from importlib import metadata

    # the four distributions OpenCV ships as, looked up by name (~1 ms); a scan of every installed
    # distribution's metadata (~0.25 s) only when none of them is there
    found = {n: v for n in ("opencv-python", "opencv-contrib-python", "opencv-python-headless",
                            "opencv-contrib-python-headless") if (v := _version(n)) is not None}
    if found:
        return found
    for dist in metadata.distributions():
        name = (dist.metadata["Name"] or "").lower()
        if name.startswith("opencv"):
            found.setdefault(name, dist.version)
    return found


@dataclass(frozen=True)
class Provenance:
    """Where a result came from: backend, versions, resolved config, seed and timings (s)."""

    backend: str = "unknown"
    config: Mapping[str, Any] = field(default_factory=dict)
    seed: int | None = None
    timings: Mapping[str, float] = field(default_factory=dict)
    packages: Mapping[str, str] = field(default_factory=dict)
    created: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def capture(cls, backend: str, config: Mapping[str, Any] | Any = None, *, seed: int | None = None,
                packages: Iterable[str] = (), timings: Mapping[str, float] | None = None,
                **extra: Any) -> "Provenance":
        """Build a provenance record now; ``config`` may be a dataclass or a mapping."""
        from dataclasses import asdict, is_dataclass

        if config is None:
            cfg: dict[str, Any] = {}
        elif is_dataclass(config):
            cfg = asdict(config)
        else:
            cfg = dict(config)
        return cls(
            backend=backend, config=cfg, seed=seed, timings=dict(timings or {}),
            packages=package_versions(packages),
            created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            extra=dict(extra),
        )

    def with_timings(self, **timings: float) -> "Provenance":
        return replace(self, timings={**self.timings, **timings})

    def to_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend, "config": dict(self.config), "seed": self.seed,
            "timings": dict(self.timings), "packages": dict(self.packages),
            "created": self.created, "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> "Provenance":
        d = dict(d or {})
        return cls(
            backend=d.get("backend", "unknown"), config=d.get("config", {}) or {},
            seed=d.get("seed"), timings=d.get("timings", {}) or {},
            packages=d.get("packages", {}) or {}, created=d.get("created", ""),
            extra=d.get("extra", {}) or {},
        )


# --------------------------------------------------------------------------------------------
def _provenance_json(p: Provenance) -> str:
    from .._fs import to_json_text

    return to_json_text(p.to_dict())


def _provenance_from_json(arr: np.ndarray | None) -> Provenance:
    import json

    if arr is None:
        return Provenance()
    try:
        return Provenance.from_dict(json.loads(str(arr)))
    except json.JSONDecodeError:
        return Provenance()
