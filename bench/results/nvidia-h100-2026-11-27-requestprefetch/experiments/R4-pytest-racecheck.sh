#!/usr/bin/env bash
set -uo pipefail
W=/tmp/C; rm -rf $W; mkdir -p $W
pack() { tar -C /tmp -czf $OUT/C.tgz C 2>/dev/null; }
trap pack EXIT
t0=$SECONDS
python3 -m pytest -q -rs -p no:cacheprovider tests/python/test_metadata_gpu.py tests/python/test_expand_gpu.py > $W/pytest_gpu.txt 2>&1
echo "pytest rc=$? at $((SECONDS-t0)) s" | tee -a $W/times.txt; tail -3 $W/pytest_gpu.txt
pack
timeout $((575 - SECONDS)) compute-sanitizer --tool racecheck --error-exitcode 1 build/cpp/tests/cpp/specmeta_tests --gtest_brief=1 \
  --gtest_filter='*Cuda*:-*UseCudaDevice*:*ChainedCallsReadThePriorCallsOutputs*' --gtest_filter='*Metadata*Cuda*:*Builder*Cuda*:*Cuda*Metadata*:*Cuda*Builder*:-*ChainedCallsReadThePriorCallsOutputs*' > $W/racecheck-builder.txt 2>&1
echo "racecheck(builder) rc=$? at $((SECONDS-t0)) s" | tee -a $W/times.txt
tail -4 $W/racecheck-builder.txt
