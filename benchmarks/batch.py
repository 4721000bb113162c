"""Throughput of ``blur4d batch`` over 16 photos: a serial loop of single ``blur4d reconstruct``
commands (what users do today) vs ``--engine local --workers 2`` vs ``--engine ray`` on a local
Ray cluster started as separate processes (``ray start --head --num-cpus 2``).

    python benchmarks/batch.py                        # all three, photos downscaled to 320 px
    python benchmarks/batch.py --size 480 --frames 8 --modes serial local --json out.json

Photos: the bundled example at 9 seeds (a manifest gives each row its --seed) plus the 7 real
blurry photos of ../shared/data/blurry, all downscaled to ``--size`` pixels on the long side
(this measures the batch machinery and the parallel speed-up, not accuracy). Each mode writes to
a fresh folder. Reported: wall time, photos/min, speed-up over the serial loop, per-item overhead
(inside the worker: the item's seconds minus the verb's own total from run.json; whole batch:
(wall x workers - sum of verb totals) / items, which includes pool/cluster start and the idle
tail), peak RSS of the driver and per worker. Targets (issue #14): local >= 1.6x serial; Ray
within 15 % of local; overhead per item < 0.5 s. The machine may be shared with other jobs:
timings are wall-clock. Not a test: prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("BLUR4D_SHARED_DATA", REPO.parent / "shared" / "data"))


def make_inputs(folder: Path, size: int, seeds: int) -> tuple[Path, list[tuple[Path, int]]]:
    """-> (manifest, [(photo, seed)])."""
    import cv2

    from blur4d.api import example
    from blur4d.media import read_image, write_image

    folder.mkdir(parents=True, exist_ok=True)
    w, h = size, round(size * 3 / 4)
    ex = folder / "example.png"
    write_image(ex, example(w, h))
    rows = [(ex, s) for s in range(seeds)]
    for src in sorted((SHARED / "blurry").rglob("*")):
        if src.suffix.lower() not in (".png", ".jpg"):
            continue
        px = read_image(src).pixels
        scale = size / max(px.shape[:2])
        small = cv2.resize(px, (round(px.shape[1] * scale), round(px.shape[0] * scale)), interpolation=cv2.INTER_AREA)
        dst = folder / f"{src.parent.name}_{src.stem}.png"
        write_image(dst, small)
        rows.append((dst, 0))
    manifest = folder / "photos.csv"
    manifest.write_text("path,id,seed\n" + "".join(f"{p.name},{p.stem}_s{s},{s}\n" for p, s in rows))
    return manifest, rows


def _hwm_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def run_watched(cmd: list[str], **kw) -> tuple[float, float | None, subprocess.CompletedProcess]:
    """Run ``cmd``; -> (wall seconds, the process's own peak RSS in MB, result)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    peak = None
    while proc.poll() is None:
        peak = _hwm_mb(proc.pid) or peak
        time.sleep(0.1)
    out, err = proc.communicate()
    return time.perf_counter() - t0, peak, subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def verb_total(folder: Path) -> float:
    run = json.loads((folder / "scene" / "run.json").read_text())
    t = run.get("timings") or {}
    return float(t.get("total") or sum(v for v in t.values() if isinstance(v, (int, float))))


def serial(rows, work: Path, frames: int) -> dict:
    t0 = time.perf_counter()
    totals = []
    for photo, seed in rows:
        out = work / f"{photo.stem}_s{seed}"
        out.mkdir(parents=True)
        subprocess.run([sys.executable, "-m", "blur4d", "reconstruct", str(photo), "--out", "scene.ply",
                        "--frames", str(frames), "--seed", str(seed), "-q"], cwd=out, check=True)
        totals.append(verb_total(out))
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"mode": "serial loop (1 process per photo)", "wall": wall, "items": len(rows), "ok": len(rows),
            "workers": 1, "verb_total": sum(totals), "in_worker_overhead": None, "driver_mb": None,
            "worker_mb": peak}


def batch(manifest: Path, work: Path, frames: int, engine: str, extra: list[str]) -> dict:
    out = work / "out"
    cmd = [sys.executable, "-m", "blur4d", "batch", str(manifest), "--out", str(out), "--frames", str(frames),
           "-q", "--engine", engine, *extra]
    wall, driver_mb, res = run_watched(cmd)
    if res.returncode not in (0, 1):
        raise SystemExit(f"{engine}: exit {res.returncode}: {res.stderr[-2000:]}")
    rows = [json.loads(line) for line in (out / "batch.jsonl").read_text().splitlines()]
    ok = [r for r in rows if r["status"] == "ok"]
    totals = [verb_total(out / r["id"]) for r in ok]
    inside = [r["seconds"] - t for r, t in zip(ok, totals)]
    return {"mode": f"batch --engine {engine} " + " ".join(extra), "wall": wall, "items": len(rows), "ok": len(ok),
            "workers": 2, "verb_total": sum(totals), "in_worker_overhead": sum(inside) / max(1, len(inside)),
            "driver_mb": driver_mb, "worker_mb": max((r.get("peak_rss_mb") or 0) for r in ok) if ok else None,
            "summary": res.stdout.strip().splitlines()[-1] if res.stdout.strip() else ""}


def start_ray(temp: str) -> tuple[subprocess.Popen, str, float]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ray_bin = Path(sys.executable).with_name("ray")
    cmd = [str(ray_bin)] if ray_bin.is_file() else [sys.executable, "-m", "ray.scripts.scripts"]
    cmd += ["start", "--head", "--block", "--num-cpus", "2", "--port", str(port), "--temp-dir", temp,
            "--include-dashboard=false", "--disable-usage-stats", "--object-store-memory", "100000000"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    while not list(Path(temp).glob("session_*/sockets/raylet*")):
        if proc.poll() is not None or time.perf_counter() - t0 > 120:
            raise SystemExit("ray start failed")
        time.sleep(0.3)
    time.sleep(2)
    return proc, f"127.0.0.1:{port}", time.perf_counter() - t0


def stop_ray(proc: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        t0 = time.time()
        while proc.poll() is None and time.time() - t0 < wait:
            time.sleep(0.2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=320, help="long side of the photos (default 320)")
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--seeds", type=int, default=9, help="example photo seeds (plus the 7 real photos)")
    ap.add_argument("--modes", nargs="+", default=["serial", "local", "ray"], choices=["serial", "local", "ray"])
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="b4dbench") as tmp:
        tmp = Path(tmp)
        manifest, rows = make_inputs(tmp / "photos", args.size, args.seeds)
        print(f"{len(rows)} photos, long side {args.size} px, {args.frames} frames; cores: {os.cpu_count()}",
              file=sys.stderr)
        for mode in args.modes:
            print(f"running {mode} ...", file=sys.stderr)
            if mode == "serial":
                results.append(serial(rows, tmp / "serial", args.frames))
            elif mode == "local":
                results.append(batch(manifest, tmp / "local", args.frames, "local", ["--workers", "2"]))
            else:
                rtemp = tempfile.mkdtemp(prefix="rb", dir="/tmp")
                proc, address, start_s = start_ray(rtemp)
                try:
                    r = batch(manifest, tmp / "ray", args.frames, "ray", ["--address", address])
                    r["cluster_start"] = start_s
                    results.append(r)
                finally:
                    stop_ray(proc)
                    import shutil

                    shutil.rmtree(rtemp, ignore_errors=True)
    base = next((r["wall"] for r in results if r["mode"].startswith("serial")), None)
    local = next((r["wall"] for r in results if "local" in r["mode"]), None)
    print("\n| mode | items ok | wall s | photos/min | vs serial | vs local | overhead/item in worker s "
          "| overhead/item whole batch s | driver peak RSS MB | worker peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        whole = (r["wall"] * r["workers"] - r["verb_total"]) / max(1, r["ok"])
        r["whole_overhead"] = whole
        fmt = lambda v, f="{:.2f}": "-" if v is None else f.format(v)  # noqa: E731
        print(f"| {r['mode']} | {r['ok']}/{r['items']} | {r['wall']:.1f} | {60 * r['ok'] / r['wall']:.2f} "
              f"| {fmt(base / r['wall'] if base else None)}x | {fmt(r['wall'] / local if local else None)}x "
              f"| {fmt(r['in_worker_overhead'])} | {whole:.2f} | {fmt(r['driver_mb'], '{:.0f}')} "
              f"| {fmt(r['worker_mb'], '{:.0f}')} |")
    for r in results:
        if r.get("cluster_start"):
            print(f"\nRay cluster start (not in the wall time): {r['cluster_start']:.1f} s")
        per = r["verb_total"] / max(1, r["ok"])
        print(f"{r['mode']}: verb's own seconds per photo {per:.2f} (sum of run.json totals / photos)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
