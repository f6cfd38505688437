#!/usr/bin/env bash
# Q1: threshold A/B (kLaunchFirstUniformMinBatch 16 vs 2, 4, 8), then the gpu-check build and ctest.
set -uo pipefail
mkdir -p $OUT/ab
tar -C .scratch/m -xJf .scratch/m/vars.tar.xz
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader | tee $OUT/gpu.txt
t0=$SECONDS
for r in 1 2; do
  for v in base t2 t4 t8; do
    .scratch/m/$v/metadata --hold-cycles=100000 --json=$OUT/ab/$v-r$r.json > $OUT/ab/$v-r$r.md 2>&1 || echo "$v r$r rc=$?"
  done
done
for v in base t2 t4 t8; do
  .scratch/m/$v/metadata --json=$OUT/ab/nohold-$v-r1.json > $OUT/ab/nohold-$v-r1.md 2>&1 || echo "nohold $v rc=$?"
done
echo "ab $((SECONDS - t0)) s"
bash scripts/gpu-check.sh $OUT/gc1 ctest > $OUT/gc1.log 2>&1; echo "gc1 rc=$?"
tail -25 $OUT/gc1/summary.md
echo "total $SECONDS s"
