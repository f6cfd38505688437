#!/usr/bin/env bash
# Call A: build both (in parallel), the suite alone, then bench_metadata (hold) base vs new, then ctest.
set -uo pipefail
W=/tmp/A; rm -rf $W; mkdir -p $W
pack() { tar -C /tmp -czf $OUT/A.tgz A 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
git log --oneline -1 > $W/commit.txt
t0=$SECONDS
python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $W/pip.txt 2>&1 & p1=$!
(cmake -S . -B build/cpp -G Ninja -DSPECMETA_TESTS=ON -DSPECMETA_BENCH=ON && cmake --build build/cpp -j 16) > $W/cmake.txt 2>&1 & p2=$!
wait $p1; echo "pip rc=$? at $((SECONDS-t0)) s" | tee -a $W/times.txt
wait $p2; echo "cmake rc=$? at $((SECONDS-t0)) s" | tee -a $W/times.txt
python3 bench/bench_suite.py --out $W/suite --minutes 3.0 > $W/suite.log 2>&1; echo "suite rc=$? at $((SECONDS-t0)) s" | tee -a $W/times.txt
pack
tar -C .scratch/m -xJf .scratch/m/vars.tar.xz
mkdir -p $W/ab
.scratch/m/base/metadata --hold-cycles=100000 --json=$W/ab/base-r1.json > $W/ab/base-r1.md 2>&1 || echo "base rc=$?"
build/cpp/bench/specmeta_bench_metadata --hold-cycles=100000 --json=$W/ab/new-r1.json > $W/ab/new-r1.md 2>&1 || echo "new rc=$?"
echo "bench at $((SECONDS-t0)) s" | tee -a $W/times.txt
pack
ctest --test-dir build/cpp -j 16 > $W/ctest.txt 2>&1; echo "ctest rc=$? at $((SECONDS-t0)) s" | tee -a $W/times.txt
tail -5 $W/ctest.txt
