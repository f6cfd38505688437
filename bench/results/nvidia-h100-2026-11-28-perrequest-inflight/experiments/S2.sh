#!/usr/bin/env bash
# S2: per-request in-flight kernels for 4 blocks per SM with the sum's first loads ahead of the row's (pr4),
# against HEAD (base) and ho4 (S1's 4 blocks alone); w2: pr4 with passes in flight up to two pairs per request;
# pf5, pf4: pr4 with the per-request next-pass prefetch kernels compiled for 5 or 4 blocks per SM.
# bench_metadata on the suite's lengths and state, three rounds interleaved, then --large (one round).
set -uo pipefail
W=/tmp/S2; rm -rf $W; mkdir -p $W
pack() { tar -C /tmp -czf $OUT/S2.tgz S2 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
V=/tmp/sv; rm -rf $V; mkdir -p $V; tar -C $V -xJf .scratch/h/s2.tar.xz
IDS=$(cat .scratch/h/s2_ids.txt)
COMMON="--suite-lengths --pool-rows=4 --busy-streams=4 --hold-cycles=100000 --calls=40 --replays=30"
for r in 1 2 3; do
  for v in base pr4 w2 pf5 pf4 ho4; do
    extra=
    $V/$v/metadata $COMMON --cases=$IDS $extra --json=$W/$v-r$r.json > $W/$v-r$r.md 2>&1 || echo "$v r$r rc=$?"
    echo "$v r$r at $SECONDS s"; pack
  done
done
for v in base pr4 w2 pf5 pf4; do
  [ $SECONDS -gt 300 ] && break
  $V/$v/metadata --large --busy-streams=4 --hold-cycles=100000 --calls=20 --replays=20 \
    --json=$W/$v-large-r1.json > $W/$v-large-r1.md 2>&1 || echo "$v large rc=$?"
  echo "$v large at $SECONDS s"; pack
done
echo "total $SECONDS s"
