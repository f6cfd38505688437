#!/usr/bin/env bash
# H1 (eighteenth stop, the first H200 suite): 3cf17c3's GoogleTest binary (built here, .scratch/h/h1.tar.xz)
# on the GPU while the Python package builds; then the whole suite (--minutes 2.8) and its must-show counts against
# the H100 suite of 925c6b9 (same sm_90 kernels).
set -uo pipefail
W=/tmp/H1; rm -rf $W; mkdir -p $W
pack() { tar -C /tmp -czf $OUT/H1.tgz H1 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader > $W/gpu.txt
git log -1 --format=%H > $W/tree.txt 2>/dev/null
python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $W/pip.txt 2>&1 & pip_pid=$!
V=/tmp/h1v; rm -rf $V; mkdir -p $V; tar -C $V -xJf .scratch/h/h1.tar.xz
timeout 230 $V/specmeta_tests > $W/gtest.txt 2>&1; echo "gtest rc=$? at $SECONDS s" | tee -a $W/checks.txt
tail -n 3 $W/gtest.txt; pack
wait $pip_pid; echo "pip rc=$? at $SECONDS s" | tee -a $W/checks.txt
python3 -c "import specmeta; print(specmeta.__file__)" > $W/pkg.txt 2>&1
PYTHONUNBUFFERED=1 timeout $((580 - SECONDS)) python3 bench/bench_suite.py --out $W/suite --minutes 2.8 \
  > $W/suite.log 2>&1
echo "suite rc=$? at $SECONDS s" | tee -a $W/checks.txt
python3 bench/suite_must_show.py $W/suite bench/results/nvidia-h100-2026-11-28-final-tree/suite > $W/must-show.md 2>&1
head -16 $W/must-show.md
echo "total $SECONDS s"
