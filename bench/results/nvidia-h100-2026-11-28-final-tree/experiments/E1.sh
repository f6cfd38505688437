#!/usr/bin/env bash
# E1 (seventeenth stop): D7 (st5/st6 streaming kernels for 5/6 blocks per SM against base, three rounds, --large
# once), then the final tree's (925c6b9) GoogleTest binary, built here and carried in .scratch/h/e1.tar.xz: every
# test on the GPU, memcheck over the copy-order tests. The Python package builds in the background for E2.
set -uo pipefail
W=/tmp/E1; rm -rf $W; mkdir -p $W
pack() { tar -C /tmp -czf $OUT/E1.tgz E1 D7 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
bash .scratch/x/D7.sh > $W/d7.log 2>&1; echo "D7 done at $SECONDS s" | tee -a $W/checks.txt; tail -n 8 $W/d7.log
python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $W/pip.txt 2>&1 & pip_pid=$!
V=/tmp/e1v; rm -rf $V; mkdir -p $V; tar -C $V -xJf .scratch/h/e1.tar.xz
timeout 230 $V/specmeta_tests > $W/gtest.txt 2>&1; echo "gtest rc=$? at $SECONDS s" | tee -a $W/checks.txt
tail -n 3 $W/gtest.txt; pack
F='MetadataCudaTest.PassesInFlight:MetadataCudaTest.NextPassPrefetch:MetadataCudaTest.HighOccupancyVariableRows'
timeout $((585 - SECONDS)) compute-sanitizer --tool memcheck --error-exitcode 1 $V/specmeta_tests --gtest_filter=$F \
  > $W/memcheck.txt 2>&1
echo "memcheck rc=$? at $SECONDS s" | tee -a $W/checks.txt; tail -n 2 $W/memcheck.txt
wait $pip_pid; echo "pip rc=$? at $SECONDS s" | tee -a $W/checks.txt
echo "total $SECONDS s"
