#!/usr/bin/env bash
# Set up blur4d in ./.venv on a fresh Debian machine (Python >= 3.10, no GPU needed).
# System packages: libusb-1.0-0 (open3d), libgl1 + glib (OpenCV: opencv-contrib-python, the one
# OpenCV build every part shares, links libGL.so.1 and libgthread), chromium (the browser tests of the
# report and the viewer, driven by Playwright through executable_path: never run `playwright install`,
# it downloads a browser).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

if command -v apt-get >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  need=""
  for pkg in libusb-1.0-0 libgl1 chromium; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"
  done
  # glib's runtime is libglib2.0-0 on Debian 12, libglib2.0-0t64 from Debian 13 on
  dpkg -s libglib2.0-0 >/dev/null 2>&1 || dpkg -s libglib2.0-0t64 >/dev/null 2>&1 || need="$need GLIB"
  $PY -c "import ensurepip, venv" >/dev/null 2>&1 || need="$need python3-venv"
  if [ -n "$need" ]; then
    $SUDO apt-get update -q
    glib=libglib2.0-0; apt-cache show libglib2.0-0t64 >/dev/null 2>&1 && glib=libglib2.0-0t64
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends ${need/GLIB/$glib}
  fi
fi

[ -x .venv/bin/python ] || $PY -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# A CPU build of torch, pinned: an unpinned torch pulls several GB of CUDA packages.
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[all,test]"
# Exactly one OpenCV: all its distributions write the same cv2/ files, so another one (e.g. the
# headless build an older blur4d depended on) is removed and the contrib build's files restored.
others=$(.venv/bin/python -c 'import importlib.metadata as m
print(" ".join(sorted({d.metadata["Name"] for d in m.distributions()
      if (d.metadata["Name"] or "").lower().startswith("opencv") and d.metadata["Name"].lower() != "opencv-contrib-python"})))')
if [ -n "$others" ]; then
  contrib=$(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("opencv-contrib-python"))')
  .venv/bin/python -m pip uninstall -q -y $others
  .venv/bin/python -m pip install -q --force-reinstall --no-deps "opencv-contrib-python==$contrib"
fi
echo "blur4d is set up in .venv"
