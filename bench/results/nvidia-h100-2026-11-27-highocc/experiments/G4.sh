#!/usr/bin/env bash
# G4: bench_metadata --cases (the suite's cells of rows that vary up to a bound of 4 that 3348b95 moves to the
# high-occupancy kernel), old (a021486's rule) against cur (3348b95), alternately, behind --hold-cycles=100000 with
# --busy-streams=4 (the suite's state); round 1 verifies.
set -uo pipefail
W=/tmp/G4; rm -rf $W; mkdir -p $W/ab
pack() { tar -C /tmp -czf $OUT/G4.tgz G4 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
V=/tmp/gv; mkdir -p $V; tar -C $V -xJf .scratch/g/vars3.tar.xz
IDS=draft_extend-w1048576-bs1-n4,draft_extend-w1048576-bs4-n4,draft_extend-w131072-bs16-n4,draft_extend-w1048576-bs16-n4,draft_extend-w32768-bs64-n4,draft_extend-w131072-bs64-n4,draft_extend-w1048576-bs64-n4,draft_extend-w4096-bs256-n4,draft_extend-w32768-bs256-n4,draft_extend-w131072-bs256-n4,draft_extend-w4096-bs1024-n4,draft_extend-w32768-bs1024-n4,extend-w1048576-bs1-e4,extend-w1048576-bs4-e4,extend-w131072-bs16-e4,extend-w1048576-bs16-e4,extend-w32768-bs64-e4,extend-w131072-bs64-e4,extend-w1048576-bs64-e4,extend-w4096-bs256-e4,extend-w32768-bs256-e4,extend-w131072-bs256-e4,extend-w4096-bs1024-e4,extend-w32768-bs1024-e4
for r in 1 2 3 4; do
  for v in old cur; do
    [ $SECONDS -gt 480 ] && break 2
    extra=""; [ $r -gt 1 ] && extra=--no-verify
    $V/$v/metadata --cases=$IDS --replays=40 --hold-cycles=100000 --busy-streams=4 $extra --json=$W/ab/$v-r$r.json > $W/ab/$v-r$r.md 2>&1 || echo "$v r$r rc=$?"
    echo "$v r$r at $SECONDS s"; pack
  done
done
echo "total $SECONDS s"
