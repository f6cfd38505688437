#!/usr/bin/env bash
# D4: 5c7a0b8 built; gpu-check.sh sanitizer steps (memcheck, initcheck, synccheck, buffers); racecheck over the
# builder's CUDA tests.
set -uo pipefail
W=/tmp/D4; rm -rf $W; mkdir -p $W
pack() { cp build/gc/summary.md $W/gc-summary.md 2>/dev/null; tar -C /tmp -czf $OUT/D4.tgz D4 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
git log --oneline -1 > $W/tree.txt; git status --short | grep -v "^??" >> $W/tree.txt
t0=$SECONDS
bash scripts/gpu-check.sh build/gc build-python configure-cpp build-cpp sanitizer-memcheck sanitizer-initcheck sanitizer-synccheck sanitizer-buffers > $W/gc.txt 2>&1
echo "gpu-check rc=$? at $((SECONDS-t0)) s" | tee -a $W/times.txt
pack
timeout $((585 - SECONDS)) compute-sanitizer --tool racecheck --error-exitcode 1 build/cpp/tests/cpp/specmeta_tests --gtest_brief=1 \
  --gtest_filter='*Metadata*Cuda*:*Builder*Cuda*:*Cuda*Metadata*:*Cuda*Builder*:-*ChainedCallsReadThePriorCallsOutputs*' > $W/racecheck-builder.txt 2>&1
echo "racecheck(builder) rc=$? at $((SECONDS-t0)) s" | tee -a $W/times.txt
tail -4 $W/racecheck-builder.txt
