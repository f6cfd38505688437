#!/usr/bin/env bash
# G8: the tree after the high-occupancy tests share one helper; build the tests; run them.
set -uo pipefail
W=/tmp/G8; rm -rf $W; mkdir -p $W
pack() { tar -C /tmp -czf $OUT/G8.tgz G8 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
git log --oneline -1 > $W/tree.txt; git status --short | grep -v "^??" >> $W/tree.txt
(cmake -S . -B build/cpp -G Ninja -DSPECMETA_TESTS=ON && cmake --build build/cpp -j 16 --target specmeta_tests) > $W/cmake.txt 2>&1
echo "cmake rc=$? at $SECONDS s" | tee -a $W/times.txt
build/cpp/tests/cpp/specmeta_tests --gtest_filter='*HighOccupancy*:*TableCopyThresholds*:*LargeTableSpread*' > $W/tests.txt 2>&1
echo "tests rc=$? at $SECONDS s" | tee -a $W/times.txt; grep -E "^\[ *(OK|FAILED|PASSED|SKIPPED) " $W/tests.txt | tail -12
