#!/usr/bin/env bash
# S1: build both (in parallel), the suite alone, bench_metadata (hold) base vs new, ctest, soak + main job + adapter.
set -uo pipefail
W=/tmp/S1; rm -rf $W; mkdir -p $W/ab
pack() { tar -C /tmp -czf $OUT/S1.tgz S1 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
t0=$SECONDS
python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $W/pip.txt 2>&1 & p1=$!
(cmake -S . -B build/cpp -G Ninja -DSPECMETA_TESTS=ON -DSPECMETA_BENCH=ON && cmake --build build/cpp -j 16) > $W/cmake.txt 2>&1 & p2=$!
wait $p1; echo "pip rc=$? at $((SECONDS-t0)) s" | tee -a $W/times.txt
wait $p2; echo "cmake rc=$? at $((SECONDS-t0)) s" | tee -a $W/times.txt
python3 bench/bench_suite.py --out $W/suite --minutes 3.0 > $W/suite.log 2>&1; echo "suite rc=$? at $((SECONDS-t0)) s" | tee -a $W/times.txt
pack
tar -C .scratch/n2 -xJf .scratch/n2/base.tar.xz
.scratch/n2/base/metadata --hold-cycles=100000 --json=$W/ab/base-r1.json > $W/ab/base-r1.md 2>&1 || echo "base rc=$?"
build/cpp/bench/specmeta_bench_metadata --hold-cycles=100000 --json=$W/ab/new-r1.json > $W/ab/new-r1.md 2>&1 || echo "new rc=$?"
echo "bench at $((SECONDS-t0)) s" | tee -a $W/times.txt
pack
ctest --test-dir build/cpp -j 16 > $W/ctest.txt 2>&1; echo "ctest rc=$? at $((SECONDS-t0)) s" | tee -a $W/times.txt
tail -5 $W/ctest.txt
pack
bash scripts/gpu-check.sh build/g1 soak sanitizer-soak main-job example-adapter > $W/g1.txt 2>&1; echo "g1 rc=$? at $((SECONDS-t0)) s" | tee -a $W/times.txt
cp build/g1/summary.md $W/g1-summary.md
