#!/usr/bin/env bash
# H2: a rolling L2 prefetch in the page-table copy loop. Variants built here (python3 bench/ab_variants.py build):
# base (the tree of 3c45948); pfD: before each pass's loads, group 0's lanes whose column starts a 128-byte line
# prefetch.global.L2 the same column of the block's next D passes (D = 1, 2, 4; experiments/pfD.diff).
# bench_metadata --large (pool of 8 rows per request: rows read from DRAM), round 1 verified, round 2 reversed;
# then the default cases behind the hold, time allowing.
set -uo pipefail
W=/tmp/H2; rm -rf $W; mkdir -p $W/large $W/small
pack() { tar -C /tmp -czf $OUT/H2.tgz H2 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
V=/tmp/hv; mkdir -p $V; tar -C $V -xJf .scratch/h/vars1.tar.xz
run() { # dir variant round extra...
  local d=$1 v=$2 r=$3; shift 3; local t0=$SECONDS
  $V/$v/metadata --replays=60 --json=$W/$d/$v-$d-r$r.json "$@" > $W/$d/$v-$d-r$r.md 2>&1 || echo "$v $d r$r rc=$?"
  echo "$v $d r$r $((SECONDS-t0)) s (at $SECONDS s)"; pack
}
for v in base pf1 pf2 pf4; do run large $v 1 --large; done
for v in pf4 pf2 pf1 base; do [ $SECONDS -gt 420 ] && break; run large $v 2 --large --no-verify; done
for v in base pf1 pf2 base pf1 pf2; do [ $SECONDS -gt 540 ] && break; run small $v $SECONDS --hold-cycles=100000 --busy-streams=4 --no-verify; done
echo "total $SECONDS s"
