#!/usr/bin/env bash
# Q3 (Q2's machine, warm, right after it; Q2's time guard had skipped its suite): the whole suite on this tree, as
# installed by Q2's pip, against I5's (the last stop's kernels). Run as one command line; here as a script.
W=/tmp/Q3; rm -rf $W; mkdir -p $W
python3 -c "import specmeta; print(specmeta.__file__)" > $W/pkg.txt 2>&1 ||
  python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $W/pip.txt 2>&1
cat $W/pkg.txt
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
PYTHONUNBUFFERED=1 python3 bench/bench_suite.py --out $W/suite --minutes 2.8 > $W/suite.log 2>&1; echo "suite rc=$? at $SECONDS s"
python3 bench/suite_must_show.py $W/suite bench/results/nvidia-h100-2026-11-28-uniform-prefetch/suite > $W/must-show.md 2>&1
cat $W/must-show.md
tar -C /tmp -czf $OUT/Q3.tgz Q3
