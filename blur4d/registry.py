"""Backends per stage, and the one helper that loads optional dependencies.

Specs hold dotted paths, so listing backends imports nothing heavy. ``get_backend(stage, name)``
imports on demand. Third-party backends register through the entry-point group
``blur4d.backends`` with names ``"<stage>.<name>"``.

The same dotted paths let a module low in the import layers (README, "Layout") call a module
above it without importing it: the data types' conveniences (``Video.save``, ``Scene.save``,
notebook HTML) name their implementation here with :func:`resolve`, so ``blur4d.types`` never
imports ``media``, ``display`` or ``pipeline``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from dataclasses import dataclass, field
from typing import Any, Mapping

from .errors import BackendError, InputError, MissingDependencyError

STAGES = ("generate", "track", "cameras", "check", "faces")


@dataclass(frozen=True)
class BackendSpec:
    stage: str
    name: str
    target: str  # "module:attribute"
    summary: str
    extra: str | None = None  # pip extra that installs what it needs
    requires: tuple[str, ...] = ()  # importable module names it needs
    needs: str = ""  # weights, external installs, GPU: free text
    licence: str = ""
    default: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)

    def available(self) -> tuple[bool, str]:
        """(usable, why-not) judged by whether the required modules can be found (no import)."""
        missing = [m for m in self.requires if not _importable(m.split(".")[0])]
        if missing:
            if self.needs and self.extra in ("track", "megasam"):
                hint = self.needs
            else:
                hint = f'pip install "blur4d[{self.extra}]"' if self.extra else f"pip install {' '.join(missing)}"
            return False, f"needs {', '.join(missing)} ({hint})"
        return True, ""


def _importable(name: str) -> bool:
    """Whether module ``name`` can be imported, without importing it. A module already in
    ``sys.modules`` counts, also while another thread is still importing it: OpenCV's loader leaves
    ``cv2.__spec__`` None for a moment, where ``find_spec`` raises ``ValueError`` (seen when a stage
    thread asked while the writer thread imported cv2)."""
    if name in sys.modules:
        return True
    try:
        return importlib.util.find_spec(name) is not None
    except ValueError:  # in sys.modules by now (another thread), without a spec yet
        return name in sys.modules


_BACKENDS: dict[tuple[str, str], BackendSpec] = {}


def register(spec: BackendSpec) -> None:
    if spec.stage not in STAGES:
        raise InputError(f"backend stage must be one of {STAGES}, got {spec.stage!r}")
    _BACKENDS[(spec.stage, spec.name)] = spec


for _spec in (
    BackendSpec("generate", "classical", "blur4d.generate.classical:ClassicalGenerator",
                "physically based: motion-blur field estimation, deconvolution, path rendering; CPU, no weights",
                requires=("cv2", "scipy"), default=True, licence="MIT (blur4d)"),
    BackendSpec("generate", "blur2vid", "blur4d.generate.blur2vid:Blur2VidGenerator",
                "the published diffusion model (CogVideoX-2B fine-tuned), on diffusers",
                extra="diffusion", requires=("torch", "diffusers", "safetensors"),
                needs="weights: tedlasai/blur2vid + THUDM/CogVideoX-2b (local dirs or hub cache); a GPU for speed",
                licence="model weights: see the blur2vid and CogVideoX licences"),
    BackendSpec("generate", "video", "blur4d.generate.video:ExistingVideo",
                "an existing video plus its exposure intervals (e.g. made by the official blur2vid code)",
                licence="MIT (blur4d)"),
    BackendSpec("track", "builtin", "blur4d.adapters.tracking:BuiltinTracker",
                "pyramidal Lucas-Kanade / DIS flow with forward-backward checks; CPU, offline",
                requires=("cv2",), default=True, licence="MIT (blur4d)"),
    BackendSpec("track", "cotracker", "blur4d.adapters.cotracker:CoTrackerTracker",
                "CoTracker3 (offline or online) from a local checkpoint",
                extra="track", requires=("torch", "cotracker"),
                needs="pip install a clone of facebookresearch/co-tracker; a local scaled_offline.pth",
                licence="CC BY-NC 4.0 (non-commercial)"),
    BackendSpec("cameras", "colmap", "blur4d.adapters.colmap:ColmapCameras",
                "robust small-baseline SfM on pycolmap + dense stereo points; CPU",
                extra="colmap", requires=("pycolmap", "cv2"), default=True, licence="BSD-3 (COLMAP)"),
    BackendSpec("cameras", "megasam", "blur4d.adapters.megasam:MegaSamCameras",
                "MegaSaM camera + depth from a user's installation, run as a subprocess",
                extra="megasam", needs="a MegaSaM checkout and weights; CUDA (see third_party/megasam)",
                licence="Apache-2.0"),
    BackendSpec("check", "sift", "blur4d.adapters.epipolar:EpipolarChecker",
                "SIFT + MAGSAC fundamental/homography checks with a verdict",
                requires=("cv2",), default=True, licence="Apache-2.0 (OpenCV)"),
    BackendSpec("faces", "facemesh", "blur4d.adapters.faces:FaceMeshTracker",
                "MediaPipe Face Mesh (legacy solution; models ship in mediapipe==0.10.14)",
                extra="faces", requires=("mediapipe",), default=True, licence="Apache-2.0"),
    BackendSpec("faces", "landmarker", "blur4d.adapters.faces:FaceLandmarkerTracker",
                "MediaPipe Face Landmarker (Tasks API) from a user-supplied .task model",
                extra="faces", requires=("mediapipe",), needs="a face_landmarker.task file",
                licence="Apache-2.0"),
):
    register(_spec)


def _load_entry_points() -> None:
    from importlib import metadata

    try:
        eps = metadata.entry_points(group="blur4d.backends")
    except TypeError:  # pragma: no cover - very old importlib.metadata
        eps = metadata.entry_points().get("blur4d.backends", [])
    for ep in eps:
        stage, _, name = ep.name.partition(".")
        if (stage, name) not in _BACKENDS and stage in STAGES:
            _BACKENDS[(stage, name)] = BackendSpec(stage, name, ep.value.replace(":", ":", 1),
                                                   f"third-party backend from {ep.value}")


def list_backends(stage: str | None = None) -> list[BackendSpec]:
    _load_entry_points()
    return [s for (st, _), s in _BACKENDS.items() if stage is None or st == stage]


def default_backend(stage: str) -> str:
    for spec in list_backends(stage):
        if spec.default:
            return spec.name
    raise InputError(f"no default backend for stage {stage!r}")


def get_spec(stage: str, name: str | None) -> BackendSpec:
    if stage not in STAGES:
        raise InputError(f"stage must be one of {STAGES}, got {stage!r}")
    name = name or default_backend(stage)
    _load_entry_points()
    try:
        return _BACKENDS[(stage, name)]
    except KeyError:
        valid = ", ".join(s.name for s in list_backends(stage))
        raise InputError(f"--backend: unknown {stage} backend {name!r}; choose one of: {valid}") from None


def get_backend(stage: str, name: str | None = None) -> Any:
    """Import and return the backend class (or factory) for ``stage``/``name``."""
    spec = get_spec(stage, name)
    ok, why = spec.available()
    if not ok:
        raise MissingDependencyError(f"{stage} backend {spec.name!r} {why}")
    module_name, _, attr = spec.target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name and (err.name == module_name or module_name.startswith(err.name + ".")):
            raise BackendError(f"{stage} backend {spec.name!r} is not available in this version of blur4d") from err
        raise
    try:
        return getattr(module, attr)
    except AttributeError as err:
        raise InputError(f"backend {spec.name!r}: {module_name} has no {attr}") from err


def make_backend(stage: str, backend: str | None, options: Mapping[str, Any] | None = None) -> Any:
    """Instantiate a backend with keyword options; unknown option names are an InputError."""
    cls = get_backend(stage, backend)
    try:
        return cls(**dict(options or {}))
    except TypeError as err:
        raise InputError(f"{stage} backend {backend or 'default'}: {err}") from err


def resolve(target: str) -> Any:
    """The object a dotted path ``"package.module:attribute"`` names, imported on first use."""
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


# Notebook HTML for the result containers lives in blur4d.display, above the types: a type's
# ``_repr_html_`` looks its renderer up here by class name.
HTML_RENDERERS: dict[str, str] = {
    "Video": "blur4d.display:video_html", "Generation": "blur4d.display:generation_html",
    "Tracks": "blur4d.display:tracks_html", "Cameras": "blur4d.display:cameras_html",
    "PointCloud": "blur4d.display:points_html", "ConsistencyReport": "blur4d.display:consistency_html",
    "FaceTracks": "blur4d.display:faces_html", "Scene": "blur4d.display:scene_html",
}


def html_of(obj: Any) -> str:
    """Notebook HTML for a blur4d result container (its class name picks the renderer)."""
    return resolve(HTML_RENDERERS[type(obj).__name__])(obj)


def require(module: str, *, pip: str | None = None, extra: str | None = None, feature: str = "") -> Any:
    """Import an optional module or raise :class:`MissingDependencyError` with the install line.

    >>> np = require("numpy", feature="arrays")
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        what = feature or module
        line = f'pip install "blur4d[{extra}]"' if extra else f"pip install {pip or module}"
        raise MissingDependencyError(f"{what} needs {pip or module} ({err}). Install with: {line}") from err
