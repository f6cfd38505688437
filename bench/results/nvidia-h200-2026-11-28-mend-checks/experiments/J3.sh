#!/usr/bin/env bash
# J3 (a fresh H200 machine): the host's CPU, then the package and the whole suite on mend again (--minutes 2.8),
# to tell the eager times of J1's machine (empty-kernel eager floor 10.0 us) from the tree's.
set -uo pipefail
W=/tmp/J3; rm -rf $W; mkdir -p $W
pack() { tar -C /tmp -czf $OUT/J3.tgz J3 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader > $W/gpu.txt
{ lscpu; cat /proc/loadavg; } > $W/cpu.txt 2>&1; grep -m1 "Model name" $W/cpu.txt
python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $W/pip.txt 2>&1
echo "pip rc=$? at $SECONDS s" | tee -a $W/checks.txt
PYTHONUNBUFFERED=1 timeout $((585 - SECONDS)) python3 bench/bench_suite.py --out $W/suite --minutes 2.8 \
  > $W/suite.log 2>&1
echo "suite rc=$? at $SECONDS s" | tee -a $W/checks.txt
python3 bench/suite_must_show.py $W/suite bench/results/nvidia-h200-2026-11-28-first-suite/suite > $W/must-show.md 2>&1
head -16 $W/must-show.md
echo "total $SECONDS s"
