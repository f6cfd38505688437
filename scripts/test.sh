#!/usr/bin/env bash
# Sets up, builds (the CUDA sources too, whenever nvcc is installed) and runs
# every test: GoogleTest through CTest, pytest, then the fuzz corpus replay
# (needs clang++). GPU tests report as skipped on a machine without a
# visible CUDA GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build/cpp -G Ninja -DSPECMETA_TESTS=ON -DSPECMETA_BENCH=ON
cmake --build build/cpp -j "$(nproc)"
ctest --test-dir build/cpp --output-on-failure
.venv/bin/python -m pytest -rs tests/python
if command -v clang++ >/dev/null; then
  bash scripts/fuzz.sh 0
else
  echo "fuzz corpus replay: SKIPPED (clang++ not installed)"
fi
