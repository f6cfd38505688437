#!/usr/bin/env bash
# C9: where per-request calls at bs 1024 lose against uniform ones: bench_metadata --large --no-verify on the
# bs 1024 cases; base, and three diagnostic variants with one role's work removed (outputs wrong: timings only).
set -uo pipefail
W=/tmp/C9; rm -rf $W; mkdir -p $W/ab
pack() { tar -C /tmp -czf $OUT/C9.tgz C9 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
V=.scratch/c9/v; mkdir -p $V; tar -C $V -xJf .scratch/c9/vars.tar.xz
for r in 1 2; do
  for v in base nosum norows noreq; do
    $V/$v/metadata --large --no-verify --filter=bs1024 --json=$W/ab/$v-large-r$r.json > $W/ab/$v-large-r$r.md 2>&1 || echo "$v r$r rc=$?"
  done
  echo "round $r at $SECONDS s"; pack
done
