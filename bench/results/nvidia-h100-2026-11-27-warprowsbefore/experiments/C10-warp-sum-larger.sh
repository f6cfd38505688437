#!/usr/bin/env bash
# C10: rows-before sum by each warp alone up to request 1024 (wsall) or 256 (ws256), against base (9cbe13d's
# kernels): bench_metadata --large on the bs 1024 cases of W 4096 and 32768, two rounds; the default cases behind
# the hold, one round. Outputs verified (no --no-verify).
set -uo pipefail
W=/tmp/C10; rm -rf $W; mkdir -p $W/large $W/hold
pack() { tar -C /tmp -czf $OUT/C10.tgz C10 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
V=.scratch/c10/v; mkdir -p $V; tar -C $V -xJf .scratch/c10/vars.tar.xz
for r in 1 2; do
  for v in base wsall ws256; do
    for f in w4096-bs1024 w32768-bs1024; do
      $V/$v/metadata --large --filter=$f --json=$W/large/$v-$f-large-r$r.json > $W/large/$v-$f-large-r$r.md 2>&1 || echo "$v $f r$r rc=$?"
    done
  done
  echo "round $r at $SECONDS s"; pack
done
for v in base wsall ws256; do
  $V/$v/metadata --hold-cycles=100000 --json=$W/hold/$v-r1.json > $W/hold/$v-r1.md 2>&1 || echo "$v hold rc=$?"
done
echo "total $SECONDS s"
