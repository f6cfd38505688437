#!/usr/bin/env bash
# D7 (prepared in the sixteenth stop, not yet run): the streaming-store kernels compiled for 5 or 6 blocks per SM
# (st5, st6: expand_kernel_streaming; ptxas 48 registers with 24-76 B of spills, or 40 with 64-204 B; now 58-64
# registers, 4 blocks per SM), against base, on the streaming cells under 85% and a few small ones. Three rounds;
# --large once. Pack first: (cd build/cpp/var && tar -cJf ../../../.scratch/h/d7.tar.xz base/metadata st5/metadata
# st6/metadata) after rebuilding base=HEAD if HEAD moved.
set -uo pipefail
W=/tmp/D7; rm -rf $W; mkdir -p $W
pack() { tar -C /tmp -czf $OUT/D7.tgz D7 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
V=/tmp/d7v; rm -rf $V; mkdir -p $V; tar -C $V -xJf .scratch/h/d7.tar.xz
IDS=$(cat .scratch/h/d7_ids.txt)
COMMON="--suite-lengths --pool-rows=4 --busy-streams=4 --hold-cycles=100000 --calls=40 --replays=30"
for r in 1 2 3; do
  case $r in 1) order="base st5 st6";; 2) order="st6 base st5";; 3) order="st5 st6 base";; esac
  for v in $order; do $V/$v/metadata $COMMON --cases=$IDS --json=$W/$v-r$r.json > $W/$v-r$r.md 2>&1 || echo "$v rc=$?"; done
  echo "round $r at $SECONDS s"; pack
done
for v in base st5 st6; do
  $V/$v/metadata --large --busy-streams=4 --hold-cycles=100000 --calls=20 --replays=20 \
    --json=$W/$v-large-r1.json > $W/$v-large-r1.md 2>&1 || echo "$v large rc=$?"
  echo "$v large at $SECONDS s"; pack
done
