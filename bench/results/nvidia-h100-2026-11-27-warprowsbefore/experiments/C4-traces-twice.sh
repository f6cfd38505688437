#!/usr/bin/env bash
# C4: block traces, each role once (trh) and each role run twice with the second run timed (twice).
set -uo pipefail
W=/tmp/C4; rm -rf $W; mkdir -p $W/tr
pack() { tar -C /tmp -czf $OUT/C4.tgz C4 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
V=.scratch/c4/v; mkdir -p $V; tar -C $V -xJf .scratch/c4/vars.tar.xz
for c in extend-w4096-bs4-e16 draft_extend-w4096-bs16-n8 target_verify-w4096-bs4-n16 extend-w4096-bs1-e1; do
  for v in trh twice; do
    $V/$v/metadata --no-verify --filter=$c --hold-cycles=100000 --calls=100 --replays=50 > $W/tr/$v-$c.txt 2>&1 || echo "$v $c rc=$?"
  done
done
echo "total $SECONDS s"
