#!/usr/bin/env bash
# G5: the tree of 5867ee5 (the high-occupancy copy for per-request tables of about two pairs on
# average, 16384 rows x passes where only the average is within two pairs). pip + CMake build; ctest; bench_metadata
# --cases fin (this tree) against old (a021486's rule), two rounds alternately; the whole suite; compute-sanitizer
# memcheck and racecheck over the table-copy rule tests, time allowing.
set -uo pipefail
W=/tmp/G5; rm -rf $W; mkdir -p $W/ab
pack() { tar -C /tmp -czf $OUT/G5.tgz G5 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
git log --oneline -1 > $W/tree.txt; git status --short | grep -v "^??" >> $W/tree.txt
python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $W/pip.txt 2>&1 & p1=$!
(cmake -S . -B build/cpp -G Ninja -DSPECMETA_TESTS=ON -DSPECMETA_BENCH=ON && cmake --build build/cpp -j 16) > $W/cmake.txt 2>&1 & p2=$!
wait $p1; echo "pip rc=$? at $SECONDS s" | tee -a $W/times.txt
wait $p2; echo "cmake rc=$? at $SECONDS s" | tee -a $W/times.txt
ctest --test-dir build/cpp -j 16 > $W/ctest.txt 2>&1; echo "ctest rc=$? at $SECONDS s" | tee -a $W/times.txt
tail -3 $W/ctest.txt; pack
V=/tmp/gv; mkdir -p $V; tar -C $V -xJf .scratch/g/vars4.tar.xz
IDS=draft_extend-w1048576-bs1-n4,draft_extend-w1048576-bs4-n4,draft_extend-w131072-bs16-n4,draft_extend-w1048576-bs16-n4,draft_extend-w32768-bs64-n4,draft_extend-w131072-bs64-n4,draft_extend-w1048576-bs64-n4,draft_extend-w4096-bs256-n4,draft_extend-w32768-bs256-n4,draft_extend-w131072-bs256-n4,draft_extend-w4096-bs1024-n4,draft_extend-w32768-bs1024-n4,extend-w1048576-bs1-e4,extend-w1048576-bs4-e4,extend-w131072-bs16-e4,extend-w1048576-bs16-e4,extend-w32768-bs64-e4,extend-w131072-bs64-e4,extend-w1048576-bs64-e4,extend-w4096-bs256-e4,extend-w32768-bs256-e4,extend-w131072-bs256-e4,extend-w4096-bs1024-e4,extend-w32768-bs1024-e4
for r in 1 2; do
  for v in old fin; do
    extra=""; [ $r -gt 1 ] && extra=--no-verify
    $V/$v/metadata --cases=$IDS --replays=40 --hold-cycles=100000 --busy-streams=4 $extra --json=$W/ab/$v-r$r.json > $W/ab/$v-r$r.md 2>&1 || echo "$v r$r rc=$?"
    echo "$v r$r at $SECONDS s"; pack
  done
done
PYTHONUNBUFFERED=1 python3 bench/bench_suite.py --out $W/suite --minutes 3.0 > $W/suite.log 2>&1; echo "suite rc=$? at $SECONDS s" | tee -a $W/times.txt
pack
python3 bench/suite_must_show.py $W/suite bench/results/nvidia-h100-2026-11-27-remeasure/suite-f1 > $W/must-show.md 2>&1; cat $W/must-show.md
for tool in memcheck racecheck; do
  left=$((585 - SECONDS)); [ $left -lt 30 ] && { echo "no time for $tool"; break; }
  timeout $left compute-sanitizer --tool $tool --error-exitcode 1 build/cpp/tests/cpp/specmeta_tests --gtest_brief=1 \
    --gtest_filter='*HighOccupancyVariableRows*:*TableCopyThresholds*' > $W/sanitizer-$tool.txt 2>&1
  echo "$tool rc=$? at $SECONDS s" | tee -a $W/times.txt; tail -2 $W/sanitizer-$tool.txt; pack
done
echo "total $SECONDS s"
