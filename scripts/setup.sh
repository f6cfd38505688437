#!/usr/bin/env bash
# Creates .venv (seeing the system's packages, so an installed PyTorch is used
# when present) and builds and installs specmeta into it. Sourced by the
# other scripts; safe to run again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv --system-site-packages .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check "nanobind>=2.0" "scikit-build-core>=0.10" numpy pytest hypothesis
.venv/bin/python -m pip install -q --disable-pip-version-check --no-build-isolation . -C build-dir=build/python
