#!/usr/bin/env bash
# D5: the small uniform cells that D4's suite had slower than F2's (bs 64 W 4096, bs 16 W 4096 N 8-16) and two
# per-request ones, in bench_metadata: base (0a58dba), w2b (without the column helpers) and w2h (the final kernels),
# three rounds in rotating order, the suite's state.
set -uo pipefail
W=/tmp/D5; rm -rf $W; mkdir -p $W
pack() { tar -C /tmp -czf $OUT/D5.tgz D5 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
V=/tmp/d5v; rm -rf $V; mkdir -p $V; tar -C $V -xJf .scratch/h/d5.tar.xz
IDS=$(cat .scratch/h/d5_ids.txt)
COMMON="--suite-lengths --pool-rows=4 --busy-streams=4 --hold-cycles=100000 --calls=40 --replays=30"
for r in 1 2 3; do
  case $r in 1) order="base w2b w2h";; 2) order="w2h base w2b";; 3) order="w2b w2h base";; esac
  for v in $order; do $V/$v/metadata $COMMON --cases=$IDS --json=$W/$v-r$r.json > $W/$v-r$r.md 2>&1 || echo "$v rc=$?"; done
  echo "round $r at $SECONDS s"
done
