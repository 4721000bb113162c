"""``blur4d generate`` and ``blur4d evaluate`` end to end on small images."""

from __future__ import annotations

import json

import numpy as np
import pytest

from blur4d.cli.main import main
from blur4d.media import load_video, write_image
from blur4d.synthetic import benchmark_scenes, ground_truth_case
from blur4d.types import Intervals, Video

SMALL = ["-o", "max_side=160", "-o", "estimate_side=160", "-o", "tile=32", "-o", "iterations=5"]


@pytest.fixture(scope="module")
def photo_path(tmp_path_factory):
    case = ground_truth_case(benchmark_scenes(160, 96)["translation"], "t", present=4, past=0, future=0, subframes=12)
    d = tmp_path_factory.mktemp("cli")
    write_image(d / "photo.png", case.photo)
    Video(case.frames, Intervals.present(4)).save(d / "gt")
    return d / "photo.png"


def test_generate_mp4_and_folder(photo_path, tmp_path, capsys):
    out = tmp_path / "v.mp4"
    assert main(["generate", str(photo_path), "--out", str(out), "--frames", "4", "--seed", "0", *SMALL]) == 0
    assert out.is_file() and (tmp_path / "v.intervals.json").is_file()
    side = json.loads((tmp_path / "v.mp4.json").read_text())
    assert side["backend"] == "classical" and side["seed"] == 0 and len(side["choices"]) == 1
    assert (tmp_path / "v_ambiguity.png").is_file()
    folder = tmp_path / "frames"
    args = ["generate", str(photo_path), "--out", str(folder), "--past-future", "--frames", "6", *SMALL, "-q"]
    assert main(args) == 0
    v = load_video(folder)
    assert v.num_frames == 6 and v.intervals.span == (-1.0, 1.0)
    # never overwrite silently
    assert main(["generate", str(photo_path), "--out", str(folder), "--frames", "6", *SMALL, "-q"]) == 1
    assert "exists" in capsys.readouterr().err


def test_samples_direction_and_seed(photo_path, tmp_path):
    base = ["generate", str(photo_path), "--frames", "3", "--samples", "2", "--seed", "3", *SMALL, "-q"]
    assert main([*base, "--out", str(tmp_path / "a")]) == 0
    assert main([*base, "--out", str(tmp_path / "b")]) == 0
    for k in range(2):
        a, b = load_video(tmp_path / f"a_sample{k}"), load_video(tmp_path / f"b_sample{k}")
        np.testing.assert_array_equal(a.frames, b.frames)
    guide = np.zeros((96, 160, 3), np.uint8)
    guide[..., 2] = 255  # blue: leftwards
    write_image(tmp_path / "guide.png", guide)
    assert main(["generate", str(photo_path), "--frames", "3", *SMALL, "-q", "--direction", str(tmp_path / "guide.png"),
                 "--out", str(tmp_path / "g")]) == 0
    assert main(["generate", str(photo_path), "--frames", "3", *SMALL, "-q", "--direction", "right-to-left",
                 "--out", str(tmp_path / "n")]) == 0
    np.testing.assert_array_equal(load_video(tmp_path / "g").frames, load_video(tmp_path / "n").frames)
    assert main(["generate", str(photo_path), "--frames", "3", *SMALL, "-q", "--direction", "180",
                 "--out", str(tmp_path / "d")]) == 0
    np.testing.assert_array_equal(load_video(tmp_path / "d").frames, load_video(tmp_path / "n").frames)


def test_bad_input_is_one_line(photo_path, tmp_path, capsys):
    assert main(["generate", str(tmp_path / "missing.png"), "--out", str(tmp_path / "x.mp4")]) == 1
    assert main(["generate", str(photo_path), "--out", str(tmp_path / "x.mp4"), "--direction", "sideways", *SMALL]) == 1
    assert main(["generate", str(photo_path), "--out", str(tmp_path / "x.mp4"), "-o", "max_side=3"]) == 1
    assert main(["generate", str(photo_path), "--out", str(tmp_path / "x.mp4"), "-o", "nonsense=1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4 and "direction" in err[1] and "max_side" in err[2] and "nonsense" in err[3]


def test_evaluate_cli(photo_path, tmp_path, capsys):
    pred = tmp_path / "pred"
    assert main(["generate", str(photo_path), "--out", str(pred), "--frames", "4", *SMALL, "-q"]) == 0
    gt = photo_path.parent / "gt"
    out = tmp_path / "m.json"
    assert main(["evaluate", str(pred), "--gt", str(gt), "--blurry", str(photo_path), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "PSNR_p" in text and "blur consistency" in text and "skipped lpips_p" in text
    d = json.loads(out.read_text())
    assert d["metrics"]["blur_consistency"] > 35
    assert main(["evaluate", str(pred), "--gt", str(tmp_path / "nope")]) == 1


def test_sharp_photo_says_the_frames_are_the_photo(tmp_path, capsys):
    """The no-blur decision is said, with what the backend does not estimate, not left silent."""
    photo = ((np.indices((96, 160)).sum(0) % 16 < 8) * 200 + 20).astype(np.uint8)[..., None].repeat(3, -1)
    write_image(tmp_path / "sharp.png", photo)
    assert main(["generate", str(tmp_path / "sharp.png"), "--out", str(tmp_path / "s"), "--frames", "4",
                 *SMALL]) == 0
    out = capsys.readouterr().out
    assert "every frame is the photo" in out and "not estimated" in out
    assert json.loads((tmp_path / "s.json").read_text())["extra"]["no_blur"] is True
    assert all(np.array_equal(f, photo) for f in load_video(tmp_path / "s").frames)


def test_blurred_photo_does_not_claim_no_blur(photo_path, tmp_path, capsys):
    assert main(["generate", str(photo_path), "--out", str(tmp_path / "b"), "--frames", "4", *SMALL]) == 0
    assert "every frame is the photo" not in capsys.readouterr().out
