#!/usr/bin/env bash
# K5 (the final kernels, 3c83e1a): specmeta_bench_metadata default and --large, as the latest stop's
# bench_metadata.{md,json} and bench_metadata_large.{md,json}.
set -u
R=$OUT/k5; mkdir -p $R
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader | tee $R/gpu.txt
t0=$SECONDS
gunzip -f .scratch/var/final.gz; chmod +x .scratch/var/final
timeout 60 .scratch/var/final --json=$R/bench_metadata.json > $R/bench_metadata.md 2>&1; echo "default rc=$? $((SECONDS - t0)) s"
timeout 150 .scratch/var/final --large --json=$R/bench_metadata_large.json > $R/bench_metadata_large.md 2>&1; echo "large rc=$? $((SECONDS - t0)) s"
grep -E "draft_extend-w8192-bs256 " $R/bench_metadata.md | cut -c1-200
