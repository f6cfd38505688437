#!/usr/bin/env bash
# D2: base, both (the high-occupancy kernel sums after its first loads + one page-table block per request for
# per-request batches of 512+), half (the same sum order + per-request grids target 1024 page-table blocks):
# bench_metadata --large (all cases) once, the default cases behind the hold once, then the bs 1024 large cases
# again. And whether %gridid differs between launches and graph replays (gridid.cu).
set -uo pipefail
W=/tmp/D2; rm -rf $W; mkdir -p $W/large $W/hold $W/large2
pack() { tar -C /tmp -czf $OUT/D2.tgz D2 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
./.scratch/d2/gridid.bin > $W/gridid.txt 2>&1; cat $W/gridid.txt
V=.scratch/d2/v; mkdir -p $V; tar -C $V -xJf .scratch/d2/vars.tar.xz
for v in base both half; do
  $V/$v/metadata --large --json=$W/large/$v-large-r1.json > $W/large/$v-large-r1.md 2>&1 || echo "$v large rc=$?"
  echo "$v large at $SECONDS s"
done
pack
for v in base both half; do
  $V/$v/metadata --hold-cycles=100000 --json=$W/hold/$v-r1.json > $W/hold/$v-r1.md 2>&1 || echo "$v hold rc=$?"
done
echo "hold at $SECONDS s"; pack
for v in base both half; do
  [ $SECONDS -gt 480 ] && break
  $V/$v/metadata --large --filter=bs1024 --json=$W/large2/$v-large-r2.json > $W/large2/$v-large-r2.md 2>&1 || echo "$v r2 rc=$?"
done
echo "total $SECONDS s"
