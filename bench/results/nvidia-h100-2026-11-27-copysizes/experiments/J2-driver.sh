#!/usr/bin/env bash
# J2: two passes in flight per thread in the page-table copy: few-pair (high-occupancy) kernel only (u2f),
# every bandwidth-layout kernel (u2all), against HEAD (base). Binaries built off the device (sm_90, nvcc 13).
set -u
R=$OUT/j2; mkdir -p $R/ab
exec > >(tee $R/log.txt) 2>&1
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
for f in .scratch/var/*.gz; do gunzip -f $f; chmod +x ${f%.gz}; done
t0=$SECONDS
V="base u2f u2all"
for r in 1 2 3; do
  for v in $V; do .scratch/var/$v --json=$R/ab/$v-r$r.json > /dev/null 2>&1 || echo "$v r$r failed"; done
  echo "round $r $((SECONDS - t0)) s"
done
for r in 1 2; do
  for v in $V; do timeout 100 .scratch/var/$v --large --calls=20 --replays=15 --json=$R/ab/$v-large-r$r.json > /dev/null 2>&1 || echo "$v large r$r failed"; done
  echo "large round $r $((SECONDS - t0)) s"
done
python3 bench/ab_variants.py compare $R/ab base,u2f,u2all | tee $R/default.md
python3 bench/ab_variants.py compare $R/ab base,u2f,u2all --large | tee $R/large.md
echo "done $((SECONDS - t0)) s"
tar -czf $OUT/j2.tgz -C $OUT j2
