"""Run one item, in whatever process an engine gives it (a pool worker, a Ray task or actor).

The item runs through the single verb's own code: ``blur4d VERB INPUT --out NAME [options]``,
in-process, with the item's temporary folder as working folder, so its outputs are those of the
single command run in that folder (same seed -> same bytes) and the relative paths it records
(``run.json``'s ``out``) stay true after the rename. The CLI sits above this package, so it is
reached by its dotted name (:data:`RUNNER`), the way backends are.

Folder protocol: ``DIR/.<id>.partial-<host>-<pid>/`` while running (with ``log.txt``). The worker
returns the row with that folder's path (``folder``); the driver commits the item: it renames the
folder to ``DIR/<id>/`` and appends the row to ``batch.jsonl`` as one step that Ctrl-C cannot
split (:func:`commit`), so a finished folder always has its row and a row always its folder. A
failed item's folder keeps only ``log.txt``. A partial folder left by a killed worker or an
interrupted driver is removed by the next attempt of the same item (and counted as a crash) or by
the driver.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import re
import shlex
import shutil
import socket
import sys
import time
from pathlib import Path
from typing import Any, Mapping

from .._fs import replace_folder

RUNNER = "blur4d.cli.main"
GALLERY = ".gallery"  # thumbnails made by the workers, embedded into index.html by the driver
#: backends whose model is worth keeping loaded between items of one worker
EXPENSIVE = {("generate", "blur2vid"), ("track", "cotracker")}
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                "VECLIB_MAXIMUM_THREADS", "OPENCV_FOR_THREADS_NUM")
_ERROR_LINE = re.compile(r"^blur4d[\w -]*: (?:internal )?error: (.*)$")


def thread_env(threads: int) -> dict[str, str]:
    return {k: str(max(1, int(threads))) for k in _THREAD_VARS}


def limit_threads(threads: int) -> None:
    """Cap BLAS/OpenMP (for libraries not loaded yet), OpenCV and torch threads in this process."""
    threads = max(1, int(threads))
    os.environ.update(thread_env(threads))
    with contextlib.suppress(Exception):
        import cv2

        cv2.setNumThreads(threads)
    if "torch" in sys.modules:
        with contextlib.suppress(Exception):
            sys.modules["torch"].set_num_threads(threads)


def init_worker(threads: int) -> None:
    """Process-pool initializer: the driver handles Ctrl-C (workers ignore SIGINT and are
    stopped by the driver), threads are capped, expensive models are cached."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    limit_threads(threads)
    install_model_cache()


# ------------------------------------------------------------------------------------------------
# expensive models: one instance per worker process
# ------------------------------------------------------------------------------------------------
_MODELS: dict[Any, Any] = {}


def install_model_cache(max_models: int = 2) -> None:
    """Make ``api.make_backend`` return one kept instance per (stage, backend, options) for the
    backends in :data:`EXPENSIVE` (they load their weights on first call and keep them)."""
    from .. import api

    if getattr(api.make_backend, "_batch_cache", False):
        return
    original = api.make_backend

    def make_backend(stage: str, backend: str | None, options: Mapping[str, Any] | None = None) -> Any:
        if (stage, backend) not in EXPENSIVE:
            return original(stage, backend, options)
        key = (stage, backend, json.dumps(dict(options or {}), sort_keys=True, default=repr))
        if key not in _MODELS:
            while len(_MODELS) >= max_models:
                _MODELS.pop(next(iter(_MODELS)))
            _MODELS[key] = original(stage, backend, options)
        return _MODELS[key]

    make_backend._batch_cache = True  # type: ignore[attr-defined]
    api.make_backend = make_backend


# ------------------------------------------------------------------------------------------------
# one item
# ------------------------------------------------------------------------------------------------
def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime())


def _failed(task: Mapping[str, Any], error: str, t0: float, **extra: Any) -> dict[str, Any]:
    return {**_base_row(task), "status": "failed", "error": error, "seconds": round(time.perf_counter() - t0, 3),
            **extra}


def _base_row(task: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": task["id"], "input": task["input"], "verb": task["verb"], "input_hash": task["input_hash"],
            "options_hash": task["options_hash"], "options": task["options"], "size": task.get("size"),
            "mtime_ns": task.get("mtime_ns"), "attempt": task.get("attempt", 1), "engine": task.get("engine"),
            "host": socket.gethostname(), "pid": os.getpid(), "started": task.get("_started")}


def run_item(task: Mapping[str, Any]) -> dict[str, Any]:
    """Run one item; return its row (status ok or failed). Never raises for the item's own
    errors: a bad input is a failed row with the verb's one-line error."""
    t0 = time.perf_counter()
    task = dict(task)
    task["_started"] = _now()
    host = socket.gethostname()
    out_dir, item_input = Path(task["out_dir"]), Path(task["input"])
    if not out_dir.is_dir() or not os.access(out_dir, os.W_OK | os.X_OK):
        return _failed(task, f"worker on {host} cannot write {out_dir}: --out must be on storage every worker "
                             "can reach (a shared filesystem path)", t0)
    if not item_input.exists():
        return _failed(task, f"input {item_input}: no such file or folder (as seen by the worker on {host}; inputs "
                             "must be on storage every worker can reach)", t0)
    crashes = 0
    for stale in out_dir.glob(f".{task['id']}.partial-*"):  # left by a killed attempt of this item
        shutil.rmtree(stale, ignore_errors=True)
        crashes += 1
    tmp = out_dir / f".{task['id']}.partial-{host}-{os.getpid()}"
    tmp.mkdir()
    rc, error = _run_verb(task["argv"], tmp)
    row = {**_base_row(task), "status": "ok" if rc == 0 else "failed", "error": error,
           "crashes": crashes}
    try:
        if rc == 0:
            row["stages"], row["results"] = collect_results(task["verb"], tmp)
            if task.get("thumbs", True):
                with contextlib.suppress(Exception):  # a gallery picture is never worth failing an item
                    make_thumbs(task, tmp, out_dir / GALLERY)
        else:
            for child in tmp.iterdir():
                if child.name != "log.txt":
                    shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        return _failed(task, f"cannot finish {out_dir / task['id']}: {err.strerror or err}", t0, crashes=crashes)
    row["seconds"] = round(time.perf_counter() - t0, 3)
    row["finished"] = _now()
    row["peak_rss_mb"] = _peak_rss_mb()
    row["folder"] = str(tmp)  # committed (renamed to DIR/<id>/) by the driver: see commit()
    return row


def commit(row: dict[str, Any], out_dir: Path, record: Any) -> dict[str, Any]:
    """The driver's half of an item: rename the worker's finished folder (``row['folder']``) to
    ``out_dir/<id>/`` and ``record(row)`` (append it to the table), with Ctrl-C held back until
    both are done (it then takes effect). Returns the row as recorded (without ``folder``)."""
    import signal
    import threading

    row = dict(row)
    folder = row.pop("folder", None)
    held: list[tuple[Any, Any]] = []
    main = threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGINT, lambda *a: held.append(a)) if main else None
    try:
        if folder:
            try:
                replace_folder(Path(folder), out_dir / row["id"])
            except OSError as err:
                shutil.rmtree(folder, ignore_errors=True)
                row.update(status="failed", error=f"cannot finish {out_dir / row['id']}: {err.strerror or err}")
        record(row)
    finally:
        if main:
            signal.signal(signal.SIGINT, old)
            if held and callable(old):
                old(*held[0])
    return row


def _peak_rss_mb() -> float | None:
    """This worker process's peak resident memory so far (Linux/macOS)."""
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    except (ImportError, OSError):
        return None
    return round(peak / (1 << 20 if sys.platform == "darwin" else 1 << 10), 1)


def _run_verb(argv: list[str], folder: Path) -> tuple[int, str]:
    """``blur4d *argv`` in ``folder`` with stdout/stderr to ``folder/log.txt`` -> (exit code, error)."""
    import logging

    main = importlib.import_module(RUNNER).main
    log_path = folder / "log.txt"
    cwd = os.getcwd()
    with open(log_path, "w", encoding="utf-8") as log:
        log.write("$ blur4d " + shlex.join(argv) + "\n")
        log.flush()
        os.chdir(folder)
        try:
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                try:
                    rc = int(main(argv) or 0)
                except SystemExit as exc:  # argparse: bad usage
                    rc = exc.code if isinstance(exc.code, int) else 2
                except Exception as err:  # noqa: BLE001 - main maps errors itself; this is a last resort
                    log.write(f"blur4d: internal error: {type(err).__name__}: {' '.join(str(err).split())[:500]}\n")
                    rc = 3
        finally:
            os.chdir(cwd)
            logging.getLogger("blur4d").handlers[:] = [logging.NullHandler()]
    if rc == 0:
        return 0, ""
    error = ""
    for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines():
        m = _ERROR_LINE.match(line.strip())
        if m:
            error = m.group(1).strip()
    return rc, error or f"exit code {rc} (see log.txt)"


# ------------------------------------------------------------------------------------------------
# key results and thumbnails, read from the item's outputs (the driver never loads frames)
# ------------------------------------------------------------------------------------------------
def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def collect_results(verb: str, folder: Path) -> tuple[dict[str, float], dict[str, Any]]:
    """(per-stage seconds, key results) from the files the verb wrote."""
    stages: dict[str, float] = {}
    res: dict[str, Any] = {}
    if verb == "reconstruct":
        run = _read(folder / "scene" / "run.json") or {}
        stages = {k: float(v) for k, v in (run.get("timings") or {}).items() if isinstance(v, (int, float))}
        st = run.get("stages") or {}
        cams, check, faces, dense = (st.get(k) or {} for k in ("cameras", "check", "faces", "dense"))
        if cams.get("status") == "done":
            res.update(cameras_ok=bool(cams.get("ok")), motion=cams.get("motion"), registered=cams.get("registered"))
        points = dense.get("points", cams.get("static_points"))
        if points is not None:
            res["points"] = int(points)
        if check.get("verdict") is not None:
            res.update(verdict=check.get("verdict"), confidence=check.get("confidence"))
        if faces.get("status") in ("done", "empty"):
            res["faces"] = int(faces.get("faces", 0))
        frames = folder / "scene" / "frames"
        if frames.is_dir():
            res["frames"] = sum(1 for p in frames.glob("frame_*.png"))
        res["stage_status"] = {k: v.get("status") for k, v in st.items() if isinstance(v, dict)}
    elif verb == "check":
        c = _read(folder / "consistency.json") or {}
        res.update(verdict=c.get("verdict"), confidence=c.get("confidence"))
    elif verb == "generate":
        side = _read(folder / "video.mp4.json") or {}
        stages = {k: float(v) for k, v in (side.get("timings") or {}).items() if isinstance(v, (int, float))}
        res["samples"] = len(side.get("outputs") or [])
    elif verb == "track":
        side = _read(folder / "tracks.npz.json") or {}
        stages = {k: float(v) for k, v in (side.get("timings") or {}).items() if isinstance(v, (int, float))}
        with contextlib.suppress(Exception):
            import numpy as np

            with np.load(folder / "tracks.npz") as z:
                res["frames"], res["points"] = (int(v) for v in z["tracks"].shape[:2])
    elif verb == "face":
        f = _read(folder / "faces.json") or {}
        faces = f.get("faces") if isinstance(f, dict) else None
        if isinstance(faces, list):
            res["faces"] = len(faces)
        elif isinstance(f, dict) and "num_faces" in f:
            res["faces"] = f["num_faces"]
    return stages, res


def _middle_video_frame(path: Path) -> Any:
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        if n > 1:
            cap.set(cv2.CAP_PROP_POS_FRAMES, n // 2)
        ok, frame = cap.read()
    finally:
        cap.release()
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB) if ok else None


def _save_thumb(img: Any, path: Path, size: int = 240) -> None:
    from PIL import Image

    from .._fs import atomic_path

    im = img if isinstance(img, Image.Image) else Image.fromarray(img)
    im = im.convert("RGB")
    im.thumbnail((size, size))
    with atomic_path(path) as tmp:
        im.save(tmp, "JPEG", quality=80)


def make_thumbs(task: Mapping[str, Any], folder: Path, gallery: Path) -> None:
    """``<id>.photo.jpg`` (the input photo) and ``<id>.clip.jpg`` (the clip's middle frame)."""
    from PIL import Image, ImageOps

    from ..media import IMAGE_SUFFIXES, VIDEO_SUFFIXES

    src = Path(task["input"])
    gallery.mkdir(exist_ok=True)
    item = task["id"]
    for old in gallery.glob(f"{item}.*.jpg"):
        old.unlink()
    suffix = src.suffix.lower()
    if src.is_file() and suffix in IMAGE_SUFFIXES and suffix != ".gif":
        with Image.open(src) as im:
            im.draft("RGB", (480, 480))
            _save_thumb(ImageOps.exif_transpose(im), gallery / f"{item}.photo.jpg")
    clip = None
    frames = sorted((folder / "scene" / "frames").glob("frame_*.png"))
    if frames:
        with Image.open(frames[len(frames) // 2]) as im:
            clip = im.convert("RGB")
            _save_thumb(clip, gallery / f"{item}.clip.jpg")
        return
    if (folder / "video.mp4").is_file():
        clip = _middle_video_frame(folder / "video.mp4")
    elif src.is_file() and suffix in VIDEO_SUFFIXES:
        clip = _middle_video_frame(src)
    if clip is not None:
        _save_thumb(clip, gallery / f"{item}.clip.jpg")
