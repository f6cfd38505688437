#!/usr/bin/env bash
# C2: the tree (rule + warp rows-before) built; the suite alone; bench_metadata base (HEAD binary) vs tree; ctest; soak etc.
set -uo pipefail
W=/tmp/C2; rm -rf $W; mkdir -p $W/ab
pack() { tar -C /tmp -czf $OUT/C2.tgz C2 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
git log --oneline -1 > $W/tree.txt; git status --short >> $W/tree.txt
t0=$SECONDS
python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $W/pip.txt 2>&1 & p1=$!
(cmake -S . -B build/cpp -G Ninja -DSPECMETA_TESTS=ON -DSPECMETA_BENCH=ON && cmake --build build/cpp -j 16) > $W/cmake.txt 2>&1 & p2=$!
wait $p1; echo "pip rc=$? at $((SECONDS-t0)) s" | tee -a $W/times.txt
wait $p2; echo "cmake rc=$? at $((SECONDS-t0)) s" | tee -a $W/times.txt
python3 bench/bench_suite.py --out $W/suite --minutes 3.0 > $W/suite.log 2>&1; echo "suite rc=$? at $((SECONDS-t0)) s" | tee -a $W/times.txt
pack
V=.scratch/c1/v; mkdir -p $V; tar -C $V -xJf .scratch/c1/vars.tar.xz
$V/base/metadata --hold-cycles=100000 --json=$W/ab/base-r1.json > $W/ab/base-r1.md 2>&1 || echo "base rc=$?"
build/cpp/bench/specmeta_bench_metadata --hold-cycles=100000 --json=$W/ab/tree-r1.json > $W/ab/tree-r1.md 2>&1 || echo "tree rc=$?"
echo "bench at $((SECONDS-t0)) s" | tee -a $W/times.txt
pack
ctest --test-dir build/cpp -j 16 > $W/ctest.txt 2>&1; echo "ctest rc=$? at $((SECONDS-t0)) s" | tee -a $W/times.txt
tail -5 $W/ctest.txt
pack
bash scripts/gpu-check.sh build/g1 soak sanitizer-soak main-job example-adapter > $W/g1.txt 2>&1; echo "g1 rc=$? at $((SECONDS-t0)) s" | tee -a $W/times.txt
cp build/g1/summary.md $W/g1-summary.md
