#!/usr/bin/env bash
# C1: bench_metadata A/B base / rule / wrb (behind the hold, two rounds, then idle one round); block traces tr / trw.
set -uo pipefail
W=/tmp/C1; rm -rf $W; mkdir -p $W/ab $W/idle $W/tr
pack() { tar -C /tmp -czf $OUT/C1.tgz C1 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader > $W/gpu.txt
V=.scratch/c1/v; mkdir -p $V; tar -C $V -xJf .scratch/c1/vars.tar.xz
for r in 1 2; do
  for v in base rule wrb; do
    $V/$v/metadata --hold-cycles=100000 --json=$W/ab/$v-r$r.json > $W/ab/$v-r$r.md 2>&1 || echo "$v r$r rc=$?"
  done
  echo "round $r at $SECONDS s"; pack
done
for v in base rule wrb; do
  $V/$v/metadata --json=$W/idle/$v-r1.json > $W/idle/$v-r1.md 2>&1 || echo "$v idle rc=$?"
done
echo "idle at $SECONDS s"; pack
for c in extend-w4096-bs4-e16 draft_extend-w4096-bs16-n8 extend-w32768-bs4-e4 target_verify-w4096-bs4-n16; do
  for v in tr trw; do
    $V/$v/metadata --no-verify --filter=$c --hold-cycles=100000 --calls=100 --replays=50 > $W/tr/$v-$c.txt 2>&1 || echo "$v $c rc=$?"
  done
done
echo "total $SECONDS s"
