#!/usr/bin/env bash
set -uo pipefail
W=/tmp/q5; rm -rf $W; mkdir -p $W
pack() { tar -C /tmp -czf $OUT/q5.tgz q5 2>/dev/null; }
trap pack EXIT
cmake --build build/cpp -j 16 > $W/build.txt 2>&1; echo "build rc=$? $SECONDS s"
T=build/cpp/tests/cpp/specmeta_tests
F='*Cuda*:-*UseCudaDevice*:*ChainedCalls*'
for tool in memcheck initcheck; do
  s=$SECONDS
  timeout 150 compute-sanitizer --tool $tool --error-exitcode 1 $T --gtest_brief=1 --gtest_filter="$F" > $W/$tool.txt 2>&1
  echo "$tool rc=$? $((SECONDS - s)) s" | tee -a $W/sanitizers.txt; tail -3 $W/$tool.txt; pack
done
s=$SECONDS
timeout $((560 - SECONDS)) compute-sanitizer --tool racecheck --error-exitcode 1 $T --gtest_brief=1 --gtest_filter='MetadataCudaTest.*:Modes/MetadataCuda.*:-*ChainedCalls*' > $W/racecheck.txt 2>&1
echo "racecheck rc=$? $((SECONDS - s)) s" | tee -a $W/sanitizers.txt; tail -3 $W/racecheck.txt
echo "total $SECONDS s"
