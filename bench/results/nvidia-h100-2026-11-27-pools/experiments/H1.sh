#!/usr/bin/env bash
# H1: the suite's pools. pip install of this tree; the whole suite twice on the same machine (--minutes 2.8 each):
# first with one req_to_token row per request per input set (the new default, --pool-rows 4), then with the pool
# of bs rows every set shares (--pool-rows 1, as every suite run before). Must-show counts of each against G5.
set -uo pipefail
W=/tmp/H1; rm -rf $W; mkdir -p $W
pack() { tar -C /tmp -czf $OUT/H1.tgz H1 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
git log --oneline -1 > $W/tree.txt; git status --short | grep -v "^??" >> $W/tree.txt
python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $W/pip.txt 2>&1; echo "pip rc=$? at $SECONDS s" | tee -a $W/times.txt
G5=bench/results/nvidia-h100-2026-11-27-highocc/suite-g5
for k in 4 1; do
  PYTHONUNBUFFERED=1 python3 bench/bench_suite.py --out $W/suite-p$k --minutes 2.8 --pool-rows $k > $W/suite-p$k.log 2>&1
  echo "suite pool-rows $k rc=$? at $SECONDS s" | tee -a $W/times.txt; pack
done
python3 bench/suite_must_show.py $W/suite-p4 $W/suite-p1 > $W/must-show-p4-vs-p1.md 2>&1; cat $W/must-show-p4-vs-p1.md
python3 bench/suite_must_show.py $W/suite-p1 $G5 > $W/must-show-p1-vs-g5.md 2>&1
python3 bench/suite_groups.py $W/suite-p1 $W/suite-p4 > $W/groups.md 2>&1; cat $W/groups.md
echo "total $SECONDS s"
