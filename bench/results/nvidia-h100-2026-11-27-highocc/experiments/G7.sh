#!/usr/bin/env bash
# G7: the final tree; CMake build of the tests; compute-sanitizer racecheck, initcheck and synccheck over the
# table-copy rule tests (G5 ran memcheck on them; its racecheck ran out of time).
set -uo pipefail
W=/tmp/G7; rm -rf $W; mkdir -p $W
pack() { tar -C /tmp -czf $OUT/G7.tgz G7 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
git log --oneline -1 > $W/tree.txt; git status --short | grep -v "^??" >> $W/tree.txt
(cmake -S . -B build/cpp -G Ninja -DSPECMETA_TESTS=ON && cmake --build build/cpp -j 16 --target specmeta_tests) > $W/cmake.txt 2>&1
echo "cmake rc=$? at $SECONDS s" | tee -a $W/times.txt
for tool in racecheck initcheck synccheck; do
  left=$((570 - SECONDS)); [ $left -lt 30 ] && { echo "no time for $tool" | tee -a $W/times.txt; break; }
  timeout $left compute-sanitizer --tool $tool --error-exitcode 1 build/cpp/tests/cpp/specmeta_tests --gtest_brief=1 \
    --gtest_filter='*HighOccupancyVariableRows*:*TableCopyThresholds*' > $W/sanitizer-$tool.txt 2>&1
  echo "$tool rc=$? at $SECONDS s" | tee -a $W/times.txt; tail -2 $W/sanitizer-$tool.txt; pack
done
