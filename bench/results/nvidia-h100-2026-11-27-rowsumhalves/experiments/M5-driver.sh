#!/usr/bin/env bash
# M5: the final kernels (786f9bd): the whole suite installed from the tree, the must-show counts against the last
# stop's K3; specmeta_bench_metadata default and --large --filter=extend.
set -u
R=$OUT/m5; mkdir -p $R
exec > >(tee $R/log.txt) 2>&1
echo "tree: $(cat .scratch/m/commit.txt)"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
t0=$SECONDS
python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $R/pip.txt 2>&1
echo "pip rc=$? $((SECONDS - t0)) s"
python3 bench/bench_suite.py --out $R/suite --minutes 3.0 > $R/suite.txt 2>&1
echo "suite rc=$? $((SECONDS - t0)) s"; tail -n 2 $R/suite.txt
python3 bench/suite_must_show.py $R/suite bench/results/nvidia-h100-2026-11-27-sumafterloads/suite | tee $R/must_show.md
B=.scratch/var/final; mkdir -p .scratch/var && xz -dc .scratch/m/final.xz > $B && chmod +x $B || exit 1
timeout 60 $B --json=$R/bench_metadata.json > $R/bench_metadata.md 2>&1; echo "bench_metadata rc=$? $((SECONDS - t0)) s"
timeout 90 $B --large --filter=extend --json=$R/bench_metadata_large_extend.json > $R/bench_metadata_large_extend.md 2>&1; echo "large rc=$? $((SECONDS - t0)) s"
echo "done $((SECONDS - t0)) s"
tar -czf $OUT/m5.tgz -C $OUT m5
