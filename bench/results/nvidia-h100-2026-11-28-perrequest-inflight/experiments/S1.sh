#!/usr/bin/env bash
# S1 (exploratory): where per-request tables of one or two rows lose against the lean per-block copy.
# Variants against HEAD (0fb25ba) = base: nosum (diagnostic: no rows-before sum, first row = b, exact only
# where every length is 1), noaux (diagnostic: per-request calls' row and request blocks do nothing), ho4
# (per-request in-flight kernels compiled for 4 blocks per SM, no spills), qofirst (the sum's first loads issued
# before the row's), qoho4 (both). bench_metadata, suite lengths and state, two rounds interleaved.
set -uo pipefail
W=/tmp/S1; rm -rf $W; mkdir -p $W
pack() { tar -C /tmp -czf $OUT/S1.tgz S1 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
V=/tmp/sv; rm -rf $V; mkdir -p $V; tar -C $V -xJf .scratch/h/s1.tar.xz
IDS=$(cat .scratch/h/s1_ids.txt)
COMMON="--suite-lengths --pool-rows=4 --busy-streams=4 --hold-cycles=100000 --calls=40 --replays=30"
for r in 1 2; do
  for v in base qofirst nosum qoho4 noaux ho4; do
    extra=; case $v in nosum|noaux) extra=--no-verify;; esac
    $V/$v/metadata $COMMON --cases=$IDS $extra --json=$W/$v-r$r.json > $W/$v-r$r.md 2>&1 || echo "$v r$r rc=$?"
    echo "$v r$r at $SECONDS s"; pack
  done
done
echo "total $SECONDS s"
