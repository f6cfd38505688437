#!/usr/bin/env bash
# F1: the eager re-measure of a stalled host (1fc7f77) and the twin re-measure (7edcc75) on their first GPU run; kernels as 5c7a0b8 (sm_90 cubins byte-identical); the whole suite; ctest; the Python GPU tests.
set -uo pipefail
W=/tmp/F1; rm -rf $W; mkdir -p $W
pack() { tar -C /tmp -czf $OUT/F1.tgz F1 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
git log --oneline -1 > $W/tree.txt; git status --short | grep -v "^??" >> $W/tree.txt
t0=$SECONDS
python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $W/pip.txt 2>&1 & p1=$!
(cmake -S . -B build/cpp -G Ninja -DSPECMETA_TESTS=ON -DSPECMETA_BENCH=ON && cmake --build build/cpp -j 16) > $W/cmake.txt 2>&1 & p2=$!
wait $p1; echo "pip rc=$? at $((SECONDS-t0)) s" | tee -a $W/times.txt
wait $p2; echo "cmake rc=$? at $((SECONDS-t0)) s" | tee -a $W/times.txt
python3 bench/bench_suite.py --out $W/suite --minutes 3.0 > $W/suite.log 2>&1; echo "suite rc=$? at $((SECONDS-t0)) s" | tee -a $W/times.txt
pack
ctest --test-dir build/cpp -j 16 > $W/ctest.txt 2>&1; echo "ctest rc=$? at $((SECONDS-t0)) s" | tee -a $W/times.txt
tail -4 $W/ctest.txt
pack
timeout 200 python3 -m pytest -q -p no:cacheprovider tests/python/test_metadata_gpu.py tests/python/test_expand_gpu.py > $W/pytest-gpu.txt 2>&1; echo "pytest rc=$? at $((SECONDS-t0)) s" | tee -a $W/times.txt
tail -3 $W/pytest-gpu.txt
python3 bench/suite_must_show.py $W/suite > $W/must-show.md 2>&1; cat $W/must-show.md
