#!/usr/bin/env bash
# K2: against HEAD (base), big per-request grids (over 384 blocks, and the high-occupancy kernel) only:
# lazybig (the rows-before sum after the first pass's loads, K1), exit0big (only a request of no row leaving
# before the sum), revbig (lazybig with the requests' blocks in reverse order). bench_metadata default x2,
# --large --filter=extend x2 (the per-request tables).
set -u
R=$OUT/k2; mkdir -p $R/ab
exec > >(tee $R/log.txt) 2>&1
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
t0=$SECONDS
for f in .scratch/var/*.gz; do gunzip -f $f; chmod +x ${f%.gz}; done
V="base lazybig exit0big revbig"
for r in 1 2; do
  for v in $V; do timeout 60 .scratch/var/$v --json=$R/ab/$v-r$r.json > /dev/null 2>&1 || echo "$v r$r failed"; done
  echo "round $r $((SECONDS - t0)) s"
done
for r in 1 2; do
  for v in $V; do timeout 90 .scratch/var/$v --large --filter=extend --calls=20 --replays=15 --json=$R/ab/$v-large-r$r.json > /dev/null 2>&1 || echo "$v large r$r failed"; done
  echo "large round $r $((SECONDS - t0)) s"
done
python3 bench/ab_variants.py compare $R/ab base,lazybig,exit0big,revbig | tee $R/default.md
python3 bench/ab_variants.py compare $R/ab base,lazybig,exit0big,revbig --large | tee $R/large.md
echo "done $((SECONDS - t0)) s"
tar -czf $OUT/k2.tgz -C $OUT k2
