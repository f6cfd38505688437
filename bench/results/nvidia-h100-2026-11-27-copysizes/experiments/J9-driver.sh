#!/usr/bin/env bash
# J9: the warp sum's forms against the kernels before it (base = da5b0df minus the warp sum): as committed (wsum),
# one shuffle reduction after either load path (f1), every warp summing up to 256 requests itself (f2).
set -u
R=$OUT/j9; mkdir -p $R/ab
exec > >(tee $R/log.txt) 2>&1
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
t0=$SECONDS
V="base wsum f1 f2"
for v in $V; do gunzip -c .scratch/var/$v.gz > .scratch/var/$v; chmod +x .scratch/var/$v; done
for r in 1 2 3; do
  for v in $V; do .scratch/var/$v --json=$R/ab/$v-r$r.json > /dev/null 2>&1 || echo "$v r$r failed"; done
  echo "round $r $((SECONDS - t0)) s"
done
python3 bench/ab_variants.py compare $R/ab base,wsum,f1,f2 | tee $R/default.md
tar -czf $OUT/j9.tgz -C $OUT j9
