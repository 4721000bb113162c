"""The CLI frame: env, backends, example, synth, and the bad-input corpus (one line, non-zero exit)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from blur4d.cli.main import main


def run_cli(*args: str) -> tuple[int, str, str]:
    proc = subprocess.run([sys.executable, "-m", "blur4d", *args], capture_output=True, text=True,
                          timeout=300)
    return proc.returncode, proc.stdout, proc.stderr


def test_import_is_cheap():
    code = "import sys, blur4d; bad = [m for m in ('torch', 'open3d', 'mediapipe', 'cv2', 'pycolmap', 'diffusers', 'matplotlib') if m in sys.modules]; print(bad)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_env_and_backends(capsys):
    assert main(["env"]) == 0
    out = capsys.readouterr().out
    assert "numpy" in out and "generate/classical" in out
    assert main(["backends"]) == 0
    out = capsys.readouterr().out
    for name in ("classical", "blur2vid", "video", "builtin", "cotracker", "colmap", "megasam", "facemesh"):
        assert name in out
    assert "CC BY-NC" in out


def test_example_and_synth(tmp_path, capsys):
    out = tmp_path / "ex.png"
    assert main(["example", str(out), "--width", "160", "--height", "120"]) == 0
    img = np.asarray(Image.open(out))
    assert img.shape == (120, 160, 3)
    assert json.loads((tmp_path / "ex.png.json").read_text())["backend"] == "example"
    # existing output without --overwrite is refused, with it replaced
    assert main(["example", str(out)]) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert main(["example", str(out), "--width", "160", "--height", "120", "--overwrite"]) == 0
    # synth: a clip of frames -> its blur; half the interval -> a different blur
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(8):
        f = np.zeros((40, 64, 3), np.uint8)
        f[10:30, 4 + 6 * i: 12 + 6 * i] = 255
        Image.fromarray(f).save(frames / f"{i:02d}.png")
    assert main(["synth", str(frames), "--out", str(tmp_path / "b.png")]) == 0
    assert main(["synth", str(frames), "--out", str(tmp_path / "h.png"), "--interval", "-0.5", "0"]) == 0
    b = np.asarray(Image.open(tmp_path / "b.png")).astype(float)
    h = np.asarray(Image.open(tmp_path / "h.png")).astype(float)
    assert b[20, 8:52].min() > 60 and h[20, 40:].max() == 0 and h[20, 8].min() > 60


def _bad_corpus(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("not an image")
    buf = io.BytesIO()
    Image.fromarray(np.full((200, 200, 3), 120, np.uint8)).save(buf, format="JPEG")
    (tmp_path / "trunc.jpg").write_bytes(buf.getvalue()[:300])
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "tiny.png")
    Image.fromarray(np.zeros((100, 100, 3), np.uint8)).save(tmp_path / "ok.png")
    (tmp_path / "adir").mkdir()
    (tmp_path / "nothing.mp4").write_bytes(b"\x00" * 64)
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(tmp_path / "one.gif")
    return {
        "missing": [str(tmp_path / "missing.jpg")],
        "directory": [str(tmp_path / "adir")],
        "zero-byte": [str(tmp_path / "empty.jpg")],
        "truncated": [str(tmp_path / "trunc.jpg")],
        "text as jpg": [str(tmp_path / "text.jpg")],
        "too small": [str(tmp_path / "tiny.png")],
        "over pixel limit": [str(tmp_path / "ok.png"), "--max-pixels", "5000"],
    }


@pytest.mark.parametrize("verb", ["generate", "track", "check", "face", "reconstruct"])
def test_bad_input_corpus_gives_one_line(tmp_path, verb):
    for name, args in _bad_corpus(tmp_path).items():
        out = tmp_path / {"generate": "o.mp4", "track": "t.npz", "check": "r.html", "face": "f.json",
                          "reconstruct": "s.ply"}[verb]
        code, stdout, stderr = run_cli(verb, *args, "--out", str(out))
        assert code == 1, (verb, name, code, stderr)
        lines = [line for line in stderr.strip().splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("blur4d: error:"), (verb, name, stderr)
        assert "Traceback" not in stderr
        assert not out.exists()


def test_bad_videos_and_outputs(tmp_path):
    _bad_corpus(tmp_path)
    for args in (["synth", str(tmp_path / "nothing.mp4")], ["synth", str(tmp_path / "one.gif")],
                 ["synth", str(tmp_path / "adir")]):
        code, _, stderr = run_cli(*args, "--out", str(tmp_path / "x.png"))
        assert code == 1 and len(stderr.strip().splitlines()) == 1, stderr
    if os.geteuid() != 0:  # root can write anywhere
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        code, _, stderr = run_cli("example", str(ro / "x.png"))
        assert code == 1 and "not writable" in stderr
    code, _, stderr = run_cli("example", "/proc/blur4d-test/x.png")
    assert code == 1 and stderr.startswith("blur4d: error:"), stderr
    code, _, stderr = run_cli("generate", "--bogus")
    assert code == 2 and len(stderr.strip().splitlines()) == 1


def test_debug_shows_traceback(tmp_path):
    code, _, stderr = run_cli("--debug", "synth", str(tmp_path / "missing"), "--out", str(tmp_path / "x.png"))
    assert code != 0 and "Traceback" in stderr


def test_generate_verb_survives_backend_imports():
    code = ("import importlib, blur4d, blur4d.api; "
            "importlib.import_module('blur4d.generate.classical'); importlib.import_module('blur4d.generate.video'); "
            "from blur4d.generate.classical import ClassicalGenerator; "
            "assert blur4d.generate is blur4d.api.generate, blur4d.generate; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr


def test_overwrite_never_replaces_the_input(tmp_path):
    frames = tmp_path / "clip"
    frames.mkdir()
    for i in range(3):
        Image.fromarray(np.full((40, 40, 3), 40 * i, np.uint8)).save(frames / f"{i}.png")
    # the scene folder of clip.ply would be clip/ itself
    code, _, stderr = run_cli("reconstruct", str(frames), "--out", str(tmp_path / "clip.ply"), "--overwrite")
    assert code == 1 and "would replace the input" in stderr, stderr
    assert len(list(frames.iterdir())) == 3
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(tmp_path / "p.png")
    code, _, stderr = run_cli("synth", str(frames), "--out", str(frames), "--overwrite")
    assert code == 1 and "is the input" in stderr, stderr
    assert len(list(frames.iterdir())) == 3


def test_progress_displays_start_once_when_stages_report_from_several_threads(monkeypatch):
    # the check and the faces report from worker threads beside the cameras: two threads starting
    # the rich display together made two displays, and one's task id was looked up in the other
    # (batch items failed with "KeyError: 0")
    import threading
    import time

    from blur4d.progress import RichProgress

    started = []
    original = RichProgress._start

    def slow_start(self):
        started.append(1)
        time.sleep(0.05)  # widen the window in which a second thread sees no display yet
        original(self)

    monkeypatch.setattr(RichProgress, "_start", slow_start)
    barrier = threading.Barrier(6)
    errors = []

    def report(stage):
        barrier.wait()
        try:
            for i in range(4):
                bar(stage, i, 3)
        except Exception as err:  # noqa: BLE001 - collected for the assertion
            errors.append(err)

    with RichProgress() as bar:
        threads = [threading.Thread(target=report, args=(f"stage{k}",)) for k in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        tasks = {t.description: t.completed for t in bar._progress.tasks}
    assert errors == [] and len(started) == 1
    assert tasks == {f"stage{k}": 3 for k in range(6)}


def test_startup_time_is_the_commands_not_an_older_shells(monkeypatch):
    """``bash -c 'a && b && blur4d ...'`` execs blur4d in the shell's own process, whose start time
    /proc keeps: run.json's 'startup' then counted the earlier commands (98 s for a 10 s run)."""
    if not os.path.exists("/proc/self/stat"):
        pytest.skip("needs /proc")
    probe = f"{sys.executable} -c 'from blur4d.progress import process_age; print(process_age())'"
    out = subprocess.run(["bash", "-c", f"sleep 3 && {probe}"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert float(out.stdout) < 2.5, out.stdout  # the process itself is > 3 s old
    fresh = subprocess.run(["bash", "-c", f"{probe}; true"], capture_output=True, text=True, timeout=120)
    assert 0.0 < float(fresh.stdout) < 60.0  # a process of its own: its age, interpreter start included

    from blur4d import progress

    monkeypatch.setattr(progress, "_proc_age", lambda: None)
    assert 0.0 <= progress.process_age() < 3600.0
