#!/usr/bin/env bash
# D6: the final tree's own kernels (D5: the column helpers dropped, so the two-pass kernels are w2b's, not w2h's):
# its GoogleTest binary, built here, on the copy-order and high-occupancy tests (every output against the
# reference), then memcheck and racecheck over PassesInFlight, within the device time left.
set -uo pipefail
W=/tmp/D6; rm -rf $W; mkdir -p $W
pack() { tar -C /tmp -czf $OUT/D6.tgz D6 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
V=/tmp/d6v; rm -rf $V; mkdir -p $V; tar -C $V -xJf .scratch/h/d6.tar.xz
F='*PassesInFlight*:*NextPassPrefetch*:*HighOccupancy*:*PassOrderRule*:*TableCopy*'
timeout 60 $V/specmeta_tests --gtest_filter="$F" > $W/gtest.txt 2>&1; echo "gtest rc=$? at $SECONDS s" | tee -a $W/checks.txt
tail -n 3 $W/gtest.txt; pack
for tool in memcheck racecheck; do
  timeout $((140 - SECONDS)) compute-sanitizer --tool $tool --error-exitcode 1 $V/specmeta_tests \
    --gtest_filter=MetadataCudaTest.PassesInFlight > $W/$tool.txt 2>&1
  echo "$tool rc=$? at $SECONDS s" | tee -a $W/checks.txt; tail -n 2 $W/$tool.txt; pack
done
