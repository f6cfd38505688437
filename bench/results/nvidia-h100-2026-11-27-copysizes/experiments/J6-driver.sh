#!/usr/bin/env bash
# J6: rows before a request summed by every warp itself when the request index fits a warp (wsum) against HEAD's
# kernels (base); bench_metadata default x3 fresh, x2 with four busy streams.
set -u
R=$OUT/j6; mkdir -p $R/ab
exec > >(tee $R/log.txt) 2>&1
echo "tree: $(git log -1 --format=%h 2>/dev/null) kernels + .scratch/ab/wsum.diff"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
t0=$SECONDS
V="base wsum"
for v in $V; do gunzip -c .scratch/var/$v.gz > .scratch/var/$v; chmod +x .scratch/var/$v; done
for r in 1 2 3; do
  for v in $V; do
    .scratch/var/$v --json=$R/ab/$v-r$r.json > /dev/null 2>&1 || echo "$v r$r failed"
    if [ $r -le 2 ]; then .scratch/var/$v --busy-streams=4 --json=$R/ab/$v-busy-r$r.json > /dev/null 2>&1 || echo "$v busy r$r failed"; fi
  done
  echo "round $r $((SECONDS - t0)) s"
done
python3 bench/ab_variants.py compare $R/ab base,wsum | tee $R/default.md
python3 bench/ab_variants.py compare $R/ab base-busy,wsum-busy | tee $R/busy.md
tar -czf $OUT/j6.tgz -C $OUT j6
