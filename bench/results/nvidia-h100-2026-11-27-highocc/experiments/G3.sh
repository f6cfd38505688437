#!/usr/bin/env bash
# G3: the tree of 3348b95 (high-occupancy copy for per-request tables of about two pairs on average); pip install;
# the whole suite (--minutes 3.0), the committed eager stall rule's first GPU run; must-show counts against F1.
set -uo pipefail
W=/tmp/G3; rm -rf $W; mkdir -p $W
pack() { tar -C /tmp -czf $OUT/G3.tgz G3 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
git log --oneline -1 > $W/tree.txt; git status --short | grep -v "^??" >> $W/tree.txt
t0=$SECONDS
python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $W/pip.txt 2>&1; echo "pip rc=$? at $((SECONDS-t0)) s" | tee -a $W/times.txt
PYTHONUNBUFFERED=1 python3 bench/bench_suite.py --out $W/suite --minutes 3.0 > $W/suite.log 2>&1; echo "suite rc=$? at $((SECONDS-t0)) s" | tee -a $W/times.txt
pack
python3 bench/suite_must_show.py $W/suite bench/results/nvidia-h100-2026-11-27-remeasure/suite-f1 > $W/must-show.md 2>&1; cat $W/must-show.md
echo "total $SECONDS s"
