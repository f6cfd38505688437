#!/usr/bin/env bash
# I4: the next-pass prefetch in kernels of their own (this tree, "new"): per-request tables on grids of
# kPrefetchNextPassMinBlocks or more, uniform ones in the high-occupancy kernel. pip + CMake build; ctest;
# bench_metadata base (3c45948's kernels), cand (I1-I3's tree, experiments/I4-cand.diff against this one) and
# new, built here with ab_variants.py and carried in .scratch/h/vars5.tar.xz: I3's 48 per-request cases,
# --large (new verified) and the default cases behind the hold; compute-sanitizer memcheck and racecheck over
# the prefetch and table-copy tests; second rounds, time allowing.
set -uo pipefail
W=/tmp/I4; rm -rf $W; mkdir -p $W/large $W/small $W/ids
pack() { tar -C /tmp -czf $OUT/I4.tgz I4 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
git log --oneline -1 > $W/tree.txt; git status --short | grep -v "^??" >> $W/tree.txt
python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $W/pip.txt 2>&1 & p1=$!
(cmake -S . -B build/cpp -G Ninja -DSPECMETA_TESTS=ON -DSPECMETA_BENCH=ON && cmake --build build/cpp -j 16) > $W/cmake.txt 2>&1 & p2=$!
V=/tmp/iv; rm -rf $V; mkdir -p $V; tar -C $V -xJf .scratch/h/vars5.tar.xz
IDS=$(cat .scratch/h/ids.txt)
wait $p2; echo "cmake rc=$? at $SECONDS s" | tee -a $W/times.txt
ctest --test-dir build/cpp -j 16 > $W/ctest.txt 2>&1; echo "ctest rc=$? at $SECONDS s" | tee -a $W/times.txt
tail -3 $W/ctest.txt; grep -E "tests passed|tests failed" $W/ctest.txt; pack
wait $p1; echo "pip rc=$? at $SECONDS s" | tee -a $W/times.txt
run() { # dir variant round extra...
  local d=$1 v=$2 r=$3; shift 3
  $V/$v/metadata --replays=60 --json=$W/$d/$v-large-r$r.json "$@" > $W/$d/$v-r$r.md 2>&1 || echo "$v $d r$r rc=$?"
  echo "$v $d r$r at $SECONDS s"; pack
}
run ids new 1 --cases=$IDS; run ids cand 1 --cases=$IDS --no-verify; run ids base 1 --cases=$IDS --no-verify
run large new 1 --large; run large cand 1 --large --no-verify; run large base 1 --large --no-verify
r=1; for v in base new cand; do run small $v $r --hold-cycles=100000 --busy-streams=4 --no-verify; r=$((r+1)); done
T='*NextPassPrefetch*:*HighOccupancyVariableRows*:*TableCopyThresholds*'
for tool in memcheck racecheck; do
  left=$((540 - SECONDS)); [ $left -lt 60 ] && { echo "no time for $tool"; break; }
  timeout $left compute-sanitizer --tool $tool --error-exitcode 1 build/cpp/tests/cpp/specmeta_tests --gtest_brief=1 \
    --gtest_filter="$T" > $W/sanitizer-$tool.txt 2>&1
  echo "$tool rc=$? at $SECONDS s" | tee -a $W/times.txt; tail -2 $W/sanitizer-$tool.txt; pack
done
for v in base cand new; do [ $SECONDS -gt 530 ] && break; run ids $v 2 --cases=$IDS --no-verify; done
for v in new base; do [ $SECONDS -gt 520 ] && break; run large $v 2 --large --no-verify; done
echo "total $SECONDS s"
