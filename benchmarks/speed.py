"""Where the seconds of ``blur4d reconstruct`` go, and how they grow with frames and pixels.

    python benchmarks/speed.py                                  # 640x360, 1280x720, 1920x1080 x 8/16/32/64
    python benchmarks/speed.py --sizes 1280x720 --frames 16 32  # a subset
    python benchmarks/speed.py --no-colmap --json out.json --plot speed.png

Each case: the bundled example photo at that size (``blur4d example``), then ``blur4d reconstruct``
with ``--frames N`` in its own process. Reported per case: wall seconds of the command, peak RSS of
that process, the per-stage seconds from ``run.json`` and the share of the wall time that no stage
accounts for ("other": interpreter start, imports and whatever the stages do not time), the static and
moving point counts. run.json's timings include ``startup`` (the process's age when the pipeline
starts: interpreter, imports, argument parsing) and ``publish`` (scene.ply and run.json); what is
left ("other") is the process's exit and the summary it prints.

Beside it, on the same frames (the generated clip the case wrote):

* ``ref``: a fixed reference workload (SIFT on every frame, DIS flow between consecutive frames, a PNG
  encode of every frame), so the figures read as ratios on a shared, noisy machine: ``wall/ref`` is
  comparable across machines and runs where seconds are not;
* ``pycolmap``: pycolmap's own incremental pipeline (feature extraction + exhaustive matching +
  mapping) on the same frames: the time a user would otherwise spend, and whether it poses them.

Not a test: prints a table (and optionally writes JSON and a plot of seconds against frames and pixels).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

STAGES = ("startup", "generate", "track", "cameras", "dense", "check", "faces", "report", "write", "publish",
          "concurrent")  # concurrent: seconds during which stages ran side by side (counted twice in their sum)


def _run_timed(cmd: list[str]) -> tuple[float, float, str, float]:
    """Run ``cmd``; -> (wall seconds, peak RSS of that process in GB, stderr tail, CPU seconds
    (user + system) of that process)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read() if proc.stderr else ""
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {err.strip()[-400:]}")
    return wall, usage.ru_maxrss / 1024 ** 2, err[-400:], usage.ru_utime + usage.ru_stime


def reference_workload(frames: np.ndarray) -> float:
    """SIFT per frame + DIS flow between consecutive frames + a PNG encode per frame, seconds."""
    import cv2

    t0 = time.perf_counter()
    sift = cv2.SIFT_create(nfeatures=4000)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
    for g in gray:
        sift.detectAndCompute(g, None)
    for a, b in zip(gray[:-1], gray[1:]):
        dis.calc(a, b, None)
    for f in frames:
        cv2.imencode(".png", f)
    return time.perf_counter() - t0


def pycolmap_incremental(frame_dir: Path) -> tuple[float, str]:
    """pycolmap's default pipeline on a folder of frames -> (seconds, 'k/T posed')."""
    import pycolmap

    n = len(list(frame_dir.glob("*.png")))
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        db = d / "database.db"
        t0 = time.perf_counter()
        pycolmap.extract_features(db, frame_dir, camera_mode=pycolmap.CameraMode.SINGLE,
                                  device=pycolmap.Device.cpu)
        pycolmap.match_exhaustive(db, device=pycolmap.Device.cpu)
        (d / "sparse").mkdir()
        recs = pycolmap.incremental_mapping(db, frame_dir, d / "sparse")
        secs = time.perf_counter() - t0
    posed = max((r.num_reg_images() for r in recs.values()), default=0)
    return secs, f"{posed}/{n}"


def run_case(exe: str, size: tuple[int, int], frames: int, work: Path, colmap: bool) -> dict:
    from blur4d.media import load_video

    W, H = size
    photo = work / f"example_{W}x{H}.png"
    if not photo.exists():
        subprocess.run([exe, "-q", "example", str(photo), "--width", str(W), "--height", str(H)], check=True)
    out = work / f"scene_{W}x{H}_{frames}.ply"
    load0 = os.getloadavg()[0]
    wall, rss, _, cpu = _run_timed([exe, "-q", "reconstruct", str(photo), "--out", str(out), "--frames", str(frames),
                               "--overwrite", "--seed", "0"])
    folder = out.with_suffix("")
    run = json.loads((folder / "run.json").read_text())
    stages = run.get("stages", {})
    secs = {k: float(v) for k, v in run.get("timings", {}).items() if k != "total"}
    # the dense stage runs inside the camera backend: its seconds are part of the cameras stage's;
    # stages on worker threads overlap the others: "concurrent" is the time counted twice
    counted = sum(v for k, v in secs.items() if k not in ("dense", "concurrent")) - secs.get("concurrent", 0.0)
    cams = stages.get("cameras", {})
    row = {"size": f"{W}x{H}", "frames": frames, "pixels": W * H, "wall": wall, "cpu": cpu, "rss_gb": rss,
           "load": 0.5 * (load0 + os.getloadavg()[0]),
           "stages": secs, "other": wall - counted, "accounted": counted / wall,
           "static_points": int(cams.get("static_points", 0)), "dynamic_points": int(cams.get("dynamic_points", 0)),
           "verdict": stages.get("check", {}).get("verdict")}
    video = load_video(folder / "frames")
    c0 = time.process_time()
    row["ref"] = reference_workload(video.frames)
    row["ref_cpu"] = time.process_time() - c0
    if colmap:
        try:
            row["pycolmap"], row["pycolmap_posed"] = pycolmap_incremental(folder / "frames")
        except Exception as err:  # noqa: BLE001 - a baseline's failure is a result, not a crash
            row["pycolmap"], row["pycolmap_posed"] = float("nan"), f"failed: {type(err).__name__}"
    return row


def print_table(rows: list[dict]) -> None:
    head = (["size", "T", "wall s", "CPU s", "RSS GB", "wall/ref", "CPU/ref CPU", "load"] + [s for s in STAGES] + ["other", "acc %", "static", "moving",
                                                                                   "pycolmap s", "posed"])
    print(" | ".join(head))
    print(" | ".join("---" for _ in head))
    for r in rows:
        st = r["stages"]
        cells = [r["size"], str(r["frames"]), f"{r['wall']:.1f}", f"{r['cpu']:.1f}", f"{r['rss_gb']:.2f}",
                 f"{r['wall'] / r['ref']:.1f}", f"{r['cpu'] / r['ref_cpu']:.1f}", f"{r['load']:.1f}"]
        cells += [f"{st[s]:.1f}" if s in st else "-" for s in STAGES]
        cells += [f"{r['other']:.1f}", f"{100 * r['accounted']:.0f}", str(r["static_points"]), str(r["dynamic_points"]),
                  f"{r.get('pycolmap', float('nan')):.1f}", str(r.get("pycolmap_posed", "-"))]
        print(" | ".join(cells))
    # cost growth: seconds per extra frame at each size (least squares over the frame counts)
    for size in sorted({r["size"] for r in rows}):
        rs = [r for r in rows if r["size"] == size]
        if len(rs) >= 2:
            t = np.array([r["frames"] for r in rs], float)
            w = np.array([r["wall"] for r in rs], float)
            slope = np.polyfit(t, w, 1)[0]
            cslope = np.polyfit(t, np.array([r["cpu"] for r in rs], float), 1)[0]
            print(f"{size}: {slope:.2f} s wall, {cslope:.2f} s CPU per extra frame; peak RSS {max(r['rss_gb'] for r in rs):.2f} GB "
                  f"at {int(t.max())} frames")


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    for size in sorted({r["size"] for r in rows}, key=lambda s: int(s.split("x")[0])):
        rs = sorted((r for r in rows if r["size"] == size), key=lambda r: r["frames"])
        a.plot([r["frames"] for r in rs], [r["wall"] for r in rs], "o-", label=size)
    a.set_xlabel("frames"), a.set_ylabel("wall s"), a.legend(), a.grid(alpha=0.3)
    for T in sorted({r["frames"] for r in rows}):
        rs = sorted((r for r in rows if r["frames"] == T), key=lambda r: r["pixels"])
        b.plot([r["pixels"] / 1e6 for r in rs], [r["wall"] for r in rs], "o-", label=f"{T} frames")
    b.set_xlabel("megapixels per frame"), b.set_ylabel("wall s"), b.legend(), b.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", nargs="+", default=["640x360", "1280x720", "1920x1080"])
    ap.add_argument("--frames", nargs="+", type=int, default=[8, 16, 32, 64])
    ap.add_argument("--no-colmap", action="store_true", help="skip pycolmap's incremental pipeline baseline")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--plot", type=Path, default=None)
    ap.add_argument("--work", type=Path, default=None, help="folder for the scenes (default: a temporary one)")
    args = ap.parse_args()
    exe = str(Path(sys.executable).with_name("blur4d"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for s in args.sizes:
            W, H = (int(v) for v in s.lower().split("x"))
            for T in args.frames:
                row = run_case(exe, (W, H), T, work, colmap=not args.no_colmap)
                rows.append(row)
                print(f"{row['size']} x {T}: {row['wall']:.1f} s, {row['rss_gb']:.2f} GB", file=sys.stderr, flush=True)
    print(f"machine: {os.cpu_count()} cores; wall-clock seconds, inflated when the machine is shared "
          "(compare wall/ref across runs)")
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    if args.plot:
        plot(rows, args.plot)


if __name__ == "__main__":
    main()
