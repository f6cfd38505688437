#!/usr/bin/env bash
# H6 (H200): fdiv (the page-table blocks' request by a multiply-high quotient, their page count by a shift) against
# base (3cf17c3) on 38 cases, the suite's inputs and state, two rounds (the first verified); then fdiv's GoogleTest
# binary (with the quotient's rule test) on the GPU in the time left.
set -uo pipefail
W=/tmp/H6; rm -rf $W; mkdir -p $W
pack() { tar -C /tmp -czf $OUT/H6.tgz H6 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
V=/tmp/h6v; rm -rf $V; mkdir -p $V; tar -C $V -xJf .scratch/h/h6.tar.xz; tar -C $V -xJf .scratch/h/h6t.tar.xz
IDS=$(cat .scratch/h/h6_ids.txt)
COMMON="--suite-lengths --pool-rows=4 --busy-streams=4 --hold-cycles=100000 --calls=40 --replays=30"
for r in 1 2; do
  case $r in 1) order="base fdiv";; 2) order="fdiv base";; esac
  for v in $order; do
    $V/$v/metadata $COMMON --cases=$IDS $([ $r = 2 ] && echo --no-verify) --json=$W/$v-r$r.json > $W/$v-r$r.md 2>&1 \
      || echo "$v rc=$?"
  done
  echo "round $r at $SECONDS s"; pack
done
timeout $((225 - SECONDS)) $V/specmeta_tests > $W/gtest.txt 2>&1; echo "gtest rc=$? at $SECONDS s" | tee -a $W/checks.txt
tail -n 4 $W/gtest.txt
echo "total $SECONDS s"
