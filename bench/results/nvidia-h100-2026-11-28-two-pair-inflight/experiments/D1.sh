#!/usr/bin/env bash
# D1: bench_metadata A/B of base (0a58dba) against h (the shared column load/store helpers), w2b / w2b5 (per-request
# tables of two pairs on average: two passes in flight, for 6 / 5 blocks per SM, before the prefetch on grids of up
# to 4096 blocks) and s1p (tables of 3+ pairs on average: one pass a block). Binaries built here, carried in
# .scratch/h/d1.tar.xz. 40 cases (.scratch/h/d1_ids.txt), two rounds in alternating order, then --large once.
set -uo pipefail
W=/tmp/D1; rm -rf $W; mkdir -p $W
pack() { tar -C /tmp -czf $OUT/D1.tgz D1 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
V=/tmp/dv; rm -rf $V; mkdir -p $V; tar -C $V -xJf .scratch/h/d1.tar.xz
IDS=$(cat .scratch/h/d1_ids.txt)
COMMON="--suite-lengths --pool-rows=4 --busy-streams=4 --hold-cycles=100000"
VS="base h w2b w2b5 s1p"; RVS="s1p w2b5 w2b h base"
for r in 1 2; do
  order=$VS; [ $r = 2 ] && order=$RVS
  for v in $order; do
    $V/$v/metadata $COMMON --calls=40 --replays=30 --cases=$IDS --json=$W/$v-r$r.json > $W/$v-r$r.md 2>&1 \
      || echo "$v cases rc=$?"
    echo "$v r$r at $SECONDS s"
  done
  pack
done
for v in $VS; do
  [ $SECONDS -gt 520 ] && break
  $V/$v/metadata --large --busy-streams=4 --hold-cycles=100000 --calls=20 --replays=20 \
    --json=$W/$v-large-r1.json > $W/$v-large-r1.md 2>&1 || echo "$v large rc=$?"
  echo "$v large at $SECONDS s"; pack
done
echo "total $SECONDS s"
