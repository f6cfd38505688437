#!/usr/bin/env bash
# J10: the warp sum (wsum = da5b0df) against the kernels before it (base) on bench_metadata --large's bs 1024 cases
# (the suite's per-request bs 1024 W 4096 cells were 3-7.5% slower in J8 than in J4, on another machine).
set -u
R=$OUT/j10; mkdir -p $R/ab
exec > >(tee $R/log.txt) 2>&1
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
t0=$SECONDS
V="base wsum f1"
for v in $V; do gunzip -c .scratch/var/$v.gz > .scratch/var/$v; chmod +x .scratch/var/$v; done
for r in 1 2 3; do
  for v in $V; do .scratch/var/$v --large --filter=bs1024 --json=$R/ab/$v-large-r$r.json > /dev/null 2>&1 || echo "$v r$r failed"; done
  echo "round $r $((SECONDS - t0)) s"
done
python3 bench/ab_variants.py compare $R/ab base,wsum,f1 --large | tee $R/large.md
tar -czf $OUT/j10.tgz -C $OUT j10
