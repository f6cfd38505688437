#!/usr/bin/env bash
# P1: the builder against the page-table copy planned on the host (bench_metadata --bound), on the shapes of the
# suite's 49 large cells under 85% of the copy (I5) and 9 above it, inputs drawn as the suite's
# (--suite-lengths --pool-rows=4) in the suite's device state (--busy-streams=4 --hold-cycles=100000).
# The binary was built here from this tree and carried in .scratch/h/p; the case ids are in .scratch/h/bound_ids.txt
# (committed as experiments/P1-cases.txt).
set -uo pipefail
W=/tmp/P1; rm -rf $W; mkdir -p $W
pack() { tar -C /tmp -czf $OUT/P1.tgz P1 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader > $W/gpu.txt
IDS=$(cat .scratch/h/bound_ids.txt)
for r in 1 2; do
  [ $SECONDS -gt 330 ] && break
  .scratch/h/p/metadata --bound --suite-lengths --pool-rows=4 --busy-streams=4 --hold-cycles=100000 --calls=40 \
    --replays=30 --seed=$((20261128 + r)) --cases=$IDS --json=$W/bound-r$r.json > $W/bound-r$r.md 2> $W/bound-r$r.err \
    || echo "round $r rc=$?"
  echo "round $r at $SECONDS s"; pack
done
echo "total $SECONDS s"
