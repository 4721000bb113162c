"""``--engine ray``: one Ray task per item (or, for expensive models, a pool of Ray actors that
keep the model loaded), with Ray's retries for worker and node failures.

* Resources: each task/actor asks for ``num_cpus`` (default 1) and ``num_gpus`` (default 1 for
  the GPU backends blur2vid and CoTracker unless ``--device cpu``, else 0); its BLAS/OpenCV/torch
  threads are capped at its ``num_cpus``.
* Retries: ``max_retries`` (tasks) or ``max_restarts``/``max_task_retries`` (actors) = ``retries``;
  a retried item first removes the partial folder of the attempt that died.
* Storage: inputs and the output folder must be on storage every node can reach (a shared
  filesystem path). Before any item runs, a probe on every alive node checks that it can see the
  inputs and write the output folder, and the batch stops with one clear line if not.
* The driver writes the table; workers return small rows (no frames, no point clouds).
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from ..errors import InputError, MissingDependencyError
from .worker import install_model_cache, limit_threads, run_item

INSTALL_HINT = 'pip install "blur4d[ray]"'


def import_ray() -> Any:
    try:
        import ray
    except ImportError as err:
        raise MissingDependencyError(f"--engine ray needs Ray, which is not installed: {INSTALL_HINT}") from err
    return ray


def _task_entry(task: dict[str, Any], threads: int) -> dict[str, Any]:
    limit_threads(threads)
    install_model_cache()
    return run_item(task)


class ItemActor:
    """A long-lived worker: expensive models (blur2vid, CoTracker) load once per actor."""

    def __init__(self, threads: int) -> None:
        limit_threads(threads)
        install_model_cache()

    def run(self, task: dict[str, Any]) -> dict[str, Any]:
        return run_item(task)


def _probe(out_dir: str, inputs: Sequence[str]) -> tuple[str, list[str]]:
    """On one node: can it write ``out_dir`` and see ``inputs``?"""
    problems = []
    probe = Path(out_dir) / f".probe-{socket.gethostname()}-{os.getpid()}"
    try:
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as err:
        problems.append(f"cannot write {out_dir} ({err.strerror or err})")
    for path in inputs:
        if not os.access(path, os.R_OK):
            problems.append(f"cannot read input {path}")
    return socket.gethostname(), problems


def connect(ray: Any, address: str | None, workers: int | None) -> bool:
    """Connect (or start a local Ray); True when this call started it (and so shuts it down)."""
    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
    if address:
        ray.init(address=address, **kwargs)
    else:
        ray.init(num_cpus=workers or None, include_dashboard=False, **kwargs)
    return True


def check_nodes(ray: Any, out_dir: str, sample_inputs: Sequence[str]) -> None:
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    probe = ray.remote(_probe)
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    refs = [probe.options(num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False))
            .remote(out_dir, list(sample_inputs)) for n in nodes]
    for host, problems in ray.get(refs, timeout=120):
        if problems:
            raise InputError(f"Ray node {host}: {problems[0]}: inputs and --out must be on storage every node can "
                             "reach (a shared filesystem path)")


def run_ray(tasks: Iterable[dict[str, Any]], *, out_dir: str, sample_inputs: Sequence[str],
            on_start: Callable[[dict[str, Any]], None], on_result: Callable[[dict[str, Any]], None],
            address: str | None = None, retries: int = 2, num_cpus: float = 1, num_gpus: float = 0,
            actors: bool = False, workers: int | None = None) -> None:
    ray = import_ray()
    started = connect(ray, address, workers)
    inflight: dict[Any, tuple[dict[str, Any], Any]] = {}
    pool: list[Any] = []
    try:
        check_nodes(ray, out_dir, sample_inputs)
        threads = max(1, int(num_cpus))
        res = ray.cluster_resources()
        slots = int(res.get("CPU", 1) // max(num_cpus, 1e-9))
        if num_gpus:
            if res.get("GPU", 0) < num_gpus:
                raise InputError(f"--engine ray: each item asks for {num_gpus} GPU(s) but the cluster has "
                                 f"{res.get('GPU', 0):g}; use --num-gpus 0 / --device cpu or add GPU nodes")
            slots = min(slots, int(res["GPU"] // num_gpus))
        slots = max(1, min(slots, workers or slots))
        if actors:
            cls = ray.remote(ItemActor).options(num_cpus=num_cpus, num_gpus=num_gpus, max_restarts=retries,
                                                max_task_retries=retries)
            pool = [cls.remote(threads) for _ in range(slots)]
            idle = list(pool)
        else:
            fn = ray.remote(_task_entry).options(num_cpus=num_cpus, num_gpus=num_gpus, max_retries=retries,
                                                 retry_exceptions=False)
        queue = iter(tasks)

        def submit_next() -> bool:
            if actors and not idle:
                return False
            task = next(queue, None)
            if task is None:
                return False
            if actors:
                actor = idle.pop()
                inflight[actor.run.remote(task)] = (task, actor)
            else:
                inflight[fn.remote(task, threads)] = (task, None)
            on_start(task)
            return True

        while len(inflight) < slots and submit_next():
            pass
        while inflight:
            ready, _ = ray.wait(list(inflight), num_returns=1, timeout=1.0)
            for ref in ready:
                task, actor = inflight.pop(ref)
                try:
                    row = ray.get(ref)
                except Exception as err:  # noqa: BLE001 - worker/node died beyond the retries, or Ray failed
                    row = _failed(task, err, retries)
                on_result(row)
                if actor is not None:
                    idle.append(actor)
            while len(inflight) < slots and submit_next():
                pass
    except BaseException:
        for ref, (_task, actor) in list(inflight.items()):
            try:
                if actor is not None:
                    ray.kill(actor, no_restart=True)
                else:
                    ray.cancel(ref, force=True)
            except Exception:  # noqa: BLE001 - best effort while stopping
                pass
        if inflight:
            time.sleep(1.0)
        raise
    finally:
        for actor in pool:
            try:
                ray.kill(actor, no_restart=True)
            except Exception:  # noqa: BLE001
                pass
        if started:
            ray.shutdown()


def _failed(task: dict[str, Any], err: BaseException, retries: int) -> dict[str, Any]:
    text = " ".join(str(err).split())[:300] or type(err).__name__
    return {**{k: task.get(k) for k in ("id", "input", "verb", "input_hash", "options_hash", "options", "size",
                                        "mtime_ns", "attempt", "engine")},
            "status": "failed", "host": None,
            "error": f"Ray: {type(err).__name__} after {retries} retries: {text}"}
