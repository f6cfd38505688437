#!/usr/bin/env bash
# G6: bench_metadata --cases, old (a021486's rule) against fin (the final rule), with req_to_token pools of 8 rows per
# request (bench_metadata's default: every input set its own rows) and of 1 (every set the same bs rows, as the
# suite's cells), alternately, two rounds, behind --hold-cycles=100000 with --busy-streams=4; round 1 verifies.
set -uo pipefail
W=/tmp/G6; rm -rf $W; mkdir -p $W/p8 $W/p1
pack() { tar -C /tmp -czf $OUT/G6.tgz G6 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
V=/tmp/gv; mkdir -p $V; tar -C $V -xJf .scratch/g/vars5.tar.xz
IDS=extend-w1048576-bs4-e4,draft_extend-w1048576-bs4-n4,draft_extend-w131072-bs64-n4,extend-w131072-bs64-e4,extend-w1048576-bs64-e4,extend-w32768-bs256-e4,draft_extend-w32768-bs256-n4,extend-w4096-bs1024-e4,draft_extend-w4096-bs1024-n4,extend-w32768-bs1024-e4
for r in 1 2; do
  for p in 8 1; do
    for v in old fin; do
      extra=""; [ $r -gt 1 ] && extra=--no-verify
      $V/$v/metadata --cases=$IDS --pool-rows=$p --replays=40 --hold-cycles=100000 --busy-streams=4 $extra --json=$W/p$p/$v-r$r.json > $W/p$p/$v-r$r.md 2>&1 || echo "$v p$p r$r rc=$?"
      echo "$v p$p r$r at $SECONDS s"; pack
    done
  done
done
echo "total $SECONDS s"
