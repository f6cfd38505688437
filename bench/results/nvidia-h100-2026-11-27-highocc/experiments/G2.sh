#!/usr/bin/env bash
# G2: the working tree (hio4 integrated: per-request tables of about two pairs on average take the high-occupancy
# kernel; sm_90 cubin of expand_cuda.cu byte-identical to a021486's). pip + CMake build; ctest; compute-sanitizer
# memcheck, racecheck, initcheck, synccheck over the tests of the table-copy rules' kernels; the Python GPU tests;
# then bench_metadata cur vs avg4 (kCopyMaxPairs 4), --large and the default cases, unverified, time allowing.
set -uo pipefail
W=/tmp/G2; rm -rf $W; mkdir -p $W/ab
pack() { tar -C /tmp -czf $OUT/G2.tgz G2 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
git log --oneline -1 > $W/tree.txt; git status --short | grep -v "^??" >> $W/tree.txt
t0=$SECONDS
python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $W/pip.txt 2>&1 & p1=$!
(cmake -S . -B build/cpp -G Ninja -DSPECMETA_TESTS=ON -DSPECMETA_BENCH=ON && cmake --build build/cpp -j 16) > $W/cmake.txt 2>&1 & p2=$!
wait $p1; echo "pip rc=$? at $((SECONDS-t0)) s" | tee -a $W/times.txt
wait $p2; echo "cmake rc=$? at $((SECONDS-t0)) s" | tee -a $W/times.txt
ctest --test-dir build/cpp -j 16 > $W/ctest.txt 2>&1; echo "ctest rc=$? at $((SECONDS-t0)) s" | tee -a $W/times.txt
tail -3 $W/ctest.txt; pack
F='*HighOccupancyVariableRows*:*TableCopyThresholds*:*HighOccupancyPageSizes*:*LargeTableSpread*'
for tool in memcheck racecheck initcheck synccheck; do
  compute-sanitizer --tool $tool --error-exitcode 1 build/cpp/tests/cpp/specmeta_tests --gtest_brief=1 \
    --gtest_filter="$F" > $W/sanitizer-$tool.txt 2>&1
  echo "$tool rc=$? at $((SECONDS-t0)) s" | tee -a $W/times.txt; tail -2 $W/sanitizer-$tool.txt; pack
done
timeout 150 python3 -m pytest -q -p no:cacheprovider tests/python/test_metadata_gpu.py tests/python/test_expand_gpu.py > $W/pytest-gpu.txt 2>&1; echo "pytest rc=$? at $((SECONDS-t0)) s" | tee -a $W/times.txt
tail -2 $W/pytest-gpu.txt; pack
V=/tmp/gv; mkdir -p $V; tar -C $V -xJf .scratch/g/vars2.tar.xz
for r in 1 2; do
  for v in cur avg4; do
    [ $SECONDS -gt 470 ] && break 2
    $V/$v/metadata --large --replays=60 --no-verify --json=$W/ab/$v-large-r$r.json > $W/ab/$v-large-r$r.md 2>&1
    echo "$v large r$r at $SECONDS s"; pack
  done
  for v in avg4 cur; do
    [ $SECONDS -gt 520 ] && break 2
    $V/$v/metadata --hold-cycles=100000 --no-verify --json=$W/ab/$v-r$r.json > $W/ab/$v-r$r.md 2>&1
    echo "$v default r$r at $SECONDS s"; pack
  done
done
echo "total $SECONDS s"
