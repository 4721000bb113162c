"""``blur4d batch`` / ``blur4d.batch``: items, the resumable table, the local process pool, Ctrl-C,
the gallery in headless Chromium, and a real local Ray cluster (separate processes)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from blur4d.batch import items as items_mod
from blur4d.batch import table as table_mod
from blur4d.batch import worker as worker_mod
from blur4d.cli.main import main

CHECK_OPTS = ["--verb", "check", "--frames", "6", "--seed", "3"]
VOLATILE = {"seconds", "timings", "created", "time", "elapsed", "load_seconds", "write_seconds",
            "interval", "concurrent"}  # stage intervals and overlap: wall-clock measures (#18 threads)


# ------------------------------------------------------------------------------------------------
# inputs: 5 photos (3 bundled examples, 2 real blurry photos), 1 real video, 2 bad files
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def inputs(tmp_path_factory, shared_data) -> Path:
    import cv2

    from blur4d.api import example
    from blur4d.media import read_frames, read_image, write_image, write_mp4

    d = tmp_path_factory.mktemp("inputs")
    write_image(d / "ex_a.png", example(128, 96))
    write_image(d / "ex_b.jpg", example(112, 84))
    (d / "sub").mkdir()
    write_image(d / "sub" / "ex_c.png", example(96, 72))
    for name, src in (("real_gopro.png", "blurry/nafnet_gopro/blurry.jpg"), ("real_bit.png", "blurry/bit_demo/00777.png")):
        px = read_image(shared_data / src).pixels
        write_image(d / name, cv2.resize(px, (128, 72), interpolation=cv2.INTER_AREA))
    frames = read_frames(shared_data / "video/sam2_gallery/03_blocks.mp4", max_frames=6)[0]
    write_mp4(d / "clip.mp4", np.stack([cv2.resize(f, (128, 72), interpolation=cv2.INTER_AREA) for f in frames]))
    (d / "bad.png").write_text("this is not an image\n")
    (d / "trunc.jpg").write_bytes((d / "ex_b.jpg").read_bytes()[:200])
    return d


def rows_of(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "batch.jsonl").read_text().splitlines()]


def stable(obj):
    """JSON without wall times (they differ between any two runs)."""
    if isinstance(obj, dict):
        return {k: stable(v) for k, v in obj.items() if k not in VOLATILE}
    if isinstance(obj, list):
        return [stable(v) for v in obj]
    return obj


def same_outputs(a: Path, b: Path) -> list[str]:
    """Files of ``a`` that differ in ``b`` (JSON compared without wall times; report/log skipped)."""
    diffs = []
    for f in sorted(p for p in a.rglob("*") if p.is_file()):
        rel = f.relative_to(a)
        g = b / rel
        if f.name in ("log.txt", "report.html"):
            continue
        if not g.is_file():
            diffs.append(f"{rel} missing")
        elif f.suffix == ".json":
            if stable(json.loads(f.read_text())) != stable(json.loads(g.read_text())):
                diffs.append(str(rel))
        elif f.suffix == ".npz":
            with np.load(f) as x, np.load(g) as y:
                if any(not np.array_equal(x[k], y[k]) for k in x.files if k != "provenance_json"):
                    diffs.append(str(rel))
        elif f.read_bytes() != g.read_bytes():
            diffs.append(str(rel))
    return diffs


def single_verb(argv: list[str], cwd: Path) -> None:
    """The single command, as a user runs it, with the thread count a batch worker uses."""
    threads = max(1, (os.cpu_count() or 1) // 2)
    env = {**os.environ, **worker_mod.thread_env(threads)}
    cwd.mkdir(parents=True)
    subprocess.run([sys.executable, "-m", "blur4d", *argv, "-q"], cwd=cwd, env=env, check=True, timeout=300)


# ------------------------------------------------------------------------------------------------
# items and table (no work)
# ------------------------------------------------------------------------------------------------
def test_ids_are_stable_unique_and_safe(tmp_path):
    (tmp_path / "a b").mkdir()
    for rel in ("a b/x.png", "a b/x.jpg", "y.png", "notes.txt"):
        (tmp_path / rel).write_bytes(b"x")
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,seed,skip,fov\ny.png,5,faces|report,\ny.png,6,,40\n")
    got = items_mod.collect([str(tmp_path / "a b"), str(manifest), str(tmp_path / "y.png")], verb="check",
                            options={"frames": 6, "past_future": True})
    assert [i.id for i in got] == ["x", "x-2", "y", "y-2", "y-3"]
    assert got[2].options == {"frames": 6, "past-future": True, "seed": 5, "skip": ["faces", "report"]}
    assert got[3].options["fov"] == 40 and got[3].options["seed"] == 6
    assert got[2].argv()[-4:] == ["--past-future", "--seed=5", "--skip=faces", "--skip=report"]
    assert items_mod.collect([str(tmp_path / "a b")], glob="*.jpg")[0].input.endswith("x.jpg")
    assert [i.id for i in items_mod.collect([str(tmp_path)], exclude=tmp_path / "a b")] == ["y"]
    again = items_mod.collect([str(tmp_path / "a b"), str(manifest), str(tmp_path / "y.png")], verb="check",
                              options={"frames": 6, "past_future": True})
    items_mod.fill_hashes(got), items_mod.fill_hashes(again)
    assert [(i.id, i.input_hash, i.options_hash) for i in got] == [(i.id, i.input_hash, i.options_hash) for i in again]
    assert got[2].options_hash != got[3].options_hash and got[2].input_hash == got[3].input_hash
    jl = tmp_path / "m.jsonl"
    jl.write_text('{"path": "y.png", "id": "my/item", "intervals": "-0.5,0;0,0.5"}\n')
    (item,) = items_mod.collect([str(jl)], verb="generate")
    assert item.id == "my__item" and "--intervals=-0.5,0;0,0.5" in item.argv()
    with pytest.raises(Exception, match="no such file"):
        items_mod.collect([str(tmp_path / "missing.png")])


def test_table_drops_a_torn_last_line(tmp_path):
    path = tmp_path / "batch.jsonl"
    t = table_mod.Table(path)
    t.append({"id": "a", "status": "ok"})
    t.append({"id": "b", "status": "failed"})
    with open(path, "ab") as fh:
        fh.write(b'{"id": "c", "sta')  # a write cut short
    t2 = table_mod.Table(path)
    assert t2.torn and list(t2.last()) == ["a", "b"]
    assert path.read_text().endswith("\n") and all(json.loads(line) for line in path.read_text().splitlines())
    assert set(t2.last()) == {"a", "b"} and t2.attempts("a") == 1


def test_worker_fails_fast_on_unreachable_input_or_output(tmp_path):
    from blur4d.batch.ray_engine import _probe

    task = {"id": "x", "input": str(tmp_path / "gone.png"), "verb": "check", "argv": [], "input_hash": "",
            "options_hash": "", "options": {}, "out_dir": str(tmp_path)}
    row = worker_mod.run_item(task)
    assert row["status"] == "failed" and "storage every worker can reach" in row["error"]
    row = worker_mod.run_item({**task, "out_dir": str(tmp_path / "nowhere")})
    assert row["status"] == "failed" and "cannot write" in row["error"]
    host, problems = _probe(str(tmp_path / "nowhere"), [str(tmp_path / "gone.png")])
    assert host == socket.gethostname() and len(problems) == 2


def test_ray_missing_says_how_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)
    (tmp_path / "p.png").write_bytes(b"x")
    assert main(["batch", str(tmp_path / "p.png"), "--out", str(tmp_path / "o"), "--engine", "ray"]) == 1
    assert 'pip install "blur4d[ray]"' in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------
# local engine
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def local_run(inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "out"
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["batch", str(inputs), "--out", str(out), "--workers", "2", "-q", *CHECK_OPTS])
    return out, rc, buf.getvalue()


def test_local_batch_isolates_failures_and_resumes(local_run, inputs, capsys, tmp_path):
    out, rc, printed = local_run
    assert rc == 1
    assert printed.strip() == f"6 ok, 2 failed (see {out / 'summary.csv'}), 0 skipped"
    rows = rows_of(out)
    assert sorted((r["id"], r["status"]) for r in rows) == [
        ("bad", "failed"), ("clip", "ok"), ("ex_a", "ok"), ("ex_b", "ok"), ("real_bit", "ok"), ("real_gopro", "ok"),
        ("sub__ex_c", "ok"), ("trunc", "failed")]
    errors = {r["id"]: r["error"] for r in rows if r["status"] == "failed"}
    assert "not a recognised image" in errors["bad"] and "truncated" in errors["trunc"]
    assert all("\n" not in e for e in errors.values())
    ok = [r for r in rows if r["status"] == "ok"]
    assert all(r["results"]["verdict"] and r["seconds"] > 0 and r["host"] for r in ok)
    for r in ok:  # exactly the single verb's layout, plus the item's log
        assert {p.name for p in (out / r["id"]).iterdir()} == {"report.html", "consistency.json",
                                                               "consistency_maps", "log.txt"}
    assert {p.name for p in (out / "bad").iterdir()} == {"log.txt"}
    assert "not a recognised image" in (out / "bad" / "log.txt").read_text()
    summary = (out / "summary.csv").read_text().splitlines()
    assert summary[0].startswith("id,status,input,error") and len(summary) == 9
    assert not list(out.glob(".*.partial-*"))

    # rerun: the 6 ok items are skipped; the 2 failed ones are tried again
    mtimes = {r["id"]: (out / r["id"] / "consistency.json").stat().st_mtime_ns for r in ok}
    assert main(["batch", str(inputs), "--out", str(out), "--workers", "2", "-q", *CHECK_OPTS]) == 1
    assert capsys.readouterr().out.strip() == f"0 ok, 2 failed (see {out / 'summary.csv'}), 6 skipped"
    assert len(rows_of(out)) == 10 and all(r["attempt"] == 2 for r in rows_of(out)[8:])
    # --retry-failed touches only the 2 failed ones
    assert main(["batch", str(inputs), "--out", str(out), "--workers", "2", "-q", "--retry-failed", *CHECK_OPTS]) == 1
    new = rows_of(out)[10:]
    assert sorted(r["id"] for r in new) == ["bad", "trunc"] and all(r["attempt"] == 3 for r in new)
    assert mtimes == {i: (out / i / "consistency.json").stat().st_mtime_ns for i in mtimes}
    # changed options: redone (a different options hash), not skipped (on a copy: the fixture stays as it was)
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    assert main(["batch", str(inputs / "ex_a.png"), "--out", str(copy), "-q", "--verb", "check", "--frames", "5",
                 "--seed", "3", "--workers", "1"]) == 0
    assert rows_of(copy)[-1]["id"] == "ex_a" and rows_of(copy)[-1]["options"]["frames"] == "5"


def test_local_outputs_are_byte_identical_to_single_verb(local_run, inputs, tmp_path):
    out, _, _ = local_run
    for item, src in (("ex_a", "ex_a.png"), ("clip", "clip.mp4"), ("real_gopro", "real_gopro.png")):
        single_verb(["check", str(inputs / src), "--out", "report.html", "--frames", "6", "--seed", "3"],
                    tmp_path / item)
        assert same_outputs(tmp_path / item, out / item) == []
        assert same_outputs(out / item, tmp_path / item) == ["log.txt missing"] or \
            same_outputs(out / item, tmp_path / item) == []


def test_reconstruct_batch_matches_single_verb_via_api(inputs, tmp_path):
    import blur4d

    opts = {"frames": 6, "skip": ["faces"], "seed": 1}
    rows = blur4d.batch([inputs / "ex_a.png", inputs / "clip.mp4"], out=tmp_path / "out", workers=2, **opts)
    assert [r["status"] for r in rows] == ["ok", "ok"], rows
    for row, src in zip(rows, ("ex_a.png", "clip.mp4")):
        folder = tmp_path / "out" / row["id"]
        run = json.loads((folder / "scene" / "run.json").read_text())
        assert run["out"] == "scene.ply" and run["folder"] == "scene"  # true after the rename
        assert set(row["stages"]) >= {"track", "cameras", "check"} and row["stages"]["track"] > 0
        assert row["results"]["points"] >= 0 and row["results"]["frames"] == 6 and row["results"]["verdict"]
        single_verb(["reconstruct", str(inputs / src), "--out", "scene.ply", "--frames", "6", "--skip", "faces",
                     "--seed", "1"], tmp_path / f"single_{row['id']}")
        assert same_outputs(tmp_path / f"single_{row['id']}", folder) == []
    gallery = tmp_path / "out" / ".gallery"
    assert {p.name for p in gallery.iterdir()} == {"ex_a.photo.jpg", "ex_a.clip.jpg", "clip.clip.jpg"}


def test_sigint_leaves_no_half_written_item_and_rerun_completes(inputs, tmp_path):
    out = tmp_path / "out"
    photos = [str(inputs / n) for n in ("ex_a.png", "ex_b.jpg", "real_gopro.png", "real_bit.png")]
    cmd = [sys.executable, "-m", "blur4d", "batch", *photos, "--out", str(out), "--workers", "2", "-q", *CHECK_OPTS]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not ((out / "batch.jsonl").is_file() and (out / "batch.jsonl").stat().st_size):
            time.sleep(0.02)
        assert list(out.glob(".*.partial-*")), "no item was running when the interrupt came"
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole process group
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130 and "interrupted" in err
    assert not list(out.glob(".*.partial-*"))
    rows = rows_of(out)  # valid JSON Lines
    finished = {r["id"] for r in rows}
    folders = {p.name for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")}
    assert folders == finished and len(finished) < 4
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().endswith(f"skipped") and f"{len(finished)} skipped" in res.stdout
    assert {r["id"] for r in rows_of(out)} == {"ex_a", "ex_b", "real_bit", "real_gopro"}


def test_gallery_renders_in_headless_chromium(local_run, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    exe = "/usr/bin/chromium"
    if not Path(exe).is_file():
        pytest.skip("no /usr/bin/chromium (Debian package chromium)")
    out, _, _ = local_run
    page_path = out / "index.html"
    assert page_path.is_file()
    html = page_path.read_text()
    assert "http://" not in html and "https://" not in html and "<script" not in html
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            problems: list[str] = []
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(page_path.as_uri())
            page.wait_for_load_state("load")
            imgs = page.eval_on_selector_all(
                "img", "els => els.map(e => [e.complete, e.naturalWidth, e.naturalHeight, e.alt])")
            links = page.eval_on_selector_all("a", "els => els.map(e => e.getAttribute('href'))")
        finally:
            browser.close()
    assert problems == []
    # 5 photos (the video has no photo) + the video's middle frame (check keeps no generated clip)
    assert len(imgs) == 6 and all(c and w > 0 and h > 0 for c, w, h, _ in imgs), imgs
    assert "ex_a/report.html" in links and "bad/log.txt" in links and "bad/report.html" not in links


# ------------------------------------------------------------------------------------------------
# Ray: a real local cluster as separate processes
# ------------------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ray_cluster():
    pytest.importorskip("ray")
    import tempfile

    temp = tempfile.mkdtemp(prefix="rb", dir="/tmp")  # short: Ray's socket paths have a length limit
    port = _free_port()
    ray_bin = Path(sys.executable).with_name("ray")
    cmd = [str(ray_bin)] if ray_bin.is_file() else [sys.executable, "-m", "ray.scripts.scripts"]
    cmd += ["start", "--head", "--block", "--num-cpus", "2", "--port", str(port), "--temp-dir", temp,
            "--include-dashboard=false", "--disable-usage-stats", "--object-store-memory", "100000000"]
    log = open(Path(temp) / "start.log", "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        address = f"127.0.0.1:{port}"
        deadline = time.time() + 90
        while time.time() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"ray start exited: {(Path(temp) / 'start.log').read_text()[-2000:]}")
            if list(Path(temp).glob("session_*/sockets/raylet*")):
                break
            time.sleep(0.5)
        time.sleep(2)
        yield address
    finally:  # the whole cluster is this process group: stop it even when a test failed
        with_timeout = time.time() + 5
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        while time.time() < with_timeout and proc.poll() is None:
            time.sleep(0.2)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(10)
        log.close()
        import shutil

        shutil.rmtree(temp, ignore_errors=True)


def test_ray_engine_gives_the_same_results_as_local(ray_cluster, local_run, inputs, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["batch", str(inputs), "--out", str(out), "-q", "--engine", "ray", "--address", ray_cluster,
               *CHECK_OPTS])
    assert rc == 1
    assert capsys.readouterr().out.strip() == f"6 ok, 2 failed (see {out / 'summary.csv'}), 0 skipped"
    local_out = local_run[0]
    rows = {r["id"]: r for r in rows_of(out)}
    for item, row in rows.items():
        assert row["engine"] == "ray"
        if row["status"] == "ok":
            assert same_outputs(local_out / item, out / item) == [], item
            assert stable(row["results"]) == stable(next(r for r in rows_of(local_out) if r["id"] == item)["results"])
        else:
            assert item in ("bad", "trunc") and row["error"]
    # actors (what expensive models use) give the same bytes too
    rows = __import__("blur4d").batch([inputs / "ex_a.png", inputs / "clip.mp4"], out=tmp_path / "actors",
                                      verb="check", engine="ray", address=ray_cluster, actors=True,
                                      frames=6, seed=3)
    assert [r["status"] for r in rows] == ["ok", "ok"]
    for row in rows:
        assert same_outputs(local_out / row["id"], tmp_path / "actors" / row["id"]) == []


def test_ray_worker_killed_mid_item_is_retried(ray_cluster, inputs, tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "blur4d", "batch", str(inputs / "ex_a.png"), str(inputs / "real_gopro.png"),
           "--out", str(out), "-q", "--engine", "ray", "--address", ray_cluster, "--retries", "2", *CHECK_OPTS]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed = None
    try:
        deadline = time.time() + 120
        while killed is None and time.time() < deadline and proc.poll() is None:
            for partial in out.glob(".ex_a.partial-*"):
                pid = int(partial.name.rsplit("-", 1)[1])
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
                assert "ray::" in cmdline or "default_worker" in cmdline, cmdline
                os.kill(pid, signal.SIGKILL)  # the Ray worker process running this item
                killed = pid
                break
            time.sleep(0.02)
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert killed is not None, "the item finished before it could be killed"
    assert proc.returncode == 0, stderr
    assert stdout.strip().splitlines()[-1].startswith("2 ok, 0 failed")
    (row,) = [r for r in rows_of(out) if r["id"] == "ex_a"]
    assert row["status"] == "ok" and row["crashes"] >= 1 and row["pid"] != killed
    assert not list(out.glob(".*.partial-*"))


def test_gallery_caps_its_rows_and_lists_failures_first(tmp_path):
    from blur4d.batch.gallery import write_index

    rows = [{"id": f"i{k}", "status": "ok", "verb": "check", "input": f"/x/i{k}.png"} for k in range(3)]
    rows.append({"id": "bad", "status": "failed", "verb": "check", "input": "/x/bad.png", "error": "a <b> error"})
    page = write_index(tmp_path / "index.html", rows, max_rows=2).read_text()
    assert "Showing 2 of 4 items" in page and "1 failed" in page and "3 ok" in page
    assert page.index("bad.png") < page.index("i0.png") and "i2.png" not in page
    assert "a &lt;b&gt; error" in page


def test_ctrl_c_during_commit_waits_until_folder_and_row_are_both_in_place(tmp_path):
    """The race CI met: Ctrl-C between an item's rename and its row left a folder with no row."""
    part = tmp_path / ".a.partial-h-1"
    part.mkdir()
    (part / "log.txt").write_text("ok\n")
    rows = []

    def record(row):
        os.kill(os.getpid(), signal.SIGINT)  # arrives after the rename, before the row is kept
        time.sleep(0.05)
        rows.append(row)

    with pytest.raises(KeyboardInterrupt):
        worker_mod.commit({"id": "a", "status": "ok", "folder": str(part)}, tmp_path, record)
    assert (tmp_path / "a" / "log.txt").is_file() and not part.exists()
    assert rows == [{"id": "a", "status": "ok"}]
