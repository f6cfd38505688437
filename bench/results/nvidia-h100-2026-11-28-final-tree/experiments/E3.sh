#!/usr/bin/env bash
# E3 (E2 machine, warm): the final tree's (925c6b9) GoogleTest binary from E1 under racecheck, initcheck and
# synccheck over the copy-order tests, within about five minutes.
set -uo pipefail
W=/tmp/E3; rm -rf $W; mkdir -p $W
pack() { tar -C /tmp -czf $OUT/E3.tgz E3 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
V=/tmp/e1v; [ -x $V/specmeta_tests ] || { mkdir -p $V; tar -C $V -xJf .scratch/h/e1.tar.xz; }
F='MetadataCudaTest.PassesInFlight:MetadataCudaTest.NextPassPrefetch'
for tool in racecheck initcheck synccheck; do
  timeout 110 compute-sanitizer --tool $tool --error-exitcode 1 $V/specmeta_tests \
    --gtest_filter=$F > $W/$tool.txt 2>&1
  echo "$tool rc=$? at $SECONDS s" | tee -a $W/checks.txt; tail -n 2 $W/$tool.txt; pack
done
