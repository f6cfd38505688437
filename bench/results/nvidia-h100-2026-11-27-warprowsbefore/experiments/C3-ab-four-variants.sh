#!/usr/bin/env bash
# C3: bench_metadata A/B base / rule / warp / wrb (rule + warp): two rounds behind the hold, one idle.
set -uo pipefail
W=/tmp/C3; rm -rf $W; mkdir -p $W/ab $W/idle
pack() { tar -C /tmp -czf $OUT/C3.tgz C3 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
V=.scratch/c3/v; mkdir -p $V; tar -C $V -xJf .scratch/c3/vars.tar.xz
for r in 1 2; do
  for v in base rule warp wrb; do
    $V/$v/metadata --hold-cycles=100000 --json=$W/ab/$v-r$r.json > $W/ab/$v-r$r.md 2>&1 || echo "$v r$r rc=$?"
  done
  echo "round $r at $SECONDS s"; pack
done
for v in base rule warp wrb; do
  $V/$v/metadata --json=$W/idle/$v-r1.json > $W/idle/$v-r1.md 2>&1 || echo "$v idle rc=$?"
done
echo "total $SECONDS s"
