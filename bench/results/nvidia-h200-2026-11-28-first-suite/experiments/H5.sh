#!/usr/bin/env bash
# H5 (H200): the large tables under three kernels: base (3cf17c3's), st5 (the streaming kernels compiled for five
# blocks per SM, E1's patch) and nocs (no evict-first hint on the page-table stores), since the H200's large
# write-heavy tables run at about 75% of its write-only fill (H4). --large, three rounds in rotated order.
set -uo pipefail
W=/tmp/H5; rm -rf $W; mkdir -p $W
pack() { tar -C /tmp -czf $OUT/H5.tgz H5 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
V=/tmp/h5v; rm -rf $V; mkdir -p $V; tar -C $V -xJf .scratch/h/h5.tar.xz
COMMON="--large --suite-lengths --pool-rows=4 --busy-streams=4 --hold-cycles=100000 --calls=20 --replays=20"
for r in 1 2 3; do
  case $r in 1) order="base st5 nocs";; 2) order="nocs base st5";; 3) order="st5 nocs base";; esac
  for v in $order; do
    [ $SECONDS -gt 330 ] && { echo "out of time at round $r"; break 2; }
    $V/$v/metadata $COMMON $([ $r -gt 1 ] && echo --no-verify) --json=$W/$v-large-r$r.json > $W/$v-large-r$r.md 2>&1 \
      || echo "$v rc=$?"
  done
  echo "round $r at $SECONDS s"; pack
done
echo "total $SECONDS s"
