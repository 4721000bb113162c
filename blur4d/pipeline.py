"""``reconstruct``: photo -> video -> tracks -> cameras + dense points -> checks -> faces -> report,
written as ``scene.ply`` plus a sibling folder ``scene/``.

The pipeline is the list :data:`STAGES` and one loop over it. Each :class:`Stage` is declared
once: its name, the scene fields it needs from earlier stages and the ones it fills, the files
it writes in ``scene/``, how they load back, the registry's backend kind it calls and what it
records in ``run.json``. ``reconstruct`` (with ``skip`` and ``reuse``), :func:`save_scene`
(``Scene.save``), :func:`load_scene` and :func:`summary_lines` all walk that list; the work
of each stage lives in :mod:`blur4d.stages`. Every file is optional (its stage was skipped or
unavailable; ``run.json`` says which and why); the static points are ``scene.ply`` itself.

A new stage is one more ``Stage(...)`` in :data:`STAGES` with its functions; work that lives in a
layer above this one (e.g. the viewer's export) is named by a dotted path and reached through
``blur4d.registry.resolve``, never imported.

The folder is built in a temporary folder beside the destination and renamed into place; an
existing destination is refused unless ``overwrite=True``. With ``reuse=True`` the stages whose
files exist in the destination are read back instead of recomputed (also when ``skip`` names
them: their files are kept, so is what they hold).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
import traceback
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from . import stages as S
from ._fs import read_json, replace_folder, write_json
from .errors import Blur4DError, InputError, OutputExistsError
from .media import DEFAULT_MAX_PIXELS, Photo
from .progress import NO_PROGRESS, Progress
from .registry import default_backend
from .stages import Context, Outcome, State, camera_options as _camera_options, cameras_required  # noqa: F401
from .types import Generation, PointCloud, Provenance, Scene, Video

log = logging.getLogger("blur4d.pipeline")

__all__ = ["reconstruct", "load_scene", "save_scene", "summary_lines", "scene_paths", "SKIPPABLE", "STAGES", "Stage"]

PathLike = str | os.PathLike


def _never(err: Blur4DError, ctx: Context) -> bool:
    return False


@dataclass(frozen=True)
class Stage:
    """One step of ``reconstruct``, declared once.

    ``run(state, ctx) -> Outcome`` computes; ``write(state, folder, ctx)`` writes ``files`` (a
    trailing ``/`` is a folder) and returns those it wrote; ``load(folder, ply)`` reads them back
    (``{}`` when absent); ``record(state, ctx)`` adds to the stage's entry in run.json. With
    ``reuse`` a stage whose ``load`` finds its files is read back, not run (even when skipped). A
    stage runs when every field in ``needs`` is there; it is written when any field in ``produces``
    is (a stage producing nothing, the report, is always written). Errors: a ``downstream``
    stage never stops the run (its failure is recorded); otherwise a :class:`Blur4DError` for
    which ``tolerate(err, ctx)`` is true is recorded, anything else is raised.
    """

    name: str
    run: Callable[[State, Context], Outcome] | None
    write: Callable[[State, Path, Context], list[str]] | None
    load: Callable[[Path, Path], State] | None
    needs: tuple[str, ...] = ("video",)
    produces: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    backend: str | None = None  # the registry's backend kind it calls
    record: Callable[[State, Context], dict[str, Any]] | None = None
    summary: Callable[[Scene], list[str]] | None = None
    skippable: bool = True
    tolerate: Callable[[Blur4DError, Context], bool] = _never
    downstream: bool = False
    reuse_with: str | None = None  # read back exactly when this earlier stage is
    timed: bool = True  # False: the stage's work is timed inside another (its record says)
    needs_folder: bool = False
    after: str | None = None  # background: may run on a worker thread once this earlier stage is done


STAGES: tuple[Stage, ...] = (
    Stage("generate", S.run_generate, S.write_video, S.load_video, needs=(), produces=("video", "generation"),
          files=("frames/", "video.mp4", "intervals.json"), backend="generate", record=S.record_generate,
          summary=S.summary_generate, skippable=False),
    Stage("track", S.run_track, S.write_tracks, S.load_tracks, produces=("tracks",), files=("tracks.npz",),
          backend="track", record=lambda s, ctx: {"points": int(s["tracks"].num_points)},
          summary=S.summary_track, tolerate=lambda err, ctx: S.unavailable(err) or ctx.tracker is None),
    Stage("cameras", S.run_cameras, S.write_cameras, S.load_cameras, produces=("cameras",),
          files=("cameras.json", "trajectory.tum", "colmap/", "transforms.json", "sparse.ply"),
          backend="cameras", record=S.record_cameras, summary=S.summary_cameras,
          tolerate=lambda err, ctx: S.unavailable(err) and not S.cameras_required(ctx.cam_name)),
    # the camera backend computes the dense points; this stage judges, records, writes and reads them
    Stage("dense", S.run_dense, S.write_dense, S.load_dense, needs=("cameras",),
          produces=("points", "dynamic_points", "depth"), files=("depth/", "points/"),
          record=S.record_dense, summary=S.summary_dense, reuse_with="cameras", timed=False),
    # check and faces run on worker threads beside the camera stage (OpenCV, MediaPipe and numpy
    # release the GIL): the check needs only the clip, faces the cameras' focal length (it starts
    # when the camera backend hands over its solved cameras, beside the dense points: ctx.early)
    Stage("check", S.run_check, S.write_consistency, S.load_consistency, produces=("consistency",),
          files=("consistency.json", "consistency_maps/"), backend="check", record=S.record_check,
          summary=S.summary_check, downstream=True, after="generate"),
    Stage("faces", S.run_faces, S.write_faces, S.load_faces, produces=("faces",),
          files=("faces.json", "faces.npz"), backend="faces",
          record=lambda s, ctx: {"faces": int(s["faces"].num_faces)}, summary=S.summary_faces, downstream=True,
          after="cameras"),
    Stage("report", None, S.write_report, None, needs=(), files=("report.html",), downstream=True,
          needs_folder=True),
)

SKIPPABLE = tuple(s.name for s in STAGES if s.skippable)
_SCENE_FIELDS = ("video", "generation", "tracks", "cameras", "points", "dynamic_points", "depth", "consistency",
                 "faces")


def scene_paths(out: PathLike) -> tuple[Path, Path]:
    """(``scene.ply``, ``scene/``) for an output named ``scene.ply``."""
    out = Path(out)
    if out.suffix.lower() != ".ply":
        raise InputError(f"--out: expected a .ply file name (e.g. scene.ply), got {out}")
    return out, out.with_suffix("")


class _Records:
    """run.json's ``stages``: status, seconds and a note per stage."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.extra_timings: dict[str, float] = {}  # "write": waiting for the background writes at the end

    def set(self, name: str, status: str, seconds: float | None = None, note: str = "", **extra: Any) -> None:
        rec: dict[str, Any] = {"status": status}
        if seconds is not None:
            rec["seconds"] = round(float(seconds), 3)
        if note:
            rec["note"] = note
        rec.update(extra)
        self.records[name] = rec

    @property
    def timings(self) -> dict[str, float]:
        records = dict(self.records)  # one atomic copy: the background writer reads this (the report)
        return {**{k: v["seconds"] for k, v in records.items() if "seconds" in v}, **dict(self.extra_timings)}


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, tuple) and not value)


def _has_output(stage: Stage, state: State) -> bool:
    return not stage.produces or any(not _empty(state.get(f)) for f in stage.produces)


class _Writer:
    """Stage outputs written on one background thread, in stage order, while the next stages
    compute (writing is mostly PNG/zlib/ffmpeg, which release the GIL). A stage's writer gets a
    shallow copy of the state as it was when the stage finished. Its files and ``write_seconds``
    join the stage's record when the write is collected; a failed write is handled as a failed
    stage would be (a downstream stage records it, any other fails the run, and ``reconstruct``
    then removes the whole temporary folder: nothing half written is published)."""

    def __init__(self, rec: _Records, ctx: Context) -> None:
        self.rec, self.ctx = rec, ctx
        self.pending: list[tuple[Stage, Future]] = []
        self._pool: ThreadPoolExecutor | None = None
        self._side: ThreadPoolExecutor | None = None

    def submit(self, stage: Stage, state: State, folder: Path) -> None:
        assert stage.write is not None
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="blur4d-write")
        pool = self._pool
        if stage.needs_folder:
            # the report (the last stage, reading no other stage's files) is written on a second thread
            # beside the writes still queued, the dense stage's depth maps: at the end of the run the main
            # loop only waits, so the tail is the longer of the two, not their sum
            if self._side is None:
                self._side = ThreadPoolExecutor(max_workers=1, thread_name_prefix="blur4d-write-side")
            pool = self._side
        write, snapshot, ctx = stage.write, dict(state), self.ctx

        def job() -> tuple[list[str], float]:
            t0 = time.perf_counter()
            files = write(snapshot, folder, ctx)
            return files, time.perf_counter() - t0

        self.pending.append((stage, pool.submit(job)))

    def warm(self, modules: Sequence[str]) -> None:
        """Import ``modules`` on the writer thread while the first stage computes (the libraries
        later stages load on first use: 720p example, ~1 s of imports on the main loop's path, the
        report's plotting library ~0.4 s of it); one that cannot be imported is left to the stage
        that needs it to report."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="blur4d-write")

        def job() -> None:
            import importlib

            for name in modules:
                try:
                    importlib.import_module(name)
                except Exception:  # noqa: BLE001 - not needed yet; the stage that needs it says why
                    continue

        self._pool.submit(job)

    def collect(self, wait: bool) -> None:
        """Fold finished writes (all of them when ``wait``) into the records; raise a failed
        write of a stage that may not fail."""
        while self.pending and (wait or self.pending[0][1].done()):
            stage, fut = self.pending.pop(0)
            rec = self.rec.records.get(stage.name, {})
            try:
                files, seconds = fut.result()
            except Blur4DError as err:
                if not (stage.downstream or stage.tolerate(err, self.ctx)):
                    raise
                self.rec.set(stage.name, "unavailable" if S.unavailable(err) else "failed", rec.get("seconds"),
                             note=f"writing: {err}")
                continue
            except Exception as err:
                if not stage.downstream:
                    raise
                log.warning("stage %s: writing failed: %s", stage.name, err)
                self.rec.set(stage.name, "failed", rec.get("seconds"), note=f"writing: {type(err).__name__}: {err}",
                             traceback="".join(traceback.format_exception(err, limit=3)))
                continue
            if files:
                rec.update(files=files, write_seconds=round(seconds, 3))

    def close(self) -> None:
        """Wait for whatever is still running (also after an error: the folder is removed only
        once nothing writes into it)."""
        for pool in (self._pool, self._side):
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
        self._pool = self._side = None


class _Background:
    """Stages declared with ``after`` run on worker threads as soon as that stage has had its turn
    (their other inputs are there), while the main loop goes on; the loop collects each one in
    its turn and records, writes and handles its errors as if it had run there. A stage is started
    early only on a fresh run (not reused, not skipped, its ``needs`` present); on a shallow copy
    of the state. The seconds recorded are the stage's own (its thread's wall time)."""

    def __init__(self, ctx: Context, origin: float) -> None:
        self.ctx, self.origin = ctx, origin
        self.started: dict[str, Future] = {}
        self._pool: ThreadPoolExecutor | None = None

    def start_ready(self, state: State, done: set[str], reuse_dir: Path | None, *, early: str | None = None) -> None:
        """Start the stages whose ``after`` stage has had its turn (in ``done``), or, with ``early``,
        those declared after that still running stage, on ``state`` holding its final fields."""
        if reuse_dir is not None:
            return
        for stage in STAGES:
            ready = stage.after == early if early is not None else stage.after in done
            if (stage.after is None or not ready or stage.name in done or stage.name in self.started
                    or stage.run is None or stage.needs_folder or stage.name in self.ctx.skip
                    or any(state.get(f) is None for f in stage.needs)):
                continue
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="blur4d-stage")
            run, snapshot, ctx = stage.run, dict(state), self.ctx

            def job(run: Callable[[State, Context], Outcome] = run, snapshot: State = snapshot
                    ) -> tuple[Outcome | None, BaseException | None, float, float]:
                t0 = time.perf_counter()
                try:
                    return run(snapshot, ctx), None, t0, time.perf_counter()
                except BaseException as err:  # noqa: BLE001 - re-raised in the main loop, in the stage's turn
                    return None, err, t0, time.perf_counter()

            self.started[stage.name] = self._pool.submit(job)

    def join(self, name: str) -> tuple[Outcome | None, BaseException | None, float, float]:
        return self.started.pop(name).result()

    def discard_after(self, name: str) -> None:
        """Forget the stages started early from stage ``name`` (it failed after handing over its
        fields): they start again in their turn, on what the state then holds."""
        for stage in STAGES:
            if stage.after == name and stage.name in self.started:
                self.started.pop(stage.name).result()  # let it finish; its result is not used

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _run_stages(state: State, ctx: Context, folder: Path | None, reuse_dir: Path | None, rec: _Records,
                writer: _Writer, background: _Background) -> None:
    """The one loop: skip, reuse, run (or collect from a worker thread), write (in the background),
    record, for every stage in order."""
    reused: set[str] = set()
    done: set[str] = set()
    run_json = reuse_dir / "run.json" if reuse_dir is not None else None
    earlier = (read_json(run_json).get("stages") or {}) if run_json is not None and run_json.is_file() else {}
    origin = background.origin

    def early(name: str, fields: Mapping[str, Any]) -> None:
        background.start_ready({**state, **fields}, done, reuse_dir, early=name)

    ctx.early = early
    for stage in STAGES:
        background.start_ready(state, done, reuse_dir)
        done.add(stage.name)
        writer.collect(wait=False)  # a failed write of an earlier stage stops the run here
        t0 = time.perf_counter()
        if stage.name in background.started:
            outcome_bg, error, t0, t_end = background.join(stage.name)
            at = [round(t0 - origin, 3), round(t_end - origin, 3)]
            try:
                if error is not None:
                    raise error
                assert outcome_bg is not None
                outcome = outcome_bg
                state.update(outcome.fields)
            except Blur4DError as err:
                if not (stage.downstream or stage.tolerate(err, ctx)):
                    raise
                rec.set(stage.name, "unavailable" if S.unavailable(err) else "failed", t_end - t0, note=str(err),
                        interval=at)
                continue
            except Exception as err:
                if not stage.downstream:
                    raise
                log.warning("stage %s failed: %s", stage.name, err)
                rec.set(stage.name, "failed", t_end - t0, note=f"{type(err).__name__}: {err}", interval=at,
                        traceback="".join(traceback.format_exception(err, limit=3)))
                continue
            extra = stage.record(state, ctx) if stage.record is not None and outcome.status != "empty" else {}
            rec.set(stage.name, outcome.status, t_end - t0, note=outcome.note, interval=at, **extra)
            if folder is not None and stage.write is not None and _has_output(stage, state):
                writer.submit(stage, state, folder)
            continue
        # reuse comes first: a finished stage whose files are in the folder is kept, even if skipped now
        can_reuse = stage.reuse_with is None or stage.reuse_with in reused
        if reuse_dir is not None and stage.load is not None and can_reuse:
            fields = stage.load(reuse_dir, ctx.ply_path)
            if fields or stage.reuse_with is not None:
                state.update(fields)
                reused.add(stage.name)
                kept = {k: v for k, v in (earlier.get(stage.name) or {}).items()  # what the earlier run recorded
                        if k not in ("status", "seconds", "write_seconds", "files", "traceback", "interval")}
                rec.set(stage.name, "reused", time.perf_counter() - t0, interval=_span(t0, origin), **kept)
                continue
        missing = [f for f in stage.needs if state.get(f) is None]
        if stage.name in ctx.skip:
            rec.set(stage.name, "skipped")
            continue
        if missing:
            rec.set(stage.name, "skipped", note=f"needs {', '.join(missing)}")
            continue
        if stage.needs_folder and folder is None:
            rec.set(stage.name, "skipped", note="no output folder")
            continue
        try:
            outcome = stage.run(state, ctx) if stage.run is not None else Outcome()
            state.update(outcome.fields)
        except Blur4DError as err:
            background.discard_after(stage.name)
            if not (stage.downstream or stage.tolerate(err, ctx)):
                raise
            rec.set(stage.name, "unavailable" if S.unavailable(err) else "failed", time.perf_counter() - t0,
                    note=str(err), interval=_span(t0, origin))
            continue
        except Exception as err:
            background.discard_after(stage.name)
            if not stage.downstream:
                raise
            log.warning("stage %s failed: %s", stage.name, err)  # a downstream bug must not lose the rest
            rec.set(stage.name, "failed", time.perf_counter() - t0, note=f"{type(err).__name__}: {err}",
                    traceback=traceback.format_exc(limit=3), interval=_span(t0, origin))
            continue
        extra = stage.record(state, ctx) if stage.record is not None and outcome.status != "empty" else {}
        seconds = time.perf_counter() - t0 if stage.timed else extra.pop("seconds", None)
        span = {"interval": _span(t0, origin)} if stage.timed else {}
        rec.set(stage.name, outcome.status, seconds, note=outcome.note, **span, **extra)
        if folder is not None and stage.write is not None and _has_output(stage, state):
            writer.submit(stage, state, folder)


def _span(t0: float, origin: float) -> list[float]:
    """[start, end] of a step in seconds since the pipeline started."""
    return [round(t0 - origin, 3), round(time.perf_counter() - origin, 3)]


def _union_seconds(intervals: Sequence[Sequence[float]]) -> float:
    """Length of the union of [start, end] intervals."""
    total, end = 0.0, -np.inf
    for a, b in sorted((float(a), float(b)) for a, b in intervals):
        if b > end:
            total += b - max(a, end)
            end = b
    return total


def _scene(state: State, **kw: Any) -> Scene:
    fields = {f: state.get(f) for f in _SCENE_FIELDS}
    fields["dynamic_points"] = tuple(fields["dynamic_points"] or ())
    return Scene(**fields, **kw)


def reconstruct(
    source: PathLike | Video | Generation | np.ndarray | Photo,
    *,
    out: PathLike | None = None,
    generate_options: Mapping[str, Any] | None = None,
    tracker: str | None = None,
    cameras: str | None = None,
    skip: Sequence[str] = (),
    reuse: bool = False,
    overwrite: bool = False,
    seed: int | None = 0,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    megasam: str | None = None,
    camera_options: Mapping[str, Any] | None = None,
    progress: Progress = NO_PROGRESS,
    startup_seconds: float | None = None,
) -> Scene:
    """Run every stage and, when ``out`` (a ``.ply``) is given, write ``out`` and its sibling
    folder (see the module docstring).

    ``tracker`` / ``cameras`` choose backends (defaults builtin / colmap); ``skip`` names stages
    from :data:`SKIPPABLE`; ``reuse`` reads finished stages back from an existing folder;
    ``megasam`` is the path of a MegaSaM installation (cameras backend ``megasam``; the
    environment variable ``BLUR4D_MEGASAM`` works too); ``camera_options`` go to the camera backend.
    A stage that is not installed or not available in this version is recorded in ``run.json``
    and the others go on. ``startup_seconds`` (the CLI passes its process's age: interpreter start,
    imports, argument parsing) is recorded as the ``startup`` timing, so run.json accounts for
    the whole command; ``publish`` is the writing of ``scene.ply`` and the run record.
    """
    skip = tuple(skip or ())
    bad = [s for s in skip if s not in SKIPPABLE]
    if bad:
        raise InputError(f"--skip: unknown stage(s) {', '.join(bad)}; choose from {', '.join(SKIPPABLE)}")
    ply_path = folder = None
    if out is not None:
        ply_path, folder = scene_paths(out)
        if not (overwrite or reuse):
            for p in (ply_path, folder):
                if p.exists():
                    raise OutputExistsError(f"output {p} already exists; pass --overwrite to replace it "
                                            "(or --reuse to keep its finished stages)")
        if folder.exists() and not folder.is_dir():
            raise InputError(f"output folder {folder} exists and is not a folder; choose another --out")
        if isinstance(source, (str, os.PathLike)):
            src, dst = Path(source).resolve(), folder.resolve()
            if src == dst or dst in src.parents or src == ply_path.resolve():
                raise InputError(f"--out {ply_path}: its folder {folder} would replace the input {source}; "
                                 "choose another --out")
    reuse_dir = folder if (reuse and folder is not None and folder.is_dir()) else None
    rec = _Records()
    t_all = time.perf_counter()
    seed = 0 if seed is None else int(seed)
    cam_name = cameras or ("megasam" if megasam else default_backend("cameras"))  # --megasam PATH implies it
    ctx = Context(source=source, generate_options=generate_options, max_pixels=max_pixels, tracker=tracker,
                  cam_name=cam_name, megasam=megasam, camera_options=camera_options, skip=skip, seed=seed,
                  progress=progress, ply_path=ply_path, timings=lambda: rec.timings)
    tmp: Path | None = None
    if folder is not None:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
        if reuse_dir is not None:
            shutil.rmtree(tmp)
            shutil.copytree(reuse_dir, tmp)
    try:
        state: State = {}
        writer = _Writer(rec, ctx)
        writer.warm(("scipy.ndimage", "scipy.optimize")
                    + (("pycolmap",) if cam_name == "colmap" and "cameras" not in skip else ())
                    + (("matplotlib.figure", "matplotlib.backends.backend_agg")
                       if tmp is not None and "report" not in skip else ()))
        background = _Background(ctx, t_all)
        try:
            _run_stages(state, ctx, tmp, reuse_dir, rec, writer, background)
            t_wait = time.perf_counter()
            writer.collect(wait=True)
            if tmp is not None:
                rec.extra_timings["write"] = round(time.perf_counter() - t_wait, 3)
            # stages that ran side by side: their seconds overlap; "concurrent" is the overlap, so that
            # the stage seconds minus it are the wall time the stages cover
            spans = [r["interval"] for r in rec.records.values() if "interval" in r]
            if tmp is not None:
                spans.append(_span(t_wait, t_all))
            timed = sum(r["seconds"] for r in rec.records.values() if "interval" in r)
            timed += rec.extra_timings.get("write", 0.0)
            rec.extra_timings["concurrent"] = round(max(0.0, timed - _union_seconds(spans)), 3)
        finally:
            background.close()
            writer.close()
        total = time.perf_counter() - t_all
        config = {"skip": list(skip), "tracker": tracker, "cameras": cam_name}
        if tmp is None or folder is None or ply_path is None:
            return _scene(state, provenance=Provenance.capture("reconstruct", {"skip": list(skip)}, seed=seed,
                                                               timings={**rec.timings, "total": total},
                                                               stages=rec.records))
        cams = state.get("cameras")
        t_pub = time.perf_counter()
        ply_tmp = tmp / f".{ply_path.name}.tmp"  # moved beside the folder by _commit
        _static_cloud(state.get("points")).save(ply_tmp)
        timings = {**({"startup": round(float(startup_seconds), 3)} if startup_seconds is not None else {}),
                   **rec.timings, "publish": round(time.perf_counter() - t_pub, 3)}
        timings["total"] = round(time.perf_counter() - t_all + (startup_seconds or 0.0), 3)
        run: dict[str, Any] = {
            "what": "blur4d reconstruct", "input": str(source) if isinstance(source, (str, os.PathLike)) else
            type(source).__name__, "out": str(ply_path), "folder": str(folder), "seed": seed,
            "backends": {"generate": (generate_options or {}).get("backend") or default_backend("generate"),
                         "track": tracker or default_backend("track"), "cameras": cam_name},
            "skip": list(skip), "reuse": bool(reuse), "stages": rec.records, "timings": timings,
            "machine_note": "timings are wall-clock seconds on this machine; startup = interpreter start, imports "
                            "and argument parsing (CLI only); dense is part of cameras (it runs inside the camera "
                            "backend); check and faces run on worker threads beside the other stages (each "
                            "stage's seconds are its own; its interval = [start, end] since the pipeline started; "
                            "concurrent = the seconds counted twice in the stages' sum because they overlapped); "
                            "each stage's files are written on a background thread while the next "
                            "stages run (its write_seconds, overlapped), write = the wait for the last writes "
                            "after the stages; publish = scene.ply and this record; total includes all",
        }
        if cams is not None:
            obs, why = S.depth_observable(cams)
            run["cameras"] = {"ok": cams.ok, "reason": cams.reason, "motion": cams.motion,
                              "registered": int(cams.registered.sum()), "frames": cams.num_frames,
                              "scale_known": cams.scale_known, "depth_observable": obs,
                              "depth_observable_reason": why}
        prov = Provenance.capture("reconstruct", config, seed=seed, timings=run["timings"],
                                  packages=("pycolmap", "opencv-contrib-python", "scipy", "open3d"))
        run["packages"] = prov.packages
        run["created"] = prov.created
        write_json(tmp / "run.json", run)
        _commit(tmp, folder, ply_path, ply_tmp)
        tmp = None
        return _scene(state, provenance=Provenance.from_dict({**prov.to_dict(), "extra": {"stages": rec.records}}),
                      path=folder)
    finally:
        if tmp is not None and tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _static_cloud(points: PointCloud | None) -> PointCloud:
    return points if points is not None else PointCloud(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.uint8))


def _commit(tmp: Path, folder: Path, ply_path: Path, ply_tmp: Path) -> None:
    """Publish a finished scene: the point cloud (already written to ``ply_tmp`` inside ``tmp``)
    first, then the folder swap, both atomic renames."""
    os.replace(ply_tmp, ply_path)
    replace_folder(tmp, folder)


def save_scene(scene: Scene, out: PathLike, *, overwrite: bool = False) -> Path:
    """Write a :class:`Scene` (e.g. one built or edited in a notebook) in the ``reconstruct``
    layout: ``out`` (a .ply of the static points) plus the sibling folder. Returns the folder."""
    ply_path, folder = scene_paths(out)
    if not overwrite:
        for p in (ply_path, folder):
            if p.exists():
                raise OutputExistsError(f"output {p} already exists; pass overwrite=True to replace it")
    state: State = {f: getattr(scene, f) for f in _SCENE_FIELDS}
    ctx = Context(seed=scene.provenance.seed or 0, ply_path=ply_path, timings=lambda: dict(scene.provenance.timings))
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        files: list[str] = []
        for stage in STAGES:
            if stage.write is not None and _has_output(stage, state):
                files += stage.write(state, tmp, ctx)
        write_json(tmp / "run.json", {"what": "blur4d Scene.save", "out": str(ply_path), "folder": str(folder),
                                      "seed": scene.provenance.seed, "timings": dict(scene.provenance.timings),
                                      "files": files, "provenance": scene.provenance.to_dict()})
        ply_tmp = tmp / f".{ply_path.name}.tmp"
        _static_cloud(scene.points).save(ply_tmp)
        _commit(tmp, folder, ply_path, ply_tmp)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def load_scene(path: PathLike) -> Scene:
    """Read what :func:`reconstruct` wrote: ``scene.ply`` or its ``scene/`` folder."""
    path = Path(path)
    if path.suffix.lower() == ".ply":
        ply, folder = path, path.with_suffix("")
    else:
        folder, ply = path, path.with_name(path.name + ".ply")
    if not folder.is_dir():
        raise InputError(f"scene {path}: no folder {folder} (write one with `blur4d reconstruct ... --out {ply}`)")
    state: State = {}
    for stage in STAGES:
        if stage.load is not None:
            state.update(stage.load(folder, ply))
    run = read_json(folder / "run.json") if (folder / "run.json").is_file() else {}
    prov = Provenance(backend="reconstruct", seed=run.get("seed"), timings=run.get("timings", {}) or {},
                      packages=run.get("packages", {}) or {}, created=run.get("created", ""),
                      extra={"stages": run.get("stages", {})})
    return _scene(state, provenance=prov, path=folder)


def summary_lines(scene: Scene) -> list[str]:
    """A few human-readable lines about a reconstructed scene (the CLI prints them)."""
    lines = [line for stage in STAGES if stage.summary is not None for line in stage.summary(scene)]
    stages = (scene.provenance.extra or {}).get("stages", {}) if scene.provenance else {}
    missing = [f"{k} {v['status']}" for k, v in stages.items()
               if v.get("status") in ("unavailable", "failed", "skipped", "empty")]
    if missing:
        lines.append("not produced: " + ", ".join(missing))
    if scene.path is not None:
        lines.append(f"wrote: {scene.path.with_suffix('.ply') if scene.path.suffix == '' else scene.path} "
                     f"and {scene.path}/")
    t = (scene.provenance.timings or {}).get("total") if scene.provenance else None
    if t:
        lines.append(f"time: {t:.1f} s")
    return lines
