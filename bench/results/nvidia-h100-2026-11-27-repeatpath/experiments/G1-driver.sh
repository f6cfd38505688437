#!/usr/bin/env bash
# G1 (H100): why the suite's uniform-qo cells at W 4096 bs 16 N 4 take ~0.3 us more in a graph than bench_metadata's.
set -u
cd "$(dirname "$0")/.."
R=$OUT/g1; mkdir -p $R
exec > >(tee $R/log.txt) 2>&1
echo "tree: $(cat .scratch/commit.txt)"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
t0=$SECONDS
python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $R/pip.txt 2>&1
echo "pip rc=$? $((SECONDS - t0)) s"
{ cmake -S . -B build/cpp -G Ninja -DSPECMETA_TESTS=OFF -DSPECMETA_BENCH=ON && cmake --build build/cpp -j 14 --target specmeta_bench_metadata; } > $R/build.txt 2>&1 &
bpid=$!
python3 .scratch/diag.py > $R/diag.md 2>&1
echo "diag rc=$? $((SECONDS - t0)) s"; cat $R/diag.md
wait $bpid; echo "build rc=$? $((SECONDS - t0)) s"
build/cpp/bench/specmeta_bench_metadata --filter=w4096 > $R/bench.md 2>&1
echo "bench rc=$? $((SECONDS - t0)) s"; grep -E "^\| (target_verify|draft_extend|decode|extend|draft_extend_static)-w4096" $R/bench.md
echo "done $((SECONDS - t0)) s"
