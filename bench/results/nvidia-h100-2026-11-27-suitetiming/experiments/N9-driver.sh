#!/usr/bin/env bash
# N9 (tree: d740db4 + bench_metadata waits after cudaFree, uncommitted): specmeta_bench_metadata default and --large.
set -u
R=$OUT/n9; mkdir -p $R
exec > >(tee $R/log.txt) 2>&1
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
t0=$SECONDS
B=/tmp/bm; xz -dc .scratch/m/bm.xz > $B && chmod +x $B || exit 1
timeout 120 $B --json=$R/bench_metadata.json > $R/bench_metadata.md 2>$R/bench_metadata.err; echo "default rc=$? $((SECONDS - t0)) s"
timeout 300 $B --large --json=$R/bench_metadata_large.json > $R/bench_metadata_large.md 2>$R/bench_metadata_large.err; echo "large rc=$? $((SECONDS - t0)) s"
echo "done $((SECONDS - t0)) s"
