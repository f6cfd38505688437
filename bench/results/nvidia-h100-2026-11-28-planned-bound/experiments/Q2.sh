#!/usr/bin/env bash
# Q2: the kept form (this tree): uniform high-occupancy tables laid out a block per four passes, in flight before
# the next-pass prefetch; per-request tables in flight where they do not prefetch; Q1's fix of the unaligned rows'
# fourth column. The test binary and the variants (python3 bench/ab_variants.py build base=HEAD new=TREE) were built
# here and carried in .scratch/h/q2.tar.xz; the Python package is built here (pip, in the background while the
# tests run). GoogleTest on the GPU, memcheck and racecheck over the three tests of the copy orders, bench_metadata
# base and new on P2's cases (the suite's lengths and state) and on --large, then the whole suite on new.
set -uo pipefail
W=/tmp/Q2; rm -rf $W; mkdir -p $W
pack() { tar -C /tmp -czf $OUT/Q2.tgz Q2 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $W/pip.txt 2>&1 & pip_pid=$!
V=/tmp/qv; rm -rf $V; mkdir -p $V; tar -C $V -xJf .scratch/h/q2.tar.xz
$V/specmeta_tests > $W/gtest.txt 2>&1; gt=$?; echo "gtest rc=$gt at $SECONDS s" | tee -a $W/checks.txt
tail -n 3 $W/gtest.txt
F='MetadataCudaTest.PassesInFlight:MetadataCudaTest.NextPassPrefetch:MetadataCudaTest.HighOccupancyVariableRows'
compute-sanitizer --tool memcheck --error-exitcode 1 $V/specmeta_tests --gtest_filter=$F > $W/memcheck.txt 2>&1
echo "memcheck rc=$? at $SECONDS s" | tee -a $W/checks.txt
compute-sanitizer --tool racecheck --error-exitcode 1 $V/specmeta_tests --gtest_filter=MetadataCudaTest.PassesInFlight > $W/racecheck.txt 2>&1
echo "racecheck rc=$? at $SECONDS s" | tee -a $W/checks.txt
pack
IDS=$(cat .scratch/h/bound_ids.txt)
COMMON="--suite-lengths --pool-rows=4 --busy-streams=4 --hold-cycles=100000"
for v in new base; do
  extra=--no-verify; [ $v = new ] && extra=
  $V/$v/metadata $COMMON --calls=40 --replays=30 --cases=$IDS $extra --json=$W/$v-r1.json > $W/$v-r1.md 2>&1 \
    || echo "$v cases rc=$?"
  echo "$v cases at $SECONDS s"
  $V/$v/metadata --large --busy-streams=4 --hold-cycles=100000 --calls=20 --replays=20 $extra \
    --json=$W/$v-large-r1.json > $W/$v-large-r1.md 2>&1 || echo "$v large rc=$?"
  echo "$v large at $SECONDS s"; pack
done
wait $pip_pid; echo "pip rc=$? at $SECONDS s" | tee -a $W/checks.txt
if [ $gt = 0 ] && [ $SECONDS -lt 330 ]; then
  PYTHONUNBUFFERED=1 python3 bench/bench_suite.py --out $W/suite --minutes 2.8 > $W/suite.log 2>&1
  echo "suite rc=$? at $SECONDS s" | tee -a $W/checks.txt
  python3 bench/suite_must_show.py $W/suite bench/results/nvidia-h100-2026-11-28-uniform-prefetch/suite > $W/must-show.md 2>&1
  cat $W/must-show.md
fi
echo "total $SECONDS s"
