#!/usr/bin/env bash
# J1 (nineteenth stop, H200): the tree with KernelParams' duplicate divisor gone (mend) against dfc7582 (base):
# mend's GoogleTest binary while the Python package builds; the 38 H6 cases (suite inputs and state) for base
# and mend, two rounds in rotated order (the first verified), and --large once each; then the whole suite on mend
# (--minutes 2.8) and its must-show counts against the H200's H1.
set -uo pipefail
W=/tmp/J1; rm -rf $W; mkdir -p $W
pack() { tar -C /tmp -czf $OUT/J1.tgz J1 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader > $W/gpu.txt
python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $W/pip.txt 2>&1 & pip_pid=$!
V=/tmp/jv; rm -rf $V; mkdir -p $V; tar -C $V -xJf .scratch/h/j.tar.xz; V=$V/j
timeout 230 $V/specmeta_tests > $W/gtest.txt 2>&1; echo "gtest rc=$? at $SECONDS s" | tee -a $W/checks.txt
tail -n 3 $W/gtest.txt; pack
wait $pip_pid; echo "pip rc=$? at $SECONDS s" | tee -a $W/checks.txt
python3 -c "import specmeta; print(specmeta.__file__)" > $W/pkg.txt 2>&1
IDS=$(cat .scratch/h/j_ids.txt)
COMMON="--suite-lengths --pool-rows=4 --busy-streams=4 --hold-cycles=100000"
mkdir -p $W/ab
for r in 1 2; do
  case $r in 1) order="base mend";; 2) order="mend base";; esac
  for v in $order; do
    $V/$v $COMMON --calls=40 --replays=30 --cases=$IDS $([ $r = 2 ] && echo --no-verify) --json=$W/ab/$v-r$r.json \
      > $W/ab/$v-r$r.md 2>&1 || echo "$v rc=$?"
  done
  echo "round $r at $SECONDS s"
done
for v in base mend; do
  timeout 60 $V/$v $COMMON --large --calls=20 --replays=20 --no-verify --json=$W/ab/$v-large-r1.json \
    > $W/ab/$v-large-r1.md 2>&1 || echo "$v large rc=$?"
done
echo "ab done at $SECONDS s"; pack
PYTHONUNBUFFERED=1 timeout $((585 - SECONDS)) python3 bench/bench_suite.py --out $W/suite --minutes 2.8 \
  > $W/suite.log 2>&1
echo "suite rc=$? at $SECONDS s" | tee -a $W/checks.txt
python3 bench/suite_must_show.py $W/suite bench/results/nvidia-h200-2026-11-28-first-suite/suite > $W/must-show.md 2>&1
head -16 $W/must-show.md
echo "total $SECONDS s"
