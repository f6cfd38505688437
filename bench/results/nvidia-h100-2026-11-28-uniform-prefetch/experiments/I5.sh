#!/usr/bin/env bash
# I5 (the machine of I4, warm): the whole suite on this tree (the prefetch in kernels of its own),
# pools of 4 rows per request (the default), against H1's suite-p4 (1ecff38's kernels).
set -uo pipefail
W=/tmp/I5; rm -rf $W; mkdir -p $W
pack() { tar -C /tmp -czf $OUT/I5.tgz I5 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $W/pip.txt 2>&1; echo "pip rc=$? at $SECONDS s"
PYTHONUNBUFFERED=1 python3 bench/bench_suite.py --out $W/suite --minutes 2.8 > $W/suite.log 2>&1; echo "suite rc=$? at $SECONDS s"
python3 bench/suite_must_show.py $W/suite bench/results/nvidia-h100-2026-11-27-pools/suite-p4 > $W/must-show.md 2>&1; cat $W/must-show.md
echo "total $SECONDS s"
