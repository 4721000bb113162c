#!/usr/bin/env bash
# Set up blur4d in ./.venv on a fresh Debian machine (Python >= 3.10, no GPU needed).
# System packages: libusb-1.0-0 (open3d), chromium (the browser tests of the report and the viewer, driven by
# Playwright through executable_path: never run `playwright install`, it downloads a browser).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

if command -v apt-get >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  need=""
  for pkg in libusb-1.0-0 chromium; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"
  done
  $PY -c "import ensurepip, venv" >/dev/null 2>&1 || need="$need python3-venv"
  if [ -n "$need" ]; then
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $need
  fi
fi

[ -x .venv/bin/python ] || $PY -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# A CPU build of torch, pinned: an unpinned torch pulls several GB of CUDA packages.
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[all,test]"
echo "blur4d is set up in .venv"
