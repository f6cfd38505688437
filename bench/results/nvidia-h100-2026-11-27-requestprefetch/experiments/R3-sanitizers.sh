#!/usr/bin/env bash
set -uo pipefail
W=/tmp/B; rm -rf $W; mkdir -p $W
pack() { cp -r build/gc $W/ 2>/dev/null; tar -C /tmp -czf $OUT/B.tgz B 2>/dev/null; }
trap pack EXIT
t0=$SECONDS
bash scripts/gpu-check.sh build/gc sanitizer-memcheck sanitizer-initcheck sanitizer-synccheck sanitizer-buffers > $W/gc.txt 2>&1
echo "gpu-check rc=$? at $((SECONDS-t0)) s" | tee -a $W/times.txt
pack
timeout $((570 - SECONDS)) compute-sanitizer --tool racecheck --error-exitcode 1 build/cpp/tests/cpp/specmeta_tests --gtest_brief=1 \
  --gtest_filter='*Cuda*:-*UseCudaDevice*:*ChainedCallsReadThePriorCallsOutputs*:*Metadata*:*Builder*' > $W/racecheck-rest.txt 2>&1
echo "racecheck(non-builder) rc=$? at $((SECONDS-t0)) s" | tee -a $W/times.txt
tail -4 $W/racecheck-rest.txt
