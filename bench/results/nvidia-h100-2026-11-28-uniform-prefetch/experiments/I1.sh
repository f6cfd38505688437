#!/usr/bin/env bash
# I1: the first GPU run of the kept next-pass prefetch (4823a96), and the candidate that adds uniform rows'
# high-occupancy kernel with the prefetch (this tree). pip + CMake build of this tree; ctest; bench_metadata
# base (3c45948's kernels), kept (4823a96) and cand (this tree), built here with ab_variants.py and carried
# in .scratch/h/vars3.tar.xz: --large (cand verified) and the default cases behind the hold; compute-sanitizer
# memcheck and racecheck over the prefetch and table-copy tests; a second --large round, time allowing.
set -uo pipefail
W=/tmp/I1; rm -rf $W; mkdir -p $W/large $W/small
pack() { tar -C /tmp -czf $OUT/I1.tgz I1 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
git log --oneline -1 > $W/tree.txt; git status --short | grep -v "^??" >> $W/tree.txt
python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $W/pip.txt 2>&1 & p1=$!
(cmake -S . -B build/cpp -G Ninja -DSPECMETA_TESTS=ON -DSPECMETA_BENCH=ON && cmake --build build/cpp -j 16) > $W/cmake.txt 2>&1 & p2=$!
V=/tmp/iv; mkdir -p $V; tar -C $V -xJf .scratch/h/vars3.tar.xz
wait $p2; echo "cmake rc=$? at $SECONDS s" | tee -a $W/times.txt
ctest --test-dir build/cpp -j 16 > $W/ctest.txt 2>&1; echo "ctest rc=$? at $SECONDS s" | tee -a $W/times.txt
tail -3 $W/ctest.txt; grep -i "fail" $W/ctest.txt | head -5; pack
wait $p1; echo "pip rc=$? at $SECONDS s" | tee -a $W/times.txt
run() { # dir variant round extra...
  local d=$1 v=$2 r=$3; shift 3
  $V/$v/metadata --replays=60 --json=$W/$d/$v-r$r.json "$@" > $W/$d/$v-r$r.md 2>&1 || echo "$v $d r$r rc=$?"
  echo "$v $d r$r at $SECONDS s"; pack
}
run large cand 1 --large; run large kept 1 --large --no-verify; run large base 1 --large --no-verify
r=1; for v in base kept cand cand kept base; do run small $v $r --hold-cycles=100000 --busy-streams=4 --no-verify; r=$((r+1)); done
T='*NextPassPrefetch*:*HighOccupancyVariableRows*:*TableCopyThresholds*'
for tool in memcheck racecheck; do
  left=$((545 - SECONDS)); [ $left -lt 60 ] && { echo "no time for $tool"; break; }
  timeout $left compute-sanitizer --tool $tool --error-exitcode 1 build/cpp/tests/cpp/specmeta_tests --gtest_brief=1 \
    --gtest_filter="$T" > $W/sanitizer-$tool.txt 2>&1
  echo "$tool rc=$? at $SECONDS s" | tee -a $W/times.txt; tail -2 $W/sanitizer-$tool.txt; pack
done
for v in base kept cand; do [ $SECONDS -gt 525 ] && break; run large $v 2 --large --no-verify; done
echo "total $SECONDS s"
