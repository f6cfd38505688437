#!/usr/bin/env bash
# D2: where two passes in flight win for per-request tables of two pairs on average (w2b against base on 22 shapes
# of extend E 4 / draft_extend N 4 around the rule's boundaries), the column helpers again (h, h2: h with the
# 16-byte test shared by a pass's load and stores) on 12 small and mid calls, and w2h (w2b + h2, the candidate
# final kernels) on both. Three rounds in rotating order; --large for base, h2 and w2h.
set -uo pipefail
W=/tmp/D2; rm -rf $W; mkdir -p $W/small
pack() { tar -C /tmp -czf $OUT/D2.tgz D2 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
V=/tmp/dv; rm -rf $V; mkdir -p $V; tar -C $V -xJf .scratch/h/d2.tar.xz
IDS=$(cat .scratch/h/d2_ids.txt); SMALL=$(cat .scratch/h/d2_small_ids.txt)
COMMON="--suite-lengths --pool-rows=4 --busy-streams=4 --hold-cycles=100000"
for r in 1 2 3; do
  case $r in 1) order="base w2b w2h";; 2) order="w2h base w2b";; 3) order="w2b w2h base";; esac
  for v in $order; do
    $V/$v/metadata $COMMON --calls=40 --replays=30 --cases=$IDS --json=$W/$v-r$r.json > $W/$v-r$r.md 2>&1 \
      || echo "$v cases rc=$?"
  done
  case $r in 1) order="base h h2 w2h";; 2) order="w2h base h h2";; 3) order="h2 w2h base h";; esac
  for v in $order; do
    $V/$v/metadata $COMMON --calls=40 --replays=30 --cases=$SMALL --json=$W/small/$v-r$r.json > $W/small/$v-r$r.md 2>&1 \
      || echo "$v small rc=$?"
  done
  echo "round $r at $SECONDS s"; pack
done
for v in base h2 w2h; do
  [ $SECONDS -gt 500 ] && break
  $V/$v/metadata --large --busy-streams=4 --hold-cycles=100000 --calls=20 --replays=20 \
    --json=$W/$v-large-r1.json > $W/$v-large-r1.md 2>&1 || echo "$v large rc=$?"
  echo "$v large at $SECONDS s"; pack
done
echo "total $SECONDS s"
