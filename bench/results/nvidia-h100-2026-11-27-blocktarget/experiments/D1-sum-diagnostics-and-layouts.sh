#!/usr/bin/env bash
# D1: the rows-before sum at bs 1024: base, nosum / oneload (diagnostics, outputs wrong), afterloads (the
# high-occupancy kernel sums after its first loads), parts1 (one page-table block per request for per-request
# batches of 512+): bench_metadata --large on the bs 1024 cases of W 4096 and 32768, two rounds; default cases
# behind the hold for base, afterloads, parts1.
set -uo pipefail
W=/tmp/D1; rm -rf $W; mkdir -p $W/large $W/hold
pack() { tar -C /tmp -czf $OUT/D1.tgz D1 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
V=.scratch/d1/v; mkdir -p $V; tar -C $V -xJf .scratch/d1/vars.tar.xz
for r in 1 2; do
  for v in base nosum oneload afterloads parts1; do
    nv=""; case $v in nosum|oneload) nv=--no-verify;; esac
    for f in w4096-bs1024 w32768-bs1024; do
      $V/$v/metadata --large $nv --filter=$f --json=$W/large/$v-$f-large-r$r.json > $W/large/$v-$f-large-r$r.md 2>&1 || echo "$v $f r$r rc=$?"
    done
  done
  echo "round $r at $SECONDS s"; pack
  [ $SECONDS -gt 330 ] && break
done
for v in base afterloads parts1; do
  [ $SECONDS -gt 520 ] && break
  $V/$v/metadata --hold-cycles=100000 --json=$W/hold/$v-r1.json > $W/hold/$v-r1.md 2>&1 || echo "$v hold rc=$?"
done
echo "total $SECONDS s"
