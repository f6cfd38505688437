#!/usr/bin/env bash
# C8: gpu-check.sh sanitizer steps (memcheck, initcheck, synccheck, buffers); racecheck over the builder's CUDA tests.
set -uo pipefail
W=/tmp/C8; rm -rf $W; mkdir -p $W
pack() { cp build/gc/summary.md $W/gc-summary.md 2>/dev/null; tar -C /tmp -czf $OUT/C8.tgz C8 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
t0=$SECONDS
bash scripts/gpu-check.sh build/gc sanitizer-memcheck sanitizer-initcheck sanitizer-synccheck sanitizer-buffers > $W/gc.txt 2>&1
echo "gpu-check rc=$? at $((SECONDS-t0)) s" | tee -a $W/times.txt
pack
timeout $((585 - SECONDS)) compute-sanitizer --tool racecheck --error-exitcode 1 build/cpp/tests/cpp/specmeta_tests --gtest_brief=1 \
  --gtest_filter='*Metadata*Cuda*:*Builder*Cuda*:*Cuda*Metadata*:*Cuda*Builder*:-*ChainedCallsReadThePriorCallsOutputs*' > $W/racecheck-builder.txt 2>&1
echo "racecheck(builder) rc=$? at $((SECONDS-t0)) s" | tee -a $W/times.txt
tail -4 $W/racecheck-builder.txt
