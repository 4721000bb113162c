"""The environment is whole: one OpenCV build (its distributions all write the same cv2/ files, so
two of them make the build a user gets depend on install order) and no broken requirement."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys


def test_exactly_one_opencv_distribution():
    names = {(d.metadata["Name"] or "").lower() for d in importlib.metadata.distributions()}
    opencv = sorted(n for n in names if n.startswith("opencv"))
    assert opencv == ["opencv-contrib-python"], (
        f"installed OpenCV distributions: {opencv}; blur4d and mediapipe share opencv-contrib-python only "
        "(scripts/setup.sh removes the others)")
    import cv2

    assert hasattr(cv2, "SIFT_create") and hasattr(cv2, "ximgproc"), "cv2 is not the contrib build"


def test_pip_check_is_clean():
    r = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
