#!/usr/bin/env bash
# E6 (H100): the committed tree's C++ build, every CUDA and rule gtest, memcheck over the table sweeps.
set -u
cd "$(dirname "$0")/.."
R=$OUT/e6; mkdir -p $R
exec > >(tee $R/log.txt) 2>&1
echo "tree: $(cat .scratch/commit.txt)"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
t0=$SECONDS
{ cmake -S . -B build/cpp -G Ninja -DSPECMETA_TESTS=ON && cmake --build build/cpp -j 14 --target specmeta_tests; } > $R/build.txt 2>&1
echo "build rc=$? $((SECONDS - t0)) s"
build/cpp/tests/cpp/specmeta_tests --gtest_brief=1 --gtest_filter='*Cuda*:*Rule*:-*UseCudaDevice*' > $R/tests.txt 2>&1
echo "gpu tests rc=$? $((SECONDS - t0)) s"; tail -n 3 $R/tests.txt
compute-sanitizer --tool memcheck --error-exitcode 1 build/cpp/tests/cpp/specmeta_tests --gtest_brief=1 \
  --gtest_filter='*RowGroupLayouts*:*TableCopyThresholds*:*LargeTableSpread*' > $R/memcheck.txt 2>&1
echo "memcheck rc=$? $((SECONDS - t0)) s"; tail -n 3 $R/memcheck.txt
echo "done $((SECONDS - t0)) s"
